//! Starting a cluster: the PKI from `galsync pki init`, the emulator, and
//! every service as its own process with its own store and data directory.

use std::net::SocketAddr;
use std::path::Path;

use super::{cli_output, Cluster, ClusterSpec, Service};
use crate::binaries;
use crate::databases::Databases;
use crate::emulator::Emulator;
use crate::hosts::Hosts;
use crate::process::Process;

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
