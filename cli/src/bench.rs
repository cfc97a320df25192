//! `galsync bench`: galsync against Graph's cost model — modelled latency,
//! 4 requests in flight per mailbox, the per-mailbox window and the app-wide
//! limit, all time-scaled — with every figure printed beside the floor the
//! emulator computes for the same scenario, and beside a naive client.
//!
//! Scenarios, in one run on one onboarded tenant:
//! - S1 initial sync: every target mailbox gets every synced person;
//! - S3 no-op resync: nothing changed (floor: one delta round, no writes);
//! - S4 one changed user: one update per mailbox (floor: ⌈M/20⌉ round trips
//!   with batches shared across mailboxes, plus the delta round);
//! - baseline: a sequential client writing one contact per request, as the
//!   PowerShell peers do, measured on one mailbox and extrapolated.
//!
//! Results go to `--out` as JSON and a Markdown table. Figures never fail the
//! command: a benchmark reports, it does not judge.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use galsync_graph_emulator::floor::{Floor, Scenario};
use galsync_graph_emulator::latency::LatencyModel;
use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use serde::Serialize;
use serde_json::json;

use crate::cluster::{Cluster, ClusterSpec};
use crate::demo::{self, tenant, verify, GraphCounts, Step};

/// Measure galsync against Graph's modelled latency and limits.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Users in the emulated directory.
    #[arg(long, default_value_t = 2000)]
    pub users: usize,
    /// Target mailboxes.
    #[arg(long, default_value_t = 100)]
    pub mailboxes: usize,
    /// Time scale of the emulator (latency, windows, Retry-After): 0.05 runs
    /// a 60 s Graph job in 3 s.
    #[arg(long, default_value_t = 0.05, value_parser = galsync_graph_emulator::parse_time_scale)]
    pub time_scale: f64,
    /// Small sizes that finish in well under a minute (CI runs these).
    #[arg(long)]
    pub quick: bool,
    /// Mailboxes the contact-writer reconciles at once (default: the writer's own).
    #[arg(long, value_parser = galsync_platform::flags::at_least_one::<usize>)]
    pub writer_workers: Option<usize>,
    /// The writer's --batch-linger-ms (default: the writer's own).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub batch_linger_ms: Option<u64>,
    /// Where the JSON and Markdown results go.
    #[arg(long, default_value = "bench/results")]
    pub out: PathBuf,
    /// Seed of the synthetic directory.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// One scenario's figures beside its floor.
#[derive(Debug, Serialize)]
struct Measured {
    scenario: &'static str,
    wall_secs: f64,
    floor_secs: f64,
    binding: String,
    contact_writes: u64,
    min_writes: u64,
    graph_requests: u64,
    min_requests: u64,
    round_trips: u64,
    min_round_trips: u64,
    throttled: u64,
    early_retries: u64,
}

impl Measured {
    fn ratio(&self) -> f64 {
        self.wall_secs / self.floor_secs.max(f64::EPSILON)
    }
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let (users, mailboxes) = if args.quick {
        (300, 10)
    } else {
        (args.users, args.mailboxes)
    };
    if mailboxes == 0 || users < 50 {
        anyhow::bail!("invalid --users/--mailboxes: use at least 50 users and 1 mailbox");
    }
    let config = EmulatorConfig {
        latency: LatencyModel::graph(),
        time_scale: args.time_scale,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(config.clone())
        .await
        .context("failed to start the Graph emulator")?;
    let data_dir =
        std::env::temp_dir().join(format!("galsync-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let cluster = Cluster::start(ClusterSpec {
        data_dir: data_dir.clone(),
        port_base: None,
        tls: true,
        writer_workers: args.writer_workers,
        writer_batch_linger_ms: args.batch_linger_ms,
        writer_max_workers: None,
    })
    .await?;
    println!(
        "galsync bench — {users} users × {mailboxes} mailboxes at Graph's modelled latency, time scale {}",
        args.time_scale
    );
    let result = scenarios(&args, users, mailboxes, &config, &emulator, &cluster).await;
    cluster.stop().await?;
    emulator.stop().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    let report = result?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("invalid --out {}: cannot create it", args.out.display()))?;
    let stem = args.out.join(format!("bench-{users}x{mailboxes}"));
    let json_path = stem.with_extension("json");
    let markdown_path = stem.with_extension("md");
    std::fs::write(&json_path, serde_json::to_vec_pretty(&report.json)?)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    std::fs::write(&markdown_path, &report.markdown)
        .with_context(|| format!("cannot write {}", markdown_path.display()))?;
    println!("\n{}", report.markdown);
    println!(
        "results: {} and {}",
        json_path.display(),
        markdown_path.display()
    );
    Ok(())
}

struct Report {
    json: serde_json::Value,
    markdown: String,
}

async fn scenarios(
    args: &BenchArgs,
    users: usize,
    mailboxes: usize,
    config: &EmulatorConfig,
    emulator: &Emulator,
    cluster: &Cluster,
) -> anyhow::Result<Report> {
    let addresses = cluster.addresses;
    let redirect_uri = format!("http://{}/consent/callback", addresses.consent_callback);
    let tenant = tenant::create(emulator, users, mailboxes, args.seed, &redirect_uri)?;
    let mut step = Step::new(6);
    let mut broker = AuthBrokerClient::new(cluster.channel(addresses.auth_broker)?);
    demo::certificate_journey(&mut broker, emulator, &tenant, &mut step).await?;
    demo::consent_journey(&mut broker, emulator, &tenant, &mut step).await?;
    demo::test_connection(&mut broker, &tenant, &mut step).await?;
    let mut scheduler = SchedulerClient::new(cluster.channel(addresses.scheduler)?);
    let profile_id = demo::create_profile(&mut scheduler, &tenant, &mut step).await?;
    let directory_users = emulator
        .state
        .directory
        .list_users(tenant.tenant_id, false)
        .len() as u64;
    let people = verify::verify(emulator, &tenant).expected_contacts as u64;
    let mailboxes = mailboxes as u64;

    println!("\nS1 initial sync");
    let s1_floor = Scenario {
        mailboxes,
        creates_per_mailbox: people,
        folder_requests_per_mailbox: 1,
        ..Scenario::directory_round(directory_users)
    }
    .floor(config);
    let s1 = measure(
        "S1 initial sync",
        emulator,
        &tenant,
        &mut scheduler,
        &profile_id,
        &s1_floor,
        people * mailboxes,
    )
    .await?;

    println!("\nS3 no-op resync");
    let one_round = Scenario::directory_round(1).floor(config);
    let s3 = measure(
        "S3 no-op resync",
        emulator,
        &tenant,
        &mut scheduler,
        &profile_id,
        &one_round,
        0,
    )
    .await?;

    println!("\nS4 one changed user");
    let changed = tenant::change_one_title(emulator, &tenant)?;
    println!("      {changed} has a new job title");
    let mut s4_floor = Scenario {
        updates_per_mailbox: 1,
        mailboxes,
        ..Scenario::directory_round(1)
    }
    .floor(config);
    // Batches shared across mailboxes: 20 updates per round trip.
    s4_floor.min_round_trips = 1 + mailboxes.div_ceil(20);
    let s4 = measure(
        "S4 one changed user",
        emulator,
        &tenant,
        &mut scheduler,
        &profile_id,
        &s4_floor,
        mailboxes,
    )
    .await?;

    println!("\nbaseline: one contact per request, one mailbox after another");
    let baseline = naive_baseline(emulator, &tenant, people.min(100)).await?;
    let baseline_wall = baseline.as_secs_f64() * (people * mailboxes) as f64;
    let results = [s1, s3, s4];
    let cost_model = json!({
        "time_scale": config.time_scale,
        "mailbox_concurrency": config.mailbox_concurrency,
        "mailbox_requests_per_window": config.mailbox_requests_per_window,
        "app_requests_per_window": config.app_requests_per_window,
        "latency": config.latency.ops,
    });
    let json = json!({
        "users": directory_users,
        "people_synced": people,
        "mailboxes": mailboxes,
        "writer_workers": args.writer_workers,
        "batch_linger_ms": args.batch_linger_ms,
        "cost_model": cost_model,
        "scenarios": results,
        "baseline": {
            "secs_per_contact": baseline.as_secs_f64(),
            "initial_sync_secs_extrapolated": baseline_wall,
        },
    });
    let markdown = markdown_table(&results, baseline_wall, config.time_scale);
    Ok(Report { json, markdown })
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    name: &'static str,
    emulator: &Emulator,
    tenant: &tenant::DemoTenant,
    scheduler: &mut SchedulerClient<tonic::transport::Channel>,
    profile_id: &str,
    floor: &Floor,
    min_writes: u64,
) -> anyhow::Result<Measured> {
    emulator.state.accounting.reset();
    let outcome = demo::sync(scheduler, profile_id).await?;
    let counts = GraphCounts::read(emulator);
    let check = verify::verify(emulator, tenant);
    if !check.passed() {
        anyhow::bail!(
            "{name}: verification failed: {} of {} mailboxes are correct ({})",
            check.mailboxes_correct,
            check.mailboxes_checked,
            check.problems.first().cloned().unwrap_or_default()
        );
    }
    let measured = Measured {
        scenario: name,
        wall_secs: outcome.elapsed.as_secs_f64(),
        floor_secs: floor.floor_secs,
        binding: floor.binding.clone(),
        contact_writes: counts.contact_writes,
        min_writes,
        graph_requests: counts.http_calls + counts.sub_requests,
        min_requests: floor.min_requests.max(1),
        round_trips: counts.http_calls,
        min_round_trips: floor.min_round_trips.max(1),
        throttled: counts.throttled,
        early_retries: counts.early_retries,
    };
    println!(
        "      {:.2} s = {:.2} × floor ({:.2} s, {}) · {} writes · {} round trips · {} throttled",
        measured.wall_secs,
        measured.ratio(),
        measured.floor_secs,
        measured.binding,
        measured.contact_writes,
        measured.round_trips,
        measured.throttled
    );
    Ok(measured)
}

/// The naive client: creates `count` contacts in one mailbox, one request
/// each, one after another; returns the time per contact.
async fn naive_baseline(
    emulator: &Emulator,
    tenant: &tenant::DemoTenant,
    count: u64,
) -> anyhow::Result<Duration> {
    let mailbox = tenant.targets.first().context("no target mailbox")?;
    let token =
        emulator
            .state
            .mint_token(tenant.tenant_id, &tenant.client_id, &["Contacts.ReadWrite"]);
    let http = reqwest::Client::new();
    let base = format!(
        "{}/v1.0/users/{mailbox}/contactFolders",
        emulator.base_url()
    );
    let folder: serde_json::Value = http
        .post(&base)
        .bearer_auth(&token)
        .json(&json!({"displayName": "Naive baseline"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let folder_id = folder["id"].as_str().context("folder id")?.to_owned();
    let started = Instant::now();
    for index in 0..count {
        http.post(format!("{base}/{folder_id}/contacts"))
            .bearer_auth(&token)
            .json(&json!({"displayName": format!("Baseline {index}")}))
            .send()
            .await?
            .error_for_status()?;
    }
    let per_contact = started.elapsed() / count.max(1) as u32;
    http.delete(format!("{base}/{folder_id}"))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?;
    println!(
        "      {:.1} ms per contact ({count} measured)",
        per_contact.as_secs_f64() * 1000.0
    );
    Ok(per_contact)
}

fn markdown_table(results: &[Measured], baseline_wall: f64, time_scale: f64) -> String {
    let mut table = String::new();
    table.push_str(&format!(
        "Time scale {time_scale}: every time below is wall time at that scale (÷ {time_scale} for real time).\n\n"
    ));
    table.push_str("| scenario | wall | floor | wall ÷ floor | bound by | writes (min) | requests (min) | round trips (min) | 429s | early retries |\n");
    table.push_str("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|\n");
    for result in results {
        table.push_str(&format!(
            "| {} | {:.2} s | {:.2} s | {:.2} | {} | {} ({}) | {} ({}) | {} ({}) | {} | {} |\n",
            result.scenario,
            result.wall_secs,
            result.floor_secs,
            result.ratio(),
            result.binding,
            result.contact_writes,
            result.min_writes,
            result.graph_requests,
            result.min_requests,
            result.round_trips,
            result.min_round_trips,
            result.throttled,
            result.early_retries
        ));
    }
    if let Some(initial) = results.first() {
        table.push_str(&format!(
            "| baseline initial sync (naive, extrapolated) | {:.2} s | {:.2} s | {:.2} | sequential latency | | | | | |\n",
            baseline_wall,
            initial.floor_secs,
            baseline_wall / initial.floor_secs.max(f64::EPSILON)
        ));
    }
    table
}
