//! Token acquisition and caching. One cache slot per (tenant, app); the slot's
//! lock makes acquisition single-flight, so a thousand concurrent callers cause
//! one request to the token endpoint. Tokens are refreshed five minutes before
//! they expire, and never leave memory except to the caller.
//!
//! Certificate mode also carries renewal: a pending (newer) certificate is
//! tried first, and becomes the signing certificate only when Entra accepts it;
//! until then the active one keeps working.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use galsync_graph::identity::{
    AssertionAlgorithm, CertificateCredential, ClientCredential, IdentityClient, IdentityConfig,
    IdentityError, PrivateKey,
};
use galsync_graph::AccessToken;
use secrecy::SecretString;

use crate::auth_mode::AuthMode;
use crate::clock::Clock;
use crate::error::BrokerError;
use crate::seal::MasterKey;
use crate::store::{AppRow, BrokerStore, CertificateRow, TenantRow};

/// Refresh a cached token when it expires within this.
const REFRESH_AHEAD: chrono::Duration = chrono::Duration::minutes(5);
/// How often a pending certificate is tried while the active one works.
const PENDING_PROBE_INTERVAL_MILLIS: i64 = 10 * 60 * 1000;

pub const STATE_PENDING: &str = "pending-registration";
pub const STATE_ACTIVE: &str = "active";
pub const STATE_RETIRED: &str = "retired";

type Slot = Arc<tokio::sync::Mutex<Option<AccessToken>>>;

/// What happened while acquiring, for the audit log.
#[derive(Debug, Default)]
pub struct AcquireNotes {
    /// A pending certificate was accepted by Entra and is now active.
    pub promoted_certificate: Option<String>,
    /// The token came from the cache.
    pub cached: bool,
}

pub struct TokenService {
    store: BrokerStore,
    master_key: MasterKey,
    clock: Clock,
    http: reqwest::Client,
    slots: Mutex<HashMap<(String, String), Slot>>,
}

impl TokenService {
    pub fn new(
        store: BrokerStore,
        master_key: MasterKey,
        clock: Clock,
        http: reqwest::Client,
    ) -> Self {
        Self {
            store,
            master_key,
            clock,
            http,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, tenant_id: &str, client_id: &str) -> Slot {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots
            .entry((tenant_id.to_owned(), client_id.to_owned()))
            .or_default()
            .clone()
    }

    /// A token for the app, from the cache when it is fresh enough.
    pub async fn token(
        &self,
        tenant: &TenantRow,
        app: &AppRow,
    ) -> Result<(AccessToken, AcquireNotes), BrokerError> {
        let slot = self.slot(&tenant.tenant_id, &app.client_id);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref() {
            if token.expires_at - self.clock.now() > REFRESH_AHEAD {
                let notes = AcquireNotes {
                    cached: true,
                    ..AcquireNotes::default()
                };
                return Ok((token.clone(), notes));
            }
        }
        let (token, notes) = self.acquire(tenant, app).await?;
        *cached = Some(token.clone());
        Ok((token, notes))
    }

    /// Drops the cached token of the app; true when there was one.
    pub async fn invalidate(&self, tenant_id: &str, client_id: &str) -> bool {
        let slot = self.slot(tenant_id, client_id);
        let mut cached = slot.lock().await;
        cached.take().is_some()
    }

    /// Drops every cached token of the tenant and its cache slots (a removed
    /// tenant). A request already past the registration check may still
    /// finish with the token it is getting; later ones find no tenant.
    pub async fn forget_tenant(&self, tenant_id: &str) {
        let removed: Vec<Slot> = {
            let mut slots = self
                .slots
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let keys: Vec<(String, String)> = slots
                .keys()
                .filter(|(slot_tenant, _)| slot_tenant == tenant_id)
                .cloned()
                .collect();
            let mut removed = Vec::new();
            for key in keys {
                if let Some(slot) = slots.remove(&key) {
                    removed.push(slot);
                }
            }
            removed
        };
        for slot in removed {
            slot.lock().await.take();
        }
    }

    /// Asks Entra for a new token, bypassing the cache.
    pub async fn acquire(
        &self,
        tenant: &TenantRow,
        app: &AppRow,
    ) -> Result<(AccessToken, AcquireNotes), BrokerError> {
        let identity = self.identity_client(tenant)?;
        match app.auth_mode {
            AuthMode::Certificate => self.acquire_with_certificates(&identity, app).await,
            AuthMode::ClientSecret => {
                let Some(sealed) = &app.sealed_client_secret else {
                    return Err(BrokerError::FailedPrecondition(format!(
                        "app {} is in client-secret mode but has no secret: set one with SetClientSecret",
                        app.client_id
                    )));
                };
                let secret = self.master_key.open(&secret_context(app), sealed)?;
                let secret = SecretString::from(String::from_utf8_lossy(&secret).into_owned());
                let token = identity
                    .client_credentials(&app.client_id, &ClientCredential::Secret(secret))
                    .await
                    .map_err(|error| credential_error(&app.client_id, error))?;
                Ok((token, AcquireNotes::default()))
            }
            // The broker refuses these before asking (Broker::removed_mode_refusal),
            // with the fix; this is the last line should a caller skip that.
            AuthMode::ConsentToken => Err(BrokerError::FailedPrecondition(format!(
                "app {} is in consent-token mode, which galsync no longer supports",
                app.client_id
            ))),
        }
    }

    async fn acquire_with_certificates(
        &self,
        identity: &IdentityClient,
        app: &AppRow,
    ) -> Result<(AccessToken, AcquireNotes), BrokerError> {
        let certificates = self
            .store
            .list_certificates(&app.tenant_id, Some(&app.client_id))
            .await?;
        let now = self.clock.now();
        let now_millis = now.timestamp_millis();
        let active = certificates.iter().find(|certificate| {
            certificate.state == STATE_ACTIVE && certificate.not_after > now_millis
        });
        let pending = certificates.iter().find(|certificate| {
            certificate.state == STATE_PENDING && certificate.not_after > now_millis
        });

        let mut pending_error = None;
        if let Some(pending) = pending {
            let probe_due = active.is_none()
                || pending
                    .last_probe_at
                    .is_none_or(|last| now_millis - last >= PENDING_PROBE_INTERVAL_MILLIS);
            if probe_due {
                self.store
                    .note_certificate_probe(&pending.certificate_id, now_millis)
                    .await?;
                match self.request_with_certificate(identity, app, pending).await {
                    Ok(token) => {
                        self.store
                            .promote_certificate(
                                &app.tenant_id,
                                &app.client_id,
                                &pending.certificate_id,
                            )
                            .await?;
                        tracing::info!(
                            tenant = %app.tenant_id,
                            client_id = %app.client_id,
                            thumbprint = %pending.thumbprint_sha1,
                            "entra accepted the new certificate; it now signs client assertions"
                        );
                        let notes = AcquireNotes {
                            promoted_certificate: Some(pending.certificate_id.clone()),
                            cached: false,
                        };
                        return Ok((token, notes));
                    }
                    Err(error) => {
                        tracing::info!(
                            tenant = %app.tenant_id,
                            client_id = %app.client_id,
                            thumbprint = %pending.thumbprint_sha1,
                            "the pending certificate is not accepted yet; upload its .cer to the app registration"
                        );
                        pending_error = Some(credential_error(&app.client_id, error));
                    }
                }
            }
        }
        if let Some(active) = active {
            let token = self
                .request_with_certificate(identity, app, active)
                .await
                .map_err(|error| credential_error(&app.client_id, error))?;
            return Ok((token, AcquireNotes::default()));
        }
        match pending_error {
            Some(error) => Err(error),
            None => Err(BrokerError::FailedPrecondition(format!(
                "app {} has no usable certificate: generate one (galsync cert generate) and upload its .cer \
                 to the app registration under Certificates & secrets",
                app.client_id
            ))),
        }
    }

    pub(crate) async fn request_with_certificate(
        &self,
        identity: &IdentityClient,
        app: &AppRow,
        certificate: &CertificateRow,
    ) -> Result<AccessToken, IdentityError> {
        let key_der = self
            .master_key
            .open(
                &certificate_context(&certificate.certificate_id),
                &certificate.sealed_private_key,
            )
            .map_err(|error| IdentityError::InvalidKey {
                reason: error.to_string(),
            })?;
        let private_key = PrivateKey::from_pkcs8_der(&key_der)?;
        let credential = CertificateCredential::new(
            certificate.der.clone(),
            private_key,
            AssertionAlgorithm::Rs256,
        )?;
        identity
            .client_credentials(&app.client_id, &ClientCredential::Certificate(credential))
            .await
    }

    pub fn identity_client(&self, tenant: &TenantRow) -> Result<IdentityClient, BrokerError> {
        let mut config = IdentityConfig::new(tenant.tenant_id.clone());
        config.login_base_url = tenant.login_base_url.clone();
        config.scope = graph_scope(&tenant.graph_base_url);
        IdentityClient::new(self.http.clone(), config)
            .map_err(|error| BrokerError::Internal(error.to_string()))
    }
}

/// The app-only scope for a Graph host, e.g. `https://graph.microsoft.com/.default`.
pub fn graph_scope(graph_base_url: &str) -> String {
    let host = graph_base_url
        .trim_end_matches('/')
        .trim_end_matches("/v1.0");
    format!("{host}/.default")
}

/// Seal contexts bind each sealed secret to its row.
pub fn certificate_context(certificate_id: &str) -> String {
    format!("certificate-key:{certificate_id}")
}

pub fn secret_context(app: &AppRow) -> String {
    format!("client-secret:{}:{}", app.tenant_id, app.client_id)
}

/// An Entra refusal in plain words, with its AADSTS code and the fix.
pub fn credential_error(client_id: &str, error: IdentityError) -> BrokerError {
    if let Some(entra) = error.entra() {
        let code = entra
            .code
            .map(|code| format!("AADSTS{code}"))
            .unwrap_or_else(|| entra.error.clone());
        let fix = entra.hint().unwrap_or_default();
        return BrokerError::Credential(format!(
            "entra refused app {client_id} ({code}): {}{}{}",
            entra.description,
            if fix.is_empty() { "" } else { "; " },
            fix
        ));
    }
    match error {
        IdentityError::Transport { .. } | IdentityError::GaveUp { .. } => {
            BrokerError::Unavailable(format!("the token endpoint could not be reached: {error}"))
        }
        other => {
            BrokerError::Credential(format!("token request for app {client_id} failed: {other}"))
        }
    }
}
