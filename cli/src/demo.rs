//! `galsync demo`: the whole product against an emulated Microsoft 365
//! tenant, narrated step by step — certificate, upload, admin consent, test
//! connection, profile, initial sync, directory changes, incremental sync —
//! ending with every mailbox verified against the directory.

mod connect;
mod profile;
mod summary;
mod sync_run;
pub mod tenant;
pub mod verify;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use galsync_proto::v1::scheduler_client::SchedulerClient;

pub use connect::{certificate_journey, consent_journey, test_connection};
pub use profile::create_profile;
use summary::{report_check, summary_table};
pub use sync_run::{sync, RunOutcome};

use crate::cluster::{Cluster, ClusterSpec};

/// Run the whole journey against an emulated tenant.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Users in the emulated directory.
    #[arg(long, env = "GALSYNC_DEMO_USERS", default_value_t = 2000)]
    pub users: usize,
    /// Target mailboxes (licensed users who receive the directory).
    #[arg(long, env = "GALSYNC_DEMO_MAILBOXES", default_value_t = 100)]
    pub mailboxes: usize,
    /// Seed of the synthetic directory (same seed, same people).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Where the services keep their data; default: a fresh temporary directory, removed afterwards.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Turn off the emulated Graph throttling limits.
    #[arg(long, default_value_t = false)]
    pub no_limits: bool,

    /// Also start the admin console (HTTPS, the demo's own PKI) and keep
    /// the demo running after the journey, until Ctrl-C, to look at the
    /// emulated tenant, its runs and profile in a browser.
    #[arg(long, default_value_t = false)]
    pub console: bool,

    /// Where the console serves HTTPS with --console.
    #[arg(long, env = "GALSYNC_CONSOLE_LISTEN", default_value = "127.0.0.1:8443")]
    pub console_listen: std::net::SocketAddr,
}

/// Numbered narration of the journey.
pub struct Step {
    number: u32,
    total: u32,
}

impl Step {
    pub fn new(total: u32) -> Self {
        Self { number: 0, total }
    }

    fn say(&mut self, text: impl AsRef<str>) {
        self.number += 1;
        println!("\n[{}/{}] {}", self.number, self.total, text.as_ref());
    }
}

fn detail(text: impl AsRef<str>) {
    println!("      {}", text.as_ref());
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if args.mailboxes == 0 || args.users < 50 {
        anyhow::bail!("invalid --users/--mailboxes: use at least 50 users and 1 mailbox");
    }
    let started = Instant::now();
    let temporary = tempfile_dir()?;
    let data_dir = args.data_dir.clone().unwrap_or_else(|| temporary.clone());
    println!("galsync demo — the whole journey against an emulated Microsoft 365 tenant");
    let mut step = Step {
        number: 0,
        total: 10,
    };

    // Bound first, so a busy console port fails before anything starts.
    let console_listener = if args.console {
        let listener = galsync_platform::grpc::bind(args.console_listen)
            .await
            .map_err(|error| galsync_platform::ConfigError::new("console-listen", error.problem))?;
        Some(listener)
    } else {
        None
    };
    let emulator = Emulator::start(EmulatorConfig {
        limits_enabled: !args.no_limits,
        ..EmulatorConfig::default()
    })
    .await
    .context("failed to start the Graph emulator")?;
    let cluster = Cluster::start(ClusterSpec {
        data_dir: data_dir.clone(),
        port_base: None,
        tls: true,
        writer_workers: Some(16),
        writer_max_workers: None,
    })
    .await?;
    let console = match console_listener {
        Some(listener) => Some(crate::up::start_console(listener, &cluster, None)?),
        None => None,
    };
    // A service that stops early makes the journey's next call fail, which ends the demo.
    let result = journey(&args, &emulator, &cluster, &mut step).await;
    match console {
        Some(console) if result.is_ok() => {
            if let Ok(summary) = &result {
                println!("\n{summary}");
            }
            println!(
                "\nthe admin console stays up with the demo tenant (the link printed above; trust {} in the browser); press Ctrl-C to stop",
                cluster.pki_dir.join("ca.pem").display()
            );
            let served = cluster.serve_until_signal().await;
            console.stop().await;
            served?;
        }
        Some(console) => {
            console.stop().await;
            cluster.stop().await?;
        }
        None => cluster.stop().await?,
    }
    emulator.stop().await;
    if args.data_dir.is_none() {
        let _ = std::fs::remove_dir_all(&temporary);
    }
    let summary = result?;
    if !args.console {
        println!("\n{summary}");
    }
    println!("demo finished in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("galsync-demo-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

async fn journey(
    args: &DemoArgs,
    emulator: &Emulator,
    cluster: &Cluster,
    step: &mut Step,
) -> anyhow::Result<String> {
    let addresses = cluster.addresses;
    step.say(format!(
        "galsync is up: scheduler {} · auth-broker {} · directory-reader {} · contact-writer {} (mTLS, SQLite)",
        addresses.scheduler, addresses.auth_broker, addresses.directory_reader, addresses.contact_writer
    ));
    let redirect_uri = format!("http://{}/consent/callback", addresses.consent_callback);
    let tenant = tenant::create(
        emulator,
        args.users,
        args.mailboxes,
        args.seed,
        &redirect_uri,
    )?;
    step.say(format!(
        "Emulated tenant {} ({}) at {}: {} users, {} target mailboxes in group \"{}\"",
        tenant::DOMAIN,
        tenant.tenant_id,
        emulator.base_url(),
        tenant.seed.users,
        tenant.targets.len(),
        tenant::TARGET_GROUP
    ));
    detail(format!(
        "{} disabled, {} without mail, {} guests, {} shared/room/equipment mailboxes — galsync leaves these out by default",
        tenant.seed.disabled,
        tenant.seed.no_mail,
        tenant.seed.guests,
        tenant.seed.shared + tenant.seed.rooms + tenant.seed.equipment
    ));
    detail(format!(
        "app registration \"galsync\" (client id {}) requests {}",
        tenant.client_id,
        tenant::APP_ROLES.join(", ")
    ));

    let mut broker = AuthBrokerClient::new(cluster.channel(addresses.auth_broker)?);
    let certificate_id = certificate_journey(&mut broker, emulator, &tenant, step).await?;
    let _ = certificate_id;
    consent_journey(&mut broker, emulator, &tenant, step).await?;
    test_connection(&mut broker, &tenant, step).await?;

    let mut scheduler = SchedulerClient::new(cluster.channel(addresses.scheduler)?);
    let profile_id = create_profile(&mut scheduler, &tenant, step).await?;

    step.say("Initial sync: every target mailbox gets the company directory");
    emulator.state.accounting.reset();
    let initial = sync(&mut scheduler, &profile_id).await?;
    let initial_requests = emulator.state.accounting.totals();
    let initial_check = verify::verify(emulator, &tenant);
    report_check(&initial_check)?;

    step.say("The directory changes: 10 people get new titles and phones, 5 join, 3 are disabled, 2 leave");
    let changes = tenant::change_directory(emulator, &tenant)?;
    detail(format!(
        "changed {} · added {} · disabled {} · deleted {}",
        changes.changed.len(),
        changes.added.len(),
        changes.disabled.len(),
        changes.deleted.len()
    ));

    step.say("Incremental sync: only the changes are read and written");
    emulator.state.accounting.reset();
    let incremental = sync(&mut scheduler, &profile_id).await?;
    let incremental_requests = emulator.state.accounting.totals();
    let final_check = verify::verify(emulator, &tenant);
    report_check(&final_check)?;

    Ok(summary_table(
        &tenant,
        &initial,
        &initial_requests,
        &incremental,
        &incremental_requests,
        &final_check,
    ))
}
