//! Credential health as Prometheus metrics and log warnings: certificates
//! expiring soon, waiting for upload or expired, client secrets expiring,
//! apps left in the removed consent-token mode, and token issuance counters.

use std::sync::atomic::Ordering;

use galsync_platform::metrics::Metrics;

use crate::auth_mode::AuthMode;
use crate::broker::Broker;
use crate::error::BrokerError;
use crate::tokens::{STATE_ACTIVE, STATE_PENDING};

/// What [`Broker::credential_health`] found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CredentialHealth {
    pub certificates_active: i64,
    pub certificates_expiring_soon: i64,
    pub certificates_pending_registration: i64,
    pub certificates_expired: i64,
    /// Apps registered in the removed consent-token mode: they get no tokens.
    pub apps_in_consent_token_mode: i64,
    pub client_secrets_expiring_soon: i64,
    pub client_secrets_expired: i64,
    /// Whole days until the first active certificate expires; -1 when no
    /// certificate is active.
    pub certificate_days_to_expiry_min: i64,
}

impl Broker {
    /// Counts credential problems across tenants, warns in the log, and
    /// updates the gauges.
    pub async fn credential_health(&self) -> Result<CredentialHealth, BrokerError> {
        let now_millis = self.clock.now_millis();
        let mut health = CredentialHealth {
            certificate_days_to_expiry_min: -1,
            ..CredentialHealth::default()
        };
        for tenant in self.store.list_tenants().await? {
            for app in self.store.list_apps(&tenant.tenant_id).await? {
                if app.auth_mode == AuthMode::ConsentToken {
                    health.apps_in_consent_token_mode += 1;
                    tracing::warn!(
                        tenant = %tenant.tenant_id,
                        client_id = %app.client_id,
                        "the app is in consent-token mode, which galsync no longer supports: it gets no tokens; \
                         galsync test-connection names the commands that register it again in certificate mode"
                    );
                }
                if let (Some(_), Some(expires_at)) =
                    (&app.sealed_client_secret, app.client_secret_expires_at)
                {
                    let on = crate::broker::millis_to_time(expires_at).format("%Y-%m-%d");
                    if expires_at <= now_millis {
                        health.client_secrets_expired += 1;
                        tracing::warn!(tenant = %tenant.tenant_id, client_id = %app.client_id, expired_on = %on, "the client secret expired: add a new one in entra and run galsync secret set");
                    } else if self.secret_expiring_soon(expires_at) {
                        health.client_secrets_expiring_soon += 1;
                        tracing::warn!(tenant = %tenant.tenant_id, client_id = %app.client_id, expires_on = %on, "the client secret expires soon: add a new one in entra and run galsync secret set");
                    }
                }
                for certificate in self
                    .store
                    .list_certificates(&tenant.tenant_id, Some(&app.client_id))
                    .await?
                {
                    if certificate.not_after <= now_millis {
                        if certificate.state != "retired" {
                            health.certificates_expired += 1;
                            tracing::warn!(tenant = %tenant.tenant_id, thumbprint = %certificate.thumbprint_sha1, "certificate expired");
                        }
                        continue;
                    }
                    if certificate.state == STATE_PENDING {
                        health.certificates_pending_registration += 1;
                        tracing::warn!(
                            tenant = %tenant.tenant_id,
                            client_id = %app.client_id,
                            thumbprint = %certificate.thumbprint_sha1,
                            "certificate not yet accepted by entra: upload its .cer to the app registration"
                        );
                    }
                    if certificate.state == STATE_ACTIVE {
                        health.certificates_active += 1;
                        let days_left = (certificate.not_after - now_millis) / 86_400_000;
                        if health.certificate_days_to_expiry_min < 0
                            || days_left < health.certificate_days_to_expiry_min
                        {
                            health.certificate_days_to_expiry_min = days_left;
                        }
                        if self.expiring_soon(&certificate) {
                            health.certificates_expiring_soon += 1;
                        }
                    }
                }
            }
        }
        let gauges = [
            (
                "galsync_broker_certificates_active",
                health.certificates_active,
            ),
            (
                "galsync_broker_certificates_expiring_soon",
                health.certificates_expiring_soon,
            ),
            (
                "galsync_broker_certificates_pending_registration",
                health.certificates_pending_registration,
            ),
            (
                "galsync_broker_certificates_expired",
                health.certificates_expired,
            ),
            (
                "galsync_broker_apps_consent_token_mode",
                health.apps_in_consent_token_mode,
            ),
            (
                "galsync_broker_client_secrets_expiring_soon",
                health.client_secrets_expiring_soon,
            ),
            (
                "galsync_broker_client_secrets_expired",
                health.client_secrets_expired,
            ),
        ];
        for (name, value) in gauges {
            self.metrics
                .gauge(name, "credential health of the auth-broker")
                .store(value, Ordering::Relaxed);
        }
        self.metrics
            .gauge(
                "galsync_broker_certificate_days_to_expiry_min",
                "whole days until the first active certificate (any tenant) expires; -1 when none is active",
            )
            .store(health.certificate_days_to_expiry_min, Ordering::Relaxed);
        Ok(health)
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Registers the token counters at zero, so they are scraped before the
    /// first request.
    pub fn register_token_counters(&self) {
        for name in TOKEN_COUNTERS {
            self.count_by(name, 0);
        }
    }

    pub(crate) fn count(&self, name: &str) {
        self.count_by(name, 1);
    }

    fn count_by(&self, name: &str, by: i64) {
        self.metrics
            .counter(name, "token requests answered by the auth-broker")
            .fetch_add(by, Ordering::Relaxed);
    }
}

/// Token requests: issued, denied by policy (the caller's identity may not
/// have the purpose), failed (Entra or the stored credentials refused).
pub const TOKEN_COUNTERS: [&str; 3] = [
    "galsync_broker_tokens_issued_total",
    "galsync_broker_tokens_denied_total",
    "galsync_broker_tokens_failed_total",
];
