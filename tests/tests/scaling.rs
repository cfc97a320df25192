//! A measurement, not a check: how an initial sync's wall time changes with
//! the number of contact-writer processes, at Graph's modelled latency. For
//! 1, 2 and 4 writers (each its own process) it syncs the same directory into
//! the same mailboxes, asserts every mailbox matches the directory, and
//! prints a table beside the emulator's floor for the scenario. Two writer
//! settings: the product's defaults (`--workers 8 --max-workers 512`) and
//! writers capped at 4 mailboxes at once, as a writer short of memory would
//! be. The figures are in docs/scaling.md. Numbers never fail it; only a
//! wrong mailbox or a failed run does.
//!
//! ```text
//! cargo test -p galsync-e2e --test scaling -- --ignored --nocapture
//! ```

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use galsync::demo::verify;
use galsync_e2e::cluster::strings;
use galsync_e2e::{spawn_cluster, ClusterSpec};
use reqwest::Method;
use serde_json::{json, Value};

/// Directory users, target mailboxes and the seed, the same for every row.
const USERS: usize = 200;
const MAILBOXES: usize = 24;
const SEED: u64 = 31;

/// One row of the table.
struct Row {
    setting: &'static str,
    writers: usize,
    contacts: u64,
    read: Duration,
    wall: Duration,
    /// The floor of the whole scenario, and of its mailbox part (the floor
    /// less the directory read).
    floor: f64,
    mailbox_floor: f64,
    requests: u64,
    throttled: u64,
}

/// Syncs `USERS` users into `MAILBOXES` mailboxes with `writers` writer
/// processes started with `writer_args`; asserts the run succeeded and every
/// mailbox matches.
async fn measure(setting: &'static str, writers: usize, writer_args: &[&str]) -> Row {
    let cluster = spawn_cluster(ClusterSpec {
        writers,
        writer_args: strings(writer_args),
        emulator_args: strings(&["--latency", "graph"]),
        ..ClusterSpec::default()
    })
    .await;
    let tenant = cluster.onboard(USERS, MAILBOXES, SEED).await;
    let profile_id = cluster.create_profile(&tenant, &[]).await;
    let users = cluster.emulator.users(&tenant.tenant_id).await;
    let per_mailbox = verify::expected_contacts(&users).len() as u64;
    let floor = cluster
        .emulator
        .post(
            "/_admin/floor",
            json!({
                "users": users.len(),
                "mailboxes": MAILBOXES,
                "creates_per_mailbox": per_mailbox,
                "folder_requests_per_mailbox": 1,
            }),
        )
        .await;
    // Count only the run's requests, not onboarding's.
    cluster
        .emulator
        .admin(Method::DELETE, "/_admin/requests", None)
        .await;

    let started = Instant::now();
    let run_id = cluster.start_run(&profile_id).await;
    let mut writing_at = None;
    let deadline = started + Duration::from_secs(600);
    let run = loop {
        if let Some(run) = cluster.show_run(&run_id).await {
            match run["state"].as_str() {
                Some("queued" | "reading") => {}
                Some("writing") => {
                    writing_at.get_or_insert_with(Instant::now);
                }
                _ => break run,
            }
        }
        assert!(
            Instant::now() < deadline,
            "the run did not end in 10 minutes\n{}",
            cluster.log_tails(15)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let wall = started.elapsed();
    assert_eq!(run["state"], "succeeded", "{run:#}");
    assert_eq!(
        run["mailboxes_succeeded"].as_u64(),
        Some(MAILBOXES as u64),
        "{run:#}"
    );
    cluster.assert_mailboxes_match(&tenant).await;

    let requests = cluster.emulator.get("/_admin/requests").await;
    let counters = requests["counters"].as_array().cloned().unwrap_or_default();
    let count = |counter: &Value| counter["count"].as_u64().unwrap_or(0);
    Row {
        setting,
        writers,
        contacts: run["counts"]["created"].as_u64().unwrap_or(0),
        read: writing_at.map_or(wall, |at| at - started),
        wall,
        floor: floor["floor_secs"].as_f64().unwrap_or(0.0),
        mailbox_floor: floor["floor_secs"].as_f64().unwrap_or(0.0)
            - floor["directory_secs"].as_f64().unwrap_or(0.0),
        requests: counters.iter().map(count).sum(),
        throttled: counters
            .iter()
            .filter(|counter| counter["status"] == 429)
            .map(count)
            .sum(),
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| writer setting | writers | mailboxes | contacts written | wall | contacts/s | speed-up vs 1 writer | floor | wall ÷ floor | read phase | write phase | write ÷ its floor | Graph requests | 429s |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let one = rows
            .iter()
            .find(|other| other.setting == row.setting && other.writers == 1)
            .map_or(row.wall, |other| other.wall);
        let wall = row.wall.as_secs_f64();
        let write = (row.wall - row.read).as_secs_f64();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} s | {:.0} | {:.2} × | {:.1} s | {:.2} | {:.1} s | {:.1} s | {:.2} | {} | {} |",
            row.setting,
            row.writers,
            MAILBOXES,
            row.contacts,
            wall,
            row.contacts as f64 / wall,
            one.as_secs_f64() / wall,
            row.floor,
            wall / row.floor,
            row.read.as_secs_f64(),
            write,
            write / row.mailbox_floor,
            row.requests,
            row.throttled,
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run with cargo test -p galsync-e2e --test scaling -- --ignored --nocapture"]
async fn initial_sync_wall_time_with_one_two_and_four_writers() {
    let settings: [(&'static str, &[&str]); 2] = [
        ("defaults (8 → 512)", &[]),
        (
            "capped at 4 mailboxes",
            &["--workers", "4", "--max-workers", "4"],
        ),
    ];
    let mut rows = Vec::new();
    for (setting, args) in settings {
        for writers in [1, 2, 4] {
            let row = measure(setting, writers, args).await;
            println!(
                "{setting}, {writers} writer(s): {} contacts in {:.1} s (read phase {:.1} s), floor {:.1} s",
                row.contacts,
                row.wall.as_secs_f64(),
                row.read.as_secs_f64(),
                row.floor
            );
            rows.push(row);
        }
    }
    println!(
        "\n{USERS} users × {MAILBOXES} mailboxes, --latency graph, time scale 1\n\n{}",
        table(&rows)
    );
}
