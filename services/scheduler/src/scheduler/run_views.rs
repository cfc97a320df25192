//! Runs as the API shows them: a run with what its work items add up to,
//! the newest runs, and a run's event log for its watchers.

use galsync_proto::v1;
use prost::Message;

use super::Scheduler;
use crate::error::SchedulerError;
use crate::item_state::ItemState;
use crate::queue::millis_timestamp;
use crate::store::{RunRow, RunSignal};
use crate::work_items::{mailbox_result, mailbox_tally, run_counts};

impl Scheduler {
    /// The run as the API shows it: its row, and what its work items add up to.
    pub async fn run_view(&self, run: RunRow) -> Result<v1::Run, SchedulerError> {
        let items = self.store.work_items_of_run(&run.run_id).await?;
        let tally = mailbox_tally(&items);
        // A superseded item was replaced by its approved re-run's.
        let mailboxes = items
            .iter()
            .filter(|item| item.state.is_terminal() && item.state != ItemState::Superseded)
            .map(mailbox_result)
            .collect();
        Ok(v1::Run {
            trace_id: galsync_platform::telemetry::run_trace_id(&run.run_id),
            run_id: run.run_id,
            profile_id: run.profile_id,
            state: run.state.to_proto() as i32,
            trigger: run.trigger,
            dry_run: run.dry_run,
            snapshot_id: run.snapshot_id,
            created_at: Some(millis_timestamp(run.created_at)),
            started_at: run.started_at.map(millis_timestamp),
            finished_at: run.finished_at.map(millis_timestamp),
            mailboxes_total: run.mailboxes_total as u32,
            mailboxes_done: tally.done as u32,
            mailboxes_succeeded: tally.succeeded as u32,
            mailboxes_failed: tally.failed as u32,
            mailboxes_cancelled: tally.cancelled as u32,
            repair: run.repair,
            counts: Some(run_counts(&items)),
            mailboxes,
            error: run.error,
            read_stats: run
                .read_stats
                .as_deref()
                .and_then(|bytes| v1::ReadStats::decode(bytes).ok()),
        })
    }

    /// The newest `limit` runs as the API shows them, of one profile when
    /// `profile_id` is not empty, of one tenant's profiles when `tenant_id`
    /// is not empty.
    pub async fn list_runs(
        &self,
        profile_id: &str,
        tenant_id: &str,
        limit: i64,
    ) -> Result<Vec<v1::Run>, SchedulerError> {
        let rows = self.store.list_runs(profile_id, tenant_id, limit).await?;
        let mut runs = Vec::with_capacity(rows.len());
        for row in rows {
            runs.push(self.run_view(row).await?);
        }
        Ok(runs)
    }

    /// Whether the run has ended (a run that no longer exists has).
    pub async fn run_has_ended(&self, run_id: &str) -> Result<bool, SchedulerError> {
        let run = self.store.get_run(run_id).await?;
        Ok(run.is_none_or(|run| !run.state.is_active()))
    }

    /// The run's events after `after_sequence`, as (sequence, encoded
    /// `v1::RunEvent`), oldest first.
    pub async fn run_events_after(
        &self,
        run_id: &str,
        after_sequence: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, SchedulerError> {
        Ok(self.store.events_after(run_id, after_sequence).await?)
    }

    /// Changes each time this process appends an event to the run.
    pub fn watch_run_events(&self, run_id: &str) -> tokio::sync::watch::Receiver<u64> {
        self.store.watch_run(run_id, RunSignal::EventAppended)
    }
}
