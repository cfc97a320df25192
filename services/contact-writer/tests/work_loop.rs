//! The work loop against a stand-in WorkQueue on port 0: lease, heartbeat with
//! progress, complete with counts, fail a blocked mailbox without retry.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use common::work_queue::{sync_item, StandInQueue};
use common::{directory, no_limits, settings, Harness};
use galsync_contact_writer::engine::EngineSettings;
use galsync_graph_emulator::FaultRule;
use galsync_proto::v1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leased_mailboxes_are_completed_with_counts_and_a_blocked_one_fails_for_good() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailboxes = harness.add_mailboxes(3);
    harness
        .emulator
        .state
        .identity
        .set_exchange_scope(
            harness.tenant_id,
            &harness.client_id,
            Some(mailboxes[..2].to_vec()),
        )
        .unwrap();
    let queue = queue_of(&harness, &mailboxes, 25);
    queue.items.lock().unwrap()[1].dry_run = true;
    queue.work_through(&harness, 30, 3).await;

    let completed = queue.completed.lock().unwrap().clone();
    let synced = completed
        .iter()
        .find(|request| request.lease_token == "lease-item-0")
        .unwrap();
    assert_eq!(synced.result.as_ref().unwrap().counts.unwrap().created, 25);
    assert_eq!(harness.owned_by_source(&mailboxes[0]).len(), 25);
    let planned = completed
        .iter()
        .find(|request| request.lease_token == "lease-item-1")
        .unwrap();
    assert_eq!(planned.plan.as_ref().unwrap().counts.unwrap().created, 25);
    assert!(
        harness.folder_ids(&mailboxes[1]).is_empty(),
        "a dry run writes nothing"
    );
    let failed = queue.failed.lock().unwrap().clone();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].lease_token, "lease-item-2");
    assert!(
        failed[0]
            .reason
            .starts_with("blocked by an Exchange application access policy"),
        "{}",
        failed[0].reason
    );
    assert!(failed[0]
        .reason
        .contains("add the mailbox to the app's scope"));
    assert!(!failed[0].retryable);
}

/// Graph requests to `mailbox` counted by the emulator, by status.
fn mailbox_requests(harness: &Harness, mailbox: &str, status: u16) -> u64 {
    harness
        .emulator
        .state
        .accounting
        .total(|key| key.mailbox == mailbox && key.status == status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_graph_error_ends_the_attempt_at_once_with_its_fix() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    // Graph refuses the folder look-up as malformed, as it would a query it
    // does not support: retrying cannot change its answer.
    harness.emulator.state.faults.add(FaultRule {
        path_contains: Some("/contactFolders".to_owned()),
        status: Some(400),
        ..Default::default()
    });
    let queue = queue_of(&harness, std::slice::from_ref(&mailbox), 5);
    queue.work_through(&harness, 30, 1).await;

    let failed = queue.failed.lock().unwrap().clone();
    assert_eq!(failed.len(), 1);
    assert!(
        !failed[0].retryable,
        "the work queue must not offer it again"
    );
    let reason = &failed[0].reason;
    assert!(reason.contains("400 invalidRequest"), "{reason}");
    assert!(
        reason.contains("retrying cannot fix this: graph does not accept a request galsync sent"),
        "{reason}"
    );
    assert_eq!(mailbox_requests(&harness, &mailbox, 400), 1, "one request");
    assert_eq!(
        harness
            .emulator
            .state
            .accounting
            .total(|key| key.mailbox == mailbox),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_503_is_retried_and_the_mailbox_completes() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    harness.emulator.state.faults.add(FaultRule {
        path_contains: Some("/contactFolders".to_owned()),
        method: Some("GET".to_owned()),
        status: Some(503),
        times: Some(2),
        ..Default::default()
    });
    let queue = queue_of(&harness, std::slice::from_ref(&mailbox), 5);
    queue.work_through(&harness, 30, 1).await;

    assert!(queue.failed.lock().unwrap().is_empty());
    let completed = queue.completed.lock().unwrap().clone();
    let counts = completed[0].result.as_ref().unwrap().counts.unwrap();
    assert_eq!(counts.created, 5);
    assert_eq!(counts.retries, 2);
    assert_eq!(mailbox_requests(&harness, &mailbox, 503), 2);
    assert_eq!(harness.owned_by_source(&mailbox).len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_carry_the_counts_so_far() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    // Slow batches make the sync outlast several heartbeats: 24 batches in
    // 4 lanes, 6 rounds of 1 s.
    harness.emulator.state.faults.add(FaultRule {
        path_contains: Some("$batch".to_owned()),
        method: Some("POST".to_owned()),
        latency_ms: Some(1_000),
        ..Default::default()
    });
    let queue = queue_of(&harness, std::slice::from_ref(&mailbox), 400);
    // Leases of 3 s: a heartbeat every second.
    queue.work_through(&harness, 3, 1).await;

    let completed = queue.completed.lock().unwrap().clone();
    let final_counts = completed[0].result.as_ref().unwrap().counts.unwrap();
    assert_eq!(final_counts.created, 400);
    let progress: Vec<v1::SyncCounts> = queue
        .heartbeats
        .lock()
        .unwrap()
        .iter()
        .map(|heartbeat| {
            heartbeat
                .progress
                .expect("every heartbeat carries progress")
        })
        .collect();
    assert!(
        progress.len() >= 2,
        "a sync of 24 slow batches in 4 lanes outlasts two heartbeats: {progress:?}"
    );
    assert!(
        progress
            .iter()
            .any(|counts| counts.created > 0 && counts.created < 400),
        "some heartbeat shows the sync part way: {progress:?}"
    );
    assert!(
        progress
            .windows(2)
            .all(|pair| pair[0].created <= pair[1].created
                && pair[0].graph_requests <= pair[1].graph_requests),
        "progress only grows: {progress:?}"
    );
    assert!(progress
        .iter()
        .all(|counts| counts.created <= final_counts.created));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_cannot_renew_its_lease_sends_nothing_once_it_may_lapse() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    // Each batch takes 2.5 s at Graph: the second is in flight when the
    // 4 s lease, unrenewed since it was granted, runs out.
    harness.emulator.state.faults.add(FaultRule {
        path_contains: Some("$batch".to_owned()),
        method: Some("POST".to_owned()),
        latency_ms: Some(2500),
        ..Default::default()
    });
    let queue = queue_of(&harness, std::slice::from_ref(&mailbox), 200);
    queue.heartbeats_fail.store(true, Ordering::SeqCst);
    // Runs until 3 s after the lease lapsed, noting the contacts at the lapse.
    let at_lapse: Mutex<Option<usize>> = Mutex::new(None);
    queue
        .work_until(&harness, 4, |queue| {
            let Some(leased_at) = *queue.leased_at.lock().unwrap() else {
                return false;
            };
            let since = leased_at.elapsed();
            if since >= Duration::from_secs(4) {
                at_lapse
                    .lock()
                    .unwrap()
                    .get_or_insert_with(|| harness.folder_contacts(&mailbox).len());
            }
            since >= Duration::from_secs(7)
        })
        .await;

    assert!(
        queue.released.lock().unwrap().is_empty()
            && queue.completed.lock().unwrap().is_empty()
            && queue.failed.lock().unwrap().is_empty(),
        "a write abandoned at the deadline may still land: the lease is left to lapse"
    );
    let at_lapse = at_lapse.lock().unwrap().expect("sampled at the lapse");
    assert_eq!(
        harness.folder_contacts(&mailbox).len(),
        at_lapse,
        "a write landed after the lease lapsed, when another writer may hold the mailbox"
    );
    assert!(
        at_lapse < 200,
        "the sync stopped part way: {at_lapse} contacts"
    );
    assert!(
        queue.heartbeats.lock().unwrap().len() >= 2,
        "the writer kept trying to renew"
    );
}

/// A lease call the queue held until work came runs its whole length from
/// when it was granted, not from when it was asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_granted_after_a_long_wait_at_the_queue_runs_its_full_length() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let mut queue = queue_of(&harness, std::slice::from_ref(&mailbox), 40);
    queue.lease_hold = Duration::from_millis(3500);
    queue.work_through(&harness, 4, 1).await;

    let completed = queue.completed.lock().unwrap().clone();
    assert_eq!(
        completed.len(),
        1,
        "failed: {:?}",
        queue.failed.lock().unwrap()
    );
    assert_eq!(
        completed[0]
            .result
            .as_ref()
            .unwrap()
            .counts
            .unwrap()
            .created,
        40
    );
    assert_eq!(harness.owned_by_source(&mailbox).len(), 40);
}

/// Fills a queue with one sync item per mailbox, of `people` people.
fn queue_of(harness: &Harness, mailboxes: &[String], people: usize) -> StandInQueue {
    harness
        .reader
        .snapshots
        .lock()
        .unwrap()
        .insert("snap-1".to_owned(), directory(people));
    let queue = StandInQueue::default();
    let items = mailboxes
        .iter()
        .enumerate()
        .map(|(index, mailbox)| sync_item(harness, format!("item-{index}"), "run-1", mailbox))
        .collect();
    queue.queue(items);
    queue
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_drives_more_mailboxes_at_once_while_graph_allows() {
    let harness = Harness::start(
        no_limits(),
        EngineSettings {
            mailboxes_at_start: 1,
            max_mailboxes: 12,
            ..settings()
        },
    )
    .await;
    let mailboxes = harness.add_mailboxes(40);
    let queue = queue_of(&harness, &mailboxes, 10);
    queue.work_through(&harness, 30, 40).await;
    assert_eq!(queue.completed.lock().unwrap().len(), 40);
    let peak = queue.peak.load(Ordering::SeqCst);
    assert!(
        peak > 4,
        "started at 1 mailbox at once and reached only {peak}"
    );
    assert!(
        peak <= 12,
        "{peak} mailboxes at once is above --max-workers 12"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_wide_429_makes_the_writer_drive_fewer_mailboxes_and_nothing_is_lost() {
    // An app-wide budget of 60 requests per (time-scaled) 10 s: 200 ms here.
    let harness = Harness::start(
        galsync_graph_emulator::EmulatorConfig {
            app_requests_per_window: 60,
            time_scale: 0.02,
            ..galsync_graph_emulator::EmulatorConfig::default()
        },
        EngineSettings {
            mailboxes_at_start: 16,
            max_mailboxes: 16,
            ..settings()
        },
    )
    .await;
    let mailboxes = harness.add_mailboxes(24);
    let queue = queue_of(&harness, &mailboxes, 10);
    queue.work_through(&harness, 30, 24).await;
    assert_eq!(
        queue.completed.lock().unwrap().len(),
        24,
        "{:?}",
        queue.failed.lock().unwrap()
    );
    for mailbox in &mailboxes {
        assert_eq!(harness.owned_by_source(mailbox).len(), 10, "{mailbox}");
    }
    let app_wide = harness
        .emulator
        .state
        .accounting
        .total(|key| key.status == 429);
    assert!(
        app_wide > 0,
        "the app-wide limit never bound: the test proves nothing"
    );
    assert!(
        harness.engine.concurrency.cuts() > 0,
        "the writer kept driving 16 mailboxes through app-wide 429s"
    );
}
