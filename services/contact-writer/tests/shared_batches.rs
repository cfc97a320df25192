//! Mailboxes reconciled side by side share `$batch` calls: one changed user
//! in 20 mailboxes costs a few HTTP calls instead of two per mailbox, with
//! exactly the same writes.

mod common;

use std::time::Duration;

use common::{directory, no_limits, settings, Harness};
use galsync_proto::v1;

/// (HTTP calls, contact PATCHes) of a resync of 20 mailboxes, reconciled at
/// once, after one user's phone changed.
async fn one_change_in_twenty_mailboxes(batch_linger: Duration) -> (u64, u64) {
    let mut settings = settings();
    settings.batch_linger = batch_linger;
    let harness = Harness::start(no_limits(), settings).await;
    let mailboxes = harness.add_mailboxes(20);
    let mut entries = directory(30);
    let syncs = mailboxes
        .iter()
        .map(|mailbox| harness.sync(mailbox, &entries, v1::WritePolicy::default()));
    for report in futures::future::join_all(syncs).await {
        assert_eq!(report.result.counts.unwrap().created, 30);
    }

    entries[7].mobile_phone = "+44 20 7946 0999".to_owned();
    let accounting = &harness.emulator.state.accounting;
    accounting.reset();
    let syncs = mailboxes
        .iter()
        .map(|mailbox| harness.sync(mailbox, &entries, v1::WritePolicy::default()));
    let reports = futures::future::join_all(syncs).await;
    let mut reported_http_calls = 0;
    for report in &reports {
        assert_eq!(
            report.result.outcome,
            v1::MailboxOutcome::Succeeded as i32,
            "{:?}",
            report.result.errors
        );
        let counts = report.result.counts.unwrap();
        assert_eq!((counts.updated, counts.created, counts.deleted), (1, 0, 0));
        assert_eq!(
            counts.batched_requests, 3,
            "a folder check, the count of galsync's contacts beside it and one PATCH"
        );
        reported_http_calls += counts.graph_requests;
    }
    let http_calls = accounting.total(|key| !key.batched);
    assert_eq!(
        reported_http_calls, http_calls,
        "the runs' counts add up to the calls Graph saw"
    );
    for mailbox in &mailboxes {
        assert_eq!(
            harness.owned_by_source(mailbox)[&entries[7].source_object_id][0]["mobilePhone"],
            "+44 20 7946 0999"
        );
    }
    (http_calls, harness.contact_writes("PATCH"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mailboxes_reconciled_together_share_batch_calls() {
    let (alone_calls, alone_patches) = one_change_in_twenty_mailboxes(Duration::ZERO).await;
    let (shared_calls, shared_patches) =
        one_change_in_twenty_mailboxes(Duration::from_millis(20)).await;
    println!(
        "one changed user, 20 mailboxes: {alone_calls} HTTP calls alone, {shared_calls} shared ({:.1}x fewer)",
        alone_calls as f64 / shared_calls.max(1) as f64
    );
    assert_eq!(alone_patches, 20);
    assert_eq!(shared_patches, 20, "sharing changes no write");
    assert_eq!(alone_calls, 40, "a folder check and a batch per mailbox");
    assert!(
        shared_calls * 4 <= alone_calls,
        "sharing should cut the calls at least fourfold: {shared_calls} vs {alone_calls}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_reconciled_alone_does_not_wait_for_partners() {
    let mut settings = settings();
    settings.batch_linger = Duration::from_secs(5);
    let harness = Harness::start(no_limits(), settings).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let entries = directory(5);
    let started = std::time::Instant::now();
    let report = harness
        .sync(&mailbox, &entries, v1::WritePolicy::default())
        .await;
    assert_eq!(report.result.counts.unwrap().created, 5);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "a lone mailbox's partial batch went out without lingering ({:?})",
        started.elapsed()
    );
}
