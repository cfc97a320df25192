//! `galsync`: the admin CLI and the all-in-one runner.

mod up;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// galsync keeps your Entra ID directory, as contacts, on every phone.
#[derive(Debug, Parser)]
#[command(name = "galsync", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run all four services in one process on loopback, with SQLite and mTLS
    /// material in the data directory (made on first start).
    Up(up::UpArgs),
    /// Internal PKI for mTLS between services.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
}

#[derive(Debug, Subcommand)]
enum PkiCommand {
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

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(run(cli));
    galsync_platform::exit_on_error(result);
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => up::run(args).await,
        Command::Pki {
            command: PkiCommand::Init { dir, dns_names },
        } => {
            galsync_platform::pki::init_dir(&dir, &dns_names)?;
            println!("internal PKI ready in {}", dir.display());
            println!("  ca.pem                 the CA every service trusts (--tls-ca)");
            for service in galsync_platform::pki::SERVICE_NAMES {
                println!("  {service}.pem / {service}.key");
            }
            Ok(())
        }
    }
}
