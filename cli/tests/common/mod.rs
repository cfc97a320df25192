//! Helpers for tests that run the real `galsync` binary: an auth-broker
//! started in-process with mTLS, an emulated Entra tenant, and the CLI run as a
//! child process pointed at them.

#![allow(dead_code)]

pub mod console;

use std::path::Path;

use galsync_graph_emulator::Emulator;
use galsync_testkit::{create_emulated_app, EmulatedApp, TenantApp};
use uuid::Uuid;

/// What a user sees of one `galsync` invocation.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", self.stdout))
    }
}

/// Runs `galsync` with `args`, without any GALSYNC_* variable of the caller's
/// environment leaking in. Runs on a blocking thread so in-process servers
/// keep serving meanwhile.
pub async fn galsync(args: Vec<String>, envs: Vec<(String, String)>) -> Outcome {
    galsync_with_stdin(args, envs, Vec::new()).await
}

/// [`galsync`] with `stdin` piped in.
pub async fn galsync_with_stdin(
    args: Vec<String>,
    envs: Vec<(String, String)>,
    stdin: Vec<u8>,
) -> Outcome {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_galsync"));
        for (name, _) in std::env::vars() {
            if name.starts_with("GALSYNC_") {
                command.env_remove(&name);
            }
        }
        command.env("GALSYNC_LOG", "warn");
        command.args(&args);
        command.envs(envs);
        command.stdin(std::process::Stdio::piped());
        command.stdout(std::process::Stdio::piped());
        command.stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("run galsync");
        if let Some(mut child_stdin) = child.stdin.take() {
            // A command that never reads stdin closes it; that is not an error here.
            let _ = child_stdin.write_all(&stdin);
        }
        let output = child.wait_with_output().expect("wait for galsync");
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .expect("galsync runner thread")
}

pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| arg.to_string()).collect()
}

/// The test kit's in-process auth-broker with the `galsync` binary pointed at
/// it; derefs to the kit's [`galsync_testkit::TestBroker`] (URL, PKI, data
/// directory, consent address).
pub struct TestBroker(galsync_testkit::TestBroker);

impl std::ops::Deref for TestBroker {
    type Target = galsync_testkit::TestBroker;

    fn deref(&self) -> &galsync_testkit::TestBroker {
        &self.0
    }
}

impl TestBroker {
    /// The broker on a port-0 listener, serving mTLS with a fresh PKI.
    pub async fn start() -> TestBroker {
        TestBroker(galsync_testkit::TestBroker::start().await)
    }

    /// [`TestBroker::start`] with `configure` applied to the broker's
    /// configuration (e.g. `cert_renewal_days`).
    pub async fn start_with(
        configure: impl FnOnce(&mut galsync_auth_broker::Config),
    ) -> TestBroker {
        let store = galsync_testkit::BrokerStore::Sqlite;
        TestBroker(galsync_testkit::TestBroker::start_with(store, configure).await)
    }

    /// Runs `galsync --broker-url … --pki-dir … <args>`.
    pub async fn galsync(&self, args: &[&str]) -> Outcome {
        self.galsync_with(args, Vec::new(), Vec::new()).await
    }

    /// [`TestBroker::galsync`] with environment variables and stdin.
    pub async fn galsync_with(
        &self,
        args: &[&str],
        envs: Vec<(String, String)>,
        stdin: Vec<u8>,
    ) -> Outcome {
        let mut all = strings(&["--broker-url", &self.url(), "--pki-dir"]);
        all.push(self.pki_dir().display().to_string());
        all.extend(strings(args));
        galsync_with_stdin(all, envs, stdin).await
    }
}

/// A tenant in the emulator with one app requesting every role galsync needs,
/// with the broker's consent callback as a redirect URI. The tests connect it
/// to the broker through the `galsync` binary.
pub fn emulated_tenant(emulator: &Emulator, broker: &TestBroker) -> EmulatedApp {
    let galsync_app = TenantApp {
        redirect_uris: vec![format!("http://{}/consent/callback", broker.consent_addr())],
        ..TenantApp::default()
    };
    create_emulated_app(emulator, Uuid::new_v4(), &galsync_app)
}

/// Uppercase hex SHA-1 of a file, as the Entra portal shows thumbprints.
pub fn sha1_hex_upper(path: &Path) -> String {
    use sha1::Digest;
    let bytes = std::fs::read(path).expect("read file");
    hex::encode_upper(sha1::Sha1::digest(&bytes))
}

/// The four services of `galsync up` in this process, with an emulated tenant
/// onboarded the way the demo does it (certificate uploaded, consent granted)
/// and the demo's profile created.
pub struct OnboardedCluster {
    pub cluster: galsync::cluster::Cluster,
    pub tenant: galsync::demo::tenant::DemoTenant,
    pub scheduler: galsync_proto::v1::scheduler_client::SchedulerClient<tonic::transport::Channel>,
    pub profile_id: String,
    /// Holds the services' stores: keep it bound (`data_dir: _data_dir`)
    /// until the cluster has stopped.
    pub data_dir: tempfile::TempDir,
}

/// Starts an [`OnboardedCluster`] against `emulator`: `users` seeded users,
/// `mailboxes` targets, two writer workers, mTLS unless `tls` is false.
pub async fn onboarded_cluster(
    emulator: &Emulator,
    users: usize,
    mailboxes: usize,
    seed: u64,
    tls: bool,
) -> OnboardedCluster {
    use galsync::cluster::{Cluster, ClusterSpec};
    use galsync::demo::{self, tenant, Step};
    use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
    use galsync_proto::v1::scheduler_client::SchedulerClient;

    let data_dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(ClusterSpec {
        data_dir: data_dir.path().to_owned(),
        port_base: None,
        tls,
        writer_workers: Some(2),
        // Two mailboxes at once, no more: runs long enough to be cancelled mid-way.
        writer_max_workers: Some(2),
    })
    .await
    .unwrap();
    let redirect_uri = format!(
        "http://{}/consent/callback",
        cluster.addresses.consent_callback
    );
    let tenant = tenant::create(emulator, users, mailboxes, seed, &redirect_uri).unwrap();
    let mut step = Step::new(10);
    let mut broker = AuthBrokerClient::new(cluster.channel(cluster.addresses.auth_broker).unwrap());
    demo::certificate_journey(&mut broker, emulator, &tenant, &mut step)
        .await
        .unwrap();
    demo::consent_journey(&mut broker, emulator, &tenant, &mut step)
        .await
        .unwrap();
    let mut scheduler = SchedulerClient::new(cluster.channel(cluster.addresses.scheduler).unwrap());
    let profile_id = demo::create_profile(&mut scheduler, &tenant, &mut step)
        .await
        .unwrap();
    OnboardedCluster {
        cluster,
        tenant,
        scheduler,
        profile_id,
        data_dir,
    }
}

type SchedulerClient =
    galsync_proto::v1::scheduler_client::SchedulerClient<tonic::transport::Channel>;

/// Starts a run of `profile_id` and waits (at most two minutes) until it ends.
pub async fn run_to_end(
    scheduler: &mut SchedulerClient,
    profile_id: &str,
) -> galsync_proto::v1::Run {
    start_and_wait(
        scheduler,
        galsync_proto::v1::RunProfileRequest {
            profile_id: profile_id.to_owned(),
            ..Default::default()
        },
    )
    .await
}

/// Starts the run `request` asks for and waits (at most two minutes) until it ends.
pub async fn start_and_wait(
    scheduler: &mut SchedulerClient,
    request: galsync_proto::v1::RunProfileRequest,
) -> galsync_proto::v1::Run {
    let run_id = scheduler
        .run_profile(request)
        .await
        .unwrap()
        .into_inner()
        .run_id;
    wait_for_end(scheduler, &run_id).await
}

/// Polls the run until it is no longer queued, reading or writing (at most two minutes).
pub async fn wait_for_end(scheduler: &mut SchedulerClient, run_id: &str) -> galsync_proto::v1::Run {
    galsync_testkit::wait_for_run_end(scheduler, run_id, std::time::Duration::from_secs(120)).await
}

/// Runs the real `galsync` binary against `cluster`'s scheduler (mTLS with
/// the cluster's PKI), with `args` after the connection flags.
pub async fn galsync_against(cluster: &galsync::cluster::Cluster, args: &[&str]) -> Outcome {
    let mut all = strings(&[
        "--scheduler-url",
        &format!("https://{}", cluster.addresses.scheduler),
        "--pki-dir",
    ]);
    all.push(cluster.pki_dir.display().to_string());
    all.extend(strings(args));
    galsync(all, Vec::new()).await
}
