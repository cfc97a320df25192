//! The work queue writers lease mailboxes from: lease with expiry, heartbeat,
//! complete, fail with retry and exponential backoff up to the item's maximum
//! attempts, release. Expired leases are offered again.

use std::time::Duration;

use galsync_proto::v1;
use prost::Message;
use rand::Rng;

use crate::error::SchedulerError;
use crate::item_state::{ItemOutcome, ItemState};
use crate::scheduler::{now_millis, Scheduler};
use crate::work_items::CANCELLED_REASON;

pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// Longest a lease call is held waiting for work.
pub const MAX_LEASE_WAIT: Duration = Duration::from_secs(20);
/// How often a held lease call looks again (work queued by another
/// scheduler replica, or a retry falling due, wakes no local waiter).
const LEASE_RECHECK: Duration = Duration::from_secs(1);
const MAX_LEASE: Duration = Duration::from_secs(3600);
/// A lease granted this much after it was stamped is stamped again.
const RESTAMP_AFTER_MILLIS: i64 = 200;
const RESTAMPS: usize = 3;
const RETRY_BASE_MILLIS: i64 = 2_000;
const RETRY_CAP_MILLIS: i64 = 300_000;

fn lease_length(seconds: u32) -> i64 {
    let requested = if seconds == 0 {
        DEFAULT_LEASE
    } else {
        Duration::from_secs(u64::from(seconds))
    };
    requested.min(MAX_LEASE).as_millis() as i64
}

fn lease_lost(lease_token: &str) -> SchedulerError {
    SchedulerError::FailedPrecondition(format!(
        "lease {lease_token} is not held (it expired and went to another writer, or the run ended)"
    ))
}

/// Delay before retry `attempt` (1-based): exponential with jitter, capped.
pub fn retry_delay_millis(attempt: i64) -> i64 {
    let exponent = attempt.clamp(1, 16) - 1;
    let ceiling = (RETRY_BASE_MILLIS << exponent).min(RETRY_CAP_MILLIS);
    rand::thread_rng().gen_range(ceiling / 2..=ceiling)
}

impl Scheduler {
    /// Leases the next ready item, holding the call up to `wait` (at most
    /// [`MAX_LEASE_WAIT`]) until one is ready: a writer hears of new work as
    /// soon as it is queued instead of at its next poll.
    pub async fn lease_waiting(
        &self,
        worker_id: &str,
        lease_seconds: u32,
        wait: Duration,
    ) -> Result<Option<v1::Lease>, SchedulerError> {
        let deadline = tokio::time::Instant::now() + wait.min(MAX_LEASE_WAIT);
        let mut stopping = self.stopping.subscribe();
        loop {
            let work_added = self.store.work_added();
            if let Some(lease) = self.lease(worker_id, lease_seconds).await? {
                return Ok(Some(lease));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline || *stopping.borrow() {
                return Ok(None);
            }
            tokio::select! {
                _ = work_added => {}
                _ = tokio::time::sleep_until(deadline.min(now + LEASE_RECHECK)) => {}
                _ = stopping.changed() => return Ok(None),
            }
        }
    }

    pub async fn lease(
        &self,
        worker_id: &str,
        lease_seconds: u32,
    ) -> Result<Option<v1::Lease>, SchedulerError> {
        let now = now_millis();
        let lease_token = uuid::Uuid::new_v4().to_string();
        let length = lease_length(lease_seconds);
        let Some(item) = self
            .store
            .lease_next(now, &lease_token, now + length, worker_id)
            .await?
        else {
            return Ok(None);
        };
        let Some(expires_at) = self.restamp_if_slow(&lease_token, now, length).await? else {
            tracing::warn!(worker = worker_id, work_item = %item.work_item_id, "the store took longer than the lease to grant it; leaving it to lapse");
            return Ok(None);
        };
        let request = v1::SyncMailboxRequest::decode(item.request.as_slice()).map_err(|error| {
            SchedulerError::Internal(format!(
                "work item {} is unreadable: {error}",
                item.work_item_id
            ))
        })?;
        if item.attempt > 1 {
            // Offered again: its last lease lapsed, or its writer failed it.
            tracing::info!(worker = worker_id, work_item = %item.work_item_id, attempt = item.attempt, "leased again");
        } else {
            tracing::debug!(worker = worker_id, work_item = %item.work_item_id, attempt = item.attempt, "leased");
        }
        Ok(Some(v1::Lease {
            lease_token,
            expires_at: Some(millis_timestamp(expires_at)),
            item: Some(v1::WorkItem {
                work_item_id: item.work_item_id,
                run_id: item.run_id,
                request: Some(request),
                attempt: item.attempt as u32,
                dry_run: item.dry_run,
            }),
        }))
    }

    /// The expiry of a lease stamped at `stamped`: the writer counts the lease
    /// from when its answer arrives, so a store that was slow to grant it
    /// (unreachable for a while, say) must not have eaten into it. A lease
    /// stamped more than [`RESTAMP_AFTER_MILLIS`] ago is stamped again from
    /// now; `None` when it lapsed meanwhile (it may be another writer's by
    /// now).
    async fn restamp_if_slow(
        &self,
        lease_token: &str,
        mut stamped: i64,
        length: i64,
    ) -> Result<Option<i64>, SchedulerError> {
        for _ in 0..RESTAMPS {
            let now = now_millis();
            if now - stamped <= RESTAMP_AFTER_MILLIS {
                return Ok(Some(stamped + length));
            }
            tracing::info!(
                late_millis = now - stamped,
                "the store was slow to grant a lease; it counts from now"
            );
            if self
                .store
                .heartbeat(lease_token, now, now + length, None)
                .await?
                .is_none()
            {
                return Ok(None);
            }
            stamped = now;
        }
        // Still slow: the writer is told of the lease only if a fair part of
        // it is left.
        let left = stamped + length - now_millis();
        Ok((left >= length * 3 / 4).then_some(stamped + length))
    }

    pub async fn heartbeat(
        &self,
        lease_token: &str,
        lease_seconds: u32,
        progress: Option<v1::SyncCounts>,
    ) -> Result<v1::HeartbeatResponse, SchedulerError> {
        let now = now_millis();
        let expires_at = now + lease_length(lease_seconds);
        let progress_bytes = progress.map(|counts| counts.encode_to_vec());
        let Some(run_id) = self
            .store
            .heartbeat(lease_token, now, expires_at, progress_bytes.as_deref())
            .await?
        else {
            return Err(lease_lost(lease_token));
        };
        let cancel_requested = self
            .store
            .get_run(&run_id)
            .await?
            .map(|run| run.cancel_requested)
            .unwrap_or(true);
        Ok(v1::HeartbeatResponse {
            expires_at: Some(millis_timestamp(expires_at)),
            cancel_requested,
        })
    }

    pub async fn complete(
        &self,
        lease_token: &str,
        result: Option<v1::MailboxSyncResult>,
        plan: Option<v1::MailboxPlan>,
    ) -> Result<(), SchedulerError> {
        let mut result = result.unwrap_or_default();
        if let Some(plan) = &plan {
            if result.counts.is_none() && !plan.held_deletes_only {
                result.counts = plan.counts;
            }
            // Kept while the lease is held, so a lost lease stores nothing.
            if !self
                .store
                .set_plan_by_lease(lease_token, &plan.encode_to_vec())
                .await?
            {
                return Err(lease_lost(lease_token));
            }
        }
        let outcome = ItemOutcome::from_proto(
            v1::MailboxOutcome::try_from(result.outcome).unwrap_or_default(),
        );
        let finished = self
            .store
            .finish_lease(
                lease_token,
                ItemState::Done,
                Some(&result.encode_to_vec()),
                Some(outcome),
                "",
                now_millis(),
                0,
            )
            .await?;
        if !finished {
            return Err(lease_lost(lease_token));
        }
        // A dry run's plan counts what was planned, not written; a real
        // run's list of held deletes comes with what it wrote.
        if plan.as_ref().is_none_or(|plan| plan.held_deletes_only) {
            self.metrics
                .mailbox_completed(outcome, result.counts.as_ref());
        }
        Ok(())
    }

    /// Fails a leased item; true when it will be offered again.
    pub async fn fail(
        &self,
        lease_token: &str,
        reason: &str,
        retryable: bool,
    ) -> Result<bool, SchedulerError> {
        let reason: String = reason.chars().take(1000).collect();
        let items = self.store.lease_item(lease_token).await?;
        let Some((attempt, max_attempts)) = items else {
            return Err(lease_lost(lease_token));
        };
        let will_retry = retryable && attempt < max_attempts;
        let (state, available_at) = if will_retry {
            (
                ItemState::Queued,
                now_millis() + retry_delay_millis(attempt),
            )
        } else {
            (ItemState::Failed, now_millis())
        };
        let finished = self
            .store
            .finish_lease(
                lease_token,
                state,
                None,
                if will_retry {
                    None
                } else {
                    Some(ItemOutcome::Failed)
                },
                &reason,
                available_at,
                0,
            )
            .await?;
        if !finished {
            return Err(lease_lost(lease_token));
        }
        self.metrics.mailbox_failed(will_retry);
        Ok(will_retry)
    }

    /// Gives a lease back untouched; the attempt does not count.
    /// Gives a lease back. The item goes back to the queue, unless its run
    /// was cancelled: then it ends cancelled, and `progress` (the writes done
    /// before the writer stopped) stays in the run's totals.
    pub async fn release(
        &self,
        lease_token: &str,
        progress: Option<v1::SyncCounts>,
    ) -> Result<(), SchedulerError> {
        let progress_bytes = progress.map(|counts| counts.encode_to_vec());
        let Some(run_id) = self
            .store
            .record_progress(lease_token, progress_bytes.as_deref())
            .await?
        else {
            return Err(lease_lost(lease_token));
        };
        let run_cancelled = self
            .store
            .get_run(&run_id)
            .await?
            .is_none_or(|run| run.cancel_requested);
        let released = if run_cancelled {
            self.store
                .finish_lease(
                    lease_token,
                    ItemState::Cancelled,
                    None,
                    None,
                    CANCELLED_REASON,
                    now_millis(),
                    0,
                )
                .await?
        } else {
            self.store
                .finish_lease(
                    lease_token,
                    ItemState::Queued,
                    None,
                    None,
                    "",
                    now_millis(),
                    -1,
                )
                .await?
        };
        if !released {
            return Err(lease_lost(lease_token));
        }
        Ok(())
    }
}

pub fn millis_timestamp(millis: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_and_stay_capped() {
        for attempt in 1..30 {
            let delay = retry_delay_millis(attempt);
            let ceiling = (RETRY_BASE_MILLIS << (attempt.clamp(1, 16) - 1)).min(RETRY_CAP_MILLIS);
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "attempt {attempt}: {delay}"
            );
        }
        assert!(retry_delay_millis(20) <= RETRY_CAP_MILLIS);
    }
}
