//! At Graph's modelled latency (time-scaled), the initial read of every
//! user's `mailboxSettings/userPurpose` keeps several `$batch` calls in
//! flight: it takes well under a third of the time of one call after
//! another, reads each user once, tells every user's mailbox kind exactly as
//! the sequential read does, and meets no 429 and ignores no Retry-After.
//!
//! `GALSYNC_PURPOSE_TEST_USERS` and `GALSYNC_PURPOSE_TEST_TIME_SCALE` change
//! the size and the time scale (e.g. 2000 users at 1.0 to measure).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{emulator_config, Harness, StoreKind};
use galsync_graph_emulator::cost::LatencyModel;
use galsync_graph_emulator::seeding::{MailboxKind, SeedOptions};
use galsync_graph_emulator::EmulatorConfig;
use galsync_proto::v1;

const PURPOSE_ENDPOINT: &str = "/users/{id}/mailboxSettings/userPurpose";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// What the reader made of one user: kept in the snapshot (not a shared,
/// room or equipment mailbox), and a target of "every mailbox" (a personal one).
type Seen = BTreeMap<String, (MailboxKind, bool, bool)>;

struct Read {
    seen: Seen,
    took: Duration,
    users: usize,
    purpose_reads: u64,
    throttled: u64,
    early_retries: u64,
}

async fn initial_read(users: usize, time_scale: f64, batches_in_flight: usize) -> Read {
    let config = EmulatorConfig {
        latency: LatencyModel::graph(),
        time_scale,
        limits_enabled: true,
        ..emulator_config()
    };
    let harness = Harness::start_with(StoreKind::Sqlite, config, |config| {
        config.purpose_batches_in_flight = batches_in_flight;
    })
    .await;
    harness.seed(SeedOptions {
        users,
        seed: 13,
        shared_mailboxes: Some(users / 20),
        room_mailboxes: Some(users / 40),
        equipment_mailboxes: Some(users / 80),
        groups: false,
        photo_percent: 0.0,
        ..SeedOptions::default()
    });
    // The reader is up and has its token before the clock starts.
    let _ = harness.reader().await;

    let started = Instant::now();
    let snapshot = harness.take(v1::SourceFilter::default()).await;
    let took = started.elapsed();

    let kept: Vec<String> = harness
        .entries(&snapshot.snapshot_id)
        .await
        .into_iter()
        .map(|entry| entry.source_object_id)
        .collect();
    let targets = harness
        .reader()
        .await
        .resolve_targets(v1::ResolveTargetsRequest {
            tenant_id: harness.tenant_id.to_string(),
            selector: Some(v1::TargetSelector {
                all_mailboxes: true,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .mailbox_ids;
    let directory = harness
        .emulator
        .state
        .directory
        .list_users(harness.tenant_id, false);
    let seen = directory
        .iter()
        .map(|user| {
            let id = user.id.to_string();
            (
                user.user_principal_name.clone(),
                (user.mailbox, kept.contains(&id), targets.contains(&id)),
            )
        })
        .collect();
    let accounting = &harness.emulator.state.accounting;
    Read {
        seen,
        took,
        users: directory.len(),
        purpose_reads: harness.requests_to(PURPOSE_ENDPOINT),
        throttled: accounting.total(|key| key.status == 429),
        early_retries: accounting.early_retry_total(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_initial_purpose_read_keeps_several_batches_in_flight_at_graph_latency() {
    let users: usize = env_or("GALSYNC_PURPOSE_TEST_USERS", 800);
    let time_scale: f64 = env_or("GALSYNC_PURPOSE_TEST_TIME_SCALE", 0.5);
    let in_flight =
        galsync_directory_reader::Config::local("sqlite::memory:").purpose_batches_in_flight;

    let sequential = initial_read(users, time_scale, 1).await;
    let concurrent = initial_read(users, time_scale, in_flight).await;

    let batches = sequential.users.div_ceil(20);
    println!(
        "initial read of {} users at time scale {time_scale}: one $batch at a time {:.2} s \
         ({:.0} ms per call of 20), {in_flight} in flight {:.2} s ({:.1}× faster); \
         purpose reads {} and {}, 429s {} and {}, early retries {} and {}",
        sequential.users,
        sequential.took.as_secs_f64(),
        sequential.took.as_secs_f64() * 1000.0 / batches as f64,
        concurrent.took.as_secs_f64(),
        sequential.took.as_secs_f64() / concurrent.took.as_secs_f64(),
        sequential.purpose_reads,
        concurrent.purpose_reads,
        sequential.throttled,
        concurrent.throttled,
        sequential.early_retries,
        concurrent.early_retries,
    );

    // Every user's kind, as the sequential read tells it.
    assert_eq!(concurrent.users, sequential.users);
    assert_eq!(concurrent.seen, sequential.seen);
    for (upn, (kind, kept, target)) in &concurrent.seen {
        if matches!(
            kind,
            MailboxKind::Shared | MailboxKind::Room | MailboxKind::Equipment
        ) {
            assert!(!kept && !target, "{upn} is a {kind:?} mailbox");
        }
    }
    assert!(concurrent.seen.values().any(|(_, _, target)| *target));
    // Each user's purpose read once: no sub-request sent again.
    assert_eq!(concurrent.purpose_reads, concurrent.users as u64);
    assert_eq!(sequential.purpose_reads, sequential.users as u64);
    // No throttling storm, no Retry-After ignored.
    assert_eq!(concurrent.throttled, 0);
    assert_eq!(concurrent.early_retries, 0);
    // Well under the sequential cost of N/20 calls at Graph latency.
    assert!(
        concurrent.took * 3 < sequential.took,
        "{in_flight} batches in flight took {:?}, one at a time {:?}",
        concurrent.took,
        sequential.took
    );
}
