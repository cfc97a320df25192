//! The scheduler's Prometheus metrics (served on `--metrics-listen`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use galsync_platform::metrics::{add_count, Metrics};
use galsync_proto::v1;

use crate::item_state::{ItemOutcome, ItemState};
use crate::run_state::RunState;

const RUNS_HELP: &str = "runs this scheduler started, and runs it ended by final state";
const MAILBOXES_HELP: &str =
    "mailbox work items writers reported to this scheduler, by outcome (failed: no attempts left)";
const CONTACTS_HELP: &str =
    "contacts writers reported written in completed mailbox work items, by change";
const QUEUE_HELP: &str = "work items in the queue (all runs, all replicas) by state";

/// Counters kept so that counting is one atomic add.
#[derive(Debug, Clone)]
pub struct SchedulerMetrics {
    registry: Metrics,
    runs_started: Arc<AtomicI64>,
    runs_succeeded: Arc<AtomicI64>,
    runs_partially_failed: Arc<AtomicI64>,
    runs_failed: Arc<AtomicI64>,
    runs_cancelled: Arc<AtomicI64>,
    runs_awaiting_approval: Arc<AtomicI64>,
    mailboxes_succeeded: Arc<AtomicI64>,
    mailboxes_partial: Arc<AtomicI64>,
    mailboxes_failed: Arc<AtomicI64>,
    mailboxes_awaiting_approval: Arc<AtomicI64>,
    mailboxes_cancelled: Arc<AtomicI64>,
    mailbox_retries: Arc<AtomicI64>,
    contacts_created: Arc<AtomicI64>,
    contacts_updated: Arc<AtomicI64>,
    contacts_deleted: Arc<AtomicI64>,
    lease_expiries: Arc<AtomicI64>,
    queued: Arc<AtomicI64>,
    leased: Arc<AtomicI64>,
}

impl Default for SchedulerMetrics {
    fn default() -> Self {
        Self::new(Metrics::default())
    }
}

impl SchedulerMetrics {
    pub fn new(registry: Metrics) -> Self {
        let runs = registry.counters("galsync_scheduler_runs_total", "state", RUNS_HELP);
        let mailboxes = registry.counters(
            "galsync_scheduler_mailboxes_total",
            "outcome",
            MAILBOXES_HELP,
        );
        let contacts =
            registry.counters("galsync_scheduler_contacts_total", "change", CONTACTS_HELP);
        let queue = registry.gauges("galsync_scheduler_work_items", "state", QUEUE_HELP);
        Self {
            runs_started: runs.of("started"),
            runs_succeeded: runs.of("succeeded"),
            runs_partially_failed: runs.of("partially-failed"),
            runs_failed: runs.of("failed"),
            runs_cancelled: runs.of("cancelled"),
            runs_awaiting_approval: runs.of("awaiting-approval"),
            mailboxes_succeeded: mailboxes.of(ItemOutcome::Succeeded.as_str()),
            mailboxes_partial: mailboxes.of(ItemOutcome::Partial.as_str()),
            mailboxes_failed: mailboxes.of(ItemOutcome::Failed.as_str()),
            mailboxes_awaiting_approval: mailboxes.of(ItemOutcome::AwaitingApproval.as_str()),
            mailboxes_cancelled: mailboxes.of(ItemOutcome::Cancelled.as_str()),
            mailbox_retries: registry.counter(
                "galsync_scheduler_mailbox_retries_total",
                "mailbox work items a writer failed that were queued again for another attempt",
            ),
            contacts_created: contacts.of("created"),
            contacts_updated: contacts.of("updated"),
            contacts_deleted: contacts.of("deleted"),
            lease_expiries: registry.counter(
                "galsync_scheduler_lease_expiries_total",
                "leased work items the run driver found with their lease run out (writer gone): failed with no attempts left, or ended in a cancelled run",
            ),
            queued: queue.of(ItemState::Queued.as_str()),
            leased: queue.of(ItemState::Leased.as_str()),
            registry,
        }
    }

    pub fn registry(&self) -> &Metrics {
        &self.registry
    }

    pub(crate) fn run_started(&self) {
        self.runs_started.fetch_add(1, Ordering::Relaxed);
    }

    /// A run ended in `state` (one of the scheduler's terminal states).
    pub(crate) fn run_ended(&self, state: RunState) {
        let counter = match state {
            RunState::Succeeded => &self.runs_succeeded,
            RunState::PartiallyFailed => &self.runs_partially_failed,
            RunState::Failed => &self.runs_failed,
            RunState::Cancelled => &self.runs_cancelled,
            RunState::AwaitingApproval => &self.runs_awaiting_approval,
            RunState::Queued | RunState::Reading | RunState::Writing => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A writer completed a mailbox with `outcome` and `counts`.
    pub(crate) fn mailbox_completed(&self, outcome: ItemOutcome, counts: Option<&v1::SyncCounts>) {
        let counter = match outcome {
            ItemOutcome::Succeeded => &self.mailboxes_succeeded,
            ItemOutcome::Partial => &self.mailboxes_partial,
            ItemOutcome::Failed => &self.mailboxes_failed,
            ItemOutcome::AwaitingApproval => &self.mailboxes_awaiting_approval,
            ItemOutcome::Cancelled => &self.mailboxes_cancelled,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(counts) = counts {
            add_count(&self.contacts_created, counts.created);
            add_count(&self.contacts_updated, counts.updated);
            add_count(&self.contacts_deleted, counts.deleted);
        }
    }

    /// A writer failed a mailbox: queued again, or failed for good.
    pub(crate) fn mailbox_failed(&self, will_retry: bool) {
        let counter = if will_retry {
            &self.mailbox_retries
        } else {
            &self.mailboxes_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn lease_expired(&self, count: u64) {
        add_count(&self.lease_expiries, count);
    }

    pub(crate) fn queue_depth(&self, queued: i64, leased: i64) {
        self.queued.store(queued, Ordering::Relaxed);
        self.leased.store(leased, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_runs_mailboxes_and_contacts() {
        let metrics = SchedulerMetrics::default();
        metrics.run_started();
        metrics.run_ended(RunState::Succeeded);
        metrics.run_ended(RunState::Reading);
        let counts = v1::SyncCounts {
            created: 5,
            updated: 2,
            deleted: 1,
            ..Default::default()
        };
        metrics.mailbox_completed(ItemOutcome::Succeeded, Some(&counts));
        metrics.mailbox_failed(true);
        metrics.mailbox_failed(false);
        metrics.queue_depth(3, 1);
        let text = metrics.registry().render();
        for line in [
            "galsync_scheduler_runs_total{state=\"started\"} 1",
            "galsync_scheduler_runs_total{state=\"succeeded\"} 1",
            "galsync_scheduler_runs_total{state=\"failed\"} 0",
            "galsync_scheduler_mailboxes_total{outcome=\"succeeded\"} 1",
            "galsync_scheduler_mailboxes_total{outcome=\"failed\"} 1",
            "galsync_scheduler_mailbox_retries_total 1",
            "galsync_scheduler_contacts_total{change=\"created\"} 5",
            "galsync_scheduler_contacts_total{change=\"deleted\"} 1",
            "galsync_scheduler_work_items{state=\"queued\"} 3",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in\n{text}");
        }
    }
}
