//! The broker's repository: tenants, apps, certificates (keys sealed), consent
//! state and the audit log, over SQLite or PostgreSQL with one
//! set of queries (see `galsync_platform::with_pool!`). Secrets arrive here
//! already sealed; this module never sees a plaintext secret.

use galsync_platform::store::StorePool;
use galsync_platform::with_pool;

use crate::auth_mode::AuthMode;

pub type StoreResult<T> = Result<T, sqlx::Error>;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TenantRow {
    pub tenant_id: String,
    pub display_name: String,
    pub login_base_url: String,
    pub graph_base_url: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AppRow {
    pub tenant_id: String,
    pub client_id: String,
    #[sqlx(try_from = "String")]
    pub auth_mode: AuthMode,
    /// Comma-separated purposes: `directory`, `contacts`.
    pub purposes: String,
    pub sealed_client_secret: Option<String>,
    pub client_secret_expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CertificateRow {
    pub certificate_id: String,
    pub tenant_id: String,
    pub client_id: String,
    pub der: Vec<u8>,
    pub sealed_private_key: String,
    pub subject: String,
    pub thumbprint_sha1: String,
    pub thumbprint_sha256: String,
    pub not_before: i64,
    pub not_after: i64,
    pub key_bits: i64,
    /// `pending-registration`, `active`, `retired`.
    pub state: String,
    pub created_at: i64,
    pub last_probe_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConsentOutcomeRow {
    pub granted: bool,
    pub error: String,
    pub error_description: String,
    pub recorded_at: i64,
}

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

const APP_COLUMNS: &str = "tenant_id, client_id, auth_mode, purposes, sealed_client_secret, \
     client_secret_expires_at";
const CERTIFICATE_COLUMNS: &str = "certificate_id, tenant_id, client_id, der, sealed_private_key, subject, \
     thumbprint_sha1, thumbprint_sha256, not_before, not_after, key_bits, state, created_at, last_probe_at";

#[derive(Debug, Clone)]
pub struct BrokerStore {
    pool: StorePool,
}

impl BrokerStore {
    pub fn new(pool: StorePool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &StorePool {
        &self.pool
    }

    /// Inserts a tenant with its apps; false when the tenant already exists.
    pub async fn insert_tenant(&self, tenant: &TenantRow, apps: &[AppRow]) -> StoreResult<bool> {
        with_pool!(&self.pool, pool => {
            let mut transaction = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO tenants (tenant_id, display_name, login_base_url, graph_base_url, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id) DO NOTHING",
            )
            .bind(&tenant.tenant_id)
            .bind(&tenant.display_name)
            .bind(&tenant.login_base_url)
            .bind(&tenant.graph_base_url)
            .bind(tenant.created_at)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Ok(false);
            }
            for app in apps {
                sqlx::query(&format!(
                    "INSERT INTO apps ({APP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
                ))
                .bind(&app.tenant_id)
                .bind(&app.client_id)
                .bind(app.auth_mode.as_str())
                .bind(&app.purposes)
                .bind(&app.sealed_client_secret)
                .bind(app.client_secret_expires_at)
                .execute(&mut *transaction)
                .await?;
            }
            transaction.commit().await?;
            Ok(true)
        })
    }

    pub async fn get_tenant(&self, tenant_id: &str) -> StoreResult<Option<TenantRow>> {
        let row: Option<TenantRow> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT tenant_id, display_name, login_base_url, graph_base_url, created_at \
                 FROM tenants WHERE tenant_id = $1",
            )
            .bind(tenant_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }

    pub async fn list_tenants(&self) -> StoreResult<Vec<TenantRow>> {
        let rows: Vec<TenantRow> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT tenant_id, display_name, login_base_url, graph_base_url, created_at \
                 FROM tenants ORDER BY display_name, tenant_id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    pub async fn list_apps(&self, tenant_id: &str) -> StoreResult<Vec<AppRow>> {
        let rows: Vec<AppRow> = with_pool!(&self.pool, pool => {
            sqlx::query_as(&format!("SELECT {APP_COLUMNS} FROM apps WHERE tenant_id = $1 ORDER BY client_id"))
                .bind(tenant_id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    pub async fn set_client_secret(
        &self,
        tenant_id: &str,
        client_id: &str,
        sealed_secret: &str,
        expires_at: Option<i64>,
    ) -> StoreResult<bool> {
        let affected = with_pool!(&self.pool, pool => {
            sqlx::query(
                "UPDATE apps SET sealed_client_secret = $1, client_secret_expires_at = $2 \
                 WHERE tenant_id = $3 AND client_id = $4",
            )
            .bind(sealed_secret)
            .bind(expires_at)
            .bind(tenant_id)
            .bind(client_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }

    pub async fn insert_certificate(&self, row: &CertificateRow) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query(&format!(
                "INSERT INTO certificates ({CERTIFICATE_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            ))
            .bind(&row.certificate_id)
            .bind(&row.tenant_id)
            .bind(&row.client_id)
            .bind(&row.der)
            .bind(&row.sealed_private_key)
            .bind(&row.subject)
            .bind(&row.thumbprint_sha1)
            .bind(&row.thumbprint_sha256)
            .bind(row.not_before)
            .bind(row.not_after)
            .bind(row.key_bits)
            .bind(&row.state)
            .bind(row.created_at)
            .bind(row.last_probe_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn get_certificate(
        &self,
        certificate_id: &str,
    ) -> StoreResult<Option<CertificateRow>> {
        let row: Option<CertificateRow> = with_pool!(&self.pool, pool => {
            sqlx::query_as(&format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE certificate_id = $1"))
                .bind(certificate_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }

    /// An app's certificates, newest first.
    pub async fn list_certificates(
        &self,
        tenant_id: &str,
        client_id: Option<&str>,
    ) -> StoreResult<Vec<CertificateRow>> {
        let rows: Vec<CertificateRow> = with_pool!(&self.pool, pool => {
            sqlx::query_as(&format!(
                "SELECT {CERTIFICATE_COLUMNS} FROM certificates \
                 WHERE tenant_id = $1 AND ($2 = '' OR client_id = $2) ORDER BY created_at DESC, certificate_id"
            ))
            .bind(tenant_id)
            .bind(client_id.unwrap_or(""))
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Makes `certificate_id` the app's active certificate; the previous active
    /// one (if any) is retired, in one transaction.
    pub async fn promote_certificate(
        &self,
        tenant_id: &str,
        client_id: &str,
        certificate_id: &str,
    ) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            let mut transaction = pool.begin().await?;
            sqlx::query(
                "UPDATE certificates SET state = 'retired' \
                 WHERE tenant_id = $1 AND client_id = $2 AND state = 'active' AND certificate_id <> $3",
            )
            .bind(tenant_id)
            .bind(client_id)
            .bind(certificate_id)
            .execute(&mut *transaction)
            .await?;
            sqlx::query("UPDATE certificates SET state = 'active' WHERE certificate_id = $1")
                .bind(certificate_id)
                .execute(&mut *transaction)
                .await?;
            transaction.commit().await?;
        });
        Ok(())
    }

    pub async fn note_certificate_probe(&self, certificate_id: &str, at: i64) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query("UPDATE certificates SET last_probe_at = $1 WHERE certificate_id = $2")
                .bind(at)
                .bind(certificate_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn insert_consent_state(
        &self,
        state_hash: &str,
        tenant_id: &str,
        client_id: &str,
        redirect_uri: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query(
                "INSERT INTO consent_states (state_hash, tenant_id, client_id, redirect_uri, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(state_hash)
            .bind(tenant_id)
            .bind(client_id)
            .bind(redirect_uri)
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Removes and returns a consent state (single use): (tenant, client, expires_at).
    pub async fn take_consent_state(
        &self,
        state_hash: &str,
    ) -> StoreResult<Option<(String, String, i64)>> {
        let row: Option<(String, String, i64)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "DELETE FROM consent_states WHERE state_hash = $1 RETURNING tenant_id, client_id, expires_at",
            )
            .bind(state_hash)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }

    /// Records a consent callback's outcome. A refusal never replaces an
    /// earlier grant (a stale or forged callback must not undo consent); a
    /// newer grant replaces anything.
    pub async fn record_consent_outcome(
        &self,
        tenant_id: &str,
        client_id: &str,
        outcome: &ConsentOutcomeRow,
    ) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query(
                "INSERT INTO consent_outcomes (tenant_id, client_id, granted, error, error_description, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (tenant_id, client_id) DO UPDATE SET granted = excluded.granted, \
                 error = excluded.error, error_description = excluded.error_description, \
                 recorded_at = excluded.recorded_at \
                 WHERE excluded.granted OR NOT consent_outcomes.granted",
            )
            .bind(tenant_id)
            .bind(client_id)
            .bind(outcome.granted)
            .bind(&outcome.error)
            .bind(&outcome.error_description)
            .bind(outcome.recorded_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn get_consent_outcome(
        &self,
        tenant_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<ConsentOutcomeRow>> {
        let row: Option<(bool, String, String, i64)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT granted, error, error_description, recorded_at FROM consent_outcomes \
                 WHERE tenant_id = $1 AND client_id = $2",
            )
            .bind(tenant_id)
            .bind(client_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(
            |(granted, error, error_description, recorded_at)| ConsentOutcomeRow {
                granted,
                error,
                error_description,
                recorded_at,
            },
        ))
    }

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
