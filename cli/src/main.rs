//! `galsync`: the admin CLI and the all-in-one runner.

#[global_allocator]
static ALLOCATOR: galsync_platform::Allocator = galsync_platform::Allocator;

use clap::{Parser, Subcommand};

use galsync::connect::GlobalArgs;
#[cfg(feature = "demo")]
use galsync::demo;
use galsync::error::{CliError, CliResult};
use galsync::{api_key, cert, check, consent, pki, profile, reset, run, tenant, up};

const AFTER_HELP: &str = "\
Getting started (see docs/cli.md for the whole walk-through):
  galsync up                                    start the services (keep it running)
  galsync tenant add --tenant-id GUID --name Contoso --client-id APP-GUID
  galsync cert generate --tenant-id GUID        then: galsync cert export --tenant-id GUID --out galsync.cer
  (upload galsync.cer to the app registration in the Entra portal)
  galsync consent url --tenant-id GUID          open it as an administrator and accept
  galsync test-connection --tenant-id GUID --mailbox someone@contoso.com
  galsync profile create --name Phones --tenant-id GUID --targets-all --interval 1h
  galsync run start PROFILE_ID --follow

Exit codes:
  0  ok
  1  the operation failed (a run failed, a connection check failed, …)
  2  usage or configuration error (bad flag value, missing file or PKI)
  3  a galsync service cannot be reached
  4  permission denied (not an admin identity, bad API key)
  5  not found (tenant, certificate, profile or run)";

/// galsync keeps your Entra ID directory, as contacts, on every phone.
#[derive(Debug, Parser)]
#[command(
    name = "galsync",
    version,
    about = "galsync keeps your Entra ID directory, as contacts, on every phone: \
             the admin CLI and the all-in-one runner (`galsync up`)",
    propagate_version = true,
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(flatten)]
    globals: GlobalArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// See galsync work end to end against an emulated Microsoft 365 tenant:
    /// certificate, consent, test connection, profile, initial and incremental
    /// sync, every mailbox verified.
    #[cfg(feature = "demo")]
    Demo(demo::DemoArgs),
    /// Run all four services in one process on loopback, with SQLite and mTLS
    /// material in the data directory (made on first start).
    Up(up::UpArgs),
    /// Internal PKI for mTLS between services.
    Pki {
        #[command(subcommand)]
        command: pki::PkiCommand,
    },
    /// Register Entra tenants (Directory ID + app registration) with the auth-broker.
    Tenant {
        #[command(subcommand)]
        command: tenant::TenantCommand,
    },
    /// Certificates the broker signs with: generate, import, export the .cer, rotate.
    Cert {
        #[command(subcommand)]
        command: cert::CertCommand,
    },
    /// Client secrets for apps in client-secret mode.
    Secret {
        #[command(subcommand)]
        command: consent::SecretCommand,
    },
    /// Admin consent: the URL an administrator opens, and its recorded outcome.
    Consent {
        #[command(subcommand)]
        command: consent::ConsentCommand,
    },
    /// Check a tenant's credentials, permissions and Graph access end to end.
    TestConnection(check::TestConnectionArgs),
    /// Audit events of the auth-broker (token issuance, certificates, consent).
    Audit(check::AuditArgs),
    /// Sync profiles: what to sync, into which mailboxes, when.
    Profile {
        #[command(subcommand)]
        command: profile::ProfileCommand,
    },
    /// Start, follow or cancel a run of a profile.
    Run {
        #[command(subcommand)]
        command: run::RunCommand,
    },
    /// Past and current runs.
    Runs {
        #[command(subcommand)]
        command: run::RunsCommand,
    },
    /// Release the deletes a run's deletion guard held back.
    Approve(run::ApproveArgs),
    /// API keys for other systems (scripts, an MSP's portal): create, list, revoke.
    ApiKey {
        #[command(subcommand)]
        command: api_key::ApiKeyCommand,
    },
    /// After losing the master key: delete every sealed secret from the
    /// auth-broker's store (tenants and apps stay) to enrol credentials again.
    ResetCredentials(reset::ResetCredentialsArgs),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => galsync_platform::flags::exit_on_clap_error(error),
    };
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
    let result = runtime.block_on(dispatch(cli));
    // Dropping the runtime would wait for blocked stdin readers; exit right away.
    if let Err(error) = result {
        // Error messages carry text from services and Entra.
        let message = error.to_string();
        let lines: Vec<String> = message.lines().map(galsync::output::printable).collect();
        eprintln!("error: {}", lines.join("\n"));
        std::process::exit(error.exit_code as i32);
    }
}

async fn dispatch(cli: Cli) -> CliResult {
    let globals = cli.globals;
    match cli.command {
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::run(args).await.map_err(CliError::from_anyhow),
        Command::Up(mut args) => {
            args.plaintext = globals.plaintext;
            up::run(args).await.map_err(CliError::from_anyhow)
        }
        Command::Pki { command } => pki::run(command),
        Command::Tenant { command } => tenant::run(&globals, command).await,
        Command::Cert { command } => cert::run(&globals, command).await,
        Command::Secret { command } => consent::run_secret(&globals, command).await,
        Command::Consent { command } => consent::run_consent(&globals, command).await,
        Command::TestConnection(args) => check::run_test_connection(&globals, args).await,
        Command::Audit(args) => check::run_audit(&globals, args).await,
        Command::Profile { command } => profile::run(&globals, command).await,
        Command::Run { command } => run::run(&globals, command).await,
        Command::Runs { command } => run::runs(&globals, command).await,
        Command::Approve(args) => run::approve(&globals, args).await,
        Command::ApiKey { command } => api_key::run(&globals, command).await,
        Command::ResetCredentials(args) => reset::run(args).await,
    }
}
