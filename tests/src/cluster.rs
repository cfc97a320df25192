//! [`spawn_cluster`]: the four services as separate processes, each with its
//! own store and data directory, an emulator process, and the `galsync` CLI
//! to drive them — the suite's one harness.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use galsync::demo::verify::{self, Verification};
use serde_json::{json, Value};

use crate::binaries;
use crate::databases::Databases;
use crate::emulator::Emulator;
use crate::hosts::Hosts;
use crate::process::Process;

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Contact-writer processes (each its own store).
    pub writers: usize,
    /// Extra flags for every writer.
    pub writer_args: Vec<String>,
    /// Extra flags for the scheduler.
    pub scheduler_args: Vec<String>,
    /// A second scheduler on the same store (a standby replica); the
    /// writers are pointed at it, the CLI at the first.
    pub standby_scheduler: bool,
    /// Flags for the emulator (its limits are on by default).
    pub emulator_args: Vec<String>,
    /// Each service on a host of its own (a network namespace with its own
    /// address; see [`crate::hosts`]), stores on SQLite; needs root.
    pub separate_hosts: bool,
    /// Where every service exports its spans (`--otlp-endpoint`).
    pub otlp_endpoint: Option<String>,
    /// Every store on SQLite (the embedded default) even when
    /// `GALSYNC_TEST_POSTGRES_URL` is set.
    pub sqlite_only: bool,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self {
            writers: 1,
            // Short leases so a killed writer's mailboxes go back to the queue
            // within seconds, not the default minute.
            writer_args: strings(&["--lease-secs", "4", "--workers", "2", "--max-workers", "4"]),
            scheduler_args: Vec::new(),
            standby_scheduler: false,
            emulator_args: Vec::new(),
            separate_hosts: false,
            otlp_endpoint: None,
            sqlite_only: false,
        }
    }
}

impl ClusterSpec {
    /// `writers` writers against Graph's modelled latency with slower
    /// contact creates (300–600 ms), so a mailbox takes seconds and a
    /// process can die, or a database go away, in the middle of one.
    pub fn slow_graph(writers: usize) -> Self {
        Self {
            writers,
            emulator_args: strings(&[
                "--latency",
                "graph",
                "--latency-op",
                "contact-create=300:600",
            ]),
            ..Self::default()
        }
    }
}

/// One service process and the address it listens on.
pub struct Service {
    pub process: Process,
    pub addr: SocketAddr,
    /// Where it serves Prometheus metrics (`--metrics-listen`; every
    /// service of a cluster has it on): see [`Cluster::scrape`].
    pub metrics_addr: SocketAddr,
}

impl Service {
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

/// The running system. Dropping it kills every process.
pub struct Cluster {
    pub emulator: Emulator,
    pub broker: Service,
    pub reader: Service,
    pub scheduler: Service,
    /// The second scheduler replica, when the spec asked for one.
    pub standby: Option<Service>,
    pub writers: Vec<Service>,
    pub pki_dir: PathBuf,
    /// The auth-broker's admin-consent callback (`http://…/consent/callback`).
    pub consent_callback: String,
    dir: tempfile::TempDir,
    /// Each service's PostgreSQL database, dropped after the processes.
    _databases: Databases,
    /// The network namespaces, when each service has a host of its own;
    /// last, so they go after the processes in them. Held for its `Drop`.
    _hosts: Option<Hosts>,
}

pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_owned()).collect()
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], galsync_testkit::harness::free_port()))
}

/// A store for one service: a database of its own on the test PostgreSQL
/// when `GALSYNC_TEST_POSTGRES_URL` is set (as in CI), else its own SQLite
/// file.
async fn store_url(dir: &Path, service: &str, databases: &mut Databases) -> String {
    match databases.create(service).await {
        Some(dsn) => dsn,
        None => format!("sqlite://{}", dir.join(format!("{service}.db")).display()),
    }
}

/// The flags every service takes: where to listen, its store, its own data
/// directory and its certificate from the internal PKI.
async fn common_args(
    dir: &Path,
    pki: &Path,
    service: &str,
    addr: SocketAddr,
    databases: &mut Databases,
) -> Vec<String> {
    let data_dir = dir.join(service);
    std::fs::create_dir_all(&data_dir).expect("a data directory");
    let file = |name: &str| pki.join(name).display().to_string();
    vec![
        "--listen".to_owned(),
        addr.to_string(),
        "--store-url".to_owned(),
        store_url(dir, service, databases).await,
        "--data-dir".to_owned(),
        data_dir.display().to_string(),
        "--tls-cert".to_owned(),
        file(&format!("{service}.pem")),
        "--tls-key".to_owned(),
        file(&format!("{service}.key")),
        "--tls-ca".to_owned(),
        file("ca.pem"),
    ]
}

/// Starts the emulator, makes the PKI with `galsync pki init`, and starts the
/// auth-broker, the directory-reader, the scheduler and `spec.writers`
/// contact-writers, each as its own process; returns once every one answers
/// its gRPC health check over mTLS.
pub async fn spawn_cluster(spec: ClusterSpec) -> Cluster {
    let dir = tempfile::tempdir().expect("a cluster directory");
    let root = dir.path().to_owned();
    let pki_dir = root.join("pki");
    let hosts = spec.separate_hosts.then(|| {
        assert!(!spec.standby_scheduler, "separate hosts take one scheduler");
        let mut names = vec![
            "auth-broker".to_owned(),
            "directory-reader".to_owned(),
            "scheduler".to_owned(),
        ];
        names.extend((0..spec.writers).map(|index| format!("contact-writer-{index}")));
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        Hosts::new(&names).unwrap_or_else(|reason| panic!("separate hosts: {reason}"))
    });
    let mut databases = Databases::default();
    databases.sqlite_only = spec.sqlite_only || hosts.is_some();
    // Where a service listens: its own host's address, or loopback.
    let addr_of = |name: &str| match &hosts {
        Some(hosts) => SocketAddr::new(hosts.address(name), galsync_testkit::harness::free_port()),
        None => loopback(),
    };
    let start_service = |name: &str, mut args: Vec<String>, addr: SocketAddr| {
        if let Some(endpoint) = &spec.otlp_endpoint {
            args.extend(["--otlp-endpoint".to_owned(), endpoint.clone()]);
        }
        let prefix = hosts
            .as_ref()
            .map(|hosts| hosts.prefix(name.trim_end_matches("-standby")))
            .unwrap_or_default();
        launch(name, prefix, args, addr, &root)
    };
    let mut pki_args = vec![
        "pki".to_owned(),
        "init".to_owned(),
        "--dir".to_owned(),
        pki_dir.display().to_string(),
    ];
    for address in hosts.iter().flat_map(Hosts::addresses) {
        pki_args.extend(["--dns-name".to_owned(), address]);
    }
    let pki = cli_output(&pki_args).await;
    assert_eq!(pki.code, Some(0), "galsync pki init: {}", pki.stderr);

    let emulator = match &hosts {
        Some(hosts) => Emulator::start_on(hosts.gateway.into(), &spec.emulator_args, &root).await,
        None => Emulator::start(&spec.emulator_args, &root).await,
    };

    let broker_addr = addr_of("auth-broker");
    let consent_addr = addr_of("auth-broker");
    let mut args = common_args(&root, &pki_dir, "auth-broker", broker_addr, &mut databases).await;
    args.extend(["--consent-listen".to_owned(), consent_addr.to_string()]);
    let broker = start_service("auth-broker", args, broker_addr);

    let reader_addr = addr_of("directory-reader");
    let mut args = common_args(
        &root,
        &pki_dir,
        "directory-reader",
        reader_addr,
        &mut databases,
    )
    .await;
    args.extend(["--broker-url".to_owned(), format!("https://{broker_addr}")]);
    let reader = start_service("directory-reader", args, reader_addr);

    let scheduler_addr = addr_of("scheduler");
    let mut args = common_args(&root, &pki_dir, "scheduler", scheduler_addr, &mut databases).await;
    args.extend([
        "--reader-url".to_owned(),
        format!("https://{reader_addr}"),
        "--broker-url".to_owned(),
        format!("https://{broker_addr}"),
    ]);
    args.extend(spec.scheduler_args.iter().cloned());
    // Started once the first replica has migrated the store they share.
    let standby_flags = spec.standby_scheduler.then(|| {
        // The same flags and store, its own address and data directory.
        let standby_addr = loopback();
        let mut standby_args = args.clone();
        let listen = standby_args
            .iter()
            .position(|arg| arg == "--listen")
            .expect("a --listen flag");
        standby_args[listen + 1] = standby_addr.to_string();
        let data_dir = root.join("scheduler-standby");
        std::fs::create_dir_all(&data_dir).expect("a data directory");
        let data = standby_args
            .iter()
            .position(|arg| arg == "--data-dir")
            .expect("a --data-dir flag");
        standby_args[data + 1] = data_dir.display().to_string();
        (standby_args, standby_addr)
    });
    let scheduler = start_service("scheduler", args, scheduler_addr);
    let writers_scheduler = standby_flags
        .as_ref()
        .map_or(scheduler_addr, |(_, addr)| *addr);

    let mut writers = Vec::new();
    for index in 0..spec.writers {
        let name = format!("contact-writer-{index}");
        let writer_addr = addr_of(&name);
        // Each writer is its own host: its own store and data directory.
        let host = root.join(format!("writer-{index}"));
        std::fs::create_dir_all(&host).expect("a writer directory");
        let mut args = common_args(
            &host,
            &pki_dir,
            "contact-writer",
            writer_addr,
            &mut databases,
        )
        .await;
        args.extend([
            "--broker-url".to_owned(),
            format!("https://{broker_addr}"),
            "--reader-url".to_owned(),
            format!("https://{reader_addr}"),
            "--scheduler-url".to_owned(),
            format!("https://{writers_scheduler}"),
        ]);
        args.extend(spec.writer_args.iter().cloned());
        writers.push(start_service(&name, args, writer_addr));
    }

    let mut cluster = Cluster {
        emulator,
        broker,
        reader,
        scheduler,
        standby: None,
        writers,
        pki_dir,
        consent_callback: format!("http://{consent_addr}/consent/callback"),
        dir,
        _databases: databases,
        _hosts: hosts,
    };
    for service in cluster.services() {
        cluster.wait_healthy(service).await;
    }
    if let Some((args, addr)) = standby_flags {
        let standby = launch("scheduler-standby", Vec::new(), args, addr, &root);
        cluster.wait_healthy(&standby).await;
        cluster.standby = Some(standby);
    }
    cluster
}

fn launch(
    name: &str,
    prefix: Vec<String>,
    mut args: Vec<String>,
    addr: SocketAddr,
    log_dir: &Path,
) -> Service {
    let metrics_addr = SocketAddr::new(addr.ip(), galsync_testkit::harness::free_port());
    args.extend(["--metrics-listen".to_owned(), metrics_addr.to_string()]);
    let binary = match name {
        name if name.starts_with("contact-writer") => "galsync-contact-writer".to_owned(),
        name if name.starts_with("scheduler") => "galsync-scheduler".to_owned(),
        name => format!("galsync-{name}"),
    };
    Service {
        process: Process::start_under(name, prefix, binaries::path(&binary), args, log_dir),
        addr,
        metrics_addr,
    }
}

/// What one `galsync` invocation printed.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Stdout as JSON (`--output json`); panics with both streams otherwise.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| {
            panic!(
                "stdout is not JSON ({error}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Panics naming the command unless it exited 0; gives the JSON.
    pub fn ok(self, what: &str) -> Value {
        assert_eq!(
            self.code,
            Some(0),
            "{what}: stdout {}\nstderr {}",
            self.stdout,
            self.stderr
        );
        self.json()
    }
}

/// The administrator [`Cluster::provisioned`] gives the Global
/// Administrator role and signs in as.
const TENANT_ADMIN: &str = "admin@contoso.onmicrosoft.com";

/// Runs the `galsync` binary with `args` and nothing from the test's
/// `GALSYNC_*` environment.
pub async fn cli_output(args: &[String]) -> Outcome {
    let args = args.to_vec();
    let binary = binaries::path("galsync");
    tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(binary);
        for (variable, _) in std::env::vars() {
            if variable.starts_with("GALSYNC_") {
                command.env_remove(&variable);
            }
        }
        let output = command
            .env("GALSYNC_LOG", "warn")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run galsync");
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .expect("the galsync runner")
}

/// An emulated Microsoft 365 tenant onboarded through the CLI.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub tenant_id: String,
    pub client_id: String,
    /// Target mailboxes: object id → UPN.
    pub targets: BTreeMap<String, String>,
}

/// The app roles galsync asks for.
const APP_ROLES: [&str; 4] = [
    "User.Read.All",
    "Group.Read.All",
    "MailboxSettings.Read",
    "Contacts.ReadWrite",
];

impl Cluster {
    /// Every service process (not the emulator).
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        [&self.broker, &self.reader, &self.scheduler]
            .into_iter()
            .chain(self.standby.iter())
            .chain(self.writers.iter())
    }

    /// Makes the standby replica the scheduler the CLI talks to (after the
    /// first one was killed); the old one becomes the standby.
    pub fn fail_over(&mut self) {
        let standby = self.standby.take().expect("a standby scheduler");
        self.standby = Some(std::mem::replace(&mut self.scheduler, standby));
    }

    /// What every service logged about the mailboxes named in `problems`
    /// (`mailbox ID: …`), for a failing test.
    fn mailbox_history(&self, problems: &[String]) -> String {
        let mailboxes: std::collections::BTreeSet<&str> = problems
            .iter()
            .filter_map(|problem| problem.strip_prefix("mailbox ")?.split(':').next())
            .collect();
        let mut history = String::new();
        for mailbox in mailboxes {
            // The scheduler names the work item, not the mailbox: the items
            // the writers name beside the mailbox are followed too.
            let mut needles = std::collections::BTreeSet::from([mailbox.to_owned()]);
            for service in self.services() {
                for line in service.process.log_lines_with(mailbox, 200).lines() {
                    if let Some(item) = line.split("work_item").nth(1).and_then(first_uuid) {
                        needles.insert(item.to_owned());
                    }
                }
            }
            let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
            for service in self.services() {
                let lines = service.process.log_lines_with_any(&needles, 60);
                if !lines.is_empty() {
                    history.push_str(&format!(
                        "--- {} about {mailbox} ---\n{lines}\n",
                        service.process.name()
                    ));
                }
            }
        }
        history
    }

    /// The last `lines` lines of every service's log, for a failing test.
    pub fn log_tails(&self, lines: usize) -> String {
        self.services()
            .map(|service| {
                format!(
                    "--- {} ---\n{}",
                    service.process.name(),
                    service.process.log_tail(lines)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `GET /metrics` of `service`; panics unless it answers 200.
    pub async fn scrape(&self, service: &Service) -> crate::metrics::Scrape {
        let url = format!("http://{}/metrics", service.metrics_addr);
        let response = reqwest::get(&url)
            .await
            .unwrap_or_else(|error| panic!("{}: {url}: {error}", service.process.name()));
        assert_eq!(response.status(), 200, "{}: {url}", service.process.name());
        let text = response.text().await.expect("a metrics body");
        crate::metrics::Scrape::parse(service.process.name(), &text)
    }

    /// The cluster's directory (logs, stores, PKI).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Waits (30 s at most) until `service` answers its gRPC health check
    /// over mTLS with the CLI's certificate.
    pub async fn wait_healthy(&self, service: &Service) {
        let tls = galsync_platform::TlsMaterial::from_pki_dir(&self.pki_dir, "cli")
            .expect("the CLI's certificate");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(channel) =
                galsync_platform::tls::channel(&service.url(), Some(&tls), "localhost")
            {
                if galsync_testkit::harness::health_status(channel, "")
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} did not become healthy in 30 s:\n{}",
                service.process.name(),
                service.process.log_tail(30)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A gRPC channel to `service` presenting `identity`'s certificate from
    /// `pki_dir` (this cluster's PKI, or another CA's).
    pub fn channel_as(
        &self,
        service: &Service,
        pki_dir: &Path,
        identity: &str,
    ) -> tonic::transport::Channel {
        let tls = galsync_platform::TlsMaterial::from_pki_dir(pki_dir, identity)
            .unwrap_or_else(|error| panic!("{identity}'s certificate: {error}"));
        galsync_platform::tls::channel(&service.url(), Some(&tls), "localhost").expect("a channel")
    }

    /// Runs `galsync --output json` against this cluster with the CLI's
    /// certificate.
    pub async fn galsync(&self, args: &[&str]) -> Outcome {
        self.galsync_as("cli", &self.pki_dir, args).await
    }

    /// Runs `galsync` as an integrator would: with an API key and the CA
    /// that signed the scheduler's certificate, holding no certificate of
    /// galsync's CA (`--pki-dir` points at an empty directory).
    pub async fn galsync_with_api_key(&self, api_key: &str, args: &[&str]) -> Outcome {
        let empty = self.dir().join("integrator");
        std::fs::create_dir_all(&empty).expect("the integrator's directory");
        let mut all = strings(&[
            "--scheduler-url",
            &self.scheduler.url(),
            "--pki-dir",
            &empty.display().to_string(),
            "--ca-file",
            &self.pki_dir.join("ca.pem").display().to_string(),
            "--api-key",
            api_key,
            "--output",
            "json",
        ]);
        all.extend(strings(args));
        cli_output(&all).await
    }

    /// Runs `galsync` presenting `identity`'s certificate from `pki_dir`
    /// (e.g. another service's, or another CA's).
    pub async fn galsync_as(&self, identity: &str, pki_dir: &Path, args: &[&str]) -> Outcome {
        // The CLI presents cli.pem/cli.key: lend it another identity's pair.
        let pki = if identity == "cli" {
            pki_dir.to_owned()
        } else {
            let borrowed = self.dir().join(format!("as-{identity}"));
            std::fs::create_dir_all(&borrowed).expect("a PKI directory");
            for (from, to) in [
                (format!("{identity}.pem"), "cli.pem"),
                (format!("{identity}.key"), "cli.key"),
                ("ca.pem".to_owned(), "ca.pem"),
            ] {
                std::fs::copy(pki_dir.join(from), borrowed.join(to)).expect("copy a PKI file");
            }
            borrowed
        };
        let mut all = vec![
            "--scheduler-url".to_owned(),
            self.scheduler.url(),
            "--broker-url".to_owned(),
            self.broker.url(),
            "--pki-dir".to_owned(),
            pki.display().to_string(),
            "--output".to_owned(),
            "json".to_owned(),
        ];
        all.extend(strings(args));
        cli_output(&all).await
    }

    /// A tenant in the emulator with `users` seeded users; gives its id and
    /// `mailboxes` licensed members' mailboxes (object id → UPN) as targets.
    async fn seeded_tenant(
        &self,
        users: usize,
        mailboxes: usize,
        seed: u64,
    ) -> (String, BTreeMap<String, String>) {
        let tenant_id = uuid::Uuid::new_v4().to_string();
        let emulator = &self.emulator;
        emulator
            .post(
                "/_admin/tenants",
                json!({"tenant_id": tenant_id, "domains": ["contoso.onmicrosoft.com"]}),
            )
            .await;
        emulator
            .post(
                &format!("/_admin/tenants/{tenant_id}/seed"),
                json!({"users": users, "seed": seed, "domain": "contoso.onmicrosoft.com"}),
            )
            .await;
        let targets: BTreeMap<String, String> = emulator
            .users(&tenant_id)
            .await
            .iter()
            .filter(|user| {
                user["licensed"].as_bool() == Some(true)
                    && user["mailbox"].as_str() == Some("user")
                    && user["accountEnabled"].as_bool() == Some(true)
                    && user["userType"].as_str() == Some("Member")
            })
            .take(mailboxes)
            .map(|user| {
                (
                    user["id"].as_str().unwrap_or_default().to_owned(),
                    user["userPrincipalName"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect();
        assert_eq!(targets.len(), mailboxes, "too few licensed members");
        (tenant_id, targets)
    }

    /// Runs `galsync` with `args` (a command that signs an administrator in
    /// with a device code: `tenant provision`, `tenant adopt`) and approves
    /// the code it starts as [`TENANT_ADMIN`], as the administrator would in
    /// a browser.
    async fn galsync_with_admin_sign_in(&self, args: &[&str]) -> Outcome {
        let emulator = &self.emulator;
        let approve = async {
            for _ in 0..600 {
                let pending = emulator.get("/_admin/devicecodes").await;
                if let Some(code) = pending.as_array().and_then(|codes| codes.first()) {
                    let user_code = code["user_code"].as_str().expect("a user code");
                    emulator
                        .post(
                            &format!("/_admin/devicecodes/{user_code}/approve"),
                            json!({"upn": TENANT_ADMIN}),
                        )
                        .await;
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("galsync {args:?} never started a device code sign-in");
        };
        let (outcome, ()) = tokio::join!(self.galsync(args), approve);
        outcome
    }

    /// Onboards a tenant the way `galsync tenant provision` does it, from a
    /// tenant with no app: an administrator with `roles` (directory role
    /// names) approves the device code the CLI started, and galsync creates
    /// the app(s) (`extra`, e.g. `--two-apps`). Gives the tenant and the
    /// command's JSON result.
    pub async fn provisioned(
        &self,
        users: usize,
        mailboxes: usize,
        seed: u64,
        extra: &[&str],
    ) -> (Tenant, Value) {
        let (tenant_id, targets) = self.seeded_tenant(users, mailboxes, seed).await;
        let emulator = &self.emulator;
        emulator
            .admin(
                reqwest::Method::PUT,
                &format!("/_admin/tenants/{tenant_id}/users/{TENANT_ADMIN}/directory-roles"),
                Some(json!({"roles": ["Global Administrator"]})),
            )
            .await;
        let base = emulator.base_url.as_str();
        let mut args = vec![
            "tenant",
            "provision",
            "--tenant-id",
            &tenant_id,
            "--name",
            "Contoso",
            "--login-url",
            base,
            "--graph-url",
            base,
        ];
        args.extend(extra);
        let outcome = self.galsync_with_admin_sign_in(&args).await;
        let result = outcome.ok("tenant provision");
        let client_id = result["apps"][0]["client_id"]
            .as_str()
            .unwrap_or_else(|| panic!("the provisioned app's client id: {result:#}"))
            .to_owned();
        (
            Tenant {
                tenant_id,
                client_id,
                targets,
            },
            result,
        )
    }

    /// Makes a tenant in the emulator with `users` seeded users and an app
    /// registration, then onboards it the way an administrator does: `tenant
    /// add`, `cert generate`, `cert export` and the upload, the consent link
    /// opened and accepted, `test-connection` green. `mailboxes` licensed
    /// members become the targets.
    pub async fn onboard(&self, users: usize, mailboxes: usize, seed: u64) -> Tenant {
        let (tenant_id, targets) = self.seeded_tenant(users, mailboxes, seed).await;
        let emulator = &self.emulator;
        let app = emulator
            .post(
                &format!("/_admin/tenants/{tenant_id}/apps"),
                json!({
                    "client_id": null,
                    "display_name": "galsync",
                    "requested_roles": APP_ROLES,
                    "requested_scopes": [],
                    "redirect_uris": [self.consent_callback],
                    "multi_tenant": false,
                    "public_client": false,
                }),
            )
            .await;
        let client_id = app["client_id"].as_str().expect("a client id").to_owned();

        let base = emulator.base_url.as_str();
        self.galsync(&[
            "tenant",
            "add",
            "--tenant-id",
            &tenant_id,
            "--name",
            "Contoso",
            "--client-id",
            &client_id,
            "--login-url",
            base,
            "--graph-url",
            base,
        ])
        .await
        .ok("tenant add");
        self.galsync(&["cert", "generate", "--tenant-id", &tenant_id])
            .await
            .ok("cert generate");
        let cer = self.dir().join(format!("{tenant_id}.cer"));
        let cer_arg = cer.display().to_string();
        self.galsync(&[
            "cert",
            "export",
            "--tenant-id",
            &tenant_id,
            "--out",
            &cer_arg,
        ])
        .await
        .ok("cert export");
        emulator
            .upload_certificate(
                &tenant_id,
                &client_id,
                std::fs::read(&cer).expect("the .cer"),
            )
            .await;
        let link = self
            .galsync(&["consent", "url", "--tenant-id", &tenant_id])
            .await
            .ok("consent url");
        emulator
            .post(
                &format!("/_admin/tenants/{tenant_id}/apps/{client_id}/consent-decision"),
                json!({"decision": "approve"}),
            )
            .await;
        let landing = reqwest::get(link["url"].as_str().expect("a consent URL"))
            .await
            .expect("open the consent link");
        assert!(
            landing.status().is_success(),
            "the consent callback answered {}",
            landing.status()
        );
        let probe = targets.values().next().cloned().unwrap_or_default();
        self.galsync(&[
            "test-connection",
            "--tenant-id",
            &tenant_id,
            "--mailbox",
            &probe,
        ])
        .await
        .ok("test-connection");
        Tenant {
            tenant_id,
            client_id,
            targets,
        }
    }

    /// `galsync profile create` for `tenant`'s targets (by UPN), run on
    /// demand; `extra` flags are appended. Gives the profile id.
    pub async fn create_profile(&self, tenant: &Tenant, extra: &[&str]) -> String {
        let mut args = vec![
            "profile",
            "create",
            "--name",
            "Company phones",
            "--tenant-id",
            &tenant.tenant_id,
            "--on-demand",
        ];
        for upn in tenant.targets.values() {
            args.extend(["--target-user", upn.as_str()]);
        }
        args.extend(extra);
        let profile = self.galsync(&args).await.ok("profile create");
        profile["profile_id"]
            .as_str()
            .expect("a profile id")
            .to_owned()
    }

    /// `galsync run start`: gives the run id at once.
    pub async fn start_run(&self, profile_id: &str) -> String {
        let run = self
            .galsync(&["run", "start", profile_id])
            .await
            .ok("run start");
        run["run_id"].as_str().expect("a run id").to_owned()
    }

    /// `galsync runs show`, or `None` while the scheduler cannot answer.
    pub async fn show_run(&self, run_id: &str) -> Option<Value> {
        let outcome = self.galsync(&["runs", "show", run_id]).await;
        (outcome.code == Some(0)).then(|| outcome.json())
    }

    /// Polls `runs show` until `done(run)` holds (`limit` at most).
    pub async fn wait_run_until(
        &self,
        run_id: &str,
        limit: Duration,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + limit;
        let mut last = Value::Null;
        loop {
            if let Some(run) = self.show_run(run_id).await {
                if done(&run) {
                    return run;
                }
                last = run;
            }
            assert!(
                Instant::now() < deadline,
                "the run did not reach \"{what}\" in {limit:?}; last seen {last:#}\n{}",
                self.log_tails(15)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits (a minute at most) until the run is in `state`, e.g. "writing".
    pub async fn wait_run_state(&self, run_id: &str, state: &str) -> Value {
        self.wait_run_until(run_id, Duration::from_secs(60), state, |run| {
            run["state"] == state
        })
        .await
    }

    /// Waits until the run ended (succeeded, failed, cancelled, …).
    pub async fn wait_run_end(&self, run_id: &str, limit: Duration) -> Value {
        self.wait_run_until(run_id, limit, "ended", |run| {
            !matches!(
                run["state"].as_str(),
                Some("queued" | "reading" | "writing")
            )
        })
        .await
    }

    /// Starts a run of `profile_id` and waits (two minutes at most) until it
    /// ended; asserts it succeeded.
    pub async fn run_to_success(&self, profile_id: &str) -> Value {
        let run_id = self.start_run(profile_id).await;
        let run = self.wait_run_end(&run_id, Duration::from_secs(120)).await;
        assert_eq!(run["state"], "succeeded", "{run:#}");
        run
    }

    /// Compares every mailbox in `mailboxes` with the directory through the
    /// emulator's admin API: exactly one contact per synced user in the
    /// galsync folder, with the user's current fields; foreign contacts left
    /// alone.
    pub async fn verify<'a>(
        &self,
        tenant: &Tenant,
        mailboxes: impl IntoIterator<Item = &'a String>,
    ) -> Verification {
        let users = self.emulator.users(&tenant.tenant_id).await;
        let expected = verify::expected_contacts(&users);
        let mut report = Verification {
            expected_contacts: expected.len(),
            ..Verification::default()
        };
        for mailbox in mailboxes {
            let folders = self.emulator.folders(&tenant.tenant_id, mailbox).await;
            let outcome = match verify::galsync_folder(&folders) {
                Ok(folder_id) => {
                    let contacts = self
                        .emulator
                        .contacts(&tenant.tenant_id, mailbox, &folder_id)
                        .await;
                    verify::check_folder(&contacts, &expected)
                }
                Err(problem) => Err(problem),
            };
            report.record(mailbox, outcome);
        }
        report
    }

    /// [`Cluster::verify`] over every target; panics with the problems.
    pub async fn assert_mailboxes_match(&self, tenant: &Tenant) {
        let report = self.verify(tenant, tenant.targets.keys()).await;
        assert!(
            report.passed(),
            "{} of {} mailboxes match the directory: {:#?}\n{}",
            report.mailboxes_correct,
            report.mailboxes_checked,
            report.problems,
            self.mailbox_history(&report.problems)
        );
    }
}

/// The first UUID (8-4-4-4-12 hex digits) in `text`.
fn first_uuid(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(35)).find_map(|start| {
        let candidate = &bytes[start..start + 36];
        let shaped = candidate.iter().enumerate().all(|(at, byte)| match at {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        });
        shaped.then(|| &text[start..start + 36])
    })
}
