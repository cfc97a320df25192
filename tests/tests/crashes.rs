//! Scenarios 2, 3 and 9 of the process-level suite: a writer killed with
//! SIGKILL, the scheduler killed and started again, a writer sent SIGTERM —
//! each mid-run, against Graph's modelled latency so the run is still going
//! when the process dies. Each ends with every mailbox exactly matching the
//! directory, and no request retried before its Retry-After.

use std::time::{Duration, Instant};

use galsync_e2e::cluster::strings;
use galsync_e2e::{spawn_cluster, Cluster, ClusterSpec, Process};

/// [`ClusterSpec::slow_graph`] with extra scheduler flags.
fn slow_graph(writers: usize, scheduler_args: &[&str]) -> ClusterSpec {
    ClusterSpec {
        scheduler_args: strings(scheduler_args),
        ..ClusterSpec::slow_graph(writers)
    }
}

/// Onboards a tenant of `users` with `mailboxes` targets, makes a profile
/// and starts a run of it; gives the tenant and the run id.
async fn started_run(
    cluster: &Cluster,
    users: usize,
    mailboxes: usize,
    seed: u64,
) -> (galsync_e2e::Tenant, String, String) {
    let tenant = cluster.onboard(users, mailboxes, seed).await;
    let profile_id = cluster.create_profile(&tenant, &[]).await;
    let run_id = cluster.start_run(&profile_id).await;
    (tenant, profile_id, run_id)
}

/// Without terminal colour codes.
fn plain(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// The mailbox a writer's log says it leased first, if it has leased one.
fn leased_mailbox(process: &Process) -> Option<String> {
    plain(&process.log_tail(10_000))
        .lines()
        .find(|line| line.contains("leased work"))
        .and_then(|line| line.split("mailbox=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
}

/// Waits until some writer has leased a mailbox and written some of its
/// contacts (not all: a create takes 300 ms here); gives the writer's index
/// and the mailbox id. Whichever writer leases first: with a place for
/// several mailboxes each, one writer may well lease every mailbox of a
/// small run.
async fn a_writer_mid_mailbox(cluster: &Cluster, tenant: &galsync_e2e::Tenant) -> (usize, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let (writer, mailbox) = loop {
        let leased = cluster
            .writers
            .iter()
            .enumerate()
            .find_map(|(index, writer)| Some((index, leased_mailbox(&writer.process)?)));
        if let Some(leased) = leased {
            break leased;
        }
        assert!(
            Instant::now() < deadline,
            "no writer logged \"leased work\" in 60 s:\n{}",
            cluster.writers[0].process.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    loop {
        let folders = cluster.emulator.folders(&tenant.tenant_id, &mailbox).await;
        let written: u64 = folders
            .iter()
            .filter(|folder| folder["isDefault"] != true)
            .map(|folder| folder["contactCount"].as_u64().unwrap_or(0))
            .sum();
        if written > 0 {
            return (writer, mailbox);
        }
        assert!(
            Instant::now() < deadline,
            "nothing written to {mailbox} in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The run ended well, every mailbox matches the directory, and the emulator
/// saw no retry before its Retry-After.
async fn assert_exact_end(
    cluster: &Cluster,
    tenant: &galsync_e2e::Tenant,
    run: &serde_json::Value,
) {
    assert_eq!(run["state"], "succeeded", "{run:#}");
    assert_eq!(
        run["mailboxes_succeeded"].as_u64(),
        Some(tenant.targets.len() as u64),
        "{run:#}"
    );
    cluster.assert_mailboxes_match(tenant).await;
    let requests = cluster.emulator.get("/_admin/requests").await;
    assert_eq!(requests["early_retries"], 0, "retried before Retry-After");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_killed_mid_run_loses_nothing_and_writes_nothing_twice() {
    let mut cluster = spawn_cluster(slow_graph(3, &[])).await;
    let (tenant, _, run_id) = started_run(&cluster, 60, 9, 11).await;

    let (writer, mailbox) = a_writer_mid_mailbox(&cluster, &tenant).await;
    cluster.writers[writer].process.kill();

    let run = cluster
        .wait_run_end(&run_id, Duration::from_secs(180))
        .await;
    assert_exact_end(&cluster, &tenant, &run).await;
    let taken_over = run["mailboxes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|result| result["mailbox_id"] == mailbox.as_str())
        .expect("the killed writer's mailbox is in the run");
    assert!(
        taken_over["attempts"].as_u64().unwrap_or(0) > 1,
        "the killed writer's mailbox was not taken over: {taken_over:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_killed_mid_run_is_restarted_and_the_run_completes() {
    // A short run lock, so the restarted scheduler adopts the run soon.
    let mut cluster = spawn_cluster(slow_graph(2, &["--run-lock-ttl-secs", "5"])).await;
    let (tenant, _, run_id) = started_run(&cluster, 60, 6, 12).await;
    cluster.wait_run_state(&run_id, "writing").await;

    cluster.scheduler.process.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.scheduler.process.restart();
    let scheduler = &cluster.scheduler;
    cluster.wait_healthy(scheduler).await;

    let run = cluster
        .wait_run_end(&run_id, Duration::from_secs(180))
        .await;
    assert_exact_end(&cluster, &tenant, &run).await;
}

/// SIGTERM to the first writer to lease a mailbox, while it writes it, with `drain_secs` of
/// drain; the run must end exact, and the writer's log must show how it let
/// go of its item (`expect_in_log`).
async fn sigterm_mid_mailbox(drain_secs: &str, mailboxes: usize, expect_in_log: &str) {
    let mut spec = slow_graph(2, &[]);
    spec.writer_args
        .extend(strings(&["--drain-secs", drain_secs]));
    let mut cluster = spawn_cluster(spec).await;
    let (tenant, _, run_id) = started_run(&cluster, 120, mailboxes, 13).await;

    let (writer, _) = a_writer_mid_mailbox(&cluster, &tenant).await;
    let status = cluster.writers[writer]
        .process
        .terminate(Duration::from_secs(60))
        .await
        .expect("the writer did not stop within 60 s of SIGTERM");
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    let run = cluster
        .wait_run_end(&run_id, Duration::from_secs(180))
        .await;
    assert_exact_end(&cluster, &tenant, &run).await;
    let log = plain(&cluster.writers[writer].process.log_tail(10_000));
    assert!(
        log.contains(expect_in_log),
        "the writer never logged \"{expect_in_log}\":\n{}",
        cluster.writers[writer].process.log_tail(30)
    );
}

/// The mailbox takes longer than the 4 s lease and the other writer has a
/// free place: the writer must keep its lease alive while it drains, or the
/// other writer starts on the same mailbox and creates its contacts a
/// second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_sent_sigterm_finishes_its_mailbox_within_the_drain_time() {
    sigterm_mid_mailbox("40", 2, "shutting down: the item in flight may finish").await;
}

/// A drain too short to finish: the writer stops after its batch in flight
/// and only then gives the lease back, so no write of it is still in flight
/// when the other writer lists the folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_sent_sigterm_with_a_short_drain_stops_after_its_batch_and_hands_back() {
    sigterm_mid_mailbox(
        "1",
        6,
        "stopped after the batch in flight; giving the lease back",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reader_killed_mid_read_is_restarted_and_the_run_completes() {
    // Slow directory pages; a run lock shorter than the read, which the
    // scheduler must keep renewing while it waits for the reader.
    let mut cluster = spawn_cluster(ClusterSpec {
        emulator_args: ["--latency-op", "directory-page=300:600"]
            .map(str::to_owned)
            .to_vec(),
        scheduler_args: ["--run-lock-ttl-secs", "5"].map(str::to_owned).to_vec(),
        ..ClusterSpec::default()
    })
    .await;
    let (tenant, _, run_id) = started_run(&cluster, 100, 3, 14).await;
    cluster.wait_run_state(&run_id, "reading").await;
    // Directory reads take 300 ms here, the whole read about 10 s.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    cluster.reader.process.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.reader.process.restart();

    let run = cluster
        .wait_run_end(&run_id, Duration::from_secs(120))
        .await;
    assert_exact_end(&cluster, &tenant, &run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auth_broker_down_for_20_seconds_mid_run_fails_nothing() {
    let mut cluster = spawn_cluster(ClusterSpec {
        // Tokens that expire within the outage, so callers must come back
        // to the broker while it is down.
        emulator_args: [
            "--latency",
            "graph",
            "--latency-op",
            "contact-create=300:600",
            "--token-lifetime-secs",
            "10",
        ]
        .map(str::to_owned)
        .to_vec(),
        writers: 2,
        ..ClusterSpec::default()
    })
    .await;
    let (tenant, _, run_id) = started_run(&cluster, 60, 8, 15).await;
    a_writer_mid_mailbox(&cluster, &tenant).await;

    cluster.broker.process.kill();
    tokio::time::sleep(Duration::from_secs(20)).await;
    cluster.broker.process.restart();

    let run = cluster
        .wait_run_end(&run_id, Duration::from_secs(240))
        .await;
    assert_exact_end(&cluster, &tenant, &run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_scheduler_replicas_the_survivor_adopts_the_run_and_a_profile_never_runs_twice() {
    let mut spec = slow_graph(2, &["--run-lock-ttl-secs", "5"]);
    spec.standby_scheduler = true;
    let mut cluster = spawn_cluster(spec).await;
    let (tenant, profile_id, run_id) = started_run(&cluster, 60, 6, 16).await;
    cluster.wait_run_state(&run_id, "writing").await;

    // The other replica refuses a second run of the same profile.
    cluster.fail_over();
    let second = cluster.galsync(&["run", "start", &profile_id]).await;
    assert_ne!(
        second.code,
        Some(0),
        "a second run started: {}",
        second.stdout
    );

    // The replica that drives the run dies; the survivor adopts it.
    cluster
        .standby
        .as_mut()
        .expect("the first replica")
        .process
        .kill();
    let run = cluster
        .wait_run_end(&run_id, Duration::from_secs(180))
        .await;
    assert_exact_end(&cluster, &tenant, &run).await;
    let runs = cluster
        .galsync(&["runs", "list", "--profile", &profile_id])
        .await
        .ok("runs list");
    assert_eq!(
        runs["runs"].as_array().map(Vec::len),
        Some(1),
        "the profile ran more than once: {runs:#}"
    );
}
