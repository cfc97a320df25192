//! Credential health as Prometheus metrics and log warnings: certificates
//! expiring soon, waiting for upload or expired, consent tokens close to their
//! 90-day inactivity expiry, and token issuance counters.

use std::sync::atomic::Ordering;

use galsync_platform::metrics::Metrics;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::tokens::{STATE_ACTIVE, STATE_PENDING};

/// A consent token unused this long (of Entra's 90 days) is reported.
const CONSENT_TOKEN_WARNING_DAYS: i64 = 60;

/// What [`Broker::credential_health`] found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CredentialHealth {
    pub certificates_active: i64,
    pub certificates_expiring_soon: i64,
    pub certificates_pending_registration: i64,
    pub certificates_expired: i64,
    pub consent_tokens_expiring_soon: i64,
    pub client_secrets_expiring_soon: i64,
    pub client_secrets_expired: i64,
}

impl Broker {
    /// Counts credential problems across tenants, warns in the log, and
    /// updates the gauges.
    pub async fn credential_health(&self) -> Result<CredentialHealth, BrokerError> {
        let now_millis = self.clock.now_millis();
        let mut health = CredentialHealth::default();
        for tenant in self.store.list_tenants().await? {
            for app in self.store.list_apps(&tenant.tenant_id).await? {
                if let (Some(_), Some(used_at)) =
                    (&app.sealed_refresh_token, app.refresh_token_used_at)
                {
                    let idle_days = (now_millis - used_at) / 86_400_000;
                    if idle_days >= CONSENT_TOKEN_WARNING_DAYS {
                        health.consent_tokens_expiring_soon += 1;
                        tracing::warn!(
                            tenant = %tenant.tenant_id,
                            client_id = %app.client_id,
                            idle_days,
                            "the consent token expires after 90 days unused: run a sync or sign in again (galsync signin)"
                        );
                    }
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
                "galsync_broker_consent_tokens_expiring_soon",
                health.consent_tokens_expiring_soon,
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
        Ok(health)
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub(crate) fn count(&self, name: &str) {
        self.metrics
            .counter(name, "token requests answered by the auth-broker")
            .fetch_add(1, Ordering::Relaxed);
    }
}
