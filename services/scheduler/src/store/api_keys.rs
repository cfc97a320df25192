//! API keys (their secrets only as SHA-256) and the audit log.

use galsync_platform::with_pool;

use super::{SchedulerStore, StoreResult};

/// An API key as stored: never its secret, only the secret's SHA-256.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub key_id: String,
    pub name: String,
    pub key_hash: String,
    pub role: String,
    pub created_at: i64,
    /// Made in a plaintext session; refused while TLS is on.
    pub plaintext_only: bool,
    /// The one tenant the key may see; empty for every tenant.
    pub tenant_id: String,
    pub created_by: String,
    pub revoked_at: Option<i64>,
}

const API_KEY_COLUMNS: &str =
    "key_id, name, key_hash, role, created_at, plaintext_only, tenant_id, created_by, revoked_at";

impl SchedulerStore {
    pub async fn insert_api_key(&self, key: &ApiKeyRow) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query(&format!("INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
                .bind(&key.key_id)
                .bind(&key.name)
                .bind(&key.key_hash)
                .bind(&key.role)
                .bind(key.created_at)
                .bind(key.plaintext_only)
                .bind(&key.tenant_id)
                .bind(&key.created_by)
                .bind(key.revoked_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn api_key(&self, key_id: &str) -> StoreResult<Option<ApiKeyRow>> {
        let row = with_pool!(&self.pool, pool => {
            sqlx::query_as(&format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_id = $1"))
                .bind(key_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }

    /// Every key (revoked ones too), of one tenant's scope when `tenant_id`
    /// is not empty, newest first.
    pub async fn list_api_keys(&self, tenant_id: &str) -> StoreResult<Vec<ApiKeyRow>> {
        let rows = with_pool!(&self.pool, pool => {
            sqlx::query_as(&format!(
                "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE ($1 = '' OR tenant_id = $1) ORDER BY created_at DESC, key_id"
            ))
            .bind(tenant_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Marks a key revoked at `at`; false when it was already revoked.
    pub async fn revoke_api_key(&self, key_id: &str, at: i64) -> StoreResult<bool> {
        let revoked = with_pool!(&self.pool, pool => {
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL")
                .bind(key_id)
                .bind(at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(revoked == 1)
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

    /// Audit entries newest first as (id, at, actor, action, target,
    /// detail): those whose actor contains `actor` (empty: all), of
    /// `action` (empty: all), older than `before_id` (0: from the newest).
    pub async fn list_audit_filtered(
        &self,
        actor: &str,
        action: &str,
        before_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>> {
        let before_id = if before_id <= 0 { i64::MAX } else { before_id };
        let rows: Vec<AuditRow> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT id, at, actor, action, target, detail FROM audit_events \
                 WHERE id < $1 AND ($2 = '' OR action = $2) \
                 AND ($3 = '' OR actor LIKE '%' || $3 || '%') \
                 ORDER BY id DESC LIMIT $4",
            )
            .bind(before_id)
            .bind(action)
            .bind(actor)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
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

/// An audit entry: id, at (Unix ms), actor, action, target, detail.
pub type AuditRow = (i64, i64, String, String, String, String);
