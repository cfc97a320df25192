//! Sync profiles: create, change, list, delete, and which are due.

use galsync_platform::with_pool;

use super::{SchedulerStore, StoreResult};

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

impl SchedulerStore {
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
}
