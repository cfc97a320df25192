//! The scenarios, each on a cluster of its own started as production runs
//! it: the emulator in its own process, every service in its own, mTLS
//! between them. S1, S3, S4 and the baseline share one cluster at Graph's
//! modelled latency; S2 runs with Graph's limits and latency off; S6 starts
//! one cluster per number of writers, over PostgreSQL.

use galsync_e2e::{spawn_cluster, ClusterSpec};
use galsync_graph_emulator::cost::Scenario;

use crate::measure::{self, Measured, Setup};

/// The sizes and settings of one bench run.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub users: usize,
    pub mailboxes: usize,
    pub time_scale: f64,
    pub seed: u64,
    /// Flags for every contact-writer (none: the product's defaults).
    pub writer_args: Vec<String>,
    /// Writer processes for each S6 row.
    pub scale_out: Vec<usize>,
    /// Directory sizes of the S5 rows, and their target mailboxes.
    pub scale_users: Vec<usize>,
    pub scale_mailboxes: usize,
}

impl Sizes {
    fn at_graph_latency(&self) -> Vec<String> {
        vec![
            "--latency".to_owned(),
            "graph".to_owned(),
            "--time-scale".to_owned(),
            self.time_scale.to_string(),
        ]
    }

    async fn setup(&self, spec: ClusterSpec) -> Setup {
        let started = std::time::Instant::now();
        let mut writer_args = self.writer_args.clone();
        let limits_off = spec.emulator_args.iter().any(|arg| arg == "--no-limits");
        let window_given = writer_args
            .iter()
            .any(|arg| arg.starts_with("--mailbox-requests-per-window"));
        if limits_off && !window_given {
            // Limits off means the writer's own pacing to Graph's per-mailbox
            // window too (10,000 requests per 10 minutes): else a mailbox of
            // more contacts than that waits out windows, not CPU.
            writer_args.insert(0, "--mailbox-requests-per-window=1000000000".to_owned());
        }
        let cluster = spawn_cluster(ClusterSpec {
            writer_args,
            ..spec
        })
        .await;
        let setup = Setup::onboard(cluster, self.users, self.mailboxes, self.seed).await;
        println!(
            "      processes started and the tenant onboarded with the CLI in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        setup
    }
}

/// What the cluster at Graph's latency measured.
pub struct AtLatency {
    pub scenarios: Vec<Measured>,
    pub baseline_per_contact_secs: f64,
    pub directory: Directory,
}

/// The directory a scenario synced.
#[derive(Debug, Clone, Copy, Default)]
pub struct Directory {
    pub users: u64,
    /// The synced people: what each mailbox gets.
    pub people: u64,
}

impl Setup {
    fn directory(&self) -> Directory {
        Directory {
            users: self.users,
            people: self.people,
        }
    }
}

/// S1 initial sync, S3 no-op resync, S4 one changed user, and the naive
/// client, at Graph's modelled latency on the embedded SQLite stores.
pub async fn at_graph_latency(sizes: &Sizes) -> anyhow::Result<AtLatency> {
    let setup = sizes
        .setup(ClusterSpec {
            emulator_args: sizes.at_graph_latency(),
            sqlite_only: true,
            ..ClusterSpec::default()
        })
        .await;
    let mailboxes = setup.mailboxes();
    let people = setup.people;

    println!("\nS1 initial sync");
    let s1_floor = setup.floor(&initial_sync(&setup)).await?;
    let s1 = measure::measure(&setup, "S1 initial sync", &s1_floor, people * mailboxes).await?;

    println!("\nS3 no-op resync");
    let one_round = setup.floor(&Scenario::directory_round(1)).await?;
    let s3 = measure::measure(&setup, "S3 no-op resync", &one_round, 0).await?;

    println!("\nS4 one changed user");
    let changed = measure::change_one_title(&setup).await?;
    println!("      {changed} has a new job title");
    let mut s4_floor = setup
        .floor(&Scenario {
            updates_per_mailbox: 1,
            mailboxes,
            ..Scenario::directory_round(1)
        })
        .await?;
    // Batches shared across mailboxes: 20 updates per round trip.
    s4_floor.min_round_trips = 1 + mailboxes.div_ceil(20);
    let s4 = measure::measure(&setup, "S4 one changed user", &s4_floor, mailboxes).await?;

    println!("\nbaseline: one contact per request, one mailbox after another");
    let per_contact = crate::baseline::per_contact(&setup, people.min(100)).await?;
    Ok(AtLatency {
        scenarios: vec![s1, s3, s4],
        baseline_per_contact_secs: per_contact.as_secs_f64(),
        directory: setup.directory(),
    })
}

/// S2: the initial sync with Graph's limits and latency off, so only CPU
/// binds: contacts/s, CPU per contact and peak RSS of each process.
pub async fn without_limits(sizes: &Sizes) -> anyhow::Result<(Measured, Directory)> {
    println!("\nS2 initial sync, Graph's limits and latency off");
    initial_sync_on(sizes, limits_off(), "S2 initial sync, limits off").await
}

/// S5: how each process's memory grows with the directory — the initial
/// sync of `scale_users` users into `scale_mailboxes` mailboxes, Graph's
/// limits and latency off, one cluster per size.
pub async fn scale(sizes: &Sizes) -> anyhow::Result<Vec<(Measured, Directory)>> {
    let mut rows = Vec::new();
    for &users in &sizes.scale_users {
        println!(
            "\nS5 initial sync, {users} users × {} mailboxes, limits off",
            sizes.scale_mailboxes
        );
        let sized = Sizes {
            users,
            mailboxes: sizes.scale_mailboxes,
            ..sizes.clone()
        };
        let name = format!("S5 initial sync, {users} users");
        rows.push(initial_sync_on(&sized, limits_off(), &name).await?);
    }
    Ok(rows)
}

/// The emulator without Graph's limits and latency; the embedded stores.
fn limits_off() -> ClusterSpec {
    ClusterSpec {
        emulator_args: vec!["--no-limits".to_owned()],
        sqlite_only: true,
        ..ClusterSpec::default()
    }
}

/// A fresh cluster of `spec` with the tenant onboarded, and its initial
/// sync measured as `name`.
async fn initial_sync_on(
    sizes: &Sizes,
    spec: ClusterSpec,
    name: &str,
) -> anyhow::Result<(Measured, Directory)> {
    let setup = sizes.setup(spec).await;
    let floor = setup.floor(&initial_sync(&setup)).await?;
    let writes = setup.people * setup.mailboxes();
    let measured = measure::measure(&setup, name, &floor, writes).await?;
    Ok((measured, setup.directory()))
}

/// S6: the initial sync at Graph's latency with 1, 2, 4… writer processes
/// sharing one run over PostgreSQL; `None` without a PostgreSQL to use.
pub async fn scale_out(sizes: &Sizes) -> anyhow::Result<Option<(Vec<Measured>, Directory)>> {
    let variable = galsync_e2e::databases::POSTGRES_DSN_VAR;
    if std::env::var_os(variable).is_none() {
        println!("\nS6 writer scale-out: skipped; set {variable}=postgres://… (a PostgreSQL it may create databases on) to run it");
        return Ok(None);
    }
    let mut rows = Vec::new();
    let mut directory = Directory::default();
    for &writers in &sizes.scale_out {
        println!("\nS6 initial sync, {writers} writer process(es) over PostgreSQL");
        let spec = ClusterSpec {
            writers,
            emulator_args: sizes.at_graph_latency(),
            ..ClusterSpec::default()
        };
        let name = format!("S6 initial sync, {writers} writer(s)");
        let (measured, of) = initial_sync_on(sizes, spec, &name).await?;
        rows.push(measured);
        directory = of;
    }
    Ok(Some((rows, directory)))
}

/// Every target mailbox gets every synced person.
fn initial_sync(setup: &Setup) -> Scenario {
    Scenario {
        mailboxes: setup.mailboxes(),
        creates_per_mailbox: setup.people,
        folder_requests_per_mailbox: 1,
        ..Scenario::directory_round(setup.users)
    }
}
