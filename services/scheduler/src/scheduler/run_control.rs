//! Starting, reading, cancelling and approving runs, under the profile's run
//! lock; every change of a run's state is an event its watchers read.

use std::sync::Arc;

use chrono::Utc;
use galsync_proto::v1;
use prost::Message;

use super::{now_millis, RunState, Scheduler};
use crate::access::Caller;
use crate::error::SchedulerError;
use crate::store::RunRow;

impl Scheduler {
    /// Starts a run of the profile now, unless one is in progress (ABORTED).
    pub async fn start_run(
        self: &Arc<Self>,
        caller: &Caller,
        profile_id: &str,
        dry_run: bool,
        full_read: bool,
        trigger: &str,
    ) -> Result<RunRow, SchedulerError> {
        let profile = self.profile(profile_id).await?;
        let run_id = uuid::Uuid::new_v4().to_string();
        let now = now_millis();
        let acquired = self.take_run_lock(&profile.profile_id, &run_id).await?;
        if !acquired {
            let holder = self
                .store
                .run_lock_holder(&profile.profile_id, now)
                .await?
                .unwrap_or_default();
            return Err(SchedulerError::Busy(format!(
                "profile {} already has run {holder} in progress; watch it or cancel it",
                profile.profile_id
            )));
        }
        let run = RunRow {
            run_id: run_id.clone(),
            profile_id: profile.profile_id.clone(),
            state: RunState::Queued,
            trigger: trigger.to_owned(),
            dry_run,
            full_read,
            snapshot_id: String::new(),
            created_at: now,
            started_at: None,
            finished_at: None,
            mailboxes_total: 0,
            error: String::new(),
            read_stats: None,
            cancel_requested: false,
            repair: false,
        };
        self.store.insert_run(&run).await?;
        self.store
            .set_last_run(&profile.profile_id, &run_id)
            .await?;
        self.append_state_event(&run_id, v1::RunState::Queued)
            .await?;
        self.metrics.run_started();
        self.audit(
            caller,
            "run.started",
            &run_id,
            &format!("profile {} ({trigger})", profile.profile_id),
        )
        .await?;
        self.spawn_driver(run_id);
        Ok(run)
    }

    /// The run, if `caller` may see its profile's tenant (see
    /// [`Scheduler::profile_for`]); a run whose profile was deleted is seen
    /// only by callers of every tenant.
    pub async fn run_for(&self, caller: &Caller, run_id: &str) -> Result<RunRow, SchedulerError> {
        let run = self.run(run_id).await?;
        if caller.tenant.is_some() {
            let profile = self.store.get_profile(&run.profile_id).await?;
            if !profile.is_some_and(|profile| caller.sees_tenant(&profile.tenant_id)) {
                return Err(SchedulerError::NotFound(format!(
                    "run {run_id} does not exist"
                )));
            }
        }
        Ok(run)
    }

    pub async fn run(&self, run_id: &str) -> Result<RunRow, SchedulerError> {
        self.store
            .get_run(run_id.trim())
            .await?
            .ok_or_else(|| SchedulerError::NotFound(format!("run {run_id} does not exist")))
    }

    pub async fn cancel_run(
        &self,
        caller: &Caller,
        run_id: &str,
    ) -> Result<RunRow, SchedulerError> {
        let run = self.run(run_id).await?;
        if !run.state.is_active() && run.state != RunState::AwaitingApproval {
            return Err(SchedulerError::FailedPrecondition(format!(
                "run {run_id} already ended ({})",
                run.state
            )));
        }
        self.store.request_cancel(&run.run_id).await?;
        if run.state == RunState::AwaitingApproval {
            // No driver is running; end it here.
            let mut ended = run.clone();
            ended.state = RunState::Cancelled;
            ended.finished_at = Some(now_millis());
            self.store.update_run(&ended).await?;
            self.append_state_event(&ended.run_id, v1::RunState::Cancelled)
                .await?;
        }
        self.audit(caller, "run.cancel_requested", run_id, "")
            .await?;
        self.run(run_id).await
    }

    /// Re-queues the mailboxes whose deletes the guard held, with deletions
    /// approved, and drives the run again.
    pub async fn approve_deletions(
        self: &Arc<Self>,
        caller: &Caller,
        run_id: &str,
    ) -> Result<RunRow, SchedulerError> {
        let mut run = self.run(run_id).await?;
        if run.state != RunState::AwaitingApproval {
            return Err(SchedulerError::FailedPrecondition(format!(
                "run {run_id} is {}, not awaiting approval",
                run.state
            )));
        }
        let acquired = self.take_run_lock(&run.profile_id, &run.run_id).await?;
        if !acquired {
            return Err(SchedulerError::Busy(format!(
                "profile {} has another run in progress; approve when it ends",
                run.profile_id
            )));
        }
        let requeued = self.requeue_awaiting_approval(&run.run_id).await?;
        run.state = RunState::Writing;
        run.finished_at = None;
        self.store.update_run(&run).await?;
        self.append_state_event(&run.run_id, v1::RunState::Writing)
            .await?;
        self.audit(
            caller,
            "run.deletions_approved",
            run_id,
            &format!("{requeued} mailbox(es)"),
        )
        .await?;
        self.spawn_driver(run.run_id.clone());
        Ok(run)
    }

    pub(crate) fn lock_ttl_millis(&self) -> i64 {
        self.timings.lock_ttl.as_millis() as i64
    }

    /// Takes the profile's run lock for `run_id` as this scheduler; false
    /// while another run holds a live lock.
    pub(crate) async fn take_run_lock(
        &self,
        profile_id: &str,
        run_id: &str,
    ) -> Result<bool, SchedulerError> {
        let now = now_millis();
        Ok(self
            .store
            .acquire_run_lock(
                profile_id,
                run_id,
                &self.node_id,
                now,
                now + self.lock_ttl_millis(),
            )
            .await?)
    }

    /// Appends a run event (sequence assigned by the store).
    pub(crate) async fn append_event(
        &self,
        run_id: &str,
        detail: v1::run_event::Detail,
        state: v1::RunState,
    ) -> Result<(), SchedulerError> {
        let now = Utc::now();
        let event = v1::RunEvent {
            sequence: 0,
            at: Some(galsync_proto::timestamp(now.into())),
            run_id: run_id.to_owned(),
            state: state as i32,
            detail: Some(detail),
        };
        self.store
            .append_event(run_id, now.timestamp_millis(), &event.encode_to_vec())
            .await?;
        Ok(())
    }

    pub(crate) async fn append_state_event(
        &self,
        run_id: &str,
        state: v1::RunState,
    ) -> Result<(), SchedulerError> {
        self.append_event(
            run_id,
            v1::run_event::Detail::StateChanged(state as i32),
            state,
        )
        .await
    }
}
