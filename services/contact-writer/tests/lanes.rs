//! A mailbox with many writes keeps Graph's 4 places busy (issue 13): one
//! side-by-side batch of 20 at a time leaves places idle while its slowest
//! writes finish; 4 lanes of chained batches keep close to 4 in flight. The
//! writes' latency here spreads wider than the modelled Graph's (p99 = 20 ×
//! the median, not 4 ×), so the idle places show plainly: measured 3.2–3.7
//! of 4 with the lanes, 2.3–2.5 with one batch at a time.

mod common;

use std::time::Duration;

use common::{directory, settings, Harness};
use galsync_graph_emulator::cost::{LatencyModel, LogNormal, OpKind};
use galsync_graph_emulator::EmulatorConfig;
use galsync_proto::v1;

/// Graph's limits, writes of a widely spread latency, four times faster.
fn graph_latency() -> EmulatorConfig {
    let mut latency = LatencyModel::graph();
    let spread = LogNormal::new(Duration::from_millis(40), Duration::from_millis(800))
        .expect("a valid latency");
    latency.ops.insert(OpKind::ContactCreate, spread);
    EmulatorConfig {
        limits_enabled: true,
        latency,
        time_scale: 0.25,
        ..EmulatorConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_with_many_writes_keeps_its_four_places_busy() {
    let harness = Harness::start(graph_latency(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let entries = directory(480);
    let throttle = &harness.emulator.state.mailboxes.throttle;
    throttle.reset_use();

    let report = harness
        .sync(&mailbox, &entries, v1::WritePolicy::default())
        .await;
    assert_eq!(
        report.result.outcome,
        v1::MailboxOutcome::Succeeded as i32,
        "{:?}",
        report.result.errors
    );
    assert_eq!(harness.owned_by_source(&mailbox).len(), 480);

    let used = throttle.slot_use();
    assert_eq!(used.mailboxes, 1);
    // From the folder look-up to the last write: the two folder requests
    // run alone, the writes four at a time.
    let in_flight = used.held_secs / used.span_secs;
    println!(
        "480 creates into one mailbox: {:.2} of 4 places busy on average over {:.2} s",
        in_flight, used.span_secs
    );
    assert!(
        in_flight >= 3.0,
        "the mailbox had {in_flight:.2} of its 4 places busy on average ({used:?})"
    );
}
