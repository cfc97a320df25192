//! Certificates (private keys sealed): their rows, promotion to active, the
//! last probe, and the SQL of uploading rotated certificates (migration
//! 0004): the tenant's opt-in, each app's object id in Entra, and the `keyId`
//! Graph gave a certificate the broker put on the app registration.

use galsync_platform::with_pool;

use super::{BrokerStore, StoreResult};

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

const CERTIFICATE_COLUMNS: &str = "certificate_id, tenant_id, client_id, der, sealed_private_key, subject, \
     thumbprint_sha1, thumbprint_sha256, not_before, not_after, key_bits, state, created_at, last_probe_at";

impl BrokerStore {
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
