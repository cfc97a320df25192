//! The work queue: one item per mailbox of a run, leased by writers.

use galsync_platform::store::StorePool;
use galsync_platform::with_pool;

use super::{RunSignal, SchedulerStore, StoreResult};
use crate::item_state::{ItemOutcome, ItemState, StoredOutcome};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkItemRow {
    pub work_item_id: String,
    pub run_id: String,
    pub mailbox_id: String,
    pub request: Vec<u8>,
    pub dry_run: bool,
    #[sqlx(try_from = "String")]
    pub state: ItemState,
    pub attempt: i64,
    pub max_attempts: i64,
    pub available_at: i64,
    pub lease_token: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub worker_id: String,
    pub result: Option<Vec<u8>>,
    /// None until a writer completes the item (stored as `""`).
    #[sqlx(try_from = "StoredOutcome")]
    pub outcome: Option<ItemOutcome>,
    pub last_error: String,
    pub progress: Option<Vec<u8>>,
}

const WORK_COLUMNS: &str =
    "work_item_id, run_id, mailbox_id, request, dry_run, state, attempt, max_attempts, \
     available_at, lease_token, lease_expires_at, worker_id, result, outcome, last_error, progress";

impl SchedulerStore {
    pub async fn insert_work_items(&self, rows: &[WorkItemRow]) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            let mut transaction = pool.begin().await?;
            for row in rows {
                sqlx::query(&format!(
                    "INSERT INTO work_items ({WORK_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
                ))
                .bind(&row.work_item_id)
                .bind(&row.run_id)
                .bind(&row.mailbox_id)
                .bind(&row.request)
                .bind(row.dry_run)
                .bind(row.state.as_str())
                .bind(row.attempt)
                .bind(row.max_attempts)
                .bind(row.available_at)
                .bind(&row.lease_token)
                .bind(row.lease_expires_at)
                .bind(&row.worker_id)
                .bind(&row.result)
                .bind(ItemOutcome::stored(row.outcome))
                .bind(&row.last_error)
                .bind(&row.progress)
                .execute(&mut *transaction)
                .await?;
            }
            transaction.commit().await?;
        });
        self.work_added.notify_waiters();
        Ok(())
    }

    pub async fn work_items_of_run(&self, run_id: &str) -> StoreResult<Vec<WorkItemRow>> {
        let rows: Vec<WorkItemRow> = with_pool!(&self.pool, pool => {
            sqlx::query_as(&format!("SELECT {WORK_COLUMNS} FROM work_items WHERE run_id = $1 ORDER BY mailbox_id"))
                .bind(run_id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// The newest run of `profile_id` other than `run_id` that wrote (not a
    /// dry run, and work was queued for it): its items say which mailboxes
    /// hold the profile's contacts.
    pub async fn previous_writing_run(
        &self,
        profile_id: &str,
        run_id: &str,
    ) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT r.run_id FROM runs r WHERE r.profile_id = $1 AND r.run_id <> $2 \
                 AND r.dry_run = FALSE \
                 AND EXISTS (SELECT 1 FROM work_items w WHERE w.run_id = r.run_id) \
                 ORDER BY r.created_at DESC, r.run_id DESC LIMIT 1",
            )
            .bind(profile_id)
            .bind(run_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(run_id,)| run_id))
    }

    /// Leases the next ready item: queued and due, or leased with an expired
    /// lease (its writer died) and attempts left. PostgreSQL skips rows other
    /// schedulers hold (`FOR UPDATE SKIP LOCKED`); SQLite serialises writers.
    pub async fn lease_next(
        &self,
        now: i64,
        lease_token: &str,
        lease_expires_at: i64,
        worker_id: &str,
    ) -> StoreResult<Option<WorkItemRow>> {
        // A cancelled run's items are never offered, even before its driver
        // marks them cancelled.
        const READY: &str = "((state = $5 AND available_at <= $4) \
             OR (state = $6 AND lease_expires_at < $4 AND attempt < max_attempts)) \
             AND run_id NOT IN (SELECT run_id FROM runs WHERE cancel_requested = TRUE)";
        let row: Option<WorkItemRow> = match &self.pool {
            StorePool::Postgres(pool) => {
                sqlx::query_as(&format!(
                    "UPDATE work_items SET state = $6, lease_token = $1, lease_expires_at = $2, worker_id = $3, \
                     attempt = attempt + 1 WHERE work_item_id = (SELECT work_item_id FROM work_items WHERE {READY} \
                     ORDER BY available_at, work_item_id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING {WORK_COLUMNS}"
                ))
                .bind(lease_token)
                .bind(lease_expires_at)
                .bind(worker_id)
                .bind(now)
                .bind(ItemState::Queued.as_str())
                .bind(ItemState::Leased.as_str())
                .fetch_optional(pool)
                .await?
            }
            StorePool::Sqlite(pool) => {
                sqlx::query_as(&format!(
                    "UPDATE work_items SET state = $6, lease_token = $1, lease_expires_at = $2, worker_id = $3, \
                     attempt = attempt + 1 WHERE work_item_id = (SELECT work_item_id FROM work_items WHERE {READY} \
                     ORDER BY available_at, work_item_id LIMIT 1) RETURNING {WORK_COLUMNS}"
                ))
                .bind(lease_token)
                .bind(lease_expires_at)
                .bind(worker_id)
                .bind(now)
                .bind(ItemState::Queued.as_str())
                .bind(ItemState::Leased.as_str())
                .fetch_optional(pool)
                .await?
            }
        };
        Ok(row)
    }

    /// Extends a live lease and records progress; the item's run id when held.
    pub async fn heartbeat(
        &self,
        lease_token: &str,
        now: i64,
        lease_expires_at: i64,
        progress: Option<&[u8]>,
    ) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "UPDATE work_items SET lease_expires_at = $1, progress = COALESCE($2, progress) \
                 WHERE lease_token = $3 AND state = $5 AND lease_expires_at >= $4 RETURNING run_id",
            )
            .bind(lease_expires_at)
            .bind(progress)
            .bind(lease_token)
            .bind(now)
            .bind(ItemState::Leased.as_str())
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(run_id,)| run_id))
    }

    /// Records the progress (when given) of the item a lease holds; its run
    /// id when held.
    pub async fn record_progress(
        &self,
        lease_token: &str,
        progress: Option<&[u8]>,
    ) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "UPDATE work_items SET progress = COALESCE($1, progress) WHERE lease_token = $2 AND state = $3 \
                 RETURNING run_id",
            )
            .bind(progress)
            .bind(lease_token)
            .bind(ItemState::Leased.as_str())
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(run_id,)| run_id))
    }

    /// Marks a run's items whose lease ran out (their writer is gone) as
    /// `to_state`, keeping the progress they reported.
    pub async fn end_expired_leases(
        &self,
        run_id: &str,
        now: i64,
        to_state: ItemState,
        last_error: &str,
    ) -> StoreResult<u64> {
        let updated = with_pool!(&self.pool, pool => {
            sqlx::query(
                "UPDATE work_items SET state = $1, last_error = $2, lease_token = NULL, lease_expires_at = NULL \
                 WHERE run_id = $3 AND state = $5 AND lease_expires_at < $4",
            )
            .bind(to_state.as_str())
            .bind(last_error)
            .bind(run_id)
            .bind(now)
            .bind(ItemState::Leased.as_str())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated)
    }

    /// Work items (every run) queued and leased: the queue's depth.
    pub async fn work_item_depth(&self) -> StoreResult<(i64, i64)> {
        let rows: Vec<(String, i64)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT state, COUNT(*) FROM work_items WHERE state IN ($1, $2) GROUP BY state",
            )
            .bind(ItemState::Queued.as_str())
            .bind(ItemState::Leased.as_str())
            .fetch_all(pool)
            .await?
        });
        let count = |state: ItemState| {
            rows.iter()
                .find(|(name, _)| name == state.as_str())
                .map_or(0, |(_, count)| *count)
        };
        Ok((count(ItemState::Queued), count(ItemState::Leased)))
    }

    /// (attempt, max attempts) of the item a live lease holds.
    pub async fn lease_item(&self, lease_token: &str) -> StoreResult<Option<(i64, i64)>> {
        let row: Option<(i64, i64)> = with_pool!(&self.pool, pool => {
            sqlx::query_as("SELECT attempt, max_attempts FROM work_items WHERE lease_token = $1 AND state = $2")
                .bind(lease_token)
                .bind(ItemState::Leased.as_str())
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }

    /// Ends a held lease: `state` done/failed/queued/cancelled with the given
    /// result and error; `available_at` for a retry. False when not held.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_lease(
        &self,
        lease_token: &str,
        state: ItemState,
        result: Option<&[u8]>,
        outcome: Option<ItemOutcome>,
        last_error: &str,
        available_at: i64,
        attempt_delta: i64,
    ) -> StoreResult<bool> {
        let row: Option<(String,)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "UPDATE work_items SET state = $1, result = COALESCE($2, result), outcome = $3, last_error = $4, \
                 available_at = $5, attempt = attempt + $6, lease_token = NULL, lease_expires_at = NULL \
                 WHERE lease_token = $7 AND state = $8 RETURNING run_id",
            )
            .bind(state.as_str())
            .bind(result)
            .bind(ItemOutcome::stored(outcome))
            .bind(last_error)
            .bind(available_at)
            .bind(attempt_delta)
            .bind(lease_token)
            .bind(ItemState::Leased.as_str())
            .fetch_optional(pool)
            .await?
        });
        let Some((run_id,)) = row else {
            return Ok(false);
        };
        self.run_signals.raise(&run_id, RunSignal::ItemsChanged);
        Ok(true)
    }

    /// How many of a run's items (superseded ones aside) have not ended:
    /// the cheap question its driver asks each time an item changes.
    pub async fn unfinished_items(&self, run_id: &str) -> StoreResult<i64> {
        let (count,): (i64,) = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT COUNT(*) FROM work_items WHERE run_id = $1 \
                 AND state NOT IN ($2, $3, $4, $5)",
            )
            .bind(run_id)
            .bind(ItemState::Done.as_str())
            .bind(ItemState::Failed.as_str())
            .bind(ItemState::Cancelled.as_str())
            .bind(ItemState::Superseded.as_str())
            .fetch_one(pool)
            .await?
        });
        Ok(count)
    }

    /// Keeps the plan a writer reports for the item it holds the lease of.
    pub async fn set_plan_by_lease(&self, lease_token: &str, plan: &[u8]) -> StoreResult<bool> {
        let updated = with_pool!(&self.pool, pool => {
            sqlx::query("UPDATE work_items SET plan = $1 WHERE lease_token = $2 AND state = $3")
                .bind(plan)
                .bind(lease_token)
                .bind(ItemState::Leased.as_str())
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(updated == 1)
    }

    /// (mailbox id, encoded plan) of a run's items holding a plan, by
    /// mailbox id from `from_mailbox` (itself included when `inclusive`), at
    /// most `limit`.
    pub async fn plans_of_run(
        &self,
        run_id: &str,
        from_mailbox: &str,
        inclusive: bool,
        only_mailbox: &str,
        limit: i64,
    ) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let rows: Vec<(String, Vec<u8>)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT mailbox_id, plan FROM work_items \
                 WHERE run_id = $1 AND plan IS NOT NULL AND state <> $6 \
                 AND (mailbox_id > $2 OR ($3 AND mailbox_id = $2)) \
                 AND ($4 = '' OR mailbox_id = $4) ORDER BY mailbox_id LIMIT $5",
            )
            .bind(run_id)
            .bind(from_mailbox)
            .bind(inclusive)
            .bind(only_mailbox)
            .bind(limit)
            .bind(ItemState::Superseded.as_str())
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Marks a run's items in `from_state` as `to_state` (e.g. queued → cancelled).
    pub async fn set_run_items_state(
        &self,
        run_id: &str,
        from_state: ItemState,
        to_state: ItemState,
        last_error: &str,
    ) -> StoreResult<u64> {
        let updated = with_pool!(&self.pool, pool => {
            sqlx::query(
                "UPDATE work_items SET state = $1, last_error = $2, lease_token = NULL, lease_expires_at = NULL \
                 WHERE run_id = $3 AND state = $4",
            )
            .bind(to_state.as_str())
            .bind(last_error)
            .bind(run_id)
            .bind(from_state.as_str())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated)
    }

    /// Marks the run's items the deletion guard held as superseded.
    pub async fn supersede_awaiting(&self, run_id: &str) -> StoreResult<u64> {
        let updated = with_pool!(&self.pool, pool => {
            sqlx::query(
                "UPDATE work_items SET state = $2 WHERE run_id = $1 AND outcome = $3 AND state <> $2",
            )
            .bind(run_id)
            .bind(ItemState::Superseded.as_str())
            .bind(ItemOutcome::AwaitingApproval.as_str())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated)
    }

    /// Fails leased items whose lease expired with no attempts left.
    pub async fn fail_exhausted_leases(&self, run_id: &str, now: i64) -> StoreResult<u64> {
        let updated = with_pool!(&self.pool, pool => {
            sqlx::query(
                "UPDATE work_items SET state = $3, last_error = 'the writer stopped answering (lease expired) on every attempt', \
                 lease_token = NULL, lease_expires_at = NULL \
                 WHERE run_id = $1 AND state = $4 AND lease_expires_at < $2 AND attempt >= max_attempts",
            )
            .bind(run_id)
            .bind(now)
            .bind(ItemState::Failed.as_str())
            .bind(ItemState::Leased.as_str())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated)
    }
}
