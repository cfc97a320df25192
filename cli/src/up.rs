//! `galsync up`: every service in one process, on loopback, with the same code
//! paths as the separate binaries (each its own gRPC server and store, mTLS
//! between them with the internal PKI). See [`crate::cluster`].

use std::path::PathBuf;

use clap::Args;

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
    let cluster = Cluster::start(ClusterSpec {
        data_dir: args.data_dir.clone(),
        port_base: Some(args.port_base),
        tls: !args.plaintext,
        writer_workers: None,
        writer_batch_linger_ms: None,
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
    if args.plaintext {
        println!("plaintext gRPC on loopback (no mTLS); press Ctrl-C to stop");
    } else {
        println!(
            "mTLS with the internal PKI in {}; press Ctrl-C to stop",
            cluster.pki_dir.display()
        );
    }
    cluster.serve_until_signal().await?;
    println!("galsync stopped");
    Ok(())
}
