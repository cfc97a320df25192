//! `galsync pki init`: the internal PKI for mTLS between services and the CLI.

use std::path::PathBuf;

use clap::Subcommand;

use crate::error::{CliError, CliResult};

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Make a CA and one certificate per service (existing files are kept).
    Init {
        /// Directory for the PEM files.
        #[arg(long, env = "GALSYNC_PKI_DIR", default_value = "galsync-data/pki")]
        dir: PathBuf,
        /// Extra DNS names for the service certificates (e.g. Kubernetes service names).
        #[arg(long = "dns-name")]
        dns_names: Vec<String>,
    },
}

pub fn run(command: PkiCommand) -> CliResult {
    match command {
        PkiCommand::Init { dir, dns_names } => {
            galsync_platform::pki::init_dir(&dir, &dns_names).map_err(|error| {
                CliError::failed(format!(
                    "failed to make the internal PKI in {}: {error}",
                    dir.display()
                ))
            })?;
            println!("internal PKI ready in {}", dir.display());
            println!("  ca.pem                 the CA every service trusts (--tls-ca)");
            for service in galsync_platform::pki::SERVICE_NAMES {
                println!("  {service}.pem / {service}.key");
            }
            Ok(())
        }
    }
}
