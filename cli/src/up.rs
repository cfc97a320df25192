//! `galsync up`: every service in one process, on loopback, with the same code
//! paths as the separate binaries (each its own gRPC server and store, mTLS
//! between them with the internal PKI). See [`crate::cluster`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use galsync_platform::config::ConfigError;

use crate::cluster::{Cluster, ClusterSpec, MAX_PORT_BASE, PORT_SPAN};

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Directory for SQLite stores, the internal PKI and the master key.
    #[arg(long, env = "GALSYNC_DATA_DIR", default_value = "galsync-data")]
    pub data_dir: PathBuf,

    /// First of the loopback ports: scheduler (base), auth-broker (+1),
    /// directory-reader (+2), contact-writer (+3), consent callback (+11).
    #[arg(
        long,
        env = "GALSYNC_PORT_BASE",
        default_value_t = 50050,
        value_parser = port_base
    )]
    pub port_base: u16,

    /// Serve without mTLS (loopback only; for debugging with plaintext gRPC
    /// tools). Set from the global `--plaintext` flag, so `galsync up
    /// --plaintext` and `galsync --plaintext tenant list` go together.
    #[arg(skip)]
    pub plaintext: bool,

    /// Where the admin console serves HTTPS (not started with --plaintext:
    /// it needs the internal PKI).
    #[arg(long, env = "GALSYNC_CONSOLE_LISTEN", default_value = "127.0.0.1:8443")]
    pub console_listen: SocketAddr,

    /// Entra ID sign-in for the admin console, as `galsync-console` takes it.
    #[command(flatten)]
    pub console_entra: galsync_console::EntraArgs,

    #[command(flatten)]
    pub telemetry: galsync_platform::config::TelemetryArgs,
}

/// Value parser of `--port-base`: every port from base to base+11 must exist.
fn port_base(text: &str) -> Result<u16, String> {
    let base: u16 = text
        .trim()
        .parse()
        .map_err(|error| format!("not a port number ({error})"))?;
    if base == 0 || base > MAX_PORT_BASE {
        return Err(format!(
            "the services use ports base to base+{PORT_SPAN}; choose a base from 1 to {MAX_PORT_BASE}"
        ));
    }
    Ok(base)
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let _telemetry = galsync_platform::telemetry::init("galsync", &args.telemetry)?;
    // Bound first, so a busy console port fails before anything starts
    // (after the data directory's check, which names its own flag).
    galsync_platform::flags::usable_data_dir("data-dir", &args.data_dir)?;
    args.console_entra.validate()?;
    let console_listener = if args.plaintext {
        None
    } else {
        let listener = galsync_platform::grpc::bind(args.console_listen)
            .await
            .map_err(|error| ConfigError::new("console-listen", error.problem))?;
        Some(listener)
    };
    let cluster = Cluster::start(ClusterSpec {
        data_dir: args.data_dir.clone(),
        port_base: Some(args.port_base),
        tls: !args.plaintext,
        writer_workers: None,
        writer_max_workers: None,
    })
    .await?;
    let addresses = cluster.addresses;
    println!(
        "galsync is up: scheduler {} · auth-broker {} · directory-reader {} · contact-writer {}",
        addresses.scheduler,
        addresses.auth_broker,
        addresses.directory_reader,
        addresses.contact_writer
    );
    println!(
        "admin-consent callback: http://{}/consent/callback",
        addresses.consent_callback
    );
    let Some(console_listener) = console_listener else {
        println!("plaintext gRPC on loopback (no mTLS); press Ctrl-C to stop");
        println!("the admin console is not started with --plaintext: it serves HTTPS with the internal PKI");
        cluster.serve_until_signal().await?;
        println!("galsync stopped");
        return Ok(());
    };
    println!(
        "mTLS with the internal PKI in {}; press Ctrl-C to stop",
        cluster.pki_dir.display()
    );
    let console = start_console(console_listener, &cluster, Some(&args.console_entra))?;
    let served = cluster.serve_until_signal().await;
    console.stop().await;
    served?;
    println!("galsync stopped");
    Ok(())
}

/// The admin console beside the services, until [`RunningConsole::stop`].
pub(crate) struct RunningConsole {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningConsole {
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(error = %format!("{error:#}"), "the console stopped with an error")
            }
            Err(error) => tracing::error!(%error, "the console stopped abnormally"),
        }
    }
}

/// Binds and starts the console, and prints its URL and the one-time
/// administrator link (on stdout only: the link is a secret).
pub(crate) fn start_console(
    listener: tokio::net::TcpListener,
    cluster: &Cluster,
    entra: Option<&galsync_console::EntraArgs>,
) -> anyhow::Result<RunningConsole> {
    let bound = listener.local_addr()?;
    let scheduler_url = format!("https://{}", cluster.addresses.scheduler);
    let mut config = galsync_console::Config::local(cluster.pki_dir.clone(), scheduler_url);
    if let Some(entra) = entra {
        config.entra = entra.clone();
    }
    config.broker_url = Some(format!("https://{}", cluster.addresses.auth_broker));
    let console = galsync_console::Console::new(&config, bound)?;
    let link = console.bootstrap_link();
    println!("admin console: {}", console.public_url());
    println!(
        "one-time administrator sign-in link (works once, for {} min): {link}",
        config.sign_in_link_ttl_secs.div_ceil(60)
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async {
        let _ = stopped.await;
    };
    let task = tokio::spawn(console.serve(listener, shutdown));
    Ok(RunningConsole { stop, task })
}
