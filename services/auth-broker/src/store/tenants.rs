//! Tenants and their apps: registration, the apps' client secrets (sealed),
//! and the tenant lifecycle's SQL: a tenant's fields and app client ids
//! changed, and a tenant removed with everything of it, each in one
//! transaction.
//!
//! Certificates and apps also go by `ON DELETE CASCADE`; the deletes below
//! name every table anyway, so that no table holding a tenant's secrets is
//! left to a foreign key someone may drop, and consent states and outcomes,
//! which have none, go too.

use galsync_platform::with_pool;

use super::{BrokerStore, StoreResult};
use crate::auth_mode::AuthMode;
use crate::master_key::SealedInventory;

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

const APP_COLUMNS: &str = "tenant_id, client_id, auth_mode, purposes, sealed_client_secret, \
     client_secret_expires_at";

/// Sealed values of a tenant, of one app (`$2`) or of every app (`$2 = ''`).
const SEALED_COUNTS: &str = "SELECT \
     (SELECT COUNT(*) FROM certificates WHERE tenant_id = $1 AND ($2 = '' OR client_id = $2)), \
     (SELECT COUNT(*) FROM apps WHERE tenant_id = $1 AND ($2 = '' OR client_id = $2) \
         AND sealed_client_secret IS NOT NULL)";

/// Every row of a tenant's credentials and consent outside the `apps` row,
/// of one app (`$2`) or of every app (`$2 = ''`): certificates with their
/// sealed keys, consent links not yet used, recorded consent outcomes.
const CREDENTIAL_DELETES: [&str; 3] = [
    "DELETE FROM certificates WHERE tenant_id = $1 AND ($2 = '' OR client_id = $2)",
    "DELETE FROM consent_states WHERE tenant_id = $1 AND ($2 = '' OR client_id = $2)",
    "DELETE FROM consent_outcomes WHERE tenant_id = $1 AND ($2 = '' OR client_id = $2)",
];

/// What went with a removed tenant.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RemovedTenant {
    pub apps: i64,
    pub sealed: SealedInventory,
}

fn inventory_of(counts: (i64, i64)) -> SealedInventory {
    SealedInventory {
        certificate_keys: counts.0,
        client_secrets: counts.1,
    }
}

impl BrokerStore {
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

    /// Writes `tenant`'s name and hosts, and gives each app of
    /// `client_id_changes` (current, new) its new client id. The old client
    /// id's credentials and consent are deleted in the same transaction:
    /// they belong to another app registration. Returns what was deleted.
    pub async fn update_tenant(
        &self,
        tenant: &TenantRow,
        client_id_changes: &[(String, String)],
    ) -> StoreResult<SealedInventory> {
        let mut deleted = SealedInventory::default();
        with_pool!(self.pool(), pool => {
            let mut transaction = pool.begin().await?;
            sqlx::query(
                "UPDATE tenants SET display_name = $1, login_base_url = $2, graph_base_url = $3 \
                 WHERE tenant_id = $4",
            )
            .bind(&tenant.display_name)
            .bind(&tenant.login_base_url)
            .bind(&tenant.graph_base_url)
            .bind(&tenant.tenant_id)
            .execute(&mut *transaction)
            .await?;
            for (client_id, new_client_id) in client_id_changes {
                let counts: (i64, i64) = sqlx::query_as(SEALED_COUNTS)
                    .bind(&tenant.tenant_id)
                    .bind(client_id)
                    .fetch_one(&mut *transaction)
                    .await?;
                deleted.client_secrets += inventory_of(counts).client_secrets;
                // galsync made the certificates, not Entra: they go with
                // the new app, awaiting the upload of their .cer to it (a
                // pending certificate is tried on the next token request).
                // A client secret and a consent belong to the old app. The
                // new app row comes first, since certificates reference it.
                sqlx::query(
                    "INSERT INTO apps (tenant_id, client_id, auth_mode, purposes, \
                     sealed_client_secret, client_secret_expires_at) \
                     SELECT tenant_id, $1, auth_mode, purposes, NULL, NULL FROM apps \
                     WHERE tenant_id = $2 AND client_id = $3",
                )
                .bind(new_client_id)
                .bind(&tenant.tenant_id)
                .bind(client_id)
                .execute(&mut *transaction)
                .await?;
                sqlx::query(
                    "UPDATE certificates SET client_id = $1, \
                     state = CASE WHEN state = 'active' THEN 'pending-registration' ELSE state END \
                     WHERE tenant_id = $2 AND client_id = $3",
                )
                .bind(new_client_id)
                .bind(&tenant.tenant_id)
                .bind(client_id)
                .execute(&mut *transaction)
                .await?;
                for statement in &CREDENTIAL_DELETES[1..] {
                    sqlx::query(statement)
                        .bind(&tenant.tenant_id)
                        .bind(client_id)
                        .execute(&mut *transaction)
                        .await?;
                }
                sqlx::query("DELETE FROM apps WHERE tenant_id = $1 AND client_id = $2")
                    .bind(&tenant.tenant_id)
                    .bind(client_id)
                    .execute(&mut *transaction)
                    .await?;
            }
            transaction.commit().await?;
        });
        Ok(deleted)
    }

    /// Deletes the tenant, its apps and every credential and consent row of
    /// it in one transaction; `None` when it is not registered. Audit events
    /// stay.
    pub async fn remove_tenant(&self, tenant_id: &str) -> StoreResult<Option<RemovedTenant>> {
        with_pool!(self.pool(), pool => {
            let mut transaction = pool.begin().await?;
            let counts: (i64, i64) = sqlx::query_as(SEALED_COUNTS)
                .bind(tenant_id)
                .bind("")
                .fetch_one(&mut *transaction)
                .await?;
            for statement in CREDENTIAL_DELETES {
                sqlx::query(statement)
                    .bind(tenant_id)
                    .bind("")
                    .execute(&mut *transaction)
                    .await?;
            }
            let apps = sqlx::query("DELETE FROM apps WHERE tenant_id = $1")
                .bind(tenant_id)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
            let tenants = sqlx::query("DELETE FROM tenants WHERE tenant_id = $1")
                .bind(tenant_id)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
            if tenants == 0 {
                // Dropping the transaction rolls it back: nothing was there.
                return Ok(None);
            }
            transaction.commit().await?;
            Ok(Some(RemovedTenant {
                apps: apps as i64,
                sealed: inventory_of(counts),
            }))
        })
    }
}
