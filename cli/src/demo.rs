//! `galsync demo`: the whole product against an emulated Microsoft 365
//! tenant, narrated step by step — certificate, upload, admin consent, test
//! connection, profile, initial sync, directory changes, incremental sync —
//! ending with every mailbox verified against the directory.

pub mod tenant;
pub mod verify;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1;
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use tonic::transport::Channel;

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
        writer_batch_linger_ms: None,
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
    let initial_requests = GraphCounts::read(emulator);
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
    let incremental_requests = GraphCounts::read(emulator);
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

pub async fn certificate_journey(
    broker: &mut AuthBrokerClient<Channel>,
    emulator: &Emulator,
    tenant: &tenant::DemoTenant,
    step: &mut Step,
) -> anyhow::Result<String> {
    broker
        .register_tenant(v1::RegisterTenantRequest {
            tenant_id: tenant.tenant_id.to_string(),
            display_name: "Contoso (emulated)".to_owned(),
            login_base_url: emulator.base_url(),
            graph_base_url: emulator.base_url(),
            apps: vec![v1::AppRegistration {
                client_id: tenant.client_id.clone(),
                auth_mode: v1::AuthMode::Certificate as i32,
                purposes: vec![
                    v1::TokenPurpose::Directory as i32,
                    v1::TokenPurpose::Contacts as i32,
                ],
                ..Default::default()
            }],
        })
        .await
        .context("registering the tenant with the auth-broker failed")?;
    let certificate = broker
        .generate_certificate(v1::GenerateCertificateRequest {
            tenant_id: tenant.tenant_id.to_string(),
            client_id: tenant.client_id.clone(),
            key_bits: 2048,
            validity_days: 730,
        })
        .await
        .context("generating the certificate failed")?
        .into_inner();
    step.say(format!(
        "Generated certificate {} (RSA 2048, SHA-256, 2 years) — its private key never leaves the auth-broker",
        certificate.subject
    ));
    detail(format!("SHA-1 thumbprint {}", certificate.thumbprint_sha1));
    let exported = broker
        .export_certificate(v1::ExportCertificateRequest {
            certificate_id: certificate.certificate_id.clone(),
        })
        .await
        .context("exporting the certificate failed")?
        .into_inner();
    let uploaded = emulator
        .state
        .identity
        .upload_certificate(&tenant.client_id, &exported.cer_der)
        .map_err(|error| {
            anyhow::anyhow!("uploading the .cer to the emulated app failed: {error}")
        })?;
    step.say("Uploaded galsync.cer to the app registration (Entra admin center > App registrations > galsync > Certificates & secrets)");
    detail(format!(
        "Entra shows thumbprint {}",
        uploaded.thumbprint_sha1
    ));
    Ok(certificate.certificate_id)
}

pub async fn consent_journey(
    broker: &mut AuthBrokerClient<Channel>,
    emulator: &Emulator,
    tenant: &tenant::DemoTenant,
    step: &mut Step,
) -> anyhow::Result<()> {
    let link = broker
        .get_admin_consent_url(v1::GetAdminConsentUrlRequest {
            tenant_id: tenant.tenant_id.to_string(),
            client_id: tenant.client_id.clone(),
            redirect_uri: String::new(),
        })
        .await
        .context("making the admin-consent link failed")?
        .into_inner();
    // The administrator opens the link and clicks Accept.
    emulator
        .state
        .identity
        .set_consent_decision(
            tenant.tenant_id,
            &tenant.client_id,
            galsync_graph_emulator::identity::model::ConsentDecision::Approve,
        )
        .map_err(|error| anyhow::anyhow!("the emulated consent screen failed: {error}"))?;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()?;
    let landing = browser
        .get(&link.url)
        .send()
        .await
        .context("opening the consent link failed")?;
    if !landing.status().is_success() {
        anyhow::bail!("the consent callback answered {}", landing.status());
    }
    let status = broker
        .get_consent_status(v1::GetConsentStatusRequest {
            tenant_id: tenant.tenant_id.to_string(),
            client_id: tenant.client_id.clone(),
        })
        .await?
        .into_inner();
    if !status.granted {
        anyhow::bail!(
            "admin consent was not recorded: {} {}",
            status.error,
            status.error_description
        );
    }
    step.say("Admin consent granted: the administrator opened galsync's consent link and accepted");
    detail(link.url.split('?').next().unwrap_or_default());
    Ok(())
}

pub async fn test_connection(
    broker: &mut AuthBrokerClient<Channel>,
    tenant: &tenant::DemoTenant,
    step: &mut Step,
) -> anyhow::Result<()> {
    let probe = tenant
        .targets
        .first()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let report = broker
        .test_connection(v1::TestConnectionRequest {
            tenant_id: tenant.tenant_id.to_string(),
            probe_mailbox: probe,
        })
        .await
        .context("the connection test failed to run")?
        .into_inner();
    step.say("Test connection");
    for check in &report.checks {
        let mark = if check.ok { "✓" } else { "✗" };
        detail(format!("{mark} {:<26} {}", check.name, check.detail));
        if !check.ok {
            detail(format!("  fix: {}", check.fix));
        }
    }
    if !report.ok {
        anyhow::bail!("the connection test failed; see the fixes above");
    }
    Ok(())
}

pub async fn create_profile(
    scheduler: &mut SchedulerClient<Channel>,
    tenant: &tenant::DemoTenant,
    step: &mut Step,
) -> anyhow::Result<String> {
    let profile = scheduler
        .create_profile(v1::CreateProfileRequest {
            spec: Some(v1::ProfileSpec {
                name: "Company directory".to_owned(),
                tenant_id: tenant.tenant_id.to_string(),
                source: Some(v1::SourceFilter::default()),
                targets: Some(v1::TargetSelector {
                    group_ids: vec![tenant.target_group_id.to_string()],
                    ..Default::default()
                }),
                write: Some(v1::WritePolicy {
                    folder_name: verify::FOLDER_NAME.to_owned(),
                    ..Default::default()
                }),
                schedule: Some(v1::Schedule {
                    kind: Some(v1::schedule::Kind::IntervalSeconds(3600)),
                    time_zone: String::new(),
                }),
                repair_interval_seconds: 0,
                enabled: true,
            }),
        })
        .await
        .context("creating the profile failed")?
        .into_inner();
    step.say(format!(
        "Profile \"Company directory\": all enabled staff with mail → folder \"{}\" of every member of \"{}\", hourly",
        verify::FOLDER_NAME,
        tenant::TARGET_GROUP
    ));
    match scheduler
        .explain_profile(v1::ExplainProfileRequest {
            profile_id: profile.profile_id.clone(),
        })
        .await
    {
        Ok(explanation) => {
            let explanation = explanation.into_inner();
            if let Some(filter) = explanation.filter {
                detail(format!(
                    "{} users read, {} kept",
                    filter.users_read, filter.users_kept
                ));
                for rule in filter.rules {
                    detail(format!("  {:<40} drops {}", rule.rule, rule.dropped));
                }
            }
            detail(format!(
                "{} target mailboxes resolve",
                explanation.target_mailboxes
            ));
        }
        Err(status) => detail(format!("(explain unavailable: {})", status.message())),
    }
    Ok(profile.profile_id)
}

/// What a finished run reported.
pub struct RunOutcome {
    pub run: v1::Run,
    pub elapsed: Duration,
}

pub async fn sync(
    scheduler: &mut SchedulerClient<Channel>,
    profile_id: &str,
) -> anyhow::Result<RunOutcome> {
    let started = Instant::now();
    let run = scheduler
        .run_profile(v1::RunProfileRequest {
            profile_id: profile_id.to_owned(),
            ..Default::default()
        })
        .await
        .context("starting the run failed")?
        .into_inner();
    let mut events = scheduler
        .watch_run(v1::WatchRunRequest {
            run_id: run.run_id.clone(),
        })
        .await?
        .into_inner();
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut last_print = Instant::now() - Duration::from_secs(10);
    while let Some(event) = events.message().await? {
        match event.detail {
            Some(v1::run_event::Detail::StateChanged(state)) => {
                let state = v1::RunState::try_from(state).unwrap_or_default();
                if interactive {
                    print!("\r\x1b[2K");
                }
                println!(
                    "      run {}: {}",
                    short(&run.run_id),
                    state
                        .as_str_name()
                        .trim_start_matches("RUN_STATE_")
                        .to_lowercase()
                );
            }
            Some(v1::run_event::Detail::Progress(progress)) => {
                let due = last_print.elapsed()
                    >= if interactive {
                        Duration::from_millis(200)
                    } else {
                        Duration::from_secs(5)
                    };
                if due || progress.mailboxes_done == progress.mailboxes_total {
                    last_print = Instant::now();
                    print_progress(&progress, started.elapsed(), interactive);
                }
            }
            _ => {}
        }
    }
    if interactive {
        println!();
    }
    let run = scheduler
        .get_run(v1::GetRunRequest { run_id: run.run_id })
        .await?
        .into_inner();
    if run.state != v1::RunState::Succeeded as i32 {
        let errors: Vec<String> = run
            .mailboxes
            .iter()
            .flat_map(|mailbox| mailbox.errors.clone())
            .take(3)
            .collect();
        anyhow::bail!(
            "the run ended {:?}: {} {}",
            v1::RunState::try_from(run.state).unwrap_or_default(),
            run.error,
            errors.join("; ")
        );
    }
    Ok(RunOutcome {
        run,
        elapsed: started.elapsed(),
    })
}

fn print_progress(progress: &v1::RunProgress, elapsed: Duration, interactive: bool) {
    let counts = progress.counts.unwrap_or_default();
    let written = counts.created + counts.updated + counts.deleted;
    let rate = written as f64 / elapsed.as_secs_f64().max(0.001);
    let remaining = progress
        .mailboxes_total
        .saturating_sub(progress.mailboxes_done);
    let eta = if progress.mailboxes_done == 0 {
        "…".to_owned()
    } else {
        let per_mailbox = elapsed.as_secs_f64() / f64::from(progress.mailboxes_done);
        format!("{:.0} s", per_mailbox * f64::from(remaining))
    };
    let line = format!(
        "      {}/{} mailboxes · {} contacts written · {:.0}/s · ETA {}",
        progress.mailboxes_done, progress.mailboxes_total, written, rate, eta
    );
    if interactive {
        print!("\r\x1b[2K{line}");
        let _ = std::io::stdout().flush();
    } else {
        println!("{line}");
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn report_check(check: &verify::Verification) -> anyhow::Result<()> {
    if check.passed() {
        detail(format!(
            "verified: all {} mailboxes hold exactly the {} people of the directory, with current names, titles and phones",
            check.mailboxes_checked, check.expected_contacts
        ));
        return Ok(());
    }
    for problem in &check.problems {
        detail(format!("✗ {problem}"));
    }
    anyhow::bail!(
        "verification failed: {} of {} mailboxes are correct",
        check.mailboxes_correct,
        check.mailboxes_checked
    )
}

/// Graph requests the emulator counted during one phase.
pub(crate) struct GraphCounts {
    pub http_calls: u64,
    pub sub_requests: u64,
    pub contact_writes: u64,
    pub directory_reads: u64,
    pub throttled: u64,
    pub early_retries: u64,
}

impl GraphCounts {
    pub(crate) fn read(emulator: &Emulator) -> Self {
        let accounting = &emulator.state.accounting;
        let is_graph = |endpoint: &str| {
            !endpoint.starts_with("/{tenant}/") && !endpoint.starts_with("/_admin")
        };
        Self {
            http_calls: accounting.total(|key| !key.batched && is_graph(&key.endpoint)),
            sub_requests: accounting.total(|key| key.batched),
            contact_writes: accounting.total(|key| {
                key.endpoint.contains("/contacts")
                    && matches!(key.method.as_str(), "POST" | "PATCH" | "DELETE" | "PUT")
            }),
            directory_reads: accounting.total(|key| {
                !key.batched
                    && (key.endpoint.starts_with("/users") || key.endpoint.starts_with("/groups"))
                    && key.mailbox.is_empty()
            }),
            throttled: accounting.total(|key| key.status == 429),
            early_retries: accounting.early_retry_total(),
        }
    }
}

fn summary_table(
    tenant: &tenant::DemoTenant,
    initial: &RunOutcome,
    initial_requests: &GraphCounts,
    incremental: &RunOutcome,
    incremental_requests: &GraphCounts,
    check: &verify::Verification,
) -> String {
    let counts = |outcome: &RunOutcome| outcome.run.counts.unwrap_or_default();
    let first = counts(initial);
    let second = counts(incremental);
    let mut table = String::new();
    table.push_str("Summary\n");
    table.push_str(&format!(
        "  {:<34} {:>16} {:>16}\n",
        "", "initial sync", "incremental"
    ));
    let mut row = |label: &str, left: String, right: String| {
        table.push_str(&format!("  {label:<34} {left:>16} {right:>16}\n"));
    };
    row(
        "time",
        format!("{:.1} s", initial.elapsed.as_secs_f64()),
        format!("{:.1} s", incremental.elapsed.as_secs_f64()),
    );
    row(
        "contacts created",
        first.created.to_string(),
        second.created.to_string(),
    );
    row(
        "contacts updated",
        first.updated.to_string(),
        second.updated.to_string(),
    );
    row(
        "contacts deleted",
        first.deleted.to_string(),
        second.deleted.to_string(),
    );
    row(
        "directory reads (Graph requests)",
        initial_requests.directory_reads.to_string(),
        incremental_requests.directory_reads.to_string(),
    );
    row(
        "contact writes (Graph requests)",
        initial_requests.contact_writes.to_string(),
        incremental_requests.contact_writes.to_string(),
    );
    row(
        "HTTP calls to Graph ($batch = 1)",
        initial_requests.http_calls.to_string(),
        incremental_requests.http_calls.to_string(),
    );
    row(
        "sub-requests inside $batch",
        initial_requests.sub_requests.to_string(),
        incremental_requests.sub_requests.to_string(),
    );
    row(
        "throttled (429) / early retries",
        format!(
            "{} / {}",
            initial_requests.throttled, initial_requests.early_retries
        ),
        format!(
            "{} / {}",
            incremental_requests.throttled, incremental_requests.early_retries
        ),
    );
    table.push_str(&format!(
        "  mailboxes verified against the directory: {}/{} · {} contacts each · {} people in the directory\n",
        check.mailboxes_correct,
        tenant.targets.len(),
        check.expected_contacts,
        tenant.seed.users
    ));
    table
}
