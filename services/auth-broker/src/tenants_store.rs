//! The tenant lifecycle's SQL: a tenant's fields and app client ids changed,
//! and a tenant removed with everything of it, each in one transaction.
//!
//! Certificates and apps also go by `ON DELETE CASCADE`; the deletes below
//! name every table anyway, so that no table holding a tenant's secrets is
//! left to a foreign key someone may drop, and consent states and outcomes,
//! which have none, go too.

use galsync_platform::with_pool;

use crate::master_key::SealedInventory;
use crate::store::{BrokerStore, StoreResult, TenantRow};

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
