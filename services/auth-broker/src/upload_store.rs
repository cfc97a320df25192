//! The SQL of uploading rotated certificates (migration 0004): the tenant's
//! opt-in, each app's object id in Entra, and the `keyId` Graph gave a
//! certificate the broker put on the app registration.

use galsync_platform::with_pool;

use crate::store::{BrokerStore, StoreResult};

impl BrokerStore {
    /// Whether the administrator allowed uploading rotated certificates.
    pub async fn upload_rotated_certificates(&self, tenant_id: &str) -> StoreResult<bool> {
        let allowed: Option<(i64,)> = with_pool!(self.pool(), pool => {
            sqlx::query_as("SELECT upload_rotated_certificates FROM tenants WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(allowed.is_some_and(|(value,)| value != 0))
    }

    pub async fn set_upload_rotated_certificates(
        &self,
        tenant_id: &str,
        allowed: bool,
    ) -> StoreResult<()> {
        with_pool!(self.pool(), pool => {
            sqlx::query("UPDATE tenants SET upload_rotated_certificates = $1 WHERE tenant_id = $2")
                .bind(i64::from(allowed))
                .bind(tenant_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The application's object id in Entra, when provisioning or adopting recorded it.
    pub async fn app_object_id(
        &self,
        tenant_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<String>> {
        let found: Option<(Option<String>,)> = with_pool!(self.pool(), pool => {
            sqlx::query_as("SELECT object_id FROM apps WHERE tenant_id = $1 AND client_id = $2")
                .bind(tenant_id)
                .bind(client_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(found
            .and_then(|(object_id,)| object_id)
            .filter(|id| !id.is_empty()))
    }

    pub async fn set_app_object_id(
        &self,
        tenant_id: &str,
        client_id: &str,
        object_id: &str,
    ) -> StoreResult<()> {
        with_pool!(self.pool(), pool => {
            sqlx::query("UPDATE apps SET object_id = $1 WHERE tenant_id = $2 AND client_id = $3")
                .bind(object_id)
                .bind(tenant_id)
                .bind(client_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The `keyId` of the certificate on the app registration, when known.
    pub async fn certificate_app_key_id(
        &self,
        certificate_id: &str,
    ) -> StoreResult<Option<String>> {
        let found: Option<(Option<String>,)> = with_pool!(self.pool(), pool => {
            sqlx::query_as("SELECT app_key_id FROM certificates WHERE certificate_id = $1")
                .bind(certificate_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.and_then(|(key_id,)| key_id))
    }

    /// Records (or, with `None`, forgets) the certificate's `keyId` on the app.
    pub async fn set_certificate_app_key_id(
        &self,
        certificate_id: &str,
        key_id: Option<&str>,
    ) -> StoreResult<()> {
        with_pool!(self.pool(), pool => {
            sqlx::query("UPDATE certificates SET app_key_id = $1 WHERE certificate_id = $2")
                .bind(key_id)
                .bind(certificate_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Forgets the last probe, so the next token request tries the pending
    /// certificate at once (it was just uploaded).
    pub async fn clear_certificate_probe(&self, certificate_id: &str) -> StoreResult<()> {
        with_pool!(self.pool(), pool => {
            sqlx::query("UPDATE certificates SET last_probe_at = NULL WHERE certificate_id = $1")
                .bind(certificate_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
