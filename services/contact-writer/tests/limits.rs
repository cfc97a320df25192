//! With Graph's per-mailbox limits on (time-scaled: a 10-minute window lasts
//! 3 s), a long initial sync runs at the limit: no Retry-After ignored, no
//! throttling storm, and a write rate of at least 90 % of the limit.

mod common;

use std::time::{Duration, Instant};

use common::{directory, Harness};
use galsync_contact_writer::engine::EngineSettings;
use galsync_contact_writer::pacing::PacingConfig;
use galsync_graph_emulator::EmulatorConfig;
use galsync_proto::v1;

const TIME_SCALE: f64 = 0.005;
const REQUESTS_PER_WINDOW: u32 = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_initial_sync_runs_near_the_mailbox_limit_without_early_retries() {
    let emulator_config = EmulatorConfig {
        limits_enabled: true,
        time_scale: TIME_SCALE,
        mailbox_requests_per_window: REQUESTS_PER_WINDOW,
        ..EmulatorConfig::default()
    };
    let window = Duration::from_secs(600).mul_f64(TIME_SCALE);
    let settings = EngineSettings {
        pacing: PacingConfig {
            requests_per_window: REQUESTS_PER_WINDOW,
            window,
            in_flight: 4,
        },
        ..EngineSettings::default()
    };
    let harness = Harness::start(emulator_config, settings).await;
    let mailboxes = harness.add_mailboxes(2);
    let entries = directory(1000);
    let started = Instant::now();
    let syncs = mailboxes
        .iter()
        .map(|mailbox| harness.sync(mailbox, &entries, v1::WritePolicy::default()));
    let reports = futures::future::join_all(syncs).await;
    let elapsed = started.elapsed();
    for report in &reports {
        assert_eq!(
            report.result.outcome,
            v1::MailboxOutcome::Succeeded as i32,
            "{:?}",
            report.result.errors
        );
        assert_eq!(report.result.counts.unwrap().created, 1000);
    }
    for mailbox in &mailboxes {
        assert_eq!(harness.owned_by_source(mailbox).len(), 1000);
    }
    let accounting = &harness.emulator.state.accounting;
    assert_eq!(
        accounting.early_retry_total(),
        0,
        "a Retry-After was ignored"
    );
    let throttled = accounting.total(|key| key.status == 429);
    let limit_per_second = f64::from(REQUESTS_PER_WINDOW) / window.as_secs_f64();
    let achieved_per_second = 1000.0 / elapsed.as_secs_f64();
    let share = achieved_per_second / limit_per_second;
    println!(
        "per-mailbox write rate: {achieved_per_second:.1} writes/s against a limit of {limit_per_second:.1} requests/s ({:.0} %), {throttled} throttled responses, elapsed {elapsed:?}",
        share * 100.0
    );
    assert!(share >= 0.9, "achieved {:.0} % of the limit", share * 100.0);
    assert!(throttled <= 2, "{throttled} requests were throttled");
}
