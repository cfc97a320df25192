//! The run driver: read the directory, enqueue one work item per mailbox,
//! follow the writers' progress, end the run — renewing the profile's run
//! lock throughout. Reading and queueing live in `driver/enqueue.rs`, the
//! ends of a run in `driver/ending.rs`; the ticker that starts scheduled
//! runs and adopts orphans in `ticker.rs`.

mod ending;
mod enqueue;

use std::collections::HashSet;
use std::sync::Arc;

use galsync_proto::v1;

use crate::error::SchedulerError;
use crate::item_state::ItemState;
use crate::scheduler::{now_millis, RunState, Scheduler};
use crate::store::{RunRow, RunSignal, WorkItemRow};
use crate::work_items::{mailbox_result, run_counts};

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
        if matches!(run.state, RunState::Queued | RunState::Reading) {
            self.read_and_enqueue(&mut run).await?;
        }
        // Subscribed before the first look, so an item that ends while the
        // driver reads the store wakes its next wait.
        let mut items_changed = self.store.watch_run(run_id, RunSignal::ItemsChanged);
        let mut reported: HashSet<String> = HashSet::new();
        let mut last_progress: Option<(usize, v1::SyncCounts)> = None;
        loop {
            let looked_at = tokio::time::Instant::now();
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
                if item.state == ItemState::Superseded {
                    continue;
                }
                if !item.state.is_terminal() {
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
                .filter(|item| item.state != ItemState::Superseded)
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
            if cancelling && items.iter().all(|item| item.state != ItemState::Leased) {
                return self.end_cancelled(current).await;
            }
            if finished == live_items.len() {
                return self.end_run(current, &items).await;
            }
            self.wait_for_items(run_id, &mut items_changed, looked_at)
                .await?;
        }
    }

    /// Waits until the driver should look at its run's items again: at once
    /// when the last unfinished one ends (so the run's end is seen as soon
    /// as it happens), `driver_poll` after the last look when some ended
    /// meanwhile (progress), and [`Scheduler::recheck_interval`] after it
    /// when this process heard of no change. Returns early on shutdown.
    async fn wait_for_items(
        &self,
        run_id: &str,
        items_changed: &mut tokio::sync::watch::Receiver<u64>,
        looked_at: tokio::time::Instant,
    ) -> Result<(), SchedulerError> {
        let mut stopping = self.stopping.subscribe();
        let mut heard_of_change = false;
        loop {
            if *stopping.borrow() {
                return Ok(());
            }
            let wait = if heard_of_change {
                self.timings.driver_poll
            } else {
                self.recheck_interval()
            };
            let heard = tokio::select! {
                _ = tokio::time::sleep_until(looked_at + wait) => return Ok(()),
                _ = stopping.changed() => return Ok(()),
                changed = items_changed.changed() => changed.is_ok(),
            };
            if !heard {
                // Nobody can raise the signal any more: fall back to looking
                // every `driver_poll`.
                tokio::time::sleep_until(looked_at + self.timings.driver_poll).await;
                return Ok(());
            }
            heard_of_change = true;
            if self.store.unfinished_items(run_id).await? == 0 {
                return Ok(());
            }
        }
    }
}
