//! A no-op round through the work loop at Graph's modelled latency, against a
//! work queue that, like the scheduler, holds a lease call while it has no
//! work and is served by galsync's own gRPC bootstrap (which serves a bounded
//! number of calls at once per connection, `--max-concurrent-calls`).
//!
//! The round needs one folder check per mailbox, a few rounds of them in
//! all: well under a second here. A writer whose idle workers all wait at
//! the queue fills the server's places with waiting lease calls, and its last
//! completions wait behind them until those waits end (10 s).

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::work_queue::{sync_item, StandInQueue};
use common::{directory, settings, Harness};
use galsync_graph_emulator::cost::LatencyModel;
use galsync_graph_emulator::EmulatorConfig;
use galsync_proto::v1;
use tokio::time::Instant;

/// Mailboxes in the run.
const MAILBOXES: usize = 60;
/// Calls the queue's server serves at once per connection: the scheduler's
/// default is 256, for runs of hundreds of mailboxes; this run is smaller.
const QUEUE_CALLS_AT_ONCE: usize = 16;
/// Graph's latency, time-scaled: a folder check takes about 15 ms.
const TIME_SCALE: f64 = 0.1;

/// One sync item per mailbox for the run `run_id`.
fn items(harness: &Harness, run_id: &str, mailboxes: &[String]) -> Vec<v1::WorkItem> {
    mailboxes
        .iter()
        .map(|mailbox| sync_item(harness, format!("{run_id}-{mailbox}"), run_id, mailbox))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_op_round_of_many_mailboxes_ends_when_its_folder_checks_do() {
    let harness = Harness::start(
        EmulatorConfig {
            latency: LatencyModel::graph(),
            time_scale: TIME_SCALE,
            ..EmulatorConfig::default()
        },
        settings(),
    )
    .await;
    let mailboxes = harness.add_mailboxes(MAILBOXES);
    harness
        .reader
        .snapshots
        .lock()
        .unwrap()
        .insert("snap-1".to_owned(), directory(3));
    // Like the scheduler, the queue holds lease calls while it has no work.
    let queue = StandInQueue {
        hold_until_work: true,
        calls_at_once: QUEUE_CALLS_AT_ONCE,
        ..StandInQueue::default()
    };
    let writer = queue.start_writer(&harness, 30).await;

    queue.queue(items(&harness, "initial", &mailboxes));
    queue.finish(MAILBOXES, Instant::now()).await;
    // The writer waits for work again, as between two runs.
    tokio::time::sleep(Duration::from_millis(200)).await;
    harness.emulator.state.accounting.reset();
    let started = Instant::now();
    queue.queue(items(&harness, "no-op", &mailboxes));
    let took = queue.finish(2 * MAILBOXES, started).await;

    let _ = writer.stop(Duration::from_secs(15)).await;
    assert!(
        queue.failed.lock().unwrap().is_empty(),
        "{:?}",
        queue.failed.lock().unwrap()
    );
    for completed in &queue.completed.lock().unwrap()[MAILBOXES..] {
        let counts = completed.result.as_ref().unwrap().counts.unwrap();
        assert_eq!((counts.created, counts.unchanged), (0, 3));
    }
    assert_eq!(
        harness.all_contact_writes(),
        0,
        "nothing changed, nothing is written"
    );
    let peak_waiting = queue.peak_waiting.load(Ordering::SeqCst);
    println!("{MAILBOXES} unchanged mailboxes in {took:?}, at most {peak_waiting} lease calls waiting at once");
    assert!(
        took < Duration::from_secs(4),
        "{MAILBOXES} unchanged mailboxes took {took:?} (at most {peak_waiting} lease calls waited at the queue at once)"
    );
    assert_eq!(
        peak_waiting, 1,
        "one lease call of a writer waits at the queue; the others wait in the writer"
    );
}
