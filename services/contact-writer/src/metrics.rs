//! The writer's Prometheus metrics (served on `--metrics-listen`); Graph
//! traffic comes from `galsync_graph::traffic`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use galsync_platform::metrics::{add_count, Metrics};
use galsync_proto::v1;

use crate::error::Error;

const MAILBOXES_HELP: &str =
    "mailbox syncs and purges this writer carried out (work items and SyncMailbox calls, dry runs excluded), by outcome";
const CONTACTS_HELP: &str =
    "contacts this writer wrote to mailboxes, by change (dry runs excluded)";

static WAIT_RETRY_AFTER_MICROS: AtomicU64 = AtomicU64::new(0);
static WAIT_RATE_MICROS: AtomicU64 = AtomicU64::new(0);

/// Time a mailbox's requests were held by its pacer: until Graph's
/// Retry-After had passed, or under the configured or learned rate.
pub(crate) fn count_pacing_wait(waited: Duration, for_retry_after: bool) {
    let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
    let counter = if for_retry_after {
        &WAIT_RETRY_AFTER_MICROS
    } else {
        &WAIT_RATE_MICROS
    };
    counter.fetch_add(micros, Ordering::Relaxed);
}

fn render_pacing(text: &mut String) {
    let seconds = |micros: &AtomicU64| micros.load(Ordering::Relaxed) as f64 / 1_000_000.0;
    let _ = write!(
        text,
        "# HELP galsync_writer_pacing_wait_seconds_total time requests waited in the writer's per-mailbox pacers (summed over mailboxes): for Graph's Retry-After to pass, or under the rate limit\n\
         # TYPE galsync_writer_pacing_wait_seconds_total counter\n\
         galsync_writer_pacing_wait_seconds_total{{reason=\"retry_after\"}} {}\n\
         galsync_writer_pacing_wait_seconds_total{{reason=\"rate\"}} {}\n",
        seconds(&WAIT_RETRY_AFTER_MICROS),
        seconds(&WAIT_RATE_MICROS),
    );
}

/// Counters kept so that counting is one atomic add.
#[derive(Debug, Clone)]
pub struct WriterMetrics {
    registry: Metrics,
    succeeded: Arc<AtomicI64>,
    partial: Arc<AtomicI64>,
    failed: Arc<AtomicI64>,
    awaiting_approval: Arc<AtomicI64>,
    cancelled: Arc<AtomicI64>,
    created: Arc<AtomicI64>,
    updated: Arc<AtomicI64>,
    deleted: Arc<AtomicI64>,
}

impl Default for WriterMetrics {
    fn default() -> Self {
        let registry = Metrics::default();
        registry.add_renderer(galsync_graph::traffic::render_prometheus);
        registry.add_renderer(render_pacing);
        let mailboxes =
            registry.counters("galsync_writer_mailboxes_total", "outcome", MAILBOXES_HELP);
        let contacts = registry.counters("galsync_writer_contacts_total", "change", CONTACTS_HELP);
        Self {
            succeeded: mailboxes.of("succeeded"),
            partial: mailboxes.of("partial"),
            failed: mailboxes.of("failed"),
            awaiting_approval: mailboxes.of("awaiting-approval"),
            cancelled: mailboxes.of("cancelled"),
            created: contacts.of("created"),
            updated: contacts.of("updated"),
            deleted: contacts.of("deleted"),
            registry,
        }
    }
}

impl WriterMetrics {
    pub fn registry(&self) -> &Metrics {
        &self.registry
    }

    /// One mailbox request's result (not counted for dry runs).
    pub fn record(&self, result: Result<&v1::MailboxSyncResult, &Error>, dry_run: bool) {
        if dry_run {
            return;
        }
        let outcome = match result {
            Ok(result) => v1::MailboxOutcome::try_from(result.outcome).unwrap_or_default(),
            Err(Error::Cancelled | Error::LeaseLapsed { .. }) => v1::MailboxOutcome::Cancelled,
            Err(_) => v1::MailboxOutcome::Failed,
        };
        let counter = match outcome {
            v1::MailboxOutcome::Succeeded | v1::MailboxOutcome::Unspecified => &self.succeeded,
            v1::MailboxOutcome::Partial => &self.partial,
            v1::MailboxOutcome::Failed => &self.failed,
            v1::MailboxOutcome::AwaitingApproval => &self.awaiting_approval,
            v1::MailboxOutcome::Cancelled => &self.cancelled,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Ok(v1::MailboxSyncResult {
            counts: Some(counts),
            ..
        }) = result
        {
            add_count(&self.created, counts.created);
            add_count(&self.updated, counts.updated);
            add_count(&self.deleted, counts.deleted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_written_contacts_but_not_dry_runs() {
        let metrics = WriterMetrics::default();
        let result = v1::MailboxSyncResult {
            outcome: v1::MailboxOutcome::Succeeded as i32,
            counts: Some(v1::SyncCounts {
                created: 4,
                updated: 1,
                ..Default::default()
            }),
            ..Default::default()
        };
        metrics.record(Ok(&result), false);
        metrics.record(Ok(&result), true);
        metrics.record(Err(&Error::Cancelled), false);
        let text = metrics.registry().render();
        for line in [
            "galsync_writer_mailboxes_total{outcome=\"succeeded\"} 1",
            "galsync_writer_mailboxes_total{outcome=\"cancelled\"} 1",
            "galsync_writer_contacts_total{change=\"created\"} 4",
            "galsync_writer_contacts_total{change=\"updated\"} 1",
            "galsync_writer_contacts_total{change=\"deleted\"} 0",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in\n{text}");
        }
        assert!(text.contains("# TYPE galsync_graph_requests_total counter"));
        assert!(text.contains("galsync_writer_pacing_wait_seconds_total{reason=\"retry_after\"} "));
    }
}
