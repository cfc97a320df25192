//! Graph tokens issued to the services allowed to ask, each issuance
//! audited; a token Graph refused is dropped from the cache.

use galsync_platform::CallerIdentity;

use crate::broker::{Broker, IssuedToken};
use crate::error::BrokerError;
use crate::policy::Purpose;
use crate::tokens;

impl Broker {
    /// Issues a token for `purpose` if the caller is allowed it. Refusals and
    /// issuances are both audited.
    pub async fn graph_token(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        purpose: Option<Purpose>,
    ) -> Result<IssuedToken, BrokerError> {
        let Some(purpose) = purpose else {
            return Err(BrokerError::invalid(
                "purpose",
                "use TOKEN_PURPOSE_DIRECTORY or TOKEN_PURPOSE_CONTACTS",
            ));
        };
        if !self.policy.may_get_token(caller, purpose) {
            self.count("galsync_broker_tokens_denied_total");
            self.audit
                .record(
                    "token.denied",
                    caller,
                    tenant_id,
                    Some(purpose),
                    "caller not allowed this purpose",
                    None,
                )
                .await?;
            return Err(BrokerError::PermissionDenied(format!(
                "{caller} may not call galsync.v1.AuthBroker/GetGraphToken for {purpose} tokens; only --allow-purpose identities may"
            )));
        }
        let tenant = self.tenant(tenant_id).await?;
        let app = self.app_for_purpose(&tenant.tenant_id, purpose).await?;
        let result = match self.removed_mode_refusal(&tenant, &app).await? {
            Some(refusal) => Err(refusal.into_error()),
            None => self.tokens.token(&tenant, &app).await,
        };
        let (token, notes) = match result {
            Ok(issued) => issued,
            Err(error) => {
                self.count("galsync_broker_tokens_failed_total");
                self.audit
                    .record(
                        "token.failed",
                        caller,
                        &tenant.tenant_id,
                        Some(purpose),
                        &error.to_string(),
                        None,
                    )
                    .await?;
                return Err(error);
            }
        };
        self.audit_promotion(caller, &tenant.tenant_id, Some(purpose), &notes)
            .await?;
        self.count("galsync_broker_tokens_issued_total");
        let detail = format!(
            "app {}{}",
            app.client_id,
            if notes.cached { " (cached)" } else { "" }
        );
        self.audit
            .record(
                "token.issued",
                caller,
                &tenant.tenant_id,
                Some(purpose),
                &detail,
                Some(token.expires_at),
            )
            .await?;
        Ok(IssuedToken {
            token,
            graph_base_url: tenant.graph_base_url.clone(),
        })
    }

    /// Audits a certificate that Entra accepted for the first time.
    pub(crate) async fn audit_promotion(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        purpose: Option<Purpose>,
        notes: &tokens::AcquireNotes,
    ) -> Result<(), BrokerError> {
        let Some(certificate_id) = &notes.promoted_certificate else {
            return Ok(());
        };
        self.audit
            .record(
                "certificate.activated",
                caller,
                tenant_id,
                purpose,
                &format!("certificate {certificate_id} accepted by entra"),
                None,
            )
            .await?;
        self.remove_retired_keys(caller, tenant_id, certificate_id)
            .await
    }

    pub async fn invalidate_token(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        purpose: Option<Purpose>,
        reason: &str,
    ) -> Result<bool, BrokerError> {
        let Some(purpose) = purpose else {
            return Err(BrokerError::invalid(
                "purpose",
                "use TOKEN_PURPOSE_DIRECTORY or TOKEN_PURPOSE_CONTACTS",
            ));
        };
        if !self.policy.may_get_token(caller, purpose) && !self.policy.may_administer(caller) {
            return Err(BrokerError::PermissionDenied(format!(
                "{caller} may not invalidate {purpose} tokens"
            )));
        }
        let tenant = self.tenant(tenant_id).await?;
        let app = self.app_for_purpose(&tenant.tenant_id, purpose).await?;
        let invalidated = self
            .tokens
            .invalidate(&tenant.tenant_id, &app.client_id)
            .await;
        let reason_text: String = reason.chars().take(300).collect();
        self.audit
            .record(
                "token.invalidated",
                caller,
                &tenant.tenant_id,
                Some(purpose),
                &reason_text,
                None,
            )
            .await?;
        Ok(invalidated)
    }
}
