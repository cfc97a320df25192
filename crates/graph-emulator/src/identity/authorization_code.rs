//! The token endpoint's `grant_type=authorization_code`: a code from
//! [`super::authorize`] redeemed once, with its PKCE verifier, for the
//! delegated tokens and the ID token.
//!
//! Followed: "Microsoft identity platform and OAuth 2.0 authorization code
//! flow" (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow>)
//! and "ID token claims reference"
//! (<https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference>).

use axum::http::StatusCode;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Digest;

use super::access_token::sign;
use super::authorize::{invalid_grant, AuthorizationCodeRecord};
use super::client_auth::{
    authenticated_client, required, resolve_tenant_segment, ClientLookup, CredentialRule,
    LoginRequest,
};
use super::delegated::{issue_delegated_tokens, pairwise_subject, resolve_scopes};
use super::membership_claims::{membership_claims, MembershipClaims};
use crate::errors::EntraError;
use crate::EmulatorState;

/// ID token lifetime (the docs: one hour by default).
pub const ID_TOKEN_LIFETIME_SECS: i64 = 3600;

/// ID token claims (v2.0), names as in the claims reference.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdTokenClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub nonce: String,
    pub tid: String,
    pub oid: String,
    pub sub: String,
    pub preferred_username: String,
    pub name: String,
    /// `groups` (or, past 200, the overage claims instead) and `roles`.
    #[serde(flatten)]
    pub memberships: MembershipClaims,
    pub ver: String,
}

/// `grant_type=authorization_code`.
pub fn authorization_code_grant(
    state: &EmulatorState,
    request: &LoginRequest,
) -> Result<Value, EntraError> {
    let tenant_id = resolve_tenant_segment(&state.identity, &request.tenant)?;
    let client_id = required(&request.form, "client_id")?;
    let code = required(&request.form, "code")?;
    let redirect_uri = required(&request.form, "redirect_uri")?;
    let code_verifier = required(&request.form, "code_verifier")?;
    let (_, client) = authenticated_client(
        state,
        request,
        client_id,
        ClientLookup::InTenant(tenant_id),
        CredentialRule::PublicClientAllowed,
    )?;
    let now = state.clock.unix_now();
    // Looked up and marked redeemed under one lock: a code works once.
    let record = state.identity.redeem_authorization_code(code, now)?;
    if record.tenant_id != tenant_id || !record.client_id.eq_ignore_ascii_case(&client.client_id) {
        return Err(invalid_grant(
            70000,
            "The provided authorization code was issued to another client or tenant.",
        ));
    }
    if record.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            70000,
            "The redirect_uri does not match the one used in the authorization request.",
        ));
    }
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(code_verifier.as_bytes()));
    if computed != record.code_challenge {
        return Err(invalid_grant(
            50148,
            "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
        ));
    }
    let mut scopes = resolve_scopes(state, &record.scope, &client, &request.base_url)?;
    // The ID token is this module's (with nonce and groups), not the generic one.
    scopes.oidc.remove("openid");
    let client_info = request
        .form
        .get("client_info")
        .is_some_and(|value| value == "1");
    let mut body = issue_delegated_tokens(state, &client, &record.user, &scopes, client_info)?;
    let id_token = sign_id_token(state, &id_token_claims(state, &record, now))?;
    if let Some(object) = body.as_object_mut() {
        let granted = object
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        object.insert(
            "scope".to_owned(),
            json!(format!("{granted} openid").trim()),
        );
        object.insert("id_token".to_owned(), json!(id_token));
    }
    Ok(body)
}

/// Signs an ID token with the published key, or with the unpublished one
/// when a test asked for it (`POST /_admin/id-tokens/unpublished-key`): a
/// relying party must then refuse the token, since "the token is signed with
/// one of the keys published in the OpenID Connect metadata document" is
/// what it checks.
/// <https://learn.microsoft.com/entra/identity-platform/signing-key-rollover>,
/// <https://learn.microsoft.com/entra/identity-platform/id-tokens#validate-tokens>.
fn sign_id_token(state: &EmulatorState, claims: &IdTokenClaims) -> Result<String, EntraError> {
    let unpublished = state
        .unpublished_id_token_signer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match unpublished.as_ref() {
        Some(signer) => signer.sign(claims).map_err(|error| {
            tracing::error!(%error, "failed to sign an id token with the unpublished key");
            EntraError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                50000,
                "There was an error issuing a token.",
            )
        }),
        None => sign(state, claims),
    }
}

fn id_token_claims(
    state: &EmulatorState,
    record: &AuthorizationCodeRecord,
    now: i64,
) -> IdTokenClaims {
    let (name, memberships) =
        membership_claims(state, record.tenant_id, &record.client_id, &record.user);
    IdTokenClaims {
        aud: record.client_id.clone(),
        iss: format!("{}/{}/v2.0", state.base_url(), record.tenant_id),
        iat: now,
        nbf: now,
        exp: now + ID_TOKEN_LIFETIME_SECS,
        nonce: record.nonce.clone(),
        tid: record.tenant_id.to_string(),
        oid: record.user.object_id.clone(),
        sub: pairwise_subject(&record.user.object_id, &record.client_id),
        preferred_username: record.user.upn.clone(),
        name,
        memberships,
        ver: "2.0".to_owned(),
    }
}
