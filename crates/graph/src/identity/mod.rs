//! The Microsoft identity platform: token requests to
//! `POST {login_base}/{tenant}/oauth2/v2.0/token` with a certificate client
//! assertion, a client secret, a refresh token or a device code.

mod cache;
mod credential;
mod device_code;
mod entra_error;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tracing::warn;

use crate::retry::{self, RetryPolicy, Sleeper};
use crate::token::AccessToken;

pub use cache::CachedTokenSource;
pub use credential::{AssertionAlgorithm, CertificateCredential, ClientCredential, PrivateKey};
pub use device_code::{DeviceCode, DeviceCodePoll};
pub use entra_error::{EntraError, EntraErrorKind};

const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Why a token request failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Entra refused the request; see [`EntraError::hint`] for the fix.
    #[error("{0}")]
    Entra(Box<EntraError>),

    #[error("token endpoint request failed: {source}")]
    Transport {
        #[source]
        source: reqwest::Error,
    },

    #[error("gave up on the token endpoint after {attempts} attempts: {last_error}")]
    GaveUp {
        attempts: u32,
        #[source]
        last_error: Box<IdentityError>,
    },

    /// A response that is neither a token nor an Entra error.
    #[error("unexpected response from the token endpoint: status {status}: {detail}")]
    UnexpectedResponse { status: u16, detail: String },

    #[error("invalid private key: {reason}")]
    InvalidKey { reason: String },

    #[error("failed to sign the client assertion")]
    Signing {
        #[source]
        source: jsonwebtoken::errors::Error,
    },

    #[error("invalid identity configuration: {reason}")]
    InvalidConfig { reason: String },

    #[error("the device code expired before the user signed in")]
    DeviceCodeExpired,

    #[error("the user declined the device code sign-in")]
    DeviceCodeDeclined,
}

impl From<IdentityError> for crate::token::TokenError {
    fn from(error: IdentityError) -> Self {
        Self::Identity(Box::new(error))
    }
}

impl IdentityError {
    /// The Entra error behind this error, looking through retries.
    pub fn entra(&self) -> Option<&EntraError> {
        match self {
            IdentityError::Entra(entra_error) => Some(entra_error),
            IdentityError::GaveUp { last_error, .. } => last_error.entra(),
            _ => None,
        }
    }

    /// The plain-words fix, when the error is a well-known Entra error.
    pub fn hint(&self) -> Option<String> {
        self.entra().and_then(EntraError::hint)
    }
}

/// Where and for what tokens are requested.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// e.g. `https://login.microsoftonline.com` (national clouds and the
    /// emulator differ).
    pub login_base_url: String,
    /// The Directory (tenant) ID.
    pub tenant: String,
    /// App-only scope, default `https://graph.microsoft.com/.default`.
    pub scope: String,
    pub retry: RetryPolicy,
}

impl IdentityConfig {
    /// Public-cloud defaults for `tenant`.
    pub fn new(tenant: impl Into<String>) -> Self {
        Self {
            login_base_url: crate::DEFAULT_LOGIN_BASE_URL.to_owned(),
            tenant: tenant.into(),
            scope: crate::DEFAULT_GRAPH_SCOPE.to_owned(),
            retry: RetryPolicy::default(),
        }
    }

    /// Scopes of delegated (refresh-token, device-code) requests: the Graph
    /// scope plus `offline_access` for a refresh token.
    pub fn delegated_scope(&self) -> String {
        format!("{} offline_access", self.scope)
    }
}

/// Tokens from a delegated grant; Entra rotates the refresh token on use.
#[derive(Debug, Clone)]
pub struct DelegatedTokens {
    pub access_token: AccessToken,
    /// The new refresh token; store it in place of the one redeemed.
    pub refresh_token: Option<SecretString>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    expires_in: serde_json::Value,
}

/// Requests tokens from one tenant's token endpoint.
#[derive(Clone)]
pub struct IdentityClient {
    http: reqwest::Client,
    config: Arc<IdentityConfig>,
    sleeper: Arc<dyn Sleeper>,
}

impl std::fmt::Debug for IdentityClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("IdentityClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl IdentityClient {
    pub fn new(http: reqwest::Client, config: IdentityConfig) -> Result<Self, IdentityError> {
        let tenant_is_path_safe = !config.tenant.is_empty()
            && config
                .tenant
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || "-._".contains(character));
        if !tenant_is_path_safe {
            return Err(IdentityError::InvalidConfig {
                reason: format!("tenant {:?} is not a tenant id or domain", config.tenant),
            });
        }
        if url::Url::parse(&config.login_base_url).is_err() {
            return Err(IdentityError::InvalidConfig {
                reason: format!("login base url {:?} is not a url", config.login_base_url),
            });
        }
        Ok(Self {
            http,
            config: Arc::new(config),
            sleeper: retry::default_sleeper(),
        })
    }

    /// Replaces how retries wait (tests).
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    pub fn config(&self) -> &IdentityConfig {
        &self.config
    }

    /// `{login_base}/{tenant}/oauth2/v2.0/token`, also the assertion's `aud`.
    pub fn token_url(&self) -> String {
        self.endpoint_url("token")
    }

    fn endpoint_url(&self, endpoint: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/{endpoint}",
            self.config.login_base_url.trim_end_matches('/'),
            self.config.tenant
        )
    }

    /// An app-only token via the client credentials grant.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        credential: &ClientCredential,
    ) -> Result<AccessToken, IdentityError> {
        let token_url = self.token_url();
        let build_form = || {
            let mut form = vec![
                ("grant_type", "client_credentials".to_owned()),
                ("client_id", client_id.to_owned()),
                ("scope", self.config.scope.clone()),
            ];
            append_credential(&mut form, client_id, credential, &token_url)?;
            Ok(form)
        };
        let thumbprint = credential.certificate_thumbprint();
        let body = self.post_form(&token_url, build_form, thumbprint).await?;
        let tokens = parse_token_response(&body)?;
        Ok(tokens.access_token)
    }

    /// Redeems a refresh token; the returned refresh token replaces it.
    /// `credential` is for confidential clients; public clients pass `None`.
    pub async fn refresh_token(
        &self,
        client_id: &str,
        refresh_token: &SecretString,
        credential: Option<&ClientCredential>,
    ) -> Result<DelegatedTokens, IdentityError> {
        let token_url = self.token_url();
        let build_form = || {
            let mut form = vec![
                ("grant_type", "refresh_token".to_owned()),
                ("client_id", client_id.to_owned()),
                ("refresh_token", refresh_token.expose_secret().to_owned()),
                ("scope", self.config.delegated_scope()),
            ];
            if let Some(credential) = credential {
                append_credential(&mut form, client_id, credential, &token_url)?;
            }
            Ok(form)
        };
        let thumbprint = credential.and_then(ClientCredential::certificate_thumbprint);
        let body = self.post_form(&token_url, build_form, thumbprint).await?;
        parse_token_response(&body)
    }

    /// Posts a form to an identity endpoint under the retry policy (token
    /// requests are safe to repeat; the form, with a fresh assertion, is
    /// rebuilt per attempt) and returns the body of a 2xx response.
    async fn post_form<F>(
        &self,
        url: &str,
        build_form: F,
        certificate_thumbprint: Option<String>,
    ) -> Result<Vec<u8>, IdentityError>
    where
        F: Fn() -> Result<Vec<(&'static str, String)>, IdentityError>,
    {
        let mut budget = self.config.retry.budget();
        loop {
            budget.record_attempt();
            let form = build_form()?;
            let (failure, retry_after, throttled) =
                match self.http.post(url).form(&form).send().await {
                    Err(source) => (IdentityError::Transport { source }, None, false),
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let retry_after = retry::retry_after_header(response.headers());
                        let body = match response.bytes().await {
                            Ok(body) => body.to_vec(),
                            Err(source) => {
                                let failure = IdentityError::Transport { source };
                                self.wait_or_give_up(&mut budget, failure, None, false)
                                    .await?;
                                continue;
                            }
                        };
                        if (200..300).contains(&status) {
                            return Ok(body);
                        }
                        let failure = match EntraError::from_body(status, &body) {
                            Some(mut entra_error) => {
                                entra_error.certificate_thumbprint = certificate_thumbprint.clone();
                                IdentityError::Entra(Box::new(entra_error))
                            }
                            None => IdentityError::UnexpectedResponse {
                                status,
                                detail: String::from_utf8_lossy(&body).chars().take(200).collect(),
                            },
                        };
                        if !retry::is_retryable_status(status) {
                            return Err(failure);
                        }
                        (failure, retry_after, status == 429)
                    }
                };
            self.wait_or_give_up(&mut budget, failure, retry_after, throttled)
                .await?;
        }
    }

    async fn wait_or_give_up(
        &self,
        budget: &mut retry::RetryBudget<'_>,
        failure: IdentityError,
        retry_after: Option<Duration>,
        throttled: bool,
    ) -> Result<(), IdentityError> {
        let Some(delay) = budget.next_delay(retry_after, throttled) else {
            return Err(IdentityError::GaveUp {
                attempts: budget.attempts_made(),
                last_error: Box::new(failure),
            });
        };
        warn!(error = %failure, delay_ms = delay.as_millis() as u64, "retrying the token request");
        self.sleeper.sleep(delay).await;
        Ok(())
    }
}

fn append_credential(
    form: &mut Vec<(&'static str, String)>,
    client_id: &str,
    credential: &ClientCredential,
    token_url: &str,
) -> Result<(), IdentityError> {
    match credential {
        ClientCredential::Certificate(certificate) => {
            let assertion = certificate.client_assertion(client_id, token_url)?;
            form.push(("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()));
            form.push(("client_assertion", assertion.expose_secret().to_owned()));
        }
        ClientCredential::Secret(secret) => {
            form.push(("client_secret", secret.expose_secret().to_owned()));
        }
    }
    Ok(())
}

fn parse_token_response(body: &[u8]) -> Result<DelegatedTokens, IdentityError> {
    let response: TokenResponse =
        serde_json::from_slice(body).map_err(|error| IdentityError::UnexpectedResponse {
            status: 200,
            detail: format!("not a token response: {error}"),
        })?;
    // Entra's v1 endpoints send expires_in as a string, v2 as a number.
    let expires_in_secs = match &response.expires_in {
        serde_json::Value::Number(number) => number.as_i64(),
        serde_json::Value::String(text) => text.parse::<i64>().ok(),
        _ => None,
    };
    let Some(expires_in_secs) = expires_in_secs else {
        return Err(IdentityError::UnexpectedResponse {
            status: 200,
            detail: "token response without a valid expires_in".to_owned(),
        });
    };
    let expires_at = Utc::now() + chrono::Duration::seconds(expires_in_secs.max(0));
    Ok(DelegatedTokens {
        access_token: AccessToken::new(SecretString::from(response.access_token), expires_at),
        refresh_token: response.refresh_token.map(SecretString::from),
    })
}
