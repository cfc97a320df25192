//! Run locks: one run of a profile at a time, across scheduler replicas.

use galsync_platform::with_pool;

use super::{SchedulerStore, StoreResult};

impl SchedulerStore {
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

    /// Extends the lock while `holder` holds it for `run_id`; false when it
    /// was lost (to a replica that adopted the run after the lock lapsed).
    pub async fn renew_run_lock(
        &self,
        profile_id: &str,
        run_id: &str,
        holder: &str,
        expires_at: i64,
    ) -> StoreResult<bool> {
        let renewed = with_pool!(&self.pool, pool => {
            sqlx::query("UPDATE run_locks SET expires_at = $1 WHERE holder = $2 AND profile_id = $3 AND run_id = $4")
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
}
