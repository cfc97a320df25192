//! Consent: the admin-consent URL with a CSRF-safe single-use `state`, the
//! HTTP callback Entra redirects the administrator to, and device-code
//! sign-in for consent-token mode (the refresh token is stored sealed).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Html;
use base64::Engine;
use galsync_graph::identity::{DeviceCode, DeviceCodePoll, IdentityError};
use galsync_platform::CallerIdentity;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Digest;

use crate::broker::{millis_to_time, Broker};
use crate::error::BrokerError;
use crate::store::{ConsentOutcomeRow, DeviceSignInRow};
use crate::tokens::{self, credential_error};

/// How long an admin-consent link stays valid.
const CONSENT_STATE_LIFETIME_MILLIS: i64 = 60 * 60 * 1000;

fn hash_state(state: &str) -> String {
    hex::encode(sha2::Sha256::digest(state.as_bytes()))
}

fn device_code_context(sign_in_id: &str) -> String {
    format!("device-code:{sign_in_id}")
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
        Ok(self
            .store
            .get_consent_outcome(&tenant.tenant_id, &app.client_id)
            .await?)
    }

    pub async fn start_device_sign_in(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        client_id: &str,
    ) -> Result<DeviceSignInRow, BrokerError> {
        self.require_admin(caller)?;
        let tenant = self.tenant(tenant_id).await?;
        let app = self.app(&tenant.tenant_id, client_id).await?;
        let identity = self.tokens.identity_client(&tenant)?;
        let device_code = identity
            .start_device_code(&app.client_id)
            .await
            .map_err(|error| credential_error(&app.client_id, error))?;
        let sign_in_id = uuid::Uuid::new_v4().to_string();
        let row = DeviceSignInRow {
            sealed_device_code: self.master_key.seal(
                &device_code_context(&sign_in_id),
                device_code.device_code.expose_secret().as_bytes(),
            ),
            sign_in_id,
            tenant_id: tenant.tenant_id.clone(),
            client_id: app.client_id.clone(),
            user_code: device_code.user_code.clone(),
            verification_uri: device_code.verification_uri.clone(),
            message: device_code.message.clone().unwrap_or_else(|| {
                format!(
                    "To sign in, open {} and enter the code {}",
                    device_code.verification_uri, device_code.user_code
                )
            }),
            expires_at: device_code.expires_at.timestamp_millis(),
            interval_seconds: device_code.interval.as_secs() as i64,
            state: "pending".to_owned(),
            error_description: String::new(),
        };
        self.store.insert_device_sign_in(&row).await?;
        self.audit
            .record(
                "consent.signin_started",
                caller,
                &tenant.tenant_id,
                None,
                &format!("app {}", app.client_id),
                None,
            )
            .await?;
        Ok(row)
    }

    /// Polls Entra once for a pending sign-in; on success the refresh token is
    /// stored sealed and the app uses it from then on.
    pub async fn poll_device_sign_in(
        &self,
        caller: &CallerIdentity,
        sign_in_id: &str,
    ) -> Result<DeviceSignInRow, BrokerError> {
        self.require_admin(caller)?;
        let Some(row) = self.store.get_device_sign_in(sign_in_id.trim()).await? else {
            return Err(BrokerError::NotFound(format!(
                "sign-in {sign_in_id} does not exist"
            )));
        };
        if row.state != "pending" {
            return Ok(row);
        }
        if row.expires_at < self.clock.now_millis() {
            self.store
                .set_device_sign_in_state(&row.sign_in_id, "expired", "the code expired")
                .await?;
            return self.reload_sign_in(&row.sign_in_id).await;
        }
        let tenant = self.tenant(&row.tenant_id).await?;
        let app = self.app(&row.tenant_id, &row.client_id).await?;
        let device_code_bytes = self.master_key.open(
            &device_code_context(&row.sign_in_id),
            &row.sealed_device_code,
        )?;
        let device_code = DeviceCode {
            device_code: SecretString::from(
                String::from_utf8_lossy(&device_code_bytes).into_owned(),
            ),
            user_code: row.user_code.clone(),
            verification_uri: row.verification_uri.clone(),
            message: Some(row.message.clone()),
            expires_at: millis_to_time(row.expires_at),
            interval: std::time::Duration::from_secs(row.interval_seconds.max(1) as u64),
        };
        let identity = self.tokens.identity_client(&tenant)?;
        match identity
            .poll_device_code(&app.client_id, &device_code)
            .await
        {
            Ok(DeviceCodePoll::Pending) | Ok(DeviceCodePoll::SlowDown) => Ok(row),
            Ok(DeviceCodePoll::Authorized(tokens)) => {
                let Some(refresh_token) = &tokens.refresh_token else {
                    let reason =
                        "entra returned no refresh token: the app must allow offline_access";
                    self.store
                        .set_device_sign_in_state(&row.sign_in_id, "declined", reason)
                        .await?;
                    return self.reload_sign_in(&row.sign_in_id).await;
                };
                let sealed = self.master_key.seal(
                    &tokens::refresh_token_context(&app),
                    refresh_token.expose_secret().as_bytes(),
                );
                self.store
                    .set_refresh_token(
                        &app.tenant_id,
                        &app.client_id,
                        &sealed,
                        self.clock.now_millis(),
                    )
                    .await?;
                self.store
                    .set_device_sign_in_state(&row.sign_in_id, "completed", "")
                    .await?;
                self.tokens.invalidate(&app.tenant_id, &app.client_id).await;
                self.audit
                    .record(
                        "consent.signed_in",
                        caller,
                        &app.tenant_id,
                        None,
                        &format!("app {}", app.client_id),
                        None,
                    )
                    .await?;
                self.reload_sign_in(&row.sign_in_id).await
            }
            Err(IdentityError::DeviceCodeExpired) => {
                self.store
                    .set_device_sign_in_state(&row.sign_in_id, "expired", "the code expired")
                    .await?;
                self.reload_sign_in(&row.sign_in_id).await
            }
            Err(IdentityError::DeviceCodeDeclined) => {
                self.store
                    .set_device_sign_in_state(
                        &row.sign_in_id,
                        "declined",
                        "the administrator declined",
                    )
                    .await?;
                self.reload_sign_in(&row.sign_in_id).await
            }
            Err(error) => Err(credential_error(&app.client_id, error)),
        }
    }

    async fn reload_sign_in(&self, sign_in_id: &str) -> Result<DeviceSignInRow, BrokerError> {
        self.store
            .get_device_sign_in(sign_in_id)
            .await?
            .ok_or_else(|| BrokerError::NotFound(format!("sign-in {sign_in_id} does not exist")))
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
