//! The authorization code flow with PKCE and OpenID Connect:
//! `GET /{tenant}/oauth2/v2.0/authorize`, which issues the code; the token
//! endpoint redeems it in [`super::authorization_code`].
//!
//! Followed: "Microsoft identity platform and OAuth 2.0 authorization code
//! flow" (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow>),
//! "ID token claims reference"
//! (<https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference>;
//! `groups`, its overage and `roles` are [`super::membership_claims`])
//! and "Configure group claims for applications"
//! (<https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-fed-group-claims>).
//! Where Entra allows several behaviours the emulator takes the strictest:
//! PKCE is required and only `S256` is accepted (Entra also takes `plain`
//! and, for web apps, no PKCE at all), `openid` and `nonce` are required,
//! and a code lives [`AUTHORIZATION_CODE_LIFETIME_SECS`].
//!
//! Who signs in: there is no sign-in page. A test says which directory user
//! the "browser" is signed in as with `POST /_admin/tenants/{tenant}/browser-sign-in`
//! `{"upn": "..."}` ([`IdentityStore::set_browser_user`]); every later
//! authorize request on that tenant signs that user in without a prompt (as
//! Entra does with an existing session) until another is set.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use rand::RngCore;
use serde::Deserialize;
use sha2::Digest;
use uuid::Uuid;

use super::client_auth::{find_client, resolve_tenant_segment};
use super::consent::{check_app_and_redirect, error_page};
use super::delegated::resolve_scopes;
use super::model::{IdentityAdminError, SignedInUser};
use super::{lock, IdentityStore};
use crate::errors::EntraError;
use crate::{AppState, EmulatorState};

/// Seconds an authorization code can be redeemed. The docs: "Authorization
/// codes are short lived. Typically, they expire after about 10 minutes."
pub const AUTHORIZATION_CODE_LIFETIME_SECS: i64 = 600;
pub fn routes() -> Router<AppState> {
    Router::new().route("/{tenant}/oauth2/v2.0/authorize", get(authorize_endpoint))
}

/// What an authorization code stands for. Keyed by the SHA-256 of the code.
#[derive(Debug, Clone)]
pub struct AuthorizationCodeRecord {
    pub tenant_id: Uuid,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: String,
    pub code_challenge: String,
    pub user: SignedInUser,
    pub expires_at: i64,
    pub redeemed: bool,
}

#[derive(Debug, Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    response_mode: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

async fn authorize_endpoint(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(query): Query<AuthorizeQuery>,
) -> Response {
    // Errors before the redirect URI is known good are shown as a page;
    // after, they go back to the app as `error` and `error_description`.
    let tenant_id = match resolve_tenant_segment(&state.identity, &tenant) {
        Ok(tenant_id) => tenant_id,
        Err(error) => return error_page(&error),
    };
    let Some(client_id) = query.client_id.as_deref() else {
        return error_page(&super::entra_errors::missing_parameter("client_id"));
    };
    let Some(redirect_uri) = query.redirect_uri.as_deref() else {
        return error_page(&super::entra_errors::missing_parameter("redirect_uri"));
    };
    if let Err(error) = check_app_and_redirect(&state, tenant_id, &tenant, client_id, redirect_uri)
    {
        return error_page(&error);
    }
    let app_state = query.state.clone();
    match authorize(&state, tenant_id, client_id, redirect_uri, &query) {
        Ok(code) => redirect_back(
            redirect_uri,
            &[
                ("code", Some(code.as_str())),
                ("state", app_state.as_deref()),
            ],
        ),
        Err(error) => {
            let description = format!("AADSTS{}: {}", error.code, error.description);
            redirect_back(
                redirect_uri,
                &[
                    ("error", Some(error.error)),
                    ("error_description", Some(description.as_str())),
                    ("state", app_state.as_deref()),
                ],
            )
        }
    }
}

fn authorize(
    state: &EmulatorState,
    tenant_id: Uuid,
    client_id: &str,
    redirect_uri: &str,
    query: &AuthorizeQuery,
) -> Result<String, EntraError> {
    match query.response_type.as_deref() {
        Some("code") => {}
        Some(other) => return Err(unsupported_response_type(other)),
        None => return Err(super::entra_errors::missing_parameter("response_type")),
    }
    if let Some(mode) = query.response_mode.as_deref() {
        if mode != "query" {
            return Err(invalid_request(
                900144,
                format!(
                    "The response_mode '{mode}' is not supported by this emulator; use 'query'."
                ),
            ));
        }
    }
    let scope = query
        .scope
        .as_deref()
        .ok_or_else(|| super::entra_errors::missing_parameter("scope"))?;
    if !scope.split_whitespace().any(|item| item == "openid") {
        return Err(super::entra_errors::invalid_scope(scope));
    }
    let nonce = query
        .nonce
        .as_deref()
        .filter(|nonce| !nonce.is_empty())
        .ok_or_else(|| super::entra_errors::missing_parameter("nonce"))?;
    let code_challenge = query
        .code_challenge
        .as_deref()
        .filter(|challenge| !challenge.is_empty())
        .ok_or_else(pkce_required)?;
    match query.code_challenge_method.as_deref() {
        Some("S256") => {}
        Some(other) => return Err(challenge_method_refused(other)),
        None => return Err(challenge_method_refused("plain")),
    }
    // A SHA-256 in base64url without padding is 43 characters.
    if code_challenge.len() != 43
        || base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(code_challenge)
            .is_err()
    {
        return Err(invalid_request(
            501491,
            "Invalid size of Code_Challenge parameter.",
        ));
    }
    let client = find_client(
        &state.identity,
        tenant_id,
        &tenant_id.to_string(),
        client_id,
    )?;
    resolve_scopes(state, scope, &client, state.base_url())?;
    let user = state
        .identity
        .browser_user(tenant_id)
        .ok_or_else(no_browser_user)?;
    let record = AuthorizationCodeRecord {
        tenant_id,
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope: scope.to_owned(),
        nonce: nonce.to_owned(),
        code_challenge: code_challenge.to_owned(),
        user,
        expires_at: state.clock.unix_now() + AUTHORIZATION_CODE_LIFETIME_SECS,
        redeemed: false,
    };
    Ok(state.identity.store_authorization_code(record))
}

fn redirect_back(redirect_uri: &str, parameters: &[(&str, Option<&str>)]) -> Response {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in parameters {
            if let Some(value) = value {
                pairs.append_pair(name, value);
            }
        }
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn authorization_code_key(code: &str) -> [u8; 32] {
    sha2::Sha256::digest(code.as_bytes()).into()
}

impl IdentityStore {
    /// Signs `upn` in to the emulated browser for `tenant_id`.
    pub fn set_browser_user(&self, tenant_id: Uuid, user: SignedInUser) {
        lock(&self.browser_users).insert(tenant_id, user);
    }

    fn browser_user(&self, tenant_id: Uuid) -> Option<SignedInUser> {
        lock(&self.browser_users).get(&tenant_id).cloned()
    }

    fn store_authorization_code(&self, record: AuthorizationCodeRecord) -> String {
        let mut random = [0_u8; 48];
        rand::thread_rng().fill_bytes(&mut random);
        let code = format!(
            "1.AQ{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
        );
        let mut codes = lock(&self.authorization_codes);
        let now = record.expires_at - AUTHORIZATION_CODE_LIFETIME_SECS;
        // Forget codes long past their expiry.
        codes.retain(|_, kept| kept.expires_at + 86_400 > now);
        codes.insert(authorization_code_key(&code), record);
        code
    }

    pub(super) fn redeem_authorization_code(
        &self,
        code: &str,
        now: i64,
    ) -> Result<AuthorizationCodeRecord, EntraError> {
        let mut codes = lock(&self.authorization_codes);
        let Some(record) = codes.get_mut(&authorization_code_key(code)) else {
            return Err(invalid_grant(
                9002313,
                "Invalid request. Request is malformed or invalid. The authorization code is not recognised.",
            ));
        };
        if record.redeemed {
            return Err(invalid_grant(
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            ));
        }
        if now >= record.expires_at {
            return Err(invalid_grant(
                70008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            ));
        }
        record.redeemed = true;
        Ok(record.clone())
    }
}

/// Admin twin: the browser of `tenant` is signed in as `upn`.
pub fn sign_in_browser(
    state: &EmulatorState,
    tenant: &str,
    upn: &str,
) -> Result<SignedInUser, IdentityAdminError> {
    let tenant_id = state
        .identity
        .resolve_tenant(tenant)
        .ok_or_else(|| IdentityAdminError::UnknownTenant(tenant.to_owned()))?;
    let user = super::device::signed_in_user(state, tenant_id, upn)?;
    state.identity.set_browser_user(tenant_id, user.clone());
    Ok(user)
}

fn invalid_request(code: u32, description: impl Into<String>) -> EntraError {
    EntraError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        code,
        description,
    )
}

pub(super) fn invalid_grant(code: u32, description: impl Into<String>) -> EntraError {
    EntraError::new(StatusCode::BAD_REQUEST, "invalid_grant", code, description)
}

fn unsupported_response_type(response_type: &str) -> EntraError {
    EntraError::new(
        StatusCode::BAD_REQUEST,
        "unsupported_response_type",
        700054,
        format!("response_type '{response_type}' is not enabled for the application."),
    )
}

fn pkce_required() -> EntraError {
    invalid_request(
        9002325,
        "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
    )
}

fn challenge_method_refused(method: &str) -> EntraError {
    invalid_request(
        501481,
        format!("The code_challenge_method '{method}' is not accepted: use S256."),
    )
}

fn no_browser_user() -> EntraError {
    EntraError::new(
        StatusCode::BAD_REQUEST,
        "interaction_required",
        50058,
        "A silent sign-in request was sent but no user is signed in. Emulator: POST /_admin/tenants/{tenant}/browser-sign-in {\"upn\": \"...\"} first.",
    )
}
