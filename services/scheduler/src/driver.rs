//! The run driver: read the directory, enqueue one work item per mailbox,
//! follow the writers' progress, end the run — renewing the profile's run
//! lock throughout. Plus the ticker that starts scheduled runs, adopts runs
//! whose scheduler died, and prunes old history.

use std::collections::HashSet;
use std::sync::Arc;

use galsync_proto::v1;
use prost::Message;

use crate::access::{Caller, Role};
use crate::error::SchedulerError;
use crate::scheduler::{
    decode_spec, now_millis, Scheduler, ACTIVE_STATES, STATE_AWAITING_APPROVAL, STATE_CANCELLED,
    STATE_FAILED, STATE_PARTIALLY_FAILED, STATE_QUEUED, STATE_READING, STATE_SUCCEEDED,
    STATE_WRITING,
};
use crate::store::{RunRow, WorkItemRow};

pub const ITEM_QUEUED: &str = "queued";
pub const ITEM_LEASED: &str = "leased";
pub const ITEM_DONE: &str = "done";
pub const ITEM_FAILED: &str = "failed";
pub const ITEM_CANCELLED: &str = "cancelled";
/// An awaiting-approval item replaced by its approved re-run.
pub const ITEM_SUPERSEDED: &str = "superseded";
/// Why an item of a cancelled run ended.
pub const CANCELLED_REASON: &str = "the run was cancelled";

pub fn item_is_terminal(state: &str) -> bool {
    matches!(
        state,
        ITEM_DONE | ITEM_FAILED | ITEM_CANCELLED | ITEM_SUPERSEDED
    )
}

/// Sum of the counts of finished items and the progress of items in flight
/// or stopped part way (a cancelled run's): the writes that happened.
pub fn run_counts(items: &[WorkItemRow]) -> v1::SyncCounts {
    let mut total = v1::SyncCounts::default();
    for item in items {
        if item.state == ITEM_SUPERSEDED {
            continue;
        }
        if let Some(counts) = item_counts(item) {
            add_counts(&mut total, &counts);
        }
    }
    total
}

/// An item's counts: its result's, or the progress it last reported.
fn item_counts(item: &WorkItemRow) -> Option<v1::SyncCounts> {
    match (&item.result, &item.progress) {
        (Some(result), _) => v1::MailboxSyncResult::decode(result.as_slice())
            .ok()
            .and_then(|result| result.counts),
        (None, Some(progress)) => v1::SyncCounts::decode(progress.as_slice()).ok(),
        (None, None) => None,
    }
}

/// How the mailboxes of a run that ended, ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MailboxTally {
    pub done: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub cancelled: usize,
}

/// Counts the ended items by how they ended (superseded ones are not mailboxes of the run).
pub fn mailbox_tally(items: &[WorkItemRow]) -> MailboxTally {
    let mut tally = MailboxTally::default();
    for item in items {
        if item.state == ITEM_SUPERSEDED || !item_is_terminal(&item.state) {
            continue;
        }
        tally.done += 1;
        if item.state == ITEM_CANCELLED || item.outcome == "cancelled" {
            tally.cancelled += 1;
        } else if item.state == ITEM_FAILED || item.outcome == "failed" {
            tally.failed += 1;
        } else if item.outcome == "succeeded" {
            tally.succeeded += 1;
        }
    }
    tally
}

fn add_counts(total: &mut v1::SyncCounts, counts: &v1::SyncCounts) {
    total.created += counts.created;
    total.updated += counts.updated;
    total.deleted += counts.deleted;
    total.unchanged += counts.unchanged;
    total.failed += counts.failed;
    total.graph_requests += counts.graph_requests;
    total.batched_requests += counts.batched_requests;
    total.retries += counts.retries;
    total.deletes_awaiting_approval += counts.deletes_awaiting_approval;
    total.photos_written += counts.photos_written;
    total.restored += counts.restored;
}

/// A finished item as the API shows it.
pub fn mailbox_result(item: &WorkItemRow) -> v1::MailboxResult {
    let result = item
        .result
        .as_deref()
        .and_then(|bytes| v1::MailboxSyncResult::decode(bytes).ok());
    let outcome = match item.state.as_str() {
        ITEM_FAILED => v1::MailboxOutcome::Failed as i32,
        ITEM_CANCELLED => v1::MailboxOutcome::Cancelled as i32,
        _ => result.as_ref().map(|result| result.outcome).unwrap_or(0),
    };
    let mut errors = result
        .as_ref()
        .map(|result| result.errors.clone())
        .unwrap_or_default();
    if !item.last_error.is_empty() && !errors.contains(&item.last_error) {
        errors.push(item.last_error.clone());
    }
    v1::MailboxResult {
        mailbox_id: item.mailbox_id.clone(),
        outcome,
        counts: item_counts(item),
        errors,
        attempts: item.attempt as u32,
    }
}

/// How often, and how far apart, a run is driven again after its store went
/// away (60 × 1 s).
const STORE_OUTAGE_RETRIES: u32 = 60;
const STORE_OUTAGE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// True for store errors that say the database could not be reached or the
/// connection broke, which pass when it is back; not for a query's own error.
fn is_store_outage(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
    ) || matches!(error, sqlx::Error::Database(database) if database.code().is_some_and(|code| code.starts_with("57P") || code.starts_with("08")))
}

/// Takes a run off the ones this process drives when its driver ends, however
/// it ends.
struct DrivingGuard(Arc<Scheduler>, String);

impl Drop for DrivingGuard {
    fn drop(&mut self) {
        self.0.driving().remove(&self.1);
    }
}

impl Scheduler {
    pub(crate) fn spawn_driver(self: &Arc<Self>, run_id: String) {
        if !self.driving().insert(run_id.clone()) {
            return;
        }
        let scheduler = self.clone();
        let driving = DrivingGuard(self.clone(), run_id.clone());
        let span = galsync_platform::telemetry::run_span("run", &run_id);
        let driven = async move {
            // A store that went away (PostgreSQL restarted, a connection
            // reset) is an outage, not the run's failure: the run is driven
            // again from what the store holds once it answers, for about a
            // minute.
            let mut outage_retries = 0;
            let result = loop {
                match scheduler.drive(&run_id).await {
                    Err(SchedulerError::Store(error))
                        if is_store_outage(&error) && outage_retries < STORE_OUTAGE_RETRIES =>
                    {
                        outage_retries += 1;
                        tracing::warn!(run = %run_id, %error, attempt = outage_retries, "the store went away; driving the run again when it answers");
                        tokio::time::sleep(STORE_OUTAGE_WAIT).await;
                    }
                    other => break other,
                }
            };
            if let Err(SchedulerError::RunTakenOver(_)) = result {
                tracing::warn!(run = %run_id, "another scheduler took the run over; this one stops driving it");
            } else if let Err(error) = result {
                tracing::error!(run = %run_id, %error, "run failed");
                if let Err(store_error) =
                    scheduler.end_run_failed(&run_id, &error.to_string()).await
                {
                    tracing::error!(run = %run_id, error = %store_error, "could not record the failure");
                }
            }
            drop(driving);
        };
        tokio::spawn(tracing::Instrument::instrument(driven, span));
    }

    async fn end_run_failed(&self, run_id: &str, message: &str) -> Result<(), SchedulerError> {
        let mut run = self.run(run_id).await?;
        if !ACTIVE_STATES.contains(&run.state.as_str()) {
            return Ok(());
        }
        run.state = STATE_FAILED.to_owned();
        run.error = message.to_owned();
        run.finished_at = Some(now_millis());
        self.store.update_run(&run).await?;
        self.append_state_event(run_id, v1::RunState::Failed)
            .await?;
        self.metrics.run_ended(STATE_FAILED);
        self.store.release_run_lock(&run.profile_id, run_id).await?;
        Ok(())
    }

    fn driving(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.driving
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn renew_lock(&self, run: &RunRow) -> Result<(), SchedulerError> {
        let renewed = self
            .store
            .renew_run_lock(
                &run.profile_id,
                &run.run_id,
                &self.node_id,
                now_millis() + self.lock_ttl_millis(),
            )
            .await?;
        if renewed {
            return Ok(());
        }
        Err(SchedulerError::RunTakenOver(run.run_id.clone()))
    }

    /// Awaits `work` while renewing the run's profile lock every third of
    /// its lifetime, so a directory read longer than the lock's TTL is not
    /// taken for an orphan and started a second time.
    async fn holding_lock<T>(
        &self,
        run: &RunRow,
        work: impl std::future::Future<Output = Result<T, SchedulerError>>,
    ) -> Result<T, SchedulerError> {
        let every = std::time::Duration::from_millis(
            u64::try_from(self.lock_ttl_millis() / 3)
                .unwrap_or(1)
                .max(1),
        );
        let mut renewal = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tokio::pin!(work);
        loop {
            tokio::select! {
                result = &mut work => return result,
                _ = renewal.tick() => self.renew_lock(run).await?,
            }
        }
    }

    async fn drive(&self, run_id: &str) -> Result<(), SchedulerError> {
        let mut run = self.run(run_id).await?;
        if run.state == STATE_QUEUED || run.state == STATE_READING {
            self.read_and_enqueue(&mut run).await?;
        }
        let mut reported: HashSet<String> = HashSet::new();
        let mut last_progress: Option<(usize, v1::SyncCounts)> = None;
        loop {
            if self.is_stopping() {
                tracing::info!(run = %run_id, "scheduler stopping: leaving the run for another scheduler");
                return Ok(());
            }
            self.renew_lock(&run).await?;
            let current = self.run(run_id).await?;
            let exhausted = self
                .store
                .fail_exhausted_leases(run_id, now_millis())
                .await?;
            self.metrics.lease_expired(exhausted);
            let cancelling = current.cancel_requested;
            if cancelling {
                self.stop_cancelled_items(run_id).await?;
            }
            let items = self.store.work_items_of_run(run_id).await?;
            let mut finished = 0;
            for item in &items {
                if item.state == ITEM_SUPERSEDED {
                    continue;
                }
                if !item_is_terminal(&item.state) {
                    continue;
                }
                finished += 1;
                if reported.insert(item.work_item_id.clone()) {
                    self.append_event(
                        run_id,
                        v1::run_event::Detail::MailboxDone(mailbox_result(item)),
                        v1::RunState::Writing,
                    )
                    .await?;
                }
            }
            let live_items: Vec<&WorkItemRow> = items
                .iter()
                .filter(|item| item.state != ITEM_SUPERSEDED)
                .collect();
            let counts = run_counts(&items);
            if last_progress.as_ref() != Some(&(finished, counts)) {
                let progress = v1::RunProgress {
                    mailboxes_done: finished as u32,
                    mailboxes_total: live_items.len() as u32,
                    counts: Some(counts),
                };
                self.append_event(
                    run_id,
                    v1::run_event::Detail::Progress(progress),
                    v1::RunState::Writing,
                )
                .await?;
                last_progress = Some((finished, counts));
            }
            // A cancelled run ends once every writer has stopped and said
            // what it wrote, so its totals are final when it shows cancelled.
            if cancelling && items.iter().all(|item| item.state != ITEM_LEASED) {
                return self.end_cancelled(current).await;
            }
            if finished == live_items.len() {
                return self.end_run(current, &items).await;
            }
            self.pause(self.timings.driver_poll).await;
        }
    }

    /// Whether the profile's repair interval has passed since its last
    /// successful run with the repair pass (never repaired: due).
    async fn repair_due(
        &self,
        profile_id: &str,
        interval_seconds: u32,
    ) -> Result<bool, SchedulerError> {
        if interval_seconds == 0 {
            return Ok(false);
        }
        let Some(last) = self.store.last_repair_at(profile_id).await? else {
            return Ok(true);
        };
        Ok(now_millis() - last >= i64::from(interval_seconds) * 1000)
    }

    async fn read_and_enqueue(&self, run: &mut RunRow) -> Result<(), SchedulerError> {
        let profile = self.profile(&run.profile_id).await?;
        let spec = decode_spec(&profile)?;
        run.state = STATE_READING.to_owned();
        run.started_at = Some(now_millis());
        self.store.update_run(run).await?;
        self.append_state_event(&run.run_id, v1::RunState::Reading)
            .await?;

        let mut write = spec.write.clone().unwrap_or_default();
        write.repair = write.repair
            || self
                .repair_due(&profile.profile_id, spec.repair_interval_seconds)
                .await?;
        run.repair = write.repair && !run.dry_run;
        let snapshot = self
            .holding_lock(
                run,
                self.directory.take_snapshot(v1::TakeSnapshotRequest {
                    tenant_id: profile.tenant_id.clone(),
                    filter: spec.source.clone(),
                    force_full_read: run.full_read,
                    include_photos: write.write_photos,
                }),
            )
            .await?;
        let targets = self
            .holding_lock(
                run,
                self.directory
                    .resolve_targets(&profile.tenant_id, spec.targets.clone().unwrap_or_default()),
            )
            .await?;
        self.renew_lock(run).await?;

        let now = now_millis();
        // A sync of each target; a purge of each mailbox that left the targets.
        let item = |mailbox_id: &str, purge: bool| {
            let request = v1::SyncMailboxRequest {
                tenant_id: profile.tenant_id.clone(),
                mailbox_id: mailbox_id.to_owned(),
                snapshot_id: snapshot.snapshot_id.clone(),
                policy: Some(write.clone()),
                profile_id: profile.profile_id.clone(),
                purge,
            };
            let dry_run = run.dry_run && !purge;
            new_work_item(
                &run.run_id,
                mailbox_id,
                request,
                dry_run,
                self.timings.max_attempts,
                now,
            )
        };
        let mut items: Vec<WorkItemRow> = targets
            .mailbox_ids
            .iter()
            .map(|mailbox_id| item(mailbox_id, false))
            .collect();
        if !run.dry_run && write.deletion_mode() != v1::DeletionMode::Never {
            let removed = self
                .removed_targets(&profile.profile_id, &run.run_id, &targets.mailbox_ids)
                .await?;
            items.extend(removed.iter().map(|mailbox_id| item(mailbox_id, true)));
        }
        self.store.insert_work_items(&items).await?;
        run.snapshot_id = snapshot.snapshot_id.clone();
        run.read_stats = snapshot.read_stats.map(|stats| stats.encode_to_vec());
        run.mailboxes_total = items.len() as i64;
        run.state = STATE_WRITING.to_owned();
        self.store.update_run(run).await?;
        self.append_state_event(&run.run_id, v1::RunState::Writing)
            .await?;
        tracing::info!(
            run = %run.run_id,
            snapshot = %run.snapshot_id,
            mailboxes = items.len(),
            "directory read; mailboxes queued for the writers"
        );
        Ok(())
    }

    /// Mailboxes the profile's previous writing run worked on that are no
    /// longer targets, and whose contacts are still there: everything but a
    /// purge that finished. A purge that failed is tried again next run.
    async fn removed_targets(
        &self,
        profile_id: &str,
        run_id: &str,
        targets: &[String],
    ) -> Result<Vec<String>, SchedulerError> {
        let Some(previous) = self.store.previous_writing_run(profile_id, run_id).await? else {
            return Ok(Vec::new());
        };
        let targets: std::collections::HashSet<&str> = targets.iter().map(String::as_str).collect();
        let mut removed = Vec::new();
        for item in self.store.work_items_of_run(&previous).await? {
            if targets.contains(item.mailbox_id.as_str()) {
                continue;
            }
            let purged = item.state == ITEM_DONE
                && item.outcome == "succeeded"
                && v1::SyncMailboxRequest::decode(item.request.as_slice())
                    .is_ok_and(|request| request.purge);
            if !purged && !removed.contains(&item.mailbox_id) {
                removed.push(item.mailbox_id);
            }
        }
        if !removed.is_empty() {
            tracing::info!(
                profile = %profile_id,
                mailboxes = removed.len(),
                "mailboxes left the profile's targets; their contacts will be purged"
            );
        }
        Ok(removed)
    }

    /// Of a cancelled run: ends the items no writer holds (queued ones, and
    /// leased ones whose writer is gone). Writers holding the others learn of
    /// the cancellation at their next heartbeat, stop between two batches and
    /// release the item with the counts of what they wrote.
    async fn stop_cancelled_items(&self, run_id: &str) -> Result<(), SchedulerError> {
        self.store
            .set_run_items_state(run_id, ITEM_QUEUED, ITEM_CANCELLED, CANCELLED_REASON)
            .await?;
        let expired = self
            .store
            .end_expired_leases(run_id, now_millis(), ITEM_CANCELLED, CANCELLED_REASON)
            .await?;
        self.metrics.lease_expired(expired);
        Ok(())
    }

    async fn end_cancelled(&self, mut run: RunRow) -> Result<(), SchedulerError> {
        run.state = STATE_CANCELLED.to_owned();
        run.finished_at = Some(now_millis());
        self.store.update_run(&run).await?;
        self.append_state_event(&run.run_id, v1::RunState::Cancelled)
            .await?;
        self.metrics.run_ended(STATE_CANCELLED);
        self.store
            .release_run_lock(&run.profile_id, &run.run_id)
            .await?;
        Ok(())
    }

    async fn end_run(&self, mut run: RunRow, items: &[WorkItemRow]) -> Result<(), SchedulerError> {
        let live: Vec<&WorkItemRow> = items
            .iter()
            .filter(|item| item.state != ITEM_SUPERSEDED)
            .collect();
        let failed = live
            .iter()
            .filter(|item| item.state == ITEM_FAILED || item.outcome == "failed")
            .count();
        let awaiting = live
            .iter()
            .filter(|item| item.outcome == "awaiting-approval")
            .count();
        let partial = live.iter().filter(|item| item.outcome == "partial").count();
        let state = if !live.is_empty() && failed == live.len() {
            STATE_FAILED
        } else if awaiting > 0 && !run.dry_run {
            STATE_AWAITING_APPROVAL
        } else if failed > 0 || partial > 0 {
            STATE_PARTIALLY_FAILED
        } else {
            STATE_SUCCEEDED
        };
        run.state = state.to_owned();
        run.finished_at = Some(now_millis());
        if failed > 0 && run.error.is_empty() {
            run.error = format!("{failed} of {} mailbox(es) failed", live.len());
        }
        self.store.update_run(&run).await?;
        self.append_state_event(&run.run_id, crate::scheduler::run_state_to_proto(state))
            .await?;
        self.metrics.run_ended(state);
        self.store
            .release_run_lock(&run.profile_id, &run.run_id)
            .await?;
        tracing::info!(run = %run.run_id, state, "run ended");
        Ok(())
    }

    /// Replaces the items the deletion guard held with approved copies.
    pub(crate) async fn requeue_awaiting_approval(
        &self,
        run_id: &str,
    ) -> Result<usize, SchedulerError> {
        let items = self.store.work_items_of_run(run_id).await?;
        let now = now_millis();
        let mut approved = Vec::new();
        for item in items
            .iter()
            .filter(|item| item.outcome == "awaiting-approval" && item.state != ITEM_SUPERSEDED)
        {
            let mut request =
                v1::SyncMailboxRequest::decode(item.request.as_slice()).map_err(|error| {
                    SchedulerError::Internal(format!(
                        "work item {} is unreadable: {error}",
                        item.work_item_id
                    ))
                })?;
            if let Some(policy) = request.policy.as_mut() {
                policy.deletions_approved = true;
            }
            approved.push(new_work_item(
                run_id,
                &item.mailbox_id,
                request,
                item.dry_run,
                self.timings.max_attempts,
                now,
            ));
        }
        self.store.supersede_awaiting(run_id).await?;
        self.store.insert_work_items(&approved).await?;
        Ok(approved.len())
    }

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
        for run in self.store.runs_in_states(ACTIVE_STATES).await? {
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

fn new_work_item(
    run_id: &str,
    mailbox_id: &str,
    request: v1::SyncMailboxRequest,
    dry_run: bool,
    max_attempts: u32,
    now: i64,
) -> WorkItemRow {
    WorkItemRow {
        work_item_id: uuid::Uuid::new_v4().to_string(),
        run_id: run_id.to_owned(),
        mailbox_id: mailbox_id.to_owned(),
        request: request.encode_to_vec(),
        dry_run,
        state: ITEM_QUEUED.to_owned(),
        attempt: 0,
        max_attempts: i64::from(max_attempts),
        available_at: now,
        lease_token: None,
        lease_expires_at: None,
        worker_id: String::new(),
        result: None,
        outcome: String::new(),
        last_error: String::new(),
        progress: None,
    }
}
