//! `galsync up`: every service in one process, on loopback, with the same code
//! paths as the separate binaries (each its own gRPC server and store, mTLS
//! between them with the internal PKI).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use galsync_platform::config::ServerArgs;
use galsync_platform::pki::ServiceTlsFiles;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Directory for SQLite stores, the internal PKI and the master key.
    #[arg(long, env = "GALSYNC_DATA_DIR", default_value = "galsync-data")]
    pub data_dir: PathBuf,

    /// First of four consecutive loopback ports: scheduler, auth-broker,
    /// directory-reader, contact-writer.
    #[arg(long, env = "GALSYNC_PORT_BASE", default_value_t = 50050)]
    pub port_base: u16,

    /// Serve without mTLS (loopback only; for debugging with plaintext gRPC
    /// tools). Set from the global `--plaintext` flag, so `galsync up
    /// --plaintext` and `galsync --plaintext tenant list` go together.
    #[arg(skip)]
    pub plaintext: bool,

    #[command(flatten)]
    pub telemetry: galsync_platform::config::TelemetryArgs,
}

/// Listen addresses of a running `galsync up`.
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    pub scheduler: SocketAddr,
    pub auth_broker: SocketAddr,
    pub directory_reader: SocketAddr,
    pub contact_writer: SocketAddr,
}

impl Addresses {
    /// Four consecutive loopback ports from `base` (50050 gives the documented defaults).
    pub fn from_port_base(base: u16) -> anyhow::Result<Self> {
        if base > u16::MAX - 3 {
            anyhow::bail!(
                "invalid --port-base {base}: four consecutive ports must fit below 65536"
            );
        }
        let loopback = |offset: u16| SocketAddr::from(([127, 0, 0, 1], base + offset));
        Ok(Self {
            scheduler: loopback(0),
            auth_broker: loopback(1),
            directory_reader: loopback(2),
            contact_writer: loopback(3),
        })
    }
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let _telemetry = galsync_platform::telemetry::init("galsync", &args.telemetry)?;
    std::fs::create_dir_all(&args.data_dir).with_context(|| {
        format!(
            "invalid --data-dir: cannot create {}",
            args.data_dir.display()
        )
    })?;
    let pki_dir = args.data_dir.join("pki");
    if !args.plaintext {
        galsync_platform::pki::init_dir(&pki_dir, &[])
            .with_context(|| format!("failed to make the internal PKI in {}", pki_dir.display()))?;
    }
    let addresses = Addresses::from_port_base(args.port_base)?;
    let (stop_sender, stop_receiver) = tokio::sync::watch::channel(false);
    let shutdown = |mut receiver: tokio::sync::watch::Receiver<bool>| async move {
        let _ = receiver.wait_for(|stopped| *stopped).await;
    };

    let server_args = |service: &str| -> ServerArgs {
        let mut server = ServerArgs::defaults();
        if !args.plaintext {
            let files = ServiceTlsFiles::in_dir(&pki_dir, service);
            server.tls_cert = Some(files.cert);
            server.tls_key = Some(files.key);
            server.tls_ca = Some(files.ca);
        }
        server
    };
    let store_url = |service: &str| {
        format!(
            "sqlite://{}",
            args.data_dir.join(format!("{service}.db")).display()
        )
    };

    let mut broker_config = galsync_auth_broker::Config::local(store_url("auth-broker"));
    broker_config.server = server_args("auth-broker");
    broker_config.data_dir = args.data_dir.clone();
    broker_config.consent_listen =
        SocketAddr::from(([127, 0, 0, 1], args.port_base.saturating_add(11)));
    let mut reader_config = galsync_directory_reader::Config::local(store_url("directory-reader"));
    reader_config.server = server_args("directory-reader");
    reader_config.data_dir = args.data_dir.clone();
    let mut writer_config = galsync_contact_writer::Config::local(store_url("contact-writer"));
    writer_config.server = server_args("contact-writer");
    writer_config.data_dir = args.data_dir.clone();
    let mut scheduler_config = galsync_scheduler::Config::local(store_url("scheduler"));
    scheduler_config.server = server_args("scheduler");
    scheduler_config.data_dir = args.data_dir.clone();

    let broker_listener = galsync_platform::grpc::bind(addresses.auth_broker).await?;
    let reader_listener = galsync_platform::grpc::bind(addresses.directory_reader).await?;
    let writer_listener = galsync_platform::grpc::bind(addresses.contact_writer).await?;
    let scheduler_listener = galsync_platform::grpc::bind(addresses.scheduler).await?;

    let services = futures::future::try_join4(
        galsync_auth_broker::serve(
            broker_config,
            broker_listener,
            shutdown(stop_receiver.clone()),
        ),
        galsync_directory_reader::serve(
            reader_config,
            reader_listener,
            shutdown(stop_receiver.clone()),
        ),
        galsync_contact_writer::serve(
            writer_config,
            writer_listener,
            shutdown(stop_receiver.clone()),
        ),
        galsync_scheduler::serve(
            scheduler_config,
            scheduler_listener,
            shutdown(stop_receiver),
        ),
    );
    tokio::pin!(services);
    println!(
        "galsync is up: scheduler {} · auth-broker {} · directory-reader {} · contact-writer {}",
        addresses.scheduler,
        addresses.auth_broker,
        addresses.directory_reader,
        addresses.contact_writer
    );
    if args.plaintext {
        println!("plaintext gRPC on loopback (no mTLS); press Ctrl-C to stop");
    } else {
        println!(
            "mTLS with the internal PKI in {}; press Ctrl-C to stop",
            pki_dir.display()
        );
    }
    tokio::select! {
        result = &mut services => {
            result?;
            return Ok(());
        }
        _ = galsync_platform::grpc::shutdown_signal() => {}
    }
    let _ = stop_sender.send(true);
    services.await?;
    println!("galsync stopped");
    Ok(())
}
