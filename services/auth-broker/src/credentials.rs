//! The apps' credentials the broker holds: certificates (generated,
//! imported, renewed before they expire) and client secrets.

use chrono::{DateTime, Utc};
use galsync_platform::CallerIdentity;

use crate::auth_mode::AuthMode;
use crate::broker::{millis_to_time, Broker};
use crate::certificate_upload::UploadOutcome;
use crate::certificates::{self, CertificateMaterial};
use crate::error::BrokerError;
use crate::store::{AppRow, CertificateRow};
use crate::tokens::{self, STATE_ACTIVE, STATE_PENDING};

/// A new certificate for an app, as `cert generate` and `cert rotate` ask
/// for it; a zero `key_bits` or `validity_days` takes the default.
#[derive(Debug, Clone)]
pub struct CertificateOrder {
    pub tenant_id: String,
    /// Empty = the tenant's only app.
    pub client_id: String,
    pub key_bits: u32,
    pub validity_days: u32,
}

/// How a new certificate reaches the app registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// An administrator uploads the `.cer` (`cert generate`).
    ByHand,
    /// Uploaded with `addKey` when the tenant allows it (`cert rotate`).
    UploadWhenAllowed,
}

/// A new certificate and, when an upload was asked for, what became of it.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    pub certificate: CertificateRow,
    pub upload: Option<UploadOutcome>,
}

impl Broker {
    /// `cert generate` and `cert rotate`: a new certificate, pending
    /// registration, the current one signing until Entra accepts it.
    pub async fn new_certificate(
        &self,
        caller: &CallerIdentity,
        order: &CertificateOrder,
        registration: Registration,
    ) -> Result<NewCertificate, BrokerError> {
        self.require_admin(caller)?;
        let tenant = self.tenant(&order.tenant_id).await?;
        let app = self.app(&tenant.tenant_id, &order.client_id).await?;
        let key_bits = match order.key_bits {
            0 => certificates::DEFAULT_KEY_BITS,
            bits => bits,
        };
        let validity_days = match order.validity_days {
            0 => certificates::DEFAULT_VALIDITY_DAYS,
            days => days,
        };
        let material = self
            .generate_material(&tenant.tenant_id, key_bits, validity_days)
            .await?;
        let certificate = self.store_certificate(&app, material).await?;
        self.audit_certificate("certificate.generated", caller, &app, &certificate)
            .await?;
        let upload = match registration {
            Registration::ByHand => None,
            Registration::UploadWhenAllowed => Some(
                self.upload_rotated_certificate(caller, &tenant, &app, &certificate)
                    .await?,
            ),
        };
        Ok(NewCertificate {
            certificate,
            upload,
        })
    }

    /// A fresh key pair and certificate for the tenant. RSA key generation
    /// takes seconds at 4096 bits: it runs off the runtime.
    async fn generate_material(
        &self,
        tenant_id: &str,
        key_bits: u32,
        validity_days: u32,
    ) -> Result<CertificateMaterial, BrokerError> {
        let now = self.clock.now();
        let subject_tenant = tenant_id.to_owned();
        tokio::task::spawn_blocking(move || {
            certificates::generate(&subject_tenant, key_bits, validity_days, now)
        })
        .await
        .map_err(|error| BrokerError::Internal(format!("certificate generation stopped: {error}")))?
        .map_err(BrokerError::from)
    }

    /// The audit line of a certificate generated or imported.
    async fn audit_certificate(
        &self,
        kind: &str,
        caller: &CallerIdentity,
        app: &AppRow,
        certificate: &CertificateRow,
    ) -> Result<(), BrokerError> {
        self.audit
            .record(
                kind,
                caller,
                &app.tenant_id,
                None,
                &format!(
                    "thumbprint {} for app {}",
                    certificate.thumbprint_sha1, app.client_id
                ),
                None,
            )
            .await?;
        Ok(())
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
        self.audit_certificate("certificate.imported", caller, &app, &row)
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

    /// Every certificate of a tenant just read from the store, newest
    /// first; unlike [`Broker::certificates`] it does not read the tenant again.
    pub async fn tenant_certificates(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<CertificateRow>, BrokerError> {
        Ok(self.store.list_certificates(tenant_id, None).await?)
    }

    /// A client secret expired or expiring within the renewal window
    /// (`--cert-renewal-days`).
    pub fn secret_expiring_soon(&self, expires_at_millis: i64) -> bool {
        let window = chrono::Duration::days(i64::from(self.settings.cert_renewal_days));
        millis_to_time(expires_at_millis) - self.clock.now() <= window
    }

    /// Whether a certificate is within the renewal window.
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
                if app.auth_mode != AuthMode::Certificate {
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
                let material = self
                    .generate_material(
                        &tenant.tenant_id,
                        active.key_bits as u32,
                        certificates::DEFAULT_VALIDITY_DAYS,
                    )
                    .await?;
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
