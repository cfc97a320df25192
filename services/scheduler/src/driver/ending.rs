//! How a run ends: succeeded, partly failed or awaiting approval from its
//! items, cancelled once its writers stopped, failed on an error — each
//! recorded, counted and its profile's run lock released.

use galsync_proto::v1;

use crate::error::SchedulerError;
use crate::item_state::{ItemOutcome, ItemState};
use crate::scheduler::{now_millis, RunState, Scheduler};
use crate::store::{RunRow, WorkItemRow};
use crate::work_items::CANCELLED_REASON;

impl Scheduler {
    pub(super) async fn end_run_failed(
        &self,
        run_id: &str,
        message: &str,
    ) -> Result<(), SchedulerError> {
        let mut run = self.run(run_id).await?;
        if !run.state.is_active() {
            return Ok(());
        }
        run.state = RunState::Failed;
        run.error = message.to_owned();
        run.finished_at = Some(now_millis());
        self.store.update_run(&run).await?;
        self.append_state_event(run_id, v1::RunState::Failed)
            .await?;
        self.metrics.run_ended(RunState::Failed);
        self.store.release_run_lock(&run.profile_id, run_id).await?;
        Ok(())
    }

    /// Of a cancelled run: ends the items no writer holds (queued ones, and
    /// leased ones whose writer is gone). Writers holding the others learn of
    /// the cancellation at their next heartbeat, stop between two batches and
    /// release the item with the counts of what they wrote.
    pub(super) async fn stop_cancelled_items(&self, run_id: &str) -> Result<(), SchedulerError> {
        self.store
            .set_run_items_state(
                run_id,
                ItemState::Queued,
                ItemState::Cancelled,
                CANCELLED_REASON,
            )
            .await?;
        let expired = self
            .store
            .end_expired_leases(run_id, now_millis(), ItemState::Cancelled, CANCELLED_REASON)
            .await?;
        self.metrics.lease_expired(expired);
        Ok(())
    }

    pub(super) async fn end_cancelled(&self, mut run: RunRow) -> Result<(), SchedulerError> {
        run.state = RunState::Cancelled;
        run.finished_at = Some(now_millis());
        self.store.update_run(&run).await?;
        self.append_state_event(&run.run_id, v1::RunState::Cancelled)
            .await?;
        self.metrics.run_ended(RunState::Cancelled);
        self.store
            .release_run_lock(&run.profile_id, &run.run_id)
            .await?;
        Ok(())
    }

    pub(super) async fn end_run(
        &self,
        mut run: RunRow,
        items: &[WorkItemRow],
    ) -> Result<(), SchedulerError> {
        let live: Vec<&WorkItemRow> = items
            .iter()
            .filter(|item| item.state != ItemState::Superseded)
            .collect();
        let failed = live
            .iter()
            .filter(|item| {
                item.state == ItemState::Failed || item.outcome == Some(ItemOutcome::Failed)
            })
            .count();
        let awaiting = live
            .iter()
            .filter(|item| item.outcome == Some(ItemOutcome::AwaitingApproval))
            .count();
        let partial = live
            .iter()
            .filter(|item| item.outcome == Some(ItemOutcome::Partial))
            .count();
        let state = if !live.is_empty() && failed == live.len() {
            RunState::Failed
        } else if awaiting > 0 && !run.dry_run {
            RunState::AwaitingApproval
        } else if failed > 0 || partial > 0 {
            RunState::PartiallyFailed
        } else {
            RunState::Succeeded
        };
        run.state = state;
        run.finished_at = Some(now_millis());
        if failed > 0 && run.error.is_empty() {
            run.error = format!("{failed} of {} mailbox(es) failed", live.len());
        }
        self.store.update_run(&run).await?;
        self.append_state_event(&run.run_id, state.to_proto())
            .await?;
        self.metrics.run_ended(state);
        self.store
            .release_run_lock(&run.profile_id, &run.run_id)
            .await?;
        tracing::info!(run = %run.run_id, %state, "run ended");
        Ok(())
    }
}
