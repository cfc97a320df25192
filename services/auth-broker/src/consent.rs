//! Consent: the admin-consent URL with a CSRF-safe single-use `state`, and
//! the HTTP callback Entra redirects the administrator to. An administrator
//! grants the app's application permissions once; the app then runs app-only.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Html;
use base64::Engine;
use galsync_platform::CallerIdentity;
use rand::RngCore;
use sha2::Digest;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::store::ConsentOutcomeRow;

/// How long an admin-consent link stays valid.
const CONSENT_STATE_LIFETIME_MILLIS: i64 = 60 * 60 * 1000;

fn hash_state(state: &str) -> String {
    hex::encode(sha2::Sha256::digest(state.as_bytes()))
}

impl Broker {
    /// The URL an administrator opens to grant the app's permissions, and its state.
    pub async fn admin_consent_url(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        client_id: &str,
        redirect_uri: &str,
    ) -> Result<(String, String), BrokerError> {
        self.require_admin(caller)?;
        let tenant = self.tenant(tenant_id).await?;
        let app = self.app(&tenant.tenant_id, client_id).await?;
        let redirect_uri = if redirect_uri.trim().is_empty() {
            self.settings.consent_redirect_uri.clone()
        } else {
            redirect_uri.trim().to_owned()
        };
        if url::Url::parse(&redirect_uri).is_err() {
            return Err(BrokerError::invalid("redirect_uri", "is not a URL"));
        }
        let mut state_bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut state_bytes);
        let state = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(state_bytes);
        self.store
            .insert_consent_state(
                &hash_state(&state),
                &tenant.tenant_id,
                &app.client_id,
                &redirect_uri,
                self.clock.now_millis() + CONSENT_STATE_LIFETIME_MILLIS,
            )
            .await?;
        let mut url = url::Url::parse(&format!(
            "{}/{}/adminconsent",
            tenant.login_base_url, tenant.tenant_id
        ))
        .map_err(|error| BrokerError::Internal(error.to_string()))?;
        url.query_pairs_mut()
            .append_pair("client_id", &app.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("state", &state);
        self.audit
            .record(
                "consent.link_created",
                caller,
                &tenant.tenant_id,
                None,
                &format!("app {}", app.client_id),
                None,
            )
            .await?;
        Ok((url.to_string(), state))
    }

    /// Records what Entra reported on the redirect. The state must be one this
    /// broker issued, unexpired and unused (CSRF protection).
    pub async fn record_consent_callback(
        &self,
        query: &HashMap<String, String>,
    ) -> Result<ConsentOutcomeRow, BrokerError> {
        let Some(state) = query.get("state").filter(|state| !state.is_empty()) else {
            return Err(BrokerError::invalid(
                "state",
                "is missing; open the consent link galsync made",
            ));
        };
        let Some((tenant_id, client_id, expires_at)) =
            self.store.take_consent_state(&hash_state(state)).await?
        else {
            return Err(BrokerError::PermissionDenied(
                "this consent response does not match a link galsync made (or was already used); make a new link"
                    .to_owned(),
            ));
        };
        if expires_at < self.clock.now_millis() {
            return Err(BrokerError::FailedPrecondition(
                "the consent link expired; make a new one".to_owned(),
            ));
        }
        if let Some(reported_tenant) = query.get("tenant") {
            if !reported_tenant.eq_ignore_ascii_case(&tenant_id) {
                return Err(BrokerError::PermissionDenied(format!(
                    "consent came back for tenant {reported_tenant}, but the link was for {tenant_id}"
                )));
            }
        }
        let granted = query
            .get("admin_consent")
            .is_some_and(|value| value.eq_ignore_ascii_case("true"));
        let outcome = ConsentOutcomeRow {
            granted,
            error: query.get("error").cloned().unwrap_or_default(),
            error_description: query.get("error_description").cloned().unwrap_or_default(),
            recorded_at: self.clock.now_millis(),
        };
        self.store
            .record_consent_outcome(&tenant_id, &client_id, &outcome)
            .await?;
        // New permissions take effect with the next token.
        self.tokens.invalidate(&tenant_id, &client_id).await;
        let kind = if granted {
            "consent.granted"
        } else {
            "consent.refused"
        };
        let detail = if granted {
            format!("app {client_id}")
        } else {
            format!(
                "app {client_id}: {} {}",
                outcome.error, outcome.error_description
            )
        };
        self.audit
            .record(
                kind,
                &CallerIdentity::Service("entra-redirect".to_owned()),
                &tenant_id,
                None,
                &detail,
                None,
            )
            .await?;
        Ok(outcome)
    }

    pub async fn consent_status(
        &self,
        tenant_id: &str,
        client_id: &str,
    ) -> Result<Option<ConsentOutcomeRow>, BrokerError> {
        let tenant = self.tenant(tenant_id).await?;
        let app = self.app(&tenant.tenant_id, client_id).await?;
        self.recorded_consent(&tenant.tenant_id, &app.client_id)
            .await
    }

    /// The app's last consent outcome, for a tenant and app just read from
    /// the store (neither is looked up again).
    pub async fn recorded_consent(
        &self,
        tenant_id: &str,
        client_id: &str,
    ) -> Result<Option<ConsentOutcomeRow>, BrokerError> {
        Ok(self.store.get_consent_outcome(tenant_id, client_id).await?)
    }
}

/// The consent callback endpoint: `GET /consent/callback?admin_consent=True&tenant=…&state=…`.
pub fn callback_router(broker: Arc<Broker>) -> axum::Router {
    axum::Router::new()
        .route("/consent/callback", axum::routing::get(consent_callback))
        .with_state(broker)
}

async fn consent_callback(
    State(broker): State<Arc<Broker>>,
    Query(query): Query<HashMap<String, String>>,
) -> (axum::http::StatusCode, Html<String>) {
    match broker.record_consent_callback(&query).await {
        Ok(outcome) if outcome.granted => (
            axum::http::StatusCode::OK,
            Html("<h1>Consent recorded</h1><p>galsync may now use the permissions you granted. You can close this window.</p>".to_owned()),
        ),
        Ok(outcome) => (
            axum::http::StatusCode::OK,
            Html(format!(
                "<h1>Consent was not granted</h1><p>{}: {}</p>",
                html_escape(&outcome.error),
                html_escape(&outcome.error_description)
            )),
        ),
        Err(error) => (
            axum::http::StatusCode::BAD_REQUEST,
            Html(format!("<h1>Consent not recorded</h1><p>{}</p>", html_escape(&error.to_string()))),
        ),
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
