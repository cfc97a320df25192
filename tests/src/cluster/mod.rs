//! [`spawn_cluster`]: the four services as separate processes, each with its
//! own store and data directory, an emulator process, and the `galsync` CLI
//! to drive them — the suite's one harness.

mod cli;
mod onboarding;
mod runs;
mod spawn;
mod verify;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use cli::{cli_output, Outcome};
pub use onboarding::Tenant;
pub use spawn::spawn_cluster;

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
}
