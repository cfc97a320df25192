//! Runs and their event log.

use galsync_platform::with_pool;

use super::{RunSignal, SchedulerStore, StoreResult};
use crate::run_state::RunState;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub run_id: String,
    pub profile_id: String,
    #[sqlx(try_from = "String")]
    pub state: RunState,
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

impl SchedulerStore {
    pub async fn insert_run(&self, row: &RunRow) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query(&format!(
                "INSERT INTO runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            ))
            .bind(&row.run_id)
            .bind(&row.profile_id)
            .bind(row.state.as_str())
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

    /// The newest `limit` runs, of one profile when `profile_id` is not
    /// empty, of one tenant's profiles when `tenant_id` is not empty.
    pub async fn list_runs(
        &self,
        profile_id: &str,
        tenant_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<RunRow>> {
        let rows: Vec<RunRow> = with_pool!(&self.pool, pool => {
            sqlx::query_as(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE ($1 = '' OR profile_id = $1) \
                 AND ($3 = '' OR profile_id IN (SELECT profile_id FROM profiles WHERE tenant_id = $3)) \
                 ORDER BY created_at DESC, run_id LIMIT $2"
            ))
            .bind(profile_id)
            .bind(limit)
            .bind(tenant_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    pub async fn runs_in_states(&self, states: &[RunState]) -> StoreResult<Vec<RunRow>> {
        let mut all = Vec::new();
        for state in states {
            let rows: Vec<RunRow> = with_pool!(&self.pool, pool => {
                sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE state = $1"))
                    .bind(state.as_str())
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
            .bind(row.state.as_str())
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
            .bind(RunState::Succeeded.as_str())
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
        self.run_signals.raise(run_id, RunSignal::ItemsChanged);
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
        self.run_signals.raise(run_id, RunSignal::EventAppended);
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
}
