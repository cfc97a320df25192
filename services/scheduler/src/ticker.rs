//! The ticker: starts the runs whose schedule is due, adopts runs whose
//! scheduler died, keeps the queue-depth gauges current and prunes old history.

use std::sync::Arc;

use crate::access::{Caller, Role};
use crate::error::SchedulerError;
use crate::scheduler::{decode_spec, now_millis, RunState, Scheduler};

impl Scheduler {
    /// Runs forever: starts due scheduled runs, adopts orphaned runs, prunes history.
    pub async fn tick_forever(self: Arc<Self>) {
        let system = Caller::unscoped(Role::Admin, "scheduler:schedule");
        let mut last_prune = 0i64;
        loop {
            if self.is_stopping() {
                return;
            }
            if let Err(error) = self.tick(&system).await {
                tracing::error!(%error, "scheduler tick failed");
            }
            match self.store.work_item_depth().await {
                Ok((queued, leased)) => self.metrics.queue_depth(queued, leased),
                Err(error) => {
                    galsync_platform::metrics::count_store_error();
                    tracing::warn!(%error, "counting queued work items failed");
                }
            }
            let now = now_millis();
            if now - last_prune > 3_600_000 {
                last_prune = now;
                let before = now - self.timings.run_retention.as_millis() as i64;
                match self.store.prune_runs(before).await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(pruned, "pruned old runs"),
                    Err(error) => tracing::error!(%error, "pruning old runs failed"),
                }
            }
            self.pause(self.timings.tick).await;
        }
    }

    pub(crate) async fn tick(self: &Arc<Self>, system: &Caller) -> Result<(), SchedulerError> {
        let now = now_millis();
        for profile in self.store.due_profiles(now).await? {
            let Some(due_at) = profile.next_run_at else {
                continue;
            };
            let spec = decode_spec(&profile)?;
            let next = crate::profiles::next_run(spec.schedule.as_ref(), chrono::Utc::now())
                .map(|at| at.timestamp_millis());
            if !self
                .store
                .claim_due_profile(&profile.profile_id, due_at, next)
                .await?
            {
                continue;
            }
            match self
                .start_run(system, &profile.profile_id, false, false, "schedule")
                .await
            {
                Ok(run) => {
                    tracing::info!(profile = %profile.profile_id, run = %run.run_id, "scheduled run started")
                }
                Err(SchedulerError::Busy(message)) => {
                    tracing::info!(profile = %profile.profile_id, %message, "scheduled run skipped")
                }
                Err(error) => {
                    tracing::error!(profile = %profile.profile_id, %error, "scheduled run could not start")
                }
            }
        }
        self.adopt_orphans().await
    }

    /// Drives runs whose scheduler died: their lock expired while active.
    async fn adopt_orphans(self: &Arc<Self>) -> Result<(), SchedulerError> {
        let now = now_millis();
        for run in self.store.runs_in_states(&RunState::ACTIVE).await? {
            if self
                .store
                .run_lock_holder(&run.profile_id, now)
                .await?
                .is_some()
            {
                continue;
            }
            let adopted = self.take_run_lock(&run.profile_id, &run.run_id).await?;
            if adopted {
                tracing::warn!(run = %run.run_id, state = %run.state, "adopting a run whose scheduler stopped");
                self.spawn_driver(run.run_id.clone());
            }
        }
        Ok(())
    }
}
