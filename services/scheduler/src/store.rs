//! The scheduler's repository over SQLite or PostgreSQL: profiles, runs and
//! their events, the work queue, run locks, API keys and the audit log.
//! Protobuf messages (profile specs, work requests, results) are stored as
//! their encoded bytes; the columns queries filter on are plain columns.

use galsync_platform::store::StorePool;
use galsync_platform::with_pool;

pub type StoreResult<T> = Result<T, sqlx::Error>;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProfileRow {
    pub profile_id: String,
    pub tenant_id: String,
    pub name: String,
    pub spec: Vec<u8>,
    pub version: i64,
    pub enabled: bool,
    pub next_run_at: Option<i64>,
    pub last_run_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const PROFILE_COLUMNS: &str =
    "profile_id, tenant_id, name, spec, version, enabled, next_run_at, last_run_id, created_at, updated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub run_id: String,
    pub profile_id: String,
    pub state: String,
    #[sqlx(rename = "run_trigger")]
    pub trigger: String,
    pub dry_run: bool,
    pub full_read: bool,
    pub snapshot_id: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub mailboxes_total: i64,
    pub error: String,
    pub read_stats: Option<Vec<u8>>,
    pub cancel_requested: bool,
    pub repair: bool,
}

const RUN_COLUMNS: &str =
    "run_id, profile_id, state, run_trigger, dry_run, full_read, snapshot_id, created_at, \
     started_at, finished_at, mailboxes_total, error, read_stats, cancel_requested, repair";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkItemRow {
    pub work_item_id: String,
    pub run_id: String,
    pub mailbox_id: String,
    pub request: Vec<u8>,
    pub dry_run: bool,
    pub state: String,
    pub attempt: i64,
    pub max_attempts: i64,
    pub available_at: i64,
    pub lease_token: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub worker_id: String,
    pub result: Option<Vec<u8>>,
    pub outcome: String,
    pub last_error: String,
    pub progress: Option<Vec<u8>>,
}

const WORK_COLUMNS: &str =
    "work_item_id, run_id, mailbox_id, request, dry_run, state, attempt, max_attempts, \
     available_at, lease_token, lease_expires_at, worker_id, result, outcome, last_error, progress";

#[derive(Debug, Clone)]
pub struct SchedulerStore {
    pool: StorePool,
    /// Woken when this process queues work, so waiting leases answer at once.
    work_added: std::sync::Arc<tokio::sync::Notify>,
}

impl SchedulerStore {
    pub fn new(pool: StorePool) -> Self {
        Self {
            pool,
            work_added: Default::default(),
        }
    }

    /// Resolves when this process next queues work.
    pub fn work_added(&self) -> tokio::sync::futures::Notified<'_> {
        self.work_added.notified()
    }

    pub fn pool(&self) -> &StorePool {
        &self.pool
    }

    // ---- profiles

    /// False when a profile with the same tenant and name exists.
    pub async fn insert_profile(&self, row: &ProfileRow) -> StoreResult<bool> {
        let inserted = with_pool!(&self.pool, pool => {
            sqlx::query(&format!(
                "INSERT INTO profiles ({PROFILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (tenant_id, name) DO NOTHING"
            ))
            .bind(&row.profile_id)
            .bind(&row.tenant_id)
            .bind(&row.name)
            .bind(&row.spec)
            .bind(row.version)
            .bind(row.enabled)
            .bind(row.next_run_at)
            .bind(&row.last_run_id)
            .bind(row.created_at)
            .bind(row.updated_at)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(inserted == 1)
    }

    /// Replaces a profile's spec if its version is still `expected_version`.
    pub async fn update_profile(
        &self,
        row: &ProfileRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let updated = with_pool!(&self.pool, pool => {
            sqlx::query(
                "UPDATE profiles SET tenant_id = $1, name = $2, spec = $3, version = $4, enabled = $5, \
                 next_run_at = $6, updated_at = $7 WHERE profile_id = $8 AND version = $9",
            )
            .bind(&row.tenant_id)
            .bind(&row.name)
            .bind(&row.spec)
            .bind(row.version)
            .bind(row.enabled)
            .bind(row.next_run_at)
            .bind(row.updated_at)
            .bind(&row.profile_id)
            .bind(expected_version)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    pub async fn get_profile(&self, profile_id: &str) -> StoreResult<Option<ProfileRow>> {
        let row: Option<ProfileRow> = with_pool!(&self.pool, pool => {
            sqlx::query_as(&format!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE profile_id = $1"))
                .bind(profile_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }

    pub async fn list_profiles(&self, tenant_id: &str) -> StoreResult<Vec<ProfileRow>> {
        let rows: Vec<ProfileRow> = with_pool!(&self.pool, pool => {
            sqlx::query_as(&format!(
                "SELECT {PROFILE_COLUMNS} FROM profiles WHERE ($1 = '' OR tenant_id = $1) ORDER BY tenant_id, name"
            ))
            .bind(tenant_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    pub async fn delete_profile(&self, profile_id: &str) -> StoreResult<bool> {
        let deleted = with_pool!(&self.pool, pool => {
            sqlx::query("DELETE FROM profiles WHERE profile_id = $1")
                .bind(profile_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted == 1)
    }

    /// Claims a due profile for a scheduled run by moving its next run time;
    /// false when another scheduler claimed it first.
    pub async fn claim_due_profile(
        &self,
        profile_id: &str,
        due_at: i64,
        next_run_at: Option<i64>,
    ) -> StoreResult<bool> {
        let claimed = with_pool!(&self.pool, pool => {
            sqlx::query("UPDATE profiles SET next_run_at = $1 WHERE profile_id = $2 AND next_run_at = $3")
                .bind(next_run_at)
                .bind(profile_id)
                .bind(due_at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(claimed == 1)
    }

    pub async fn due_profiles(&self, now: i64) -> StoreResult<Vec<ProfileRow>> {
        let rows: Vec<ProfileRow> = with_pool!(&self.pool, pool => {
            sqlx::query_as(&format!(
                "SELECT {PROFILE_COLUMNS} FROM profiles WHERE enabled AND next_run_at IS NOT NULL AND next_run_at <= $1"
            ))
            .bind(now)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    pub async fn set_last_run(&self, profile_id: &str, run_id: &str) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query("UPDATE profiles SET last_run_id = $1 WHERE profile_id = $2")
                .bind(run_id)
                .bind(profile_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    // ---- run locks

    /// Takes the profile's run lock for `run_id` unless a live lock is held.
    /// An expired lock (its holder died) is taken over.
    pub async fn acquire_run_lock(
        &self,
        profile_id: &str,
        run_id: &str,
        holder: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<bool> {
        let row: Option<(String,)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "INSERT INTO run_locks (profile_id, run_id, holder, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (profile_id) DO UPDATE SET run_id = excluded.run_id, holder = excluded.holder, \
                 expires_at = excluded.expires_at WHERE run_locks.expires_at < $5 RETURNING run_id",
            )
            .bind(profile_id)
            .bind(run_id)
            .bind(holder)
            .bind(expires_at)
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.is_some())
    }

    /// Extends the lock while `run_id` holds it; false when it was lost.
    pub async fn renew_run_lock(
        &self,
        profile_id: &str,
        run_id: &str,
        holder: &str,
        expires_at: i64,
    ) -> StoreResult<bool> {
        let renewed = with_pool!(&self.pool, pool => {
            sqlx::query("UPDATE run_locks SET expires_at = $1, holder = $2 WHERE profile_id = $3 AND run_id = $4")
                .bind(expires_at)
                .bind(holder)
                .bind(profile_id)
                .bind(run_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(renewed == 1)
    }

    pub async fn release_run_lock(&self, profile_id: &str, run_id: &str) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query("DELETE FROM run_locks WHERE profile_id = $1 AND run_id = $2")
                .bind(profile_id)
                .bind(run_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The run holding the profile's lock, if the lock is live.
    pub async fn run_lock_holder(&self, profile_id: &str, now: i64) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = with_pool!(&self.pool, pool => {
            sqlx::query_as("SELECT run_id FROM run_locks WHERE profile_id = $1 AND expires_at >= $2")
                .bind(profile_id)
                .bind(now)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(run_id,)| run_id))
    }

    // ---- runs

    pub async fn insert_run(&self, row: &RunRow) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query(&format!(
                "INSERT INTO runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            ))
            .bind(&row.run_id)
            .bind(&row.profile_id)
            .bind(&row.state)
            .bind(&row.trigger)
            .bind(row.dry_run)
            .bind(row.full_read)
            .bind(&row.snapshot_id)
            .bind(row.created_at)
            .bind(row.started_at)
            .bind(row.finished_at)
            .bind(row.mailboxes_total)
            .bind(&row.error)
            .bind(&row.read_stats)
            .bind(row.cancel_requested)
            .bind(row.repair)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn get_run(&self, run_id: &str) -> StoreResult<Option<RunRow>> {
        let row: Option<RunRow> = with_pool!(&self.pool, pool => {
            sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $1"))
                .bind(run_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }

    pub async fn list_runs(&self, profile_id: &str, limit: i64) -> StoreResult<Vec<RunRow>> {
        let rows: Vec<RunRow> = with_pool!(&self.pool, pool => {
            sqlx::query_as(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE ($1 = '' OR profile_id = $1) ORDER BY created_at DESC, run_id LIMIT $2"
            ))
            .bind(profile_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    pub async fn runs_in_states(&self, states: &[&str]) -> StoreResult<Vec<RunRow>> {
        let mut all = Vec::new();
        for state in states {
            let rows: Vec<RunRow> = with_pool!(&self.pool, pool => {
                sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE state = $1"))
                    .bind(*state)
                    .fetch_all(pool)
                    .await?
            });
            all.extend(rows);
        }
        Ok(all)
    }

    /// Writes a run's mutable columns.
    pub async fn update_run(&self, row: &RunRow) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query(
                "UPDATE runs SET state = $1, snapshot_id = $2, started_at = $3, finished_at = $4, \
                 mailboxes_total = $5, error = $6, read_stats = $7, repair = $8 WHERE run_id = $9",
            )
            .bind(&row.state)
            .bind(&row.snapshot_id)
            .bind(row.started_at)
            .bind(row.finished_at)
            .bind(row.mailboxes_total)
            .bind(&row.error)
            .bind(&row.read_stats)
            .bind(row.repair)
            .bind(&row.run_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// When the profile's last successful run with the repair pass was created.
    pub async fn last_repair_at(&self, profile_id: &str) -> StoreResult<Option<i64>> {
        let row: (Option<i64>,) = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT MAX(created_at) FROM runs WHERE profile_id = $1 AND repair = $2 AND state = $3",
            )
            .bind(profile_id)
            .bind(true)
            .bind(crate::scheduler::STATE_SUCCEEDED)
            .fetch_one(pool)
            .await?
        });
        Ok(row.0)
    }

    pub async fn request_cancel(&self, run_id: &str) -> StoreResult<bool> {
        let updated = with_pool!(&self.pool, pool => {
            sqlx::query("UPDATE runs SET cancel_requested = TRUE WHERE run_id = $1")
                .bind(run_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(updated == 1)
    }

    /// Deletes finished runs (and their events and work items) older than `before`.
    pub async fn prune_runs(&self, before: i64) -> StoreResult<u64> {
        let deleted = with_pool!(&self.pool, pool => {
            let mut transaction = pool.begin().await?;
            sqlx::query(
                "DELETE FROM run_events WHERE run_id IN (SELECT run_id FROM runs WHERE finished_at IS NOT NULL AND finished_at < $1)",
            )
            .bind(before)
            .execute(&mut *transaction)
            .await?;
            sqlx::query(
                "DELETE FROM work_items WHERE run_id IN (SELECT run_id FROM runs WHERE finished_at IS NOT NULL AND finished_at < $1)",
            )
            .bind(before)
            .execute(&mut *transaction)
            .await?;
            let deleted = sqlx::query("DELETE FROM runs WHERE finished_at IS NOT NULL AND finished_at < $1")
                .bind(before)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
            transaction.commit().await?;
            deleted
        });
        Ok(deleted)
    }

    // ---- run events

    /// Appends an event with the next sequence number of the run; returns it.
    pub async fn append_event(&self, run_id: &str, at: i64, event: &[u8]) -> StoreResult<i64> {
        let (sequence,): (i64,) = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "INSERT INTO run_events (run_id, sequence, at, event) \
                 VALUES ($1, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM run_events WHERE run_id = $1), $2, $3) \
                 RETURNING sequence",
            )
            .bind(run_id)
            .bind(at)
            .bind(event)
            .fetch_one(pool)
            .await?
        });
        Ok(sequence)
    }

    pub async fn events_after(
        &self,
        run_id: &str,
        after_sequence: i64,
    ) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        let rows: Vec<(i64, Vec<u8>)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT sequence, event FROM run_events WHERE run_id = $1 AND sequence > $2 ORDER BY sequence",
            )
            .bind(run_id)
            .bind(after_sequence)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    // ---- work items

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
                .bind(&row.state)
                .bind(row.attempt)
                .bind(row.max_attempts)
                .bind(row.available_at)
                .bind(&row.lease_token)
                .bind(row.lease_expires_at)
                .bind(&row.worker_id)
                .bind(&row.result)
                .bind(&row.outcome)
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
        const READY: &str = "((state = 'queued' AND available_at <= $4) \
             OR (state = 'leased' AND lease_expires_at < $4 AND attempt < max_attempts)) \
             AND run_id NOT IN (SELECT run_id FROM runs WHERE cancel_requested = TRUE)";
        let row: Option<WorkItemRow> = match &self.pool {
            StorePool::Postgres(pool) => {
                sqlx::query_as(&format!(
                    "UPDATE work_items SET state = 'leased', lease_token = $1, lease_expires_at = $2, worker_id = $3, \
                     attempt = attempt + 1 WHERE work_item_id = (SELECT work_item_id FROM work_items WHERE {READY} \
                     ORDER BY available_at, work_item_id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING {WORK_COLUMNS}"
                ))
                .bind(lease_token)
                .bind(lease_expires_at)
                .bind(worker_id)
                .bind(now)
                .fetch_optional(pool)
                .await?
            }
            StorePool::Sqlite(pool) => {
                sqlx::query_as(&format!(
                    "UPDATE work_items SET state = 'leased', lease_token = $1, lease_expires_at = $2, worker_id = $3, \
                     attempt = attempt + 1 WHERE work_item_id = (SELECT work_item_id FROM work_items WHERE {READY} \
                     ORDER BY available_at, work_item_id LIMIT 1) RETURNING {WORK_COLUMNS}"
                ))
                .bind(lease_token)
                .bind(lease_expires_at)
                .bind(worker_id)
                .bind(now)
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
                 WHERE lease_token = $3 AND state = 'leased' AND lease_expires_at >= $4 RETURNING run_id",
            )
            .bind(lease_expires_at)
            .bind(progress)
            .bind(lease_token)
            .bind(now)
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
                "UPDATE work_items SET progress = COALESCE($1, progress) WHERE lease_token = $2 AND state = 'leased' \
                 RETURNING run_id",
            )
            .bind(progress)
            .bind(lease_token)
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
        to_state: &str,
        last_error: &str,
    ) -> StoreResult<u64> {
        let updated = with_pool!(&self.pool, pool => {
            sqlx::query(
                "UPDATE work_items SET state = $1, last_error = $2, lease_token = NULL, lease_expires_at = NULL \
                 WHERE run_id = $3 AND state = 'leased' AND lease_expires_at < $4",
            )
            .bind(to_state)
            .bind(last_error)
            .bind(run_id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated)
    }

    /// (attempt, max attempts) of the item a live lease holds.
    pub async fn lease_item(&self, lease_token: &str) -> StoreResult<Option<(i64, i64)>> {
        let row: Option<(i64, i64)> = with_pool!(&self.pool, pool => {
            sqlx::query_as("SELECT attempt, max_attempts FROM work_items WHERE lease_token = $1 AND state = 'leased'")
                .bind(lease_token)
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
        state: &str,
        result: Option<&[u8]>,
        outcome: &str,
        last_error: &str,
        available_at: i64,
        attempt_delta: i64,
    ) -> StoreResult<bool> {
        let updated = with_pool!(&self.pool, pool => {
            sqlx::query(
                "UPDATE work_items SET state = $1, result = COALESCE($2, result), outcome = $3, last_error = $4, \
                 available_at = $5, attempt = attempt + $6, lease_token = NULL, lease_expires_at = NULL \
                 WHERE lease_token = $7 AND state = 'leased'",
            )
            .bind(state)
            .bind(result)
            .bind(outcome)
            .bind(last_error)
            .bind(available_at)
            .bind(attempt_delta)
            .bind(lease_token)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    /// Keeps the plan a writer reports for the item it holds the lease of.
    pub async fn set_plan_by_lease(&self, lease_token: &str, plan: &[u8]) -> StoreResult<bool> {
        let updated = with_pool!(&self.pool, pool => {
            sqlx::query("UPDATE work_items SET plan = $1 WHERE lease_token = $2 AND state = 'leased'")
                .bind(plan)
                .bind(lease_token)
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
                 WHERE run_id = $1 AND plan IS NOT NULL AND state <> 'superseded' \
                 AND (mailbox_id > $2 OR ($3 AND mailbox_id = $2)) \
                 AND ($4 = '' OR mailbox_id = $4) ORDER BY mailbox_id LIMIT $5",
            )
            .bind(run_id)
            .bind(from_mailbox)
            .bind(inclusive)
            .bind(only_mailbox)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Marks a run's items in `from_state` as `to_state` (e.g. queued → cancelled).
    pub async fn set_run_items_state(
        &self,
        run_id: &str,
        from_state: &str,
        to_state: &str,
        last_error: &str,
    ) -> StoreResult<u64> {
        let updated = with_pool!(&self.pool, pool => {
            sqlx::query(
                "UPDATE work_items SET state = $1, last_error = $2, lease_token = NULL, lease_expires_at = NULL \
                 WHERE run_id = $3 AND state = $4",
            )
            .bind(to_state)
            .bind(last_error)
            .bind(run_id)
            .bind(from_state)
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
                "UPDATE work_items SET state = 'superseded' \
                 WHERE run_id = $1 AND outcome = 'awaiting-approval' AND state <> 'superseded'",
            )
            .bind(run_id)
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
                "UPDATE work_items SET state = 'failed', last_error = 'the writer stopped answering (lease expired) on every attempt', \
                 lease_token = NULL, lease_expires_at = NULL \
                 WHERE run_id = $1 AND state = 'leased' AND lease_expires_at < $2 AND attempt >= max_attempts",
            )
            .bind(run_id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated)
    }

    // ---- api keys and audit

    pub async fn insert_api_key(
        &self,
        key_id: &str,
        name: &str,
        key_hash: &str,
        role: &str,
        created_at: i64,
        plaintext_only: bool,
    ) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query("INSERT INTO api_keys (key_id, name, key_hash, role, created_at, plaintext_only) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(key_id)
                .bind(name)
                .bind(key_hash)
                .bind(role)
                .bind(created_at)
                .bind(plaintext_only)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// (key hash, role, name, made by a plaintext caller) of an API key.
    pub async fn api_key(
        &self,
        key_id: &str,
    ) -> StoreResult<Option<(String, String, String, bool)>> {
        let row: Option<(String, String, String, bool)> = with_pool!(&self.pool, pool => {
            sqlx::query_as("SELECT key_hash, role, name, plaintext_only FROM api_keys WHERE key_id = $1")
                .bind(key_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }

    pub async fn insert_audit(
        &self,
        at: i64,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
    ) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query("INSERT INTO audit_events (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)")
                .bind(at)
                .bind(actor)
                .bind(action)
                .bind(target)
                .bind(detail)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn list_audit(
        &self,
        limit: i64,
    ) -> StoreResult<Vec<(i64, String, String, String, String)>> {
        let rows: Vec<(i64, String, String, String, String)> = with_pool!(&self.pool, pool => {
            sqlx::query_as("SELECT at, actor, action, target, detail FROM audit_events ORDER BY id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }
}
