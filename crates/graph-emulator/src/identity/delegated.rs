//! Delegated tokens (a signed-in admin) and refresh tokens: scope
//! resolution, issuing access + refresh tokens, and the `refresh_token` grant.
//!
//! Refresh tokens rotate: each use returns a new one. As in Entra, the old
//! one is not revoked by that; every refresh token expires after 90 days
//! unused, or when the admin API revokes the user's sessions.

use std::collections::BTreeSet;

use base64::Engine;
use rand::RngCore;
use serde_json::{json, Map, Value};
use sha2::Digest;
use uuid::Uuid;

use super::access_token::{base_claims, is_graph_resource, sign, token_lifetime_secs};
use super::client_auth::{
    authenticated_client, find_client, required, ClientInTenant, ClientLookup, CredentialRule,
    DelegatedTenant, LoginRequest,
};
use super::entra_errors;
use super::model::{RefreshGrant, SignedInUser};
use super::{lock, IdentityStore};
use crate::errors::EntraError;
use crate::tokens::AccessClaims;
use crate::EmulatorState;

/// A refresh token unused for this long is expired (Entra's inactivity limit).
pub const REFRESH_TOKEN_INACTIVE_DAYS: i64 = 90;

const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Requested scopes split into Graph permissions and OpenID Connect scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestedScopes {
    /// Graph delegated permissions, e.g. `User.Read.All`.
    pub permissions: BTreeSet<String>,
    /// `openid`, `profile`, `email`, `offline_access` as requested.
    pub oidc: BTreeSet<String>,
}

/// Splits a scope parameter. Bare names and `{graph}/Name` are Graph
/// permissions; `{graph}/.default` means the app's requested delegated
/// permissions; any other resource → AADSTS70011.
pub fn resolve_scopes(
    state: &EmulatorState,
    scope: &str,
    client: &ClientInTenant,
    request_base_url: &str,
) -> Result<RequestedScopes, EntraError> {
    let mut resolved = RequestedScopes::default();
    for item in scope.split_whitespace() {
        if OIDC_SCOPES.contains(&item) {
            resolved.oidc.insert(item.to_owned());
            continue;
        }
        let (resource, permission) = match item.rsplit_once('/') {
            Some((resource, permission)) => (Some(resource), permission),
            None => (None, item),
        };
        if let Some(resource) = resource {
            if !is_graph_resource(state, resource, request_base_url) {
                return Err(entra_errors::invalid_scope(item));
            }
        }
        if permission.is_empty() {
            return Err(entra_errors::invalid_scope(item));
        }
        if permission == ".default" {
            resolved
                .permissions
                .extend(client.requested_scopes.iter().cloned());
            continue;
        }
        resolved.permissions.insert(permission.to_owned());
    }
    Ok(resolved)
}

/// Issues a delegated access token (and a refresh token when
/// `offline_access` was asked for) for `user`.
pub fn issue_delegated_tokens(
    state: &EmulatorState,
    client: &ClientInTenant,
    user: &SignedInUser,
    scopes: &RequestedScopes,
    client_info_requested: bool,
) -> Result<Value, EntraError> {
    let now = state.clock.unix_now();
    let lifetime = token_lifetime_secs(state);
    let permissions: Vec<String> = scopes.permissions.iter().cloned().collect();
    let mut claims = base_claims(now, lifetime, client.tenant_id, &client.client_id);
    claims.scp = Some(permissions.join(" "));
    claims.idtyp = "user".to_owned();
    claims.oid = user.object_id.clone();
    claims.sub = pairwise_subject(&user.object_id, &client.client_id);
    claims.upn = Some(user.upn.clone());
    let access_token = sign(state, &claims)?;

    let mut granted: Vec<String> = permissions.clone();
    granted.extend(scopes.oidc.iter().cloned());
    let mut body = Map::new();
    body.insert("token_type".to_owned(), json!("Bearer"));
    body.insert("scope".to_owned(), json!(granted.join(" ")));
    body.insert("expires_in".to_owned(), json!(lifetime));
    body.insert("ext_expires_in".to_owned(), json!(lifetime));
    body.insert("access_token".to_owned(), json!(access_token));
    if scopes.oidc.contains("offline_access") {
        let refresh_token = state.identity.store_refresh_token(RefreshGrant {
            tenant_id: client.tenant_id,
            client_id: client.client_id.clone(),
            user: user.clone(),
            scopes: scopes.permissions.clone(),
            issued_at: now,
            revoked: false,
        });
        body.insert("refresh_token".to_owned(), json!(refresh_token));
    }
    if scopes.oidc.contains("openid") {
        let id_token = sign(state, &id_token_claims(&claims, client, user, state))?;
        body.insert("id_token".to_owned(), json!(id_token));
    }
    if client_info_requested {
        let client_info = json!({"uid": user.object_id, "utid": client.tenant_id.to_string()});
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(client_info.to_string().as_bytes());
        body.insert("client_info".to_owned(), json!(encoded));
    }
    Ok(Value::Object(body))
}

/// An ID token: the user's identity for the client itself (`aud` = client id,
/// so Graph refuses it as a bearer token).
fn id_token_claims(
    access: &AccessClaims,
    client: &ClientInTenant,
    user: &SignedInUser,
    state: &EmulatorState,
) -> AccessClaims {
    let mut claims = access.clone();
    claims.aud = client.client_id.clone();
    claims.iss = format!("{}/{}/v2.0", state.base_url(), client.tenant_id);
    claims.scp = None;
    claims.ver = "2.0".to_owned();
    claims.upn = Some(user.upn.clone());
    claims
}

/// Entra's `sub` is pairwise: stable per user and app, different across apps.
pub fn pairwise_subject(user_object_id: &str, client_id: &str) -> String {
    let digest = sha2::Sha256::digest(format!("{user_object_id}|{client_id}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..24])
}

/// `grant_type=refresh_token`.
pub fn refresh_token_grant(
    state: &EmulatorState,
    request: &LoginRequest,
) -> Result<Value, EntraError> {
    let client_id = required(&request.form, "client_id")?;
    let refresh_token = required(&request.form, "refresh_token")?;
    let (delegated_tenant, client) = authenticated_client(
        state,
        request,
        client_id,
        ClientLookup::Delegated,
        CredentialRule::PublicClientAllowed,
    )?;
    let grant = state
        .identity
        .refresh_grant(refresh_token)
        .ok_or_else(entra_errors::refresh_token_invalid)?;
    if let DelegatedTenant::Tenant(tenant_id) = delegated_tenant {
        if grant.tenant_id != tenant_id {
            return Err(entra_errors::refresh_token_invalid());
        }
    }
    if !grant.client_id.eq_ignore_ascii_case(&client.client_id) {
        return Err(entra_errors::refresh_token_other_client());
    }
    if grant.revoked {
        return Err(entra_errors::refresh_token_revoked(grant.issued_at));
    }
    let now = state.clock.unix_now();
    if now - grant.issued_at > REFRESH_TOKEN_INACTIVE_DAYS * 86_400 {
        return Err(entra_errors::refresh_token_inactive(
            grant.issued_at,
            REFRESH_TOKEN_INACTIVE_DAYS,
        ));
    }
    let requested_scope = request.form.get("scope").map(String::as_str).unwrap_or("");
    let mut scopes = resolve_scopes(state, requested_scope, &client, &request.base_url)?;
    if scopes.permissions.is_empty() {
        scopes.permissions = grant.scopes.clone();
    }
    if !scopes.permissions.is_subset(&grant.scopes) {
        return Err(entra_errors::consent_missing(&client.client_id));
    }
    // A refresh always returns a new refresh token.
    scopes.oidc.insert("offline_access".to_owned());
    let client_info = request
        .form
        .get("client_info")
        .is_some_and(|value| value == "1");
    let issuing_client = if grant.tenant_id == client.tenant_id {
        client
    } else {
        find_client(&state.identity, grant.tenant_id, &request.tenant, client_id)?
    };
    issue_delegated_tokens(state, &issuing_client, &grant.user, &scopes, client_info)
}

fn refresh_token_key(refresh_token: &str) -> [u8; 32] {
    sha2::Sha256::digest(refresh_token.as_bytes()).into()
}

impl IdentityStore {
    /// Stores a grant and returns its new opaque refresh token.
    fn store_refresh_token(&self, grant: RefreshGrant) -> String {
        let mut random = [0_u8; 64];
        rand::thread_rng().fill_bytes(&mut random);
        let token = format!(
            "1.A{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
        );
        lock(&self.refresh_tokens).insert(refresh_token_key(&token), grant);
        token
    }

    fn refresh_grant(&self, refresh_token: &str) -> Option<RefreshGrant> {
        lock(&self.refresh_tokens)
            .get(&refresh_token_key(refresh_token))
            .cloned()
    }

    /// Revokes every refresh token of `upn` in the tenant (as "revoke
    /// sessions" does). Returns how many were revoked.
    pub fn revoke_refresh_tokens(&self, tenant_id: Uuid, upn: &str) -> usize {
        let mut revoked = 0;
        for grant in lock(&self.refresh_tokens).values_mut() {
            if grant.tenant_id == tenant_id
                && grant.user.upn.eq_ignore_ascii_case(upn)
                && !grant.revoked
            {
                grant.revoked = true;
                revoked += 1;
            }
        }
        revoked
    }
}
