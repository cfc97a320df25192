//! The device code flow: a user (an administrator) signs in on another
//! device, and the client receives delegated tokens. galsync's services run
//! app-only and do not use it; it is here for signing an administrator in,
//! e.g. to provision an app registration.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tracing::debug;

use super::{
    append_credential, parse_token_response, ClientCredential, DelegatedTokens, IdentityClient,
    IdentityError,
};

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628: on `slow_down`, poll 5 seconds less often.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// A started device code sign-in: show `message` (or `user_code` and
/// `verification_uri`) to the administrator, then poll.
#[derive(Debug, Clone)]
pub struct DeviceCode {
    /// The code galsync polls with (redacted in `Debug`).
    pub device_code: SecretString,
    pub user_code: String,
    pub verification_uri: String,
    /// Entra's sentence for the user ("To sign in, use a web browser …").
    pub message: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// How long to wait between polls.
    pub interval: Duration,
}

#[derive(Deserialize)]
struct DeviceCodeResponse {
    device_code: String,
    user_code: String,
    verification_uri: String,
    expires_in: u64,
    #[serde(default)]
    interval: Option<u64>,
    #[serde(default)]
    message: Option<String>,
}

/// The state of a device code sign-in after one poll.
#[derive(Debug)]
pub enum DeviceCodePoll {
    /// The user has not finished signing in yet.
    Pending,
    /// Polling too often: add 5 seconds to the interval.
    SlowDown,
    Authorized(Box<DelegatedTokens>),
}

impl IdentityClient {
    /// Starts a device code sign-in (`POST …/oauth2/v2.0/devicecode`) asking
    /// for the Graph scope and `offline_access`.
    pub async fn start_device_code(&self, client_id: &str) -> Result<DeviceCode, IdentityError> {
        self.start_device_code_for_scope(client_id, &self.config.delegated_scope())
            .await
    }

    /// Starts a device code sign-in for exactly `scopes` (Graph delegated
    /// permissions such as `Application.ReadWrite.All`), without
    /// `offline_access`: the token answered has no refresh token, so there is
    /// nothing to store (an administrator's one-off sign-in).
    pub async fn start_device_code_with_scopes(
        &self,
        client_id: &str,
        scopes: &[&str],
    ) -> Result<DeviceCode, IdentityError> {
        let scope_parameter = scopes.join(" ");
        self.start_device_code_for_scope(client_id, &scope_parameter)
            .await
    }

    async fn start_device_code_for_scope(
        &self,
        client_id: &str,
        scope_parameter: &str,
    ) -> Result<DeviceCode, IdentityError> {
        let url = self.endpoint_url("devicecode");
        let build_form = || {
            Ok(vec![
                ("client_id", client_id.to_owned()),
                ("scope", scope_parameter.to_owned()),
            ])
        };
        let body = self.post_form(&url, build_form, None).await?;
        let response: DeviceCodeResponse =
            serde_json::from_slice(&body).map_err(|error| IdentityError::UnexpectedResponse {
                status: 200,
                detail: format!("not a device code response: {error}"),
            })?;
        let expires_in = i64::try_from(response.expires_in).unwrap_or(i64::MAX / 2);
        Ok(DeviceCode {
            device_code: SecretString::from(response.device_code),
            user_code: response.user_code,
            verification_uri: response.verification_uri,
            message: response.message,
            expires_at: Utc::now() + chrono::Duration::seconds(expires_in.min(86_400)),
            interval: response
                .interval
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_INTERVAL),
        })
    }

    /// Polls once. `expired_token` and `authorization_declined` are errors
    /// ([`IdentityError::DeviceCodeExpired`], [`IdentityError::DeviceCodeDeclined`]).
    pub async fn poll_device_code(
        &self,
        client_id: &str,
        device_code: &DeviceCode,
    ) -> Result<DeviceCodePoll, IdentityError> {
        self.poll_device_code_with_credential(client_id, device_code, None)
            .await
    }

    /// [`Self::poll_device_code`] for a confidential client, which Entra
    /// requires to authenticate (public clients pass `None`).
    pub async fn poll_device_code_with_credential(
        &self,
        client_id: &str,
        device_code: &DeviceCode,
        credential: Option<&ClientCredential>,
    ) -> Result<DeviceCodePoll, IdentityError> {
        let token_url = self.token_url();
        let build_form = || {
            let mut form = vec![
                ("grant_type", DEVICE_CODE_GRANT.to_owned()),
                ("client_id", client_id.to_owned()),
                (
                    "device_code",
                    device_code.device_code.expose_secret().to_owned(),
                ),
            ];
            if let Some(credential) = credential {
                append_credential(&mut form, client_id, credential, &token_url)?;
            }
            Ok(form)
        };
        let thumbprint = credential.and_then(ClientCredential::certificate_thumbprint);
        let failure = match self.post_form(&token_url, build_form, thumbprint).await {
            Ok(body) => {
                let tokens = parse_token_response(&body)?;
                return Ok(DeviceCodePoll::Authorized(Box::new(tokens)));
            }
            Err(failure) => failure,
        };
        let oauth_error = failure
            .entra()
            .map(|entra_error| entra_error.error.as_str());
        match oauth_error {
            Some("authorization_pending") => Ok(DeviceCodePoll::Pending),
            Some("slow_down") => Ok(DeviceCodePoll::SlowDown),
            Some("expired_token") | Some("code_expired") => Err(IdentityError::DeviceCodeExpired),
            Some("authorization_declined") | Some("access_denied") => {
                Err(IdentityError::DeviceCodeDeclined)
            }
            _ => Err(failure),
        }
    }

    /// Polls at the given interval (slowing down when told) until the user
    /// signs in, declines, or the code expires.
    pub async fn wait_for_device_code(
        &self,
        client_id: &str,
        device_code: &DeviceCode,
    ) -> Result<DelegatedTokens, IdentityError> {
        let mut interval = device_code.interval;
        loop {
            if Utc::now() >= device_code.expires_at {
                return Err(IdentityError::DeviceCodeExpired);
            }
            self.sleeper.sleep(interval).await;
            match self.poll_device_code(client_id, device_code).await? {
                DeviceCodePoll::Authorized(tokens) => return Ok(*tokens),
                DeviceCodePoll::Pending => {}
                DeviceCodePoll::SlowDown => {
                    interval += SLOW_DOWN_STEP;
                    debug!(
                        interval_secs = interval.as_secs(),
                        "device code polling slowed down"
                    );
                }
            }
        }
    }
}
