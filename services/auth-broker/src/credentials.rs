//! The apps' credentials the broker holds: certificates (generated,
//! imported, renewed before they expire) and client secrets.

use chrono::{DateTime, Utc};
use galsync_platform::CallerIdentity;

use crate::broker::{millis_to_time, Broker};
use crate::certificates::{self, CertificateMaterial};
use crate::error::BrokerError;
use crate::store::{AppRow, CertificateRow};
use crate::tokens::{self, STATE_ACTIVE, STATE_PENDING};

impl Broker {
    pub async fn generate_certificate(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        client_id: &str,
        key_bits: u32,
        validity_days: u32,
    ) -> Result<CertificateRow, BrokerError> {
        self.require_admin(caller)?;
        let tenant = self.tenant(tenant_id).await?;
        let app = self.app(&tenant.tenant_id, client_id).await?;
        let key_bits = if key_bits == 0 {
            certificates::DEFAULT_KEY_BITS
        } else {
            key_bits
        };
        let validity_days = if validity_days == 0 {
            certificates::DEFAULT_VALIDITY_DAYS
        } else {
            validity_days
        };
        let now = self.clock.now();
        let subject_tenant = tenant.tenant_id.clone();
        // RSA key generation takes seconds at 4096 bits: keep it off the runtime.
        let material = tokio::task::spawn_blocking(move || {
            certificates::generate(&subject_tenant, key_bits, validity_days, now)
        })
        .await
        .map_err(|error| {
            BrokerError::Internal(format!("certificate generation stopped: {error}"))
        })??;
        let row = self.store_certificate(&app, material).await?;
        self.audit
            .record(
                "certificate.generated",
                caller,
                &tenant.tenant_id,
                None,
                &format!(
                    "thumbprint {} for app {}",
                    row.thumbprint_sha1, app.client_id
                ),
                None,
            )
            .await?;
        Ok(row)
    }

    pub async fn import_certificate(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        client_id: &str,
        material: CertificateMaterial,
    ) -> Result<CertificateRow, BrokerError> {
        self.require_admin(caller)?;
        let tenant = self.tenant(tenant_id).await?;
        let app = self.app(&tenant.tenant_id, client_id).await?;
        if material.not_after <= self.clock.now() {
            return Err(BrokerError::invalid(
                "certificate",
                format!(
                    "it expired on {}; import a current one",
                    material.not_after.format("%Y-%m-%d")
                ),
            ));
        }
        let row = self.store_certificate(&app, material).await?;
        self.audit
            .record(
                "certificate.imported",
                caller,
                &tenant.tenant_id,
                None,
                &format!(
                    "thumbprint {} for app {}",
                    row.thumbprint_sha1, app.client_id
                ),
                None,
            )
            .await?;
        Ok(row)
    }

    /// Seals the key and stores the certificate as pending registration: it
    /// becomes active when Entra first accepts it.
    async fn store_certificate(
        &self,
        app: &AppRow,
        material: CertificateMaterial,
    ) -> Result<CertificateRow, BrokerError> {
        let certificate_id = uuid::Uuid::new_v4().to_string();
        let sealed_private_key = self.master_key.seal(
            &tokens::certificate_context(&certificate_id),
            &material.private_key_pkcs8,
        );
        let row = CertificateRow {
            certificate_id,
            tenant_id: app.tenant_id.clone(),
            client_id: app.client_id.clone(),
            der: material.der,
            sealed_private_key,
            subject: material.subject,
            thumbprint_sha1: material.thumbprint_sha1,
            thumbprint_sha256: material.thumbprint_sha256,
            not_before: material.not_before.timestamp_millis(),
            not_after: material.not_after.timestamp_millis(),
            key_bits: i64::from(material.key_bits),
            state: STATE_PENDING.to_owned(),
            created_at: self.clock.now_millis(),
            last_probe_at: None,
        };
        self.store.insert_certificate(&row).await?;
        Ok(row)
    }

    pub async fn certificate(&self, certificate_id: &str) -> Result<CertificateRow, BrokerError> {
        self.store
            .get_certificate(certificate_id.trim())
            .await?
            .ok_or_else(|| {
                BrokerError::NotFound(format!("certificate {certificate_id} does not exist"))
            })
    }

    pub async fn certificates(
        &self,
        tenant_id: &str,
        client_id: &str,
    ) -> Result<Vec<CertificateRow>, BrokerError> {
        let tenant = self.tenant(tenant_id).await?;
        let client_filter = if client_id.trim().is_empty() {
            None
        } else {
            Some(client_id.trim())
        };
        Ok(self
            .store
            .list_certificates(&tenant.tenant_id, client_filter)
            .await?)
    }

    /// Whether a certificate is within the renewal window.
    /// A client secret expiring within the renewal window (`--cert-renewal-days`).
    pub fn secret_expiring_soon(&self, expires_at_millis: i64) -> bool {
        let window = chrono::Duration::days(i64::from(self.settings.cert_renewal_days));
        millis_to_time(expires_at_millis) - self.clock.now() <= window
    }

    pub fn expiring_soon(&self, certificate: &CertificateRow) -> bool {
        let window = chrono::Duration::days(i64::from(self.settings.cert_renewal_days));
        millis_to_time(certificate.not_after) - self.clock.now() <= window
    }

    /// Makes replacement certificates for active certificates inside the
    /// renewal window that have no pending replacement yet. Returns the new ones.
    pub async fn renew_due_certificates(&self) -> Result<Vec<CertificateRow>, BrokerError> {
        let system = CallerIdentity::Service("auth-broker".to_owned());
        let mut created = Vec::new();
        for tenant in self.store.list_tenants().await? {
            for app in self.store.list_apps(&tenant.tenant_id).await? {
                if app.auth_mode != "certificate" {
                    continue;
                }
                let certificates = self
                    .store
                    .list_certificates(&tenant.tenant_id, Some(&app.client_id))
                    .await?;
                let Some(active) = certificates
                    .iter()
                    .find(|certificate| certificate.state == STATE_ACTIVE)
                else {
                    continue;
                };
                let has_replacement = certificates.iter().any(|certificate| {
                    certificate.state == STATE_PENDING && certificate.created_at > active.created_at
                });
                if has_replacement || !self.expiring_soon(active) {
                    continue;
                }
                let now = self.clock.now();
                let subject_tenant = tenant.tenant_id.clone();
                let key_bits = active.key_bits as u32;
                let material = tokio::task::spawn_blocking(move || {
                    certificates::generate(
                        &subject_tenant,
                        key_bits,
                        certificates::DEFAULT_VALIDITY_DAYS,
                        now,
                    )
                })
                .await
                .map_err(|error| {
                    BrokerError::Internal(format!("certificate generation stopped: {error}"))
                })??;
                let row = self.store_certificate(&app, material).await?;
                let upload = self
                    .upload_rotated_certificate(&system, &tenant, &app, &row)
                    .await?;
                tracing::warn!(
                    tenant = %tenant.tenant_id,
                    client_id = %app.client_id,
                    expiring_thumbprint = %active.thumbprint_sha1,
                    new_thumbprint = %row.thumbprint_sha1,
                    registration = %upload.describe(&app.client_id, &row.thumbprint_sha1),
                    "certificate expires soon: made a replacement"
                );
                self.audit
                    .record(
                        "certificate.renewal_created",
                        &system,
                        &tenant.tenant_id,
                        None,
                        &format!(
                            "replacement {} for expiring {}",
                            row.thumbprint_sha1, active.thumbprint_sha1
                        ),
                        None,
                    )
                    .await?;
                created.push(row);
            }
        }
        Ok(created)
    }

    pub async fn set_client_secret(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        client_id: &str,
        secret: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<AppRow, BrokerError> {
        self.require_admin(caller)?;
        let tenant = self.tenant(tenant_id).await?;
        let app = self.app(&tenant.tenant_id, client_id).await?;
        if secret.trim().is_empty() {
            return Err(BrokerError::invalid(
                "secret",
                "is empty; paste the secret's Value, not its ID",
            ));
        }
        let sealed = self
            .master_key
            .seal(&tokens::secret_context(&app), secret.as_bytes());
        self.store
            .set_client_secret(
                &app.tenant_id,
                &app.client_id,
                &sealed,
                expires_at.map(|at| at.timestamp_millis()),
            )
            .await?;
        self.tokens.invalidate(&app.tenant_id, &app.client_id).await;
        self.audit
            .record(
                "secret.set",
                caller,
                &tenant.tenant_id,
                None,
                &format!("app {}", app.client_id),
                None,
            )
            .await?;
        self.app(&tenant.tenant_id, &app.client_id).await
    }
}
