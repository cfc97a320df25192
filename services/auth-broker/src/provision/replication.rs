//! Waiting out Entra's replication: client credentials until the new app's
//! token carries its roles, with backoff, within a budget.

use std::time::Duration;

use galsync_platform::CallerIdentity;

use super::Reporter;
use crate::broker::Broker;
use crate::error::BrokerError;
use crate::store::{AppRow, TenantRow};

/// How long provisioning waits for Entra to replicate a new app and grant.
const REPLICATION_BUDGET: Duration = Duration::from_secs(300);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const LONGEST_BACKOFF: Duration = Duration::from_secs(15);

impl Broker {
    /// Client credentials until the token carries `roles` (Entra replicates a
    /// new app, key and grant within seconds to minutes), with backoff.
    pub(super) async fn wait_for_replication(
        &self,
        caller: &CallerIdentity,
        tenant: &TenantRow,
        app: &AppRow,
        roles: &[&str],
        report: &Reporter<'_>,
    ) -> Result<(), BrokerError> {
        let started = tokio::time::Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let outcome = match self.tokens.acquire(tenant, app).await {
                Ok((token, notes)) => {
                    self.audit_promotion(caller, &tenant.tenant_id, None, &notes)
                        .await?;
                    let missing: Vec<&str> = roles
                        .iter()
                        .copied()
                        .filter(|role| !token.roles.iter().any(|held| held == role))
                        .collect();
                    if missing.is_empty() {
                        self.tokens
                            .invalidate(&tenant.tenant_id, &app.client_id)
                            .await;
                        report
                            .step(format!(
                                "app {} signs in with its certificate and holds {}",
                                app.client_id,
                                roles.join(", ")
                            ))
                            .await?;
                        return Ok(());
                    }
                    format!("the token lacks {}", missing.join(", "))
                }
                // The fix Entra's error suggests (check the client id…) is
                // wrong while replication is under way: show only what happened.
                Err(error) => error
                    .to_string()
                    .split("; ")
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            };
            if started.elapsed() + backoff > REPLICATION_BUDGET {
                return Err(BrokerError::FailedPrecondition(format!(
                    "Entra did not replicate app {} within {} s ({outcome}); run provision \
                     again in a few minutes",
                    app.client_id,
                    REPLICATION_BUDGET.as_secs()
                )));
            }
            report
                .step(format!(
                    "waiting for Entra to replicate the grant (attempt {attempt}): {outcome}"
                ))
                .await?;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(LONGEST_BACKOFF);
            attempt += 1;
        }
    }
}
