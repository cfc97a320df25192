//! The audit log: token issuances and administrative changes, newest first.

use galsync_platform::with_pool;

use super::{BrokerStore, StoreResult};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub caller: String,
    pub tenant_id: String,
    pub purpose: String,
    pub detail: String,
    pub token_expires_at: Option<i64>,
}

impl BrokerStore {
    pub async fn insert_audit(&self, row: &AuditRow) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query(
                "INSERT INTO audit_events (at, kind, caller, tenant_id, purpose, detail, token_expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(row.at)
            .bind(&row.kind)
            .bind(&row.caller)
            .bind(&row.tenant_id)
            .bind(&row.purpose)
            .bind(&row.detail)
            .bind(row.token_expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Audit events, newest first, optionally for one tenant and one kind.
    pub async fn list_audit(
        &self,
        tenant_id: &str,
        kind: &str,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>> {
        let rows: Vec<AuditRow> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT id, at, kind, caller, tenant_id, purpose, detail, token_expires_at FROM audit_events \
                 WHERE ($1 = '' OR tenant_id = $1) AND ($2 = '' OR kind = $2) ORDER BY id DESC LIMIT $3",
            )
            .bind(tenant_id)
            .bind(kind)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}
