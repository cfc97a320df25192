//! All four services in one process, wired to each other over loopback with
//! the same code paths as the separate binaries: each has its own gRPC server
//! and SQLite store, and they call each other with mTLS from the internal PKI.
//! `galsync up` and `galsync demo` both start one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use galsync_platform::config::{ConfigError, ServerArgs};
use galsync_platform::pki::ServiceTlsFiles;
use galsync_platform::TlsMaterial;

/// Where the services listen.
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    pub scheduler: SocketAddr,
    pub auth_broker: SocketAddr,
    pub directory_reader: SocketAddr,
    pub contact_writer: SocketAddr,
    pub consent_callback: SocketAddr,
}

/// How to start the cluster.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub data_dir: PathBuf,
    /// Scheduler, broker, reader, writer on base..base+3, consent on base+11;
    /// `None` picks free ports.
    pub port_base: Option<u16>,
    /// mTLS between the services (and for clients); off only for local debugging.
    pub tls: bool,
    /// Extra settings for the contact-writer (demo tuning).
    pub writer_workers: Option<usize>,
    /// The writer's `--max-workers` (tests that need a fixed number of
    /// mailboxes at once).
    pub writer_max_workers: Option<usize>,
}

pub struct Cluster {
    pub addresses: Addresses,
    pub pki_dir: PathBuf,
    pub tls: bool,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The services use the ports from `--port-base` to `--port-base` + this.
pub const PORT_SPAN: u16 = 11;
/// The highest `--port-base` whose ports all exist.
pub const MAX_PORT_BASE: u16 = u16::MAX - PORT_SPAN;

impl Addresses {
    /// Consecutive loopback ports from `base` (50050 gives the documented defaults).
    pub fn from_port_base(base: u16) -> Result<Self, ConfigError> {
        if base == 0 || base > MAX_PORT_BASE {
            return Err(ConfigError::new(
                "port-base",
                format!(
                    "the services use ports base to base+{PORT_SPAN}; choose a base from 1 to {MAX_PORT_BASE} (got {base})"
                ),
            ));
        }
        Ok(Self {
            scheduler: loopback(base),
            auth_broker: loopback(base + 1),
            directory_reader: loopback(base + 2),
            contact_writer: loopback(base + 3),
            consent_callback: loopback(base + PORT_SPAN),
        })
    }
}

fn server_args(tls: bool, pki_dir: &Path, service: &str) -> ServerArgs {
    let mut server = ServerArgs::defaults();
    if tls {
        let files = ServiceTlsFiles::in_dir(pki_dir, service);
        server.tls_cert = Some(files.cert);
        server.tls_key = Some(files.key);
        server.tls_ca = Some(files.ca);
    }
    server
}

impl Cluster {
    pub async fn start(spec: ClusterSpec) -> anyhow::Result<Cluster> {
        galsync_platform::flags::usable_data_dir("data-dir", &spec.data_dir)?;
        galsync_platform::private_files::warn_if_exposed(std::slice::from_ref(&spec.data_dir));
        let pki_dir = spec.data_dir.join("pki");
        if spec.tls {
            galsync_platform::pki::init_dir(&pki_dir, &[]).with_context(|| {
                format!("failed to make the internal PKI in {}", pki_dir.display())
            })?;
        }
        let (
            scheduler_listener,
            broker_listener,
            reader_listener,
            writer_listener,
            consent_callback,
        ) = match spec.port_base {
            Some(base) => {
                let addresses = Addresses::from_port_base(base)?;
                (
                    galsync_platform::grpc::bind(addresses.scheduler).await?,
                    galsync_platform::grpc::bind(addresses.auth_broker).await?,
                    galsync_platform::grpc::bind(addresses.directory_reader).await?,
                    galsync_platform::grpc::bind(addresses.contact_writer).await?,
                    addresses.consent_callback,
                )
            }
            None => (
                galsync_platform::grpc::bind(loopback(0)).await?,
                galsync_platform::grpc::bind(loopback(0)).await?,
                galsync_platform::grpc::bind(loopback(0)).await?,
                galsync_platform::grpc::bind(loopback(0)).await?,
                loopback(galsync_platform::net::free_port()),
            ),
        };
        let addresses = Addresses {
            scheduler: scheduler_listener.local_addr()?,
            auth_broker: broker_listener.local_addr()?,
            directory_reader: reader_listener.local_addr()?,
            contact_writer: writer_listener.local_addr()?,
            consent_callback,
        };
        let scheme = if spec.tls { "https" } else { "http" };
        let url = |addr: SocketAddr| format!("{scheme}://{addr}");
        let store_url = |service: &str| {
            format!(
                "sqlite://{}",
                spec.data_dir.join(format!("{service}.db")).display()
            )
        };

        let mut broker = galsync_auth_broker::Config::local(store_url("auth-broker"));
        broker.server = server_args(spec.tls, &pki_dir, "auth-broker");
        broker.data_dir = spec.data_dir.clone();
        broker.consent_listen = addresses.consent_callback;
        broker.trust_plaintext_loopback = !spec.tls;

        let mut reader = galsync_directory_reader::Config::local(store_url("directory-reader"));
        reader.server = server_args(spec.tls, &pki_dir, "directory-reader");
        reader.data_dir = spec.data_dir.clone();
        reader.broker_url = Some(url(addresses.auth_broker));
        reader.trust_plaintext_loopback = !spec.tls;

        let mut writer = galsync_contact_writer::Config::local(store_url("contact-writer"));
        writer.server = server_args(spec.tls, &pki_dir, "contact-writer");
        writer.data_dir = spec.data_dir.clone();
        writer.broker_url = Some(url(addresses.auth_broker));
        writer.reader_url = Some(url(addresses.directory_reader));
        writer.scheduler_url = Some(url(addresses.scheduler));
        writer.trust_plaintext_loopback = !spec.tls;
        if let Some(workers) = spec.writer_workers {
            writer.workers = workers;
        }
        if let Some(max) = spec.writer_max_workers {
            writer.max_workers = max;
        }

        let mut scheduler = galsync_scheduler::Config::local(store_url("scheduler"));
        scheduler.server = server_args(spec.tls, &pki_dir, "scheduler");
        scheduler.data_dir = spec.data_dir.clone();
        scheduler.reader_url = Some(url(addresses.directory_reader));
        scheduler.broker_url = Some(url(addresses.auth_broker));
        scheduler.trust_plaintext_loopback = !spec.tls;

        let (stop, stopped) = tokio::sync::watch::channel(false);
        let shutdown = |mut receiver: tokio::sync::watch::Receiver<bool>| async move {
            let _ = receiver.wait_for(|stopped| *stopped).await;
        };
        let services = futures::future::try_join4(
            galsync_auth_broker::serve(broker, broker_listener, shutdown(stopped.clone())),
            galsync_directory_reader::serve(reader, reader_listener, shutdown(stopped.clone())),
            galsync_contact_writer::serve(writer, writer_listener, shutdown(stopped.clone())),
            galsync_scheduler::serve(scheduler, scheduler_listener, shutdown(stopped)),
        );
        let task = tokio::spawn(async move {
            services.await?;
            Ok(())
        });
        Ok(Cluster {
            addresses,
            pki_dir,
            tls: spec.tls,
            stop,
            task,
        })
    }

    /// The `cli` identity's TLS material, for clients of this cluster.
    pub fn client_tls(&self) -> anyhow::Result<Option<TlsMaterial>> {
        if !self.tls {
            return Ok(None);
        }
        Ok(Some(TlsMaterial::from_pki_dir(&self.pki_dir, "cli")?))
    }

    /// A channel to one of the services, as the `cli` identity.
    pub fn channel(&self, addr: SocketAddr) -> anyhow::Result<tonic::transport::Channel> {
        let tls = self.client_tls()?;
        let scheme = if self.tls { "https" } else { "http" };
        Ok(galsync_platform::tls::peer_channel(
            &format!("{scheme}://{addr}"),
            tls.as_ref(),
        )?)
    }

    /// Serves until SIGTERM/SIGINT (then drains and stops), or until a service
    /// stops by itself with an error.
    pub async fn serve_until_signal(mut self) -> anyhow::Result<()> {
        tokio::select! {
            result = &mut self.task => {
                return result.context("the services stopped abnormally")?;
            }
            _ = galsync_platform::grpc::shutdown_signal() => {}
        }
        self.stop().await
    }

    /// Stops every service, draining calls in flight.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await.context("the services stopped abnormally")?
    }
}
