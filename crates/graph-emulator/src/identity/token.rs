//! `POST /{tenant}/oauth2/v2.0/token`: grant dispatch, the
//! `client_credentials` grant, and the access tokens the emulator issues.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rand::Rng;
use serde_json::{json, Value};
use uuid::Uuid;

use super::client_auth::{
    authenticated_client, merge_basic_credentials, parse_form, request_base_url, required,
    resolve_tenant_segment, ClientLookup, CredentialRule, LoginRequest,
};
use super::{authorize, delegated, device, entra_errors};
use crate::errors::EntraError;
use crate::tokens::{AccessClaims, GRAPH_AUDIENCE};
use crate::{AppState, EmulatorState};

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The Graph application id, accepted as a resource name in scopes.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/{tenant}/oauth2/v2.0/token",
        post(token_endpoint).get(token_endpoint_with_get),
    )
}

async fn token_endpoint(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut form = parse_form(&body);
    merge_basic_credentials(&headers, &mut form);
    let request = LoginRequest {
        tenant,
        form,
        base_url: request_base_url(&state, &headers),
    };
    // Verifying an RSA assertion and signing a token are CPU work: keep them
    // off the async workers.
    let worker_state = state.clone();
    let outcome =
        tokio::task::spawn_blocking(move || handle_token_request(&worker_state, &request)).await;
    match outcome {
        Ok(Ok(answer)) => token_response(answer),
        Ok(Err(error)) => error.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Entra answers a GET on the token endpoint with AADSTS900561.
async fn token_endpoint_with_get() -> Response {
    EntraError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900561,
        "The endpoint only accepts POST requests. Received a GET request.",
    )
    .into_response()
}

/// A successful token answer, uncacheable as Entra sends it.
pub fn token_response(body: Value) -> Response {
    let mut response = (StatusCode::OK, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn handle_token_request(
    state: &EmulatorState,
    request: &LoginRequest,
) -> Result<Value, EntraError> {
    let grant_type = required(&request.form, "grant_type")?;
    match grant_type {
        "client_credentials" => client_credentials_grant(state, request),
        "refresh_token" => delegated::refresh_token_grant(state, request),
        "authorization_code" => authorize::authorization_code_grant(state, request),
        DEVICE_CODE_GRANT => device::device_code_grant(state, request),
        other => Err(entra_errors::unsupported_grant_type(other)),
    }
}

fn client_credentials_grant(
    state: &EmulatorState,
    request: &LoginRequest,
) -> Result<Value, EntraError> {
    let tenant_id = resolve_tenant_segment(&state.identity, &request.tenant)?;
    let client_id = required(&request.form, "client_id")?;
    let scope = required(&request.form, "scope")?;
    let (_, client) = authenticated_client(
        state,
        request,
        client_id,
        ClientLookup::InTenant(tenant_id),
        CredentialRule::Required,
    )?;
    if !is_graph_default_scope(state, scope, &request.base_url) {
        return Err(entra_errors::invalid_scope(scope));
    }
    let now = state.clock.unix_now();
    let lifetime = token_lifetime_secs(state);
    let mut claims = base_claims(now, lifetime, tenant_id, &client.client_id);
    claims.roles = client.granted_roles.clone();
    claims.idtyp = "app".to_owned();
    claims.oid = client.service_principal_id.to_string();
    claims.sub = client.service_principal_id.to_string();
    let access_token = sign(state, &claims)?;
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    }))
}

/// Whether `scope` is exactly one `{graph}/.default`.
fn is_graph_default_scope(state: &EmulatorState, scope: &str, request_base_url: &str) -> bool {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let [only] = scopes.as_slice() else {
        return false;
    };
    let Some(resource) = only.strip_suffix("/.default") else {
        return false;
    };
    is_graph_resource(state, resource, request_base_url)
}

/// Whether `resource` names Microsoft Graph: its URL, its app id, or the emulator.
pub fn is_graph_resource(state: &EmulatorState, resource: &str, request_base_url: &str) -> bool {
    let resource = resource.trim_end_matches('/');
    [
        GRAPH_AUDIENCE,
        GRAPH_APP_ID,
        state.base_url(),
        request_base_url,
    ]
    .iter()
    .any(|known| known.trim_end_matches('/').eq_ignore_ascii_case(resource))
}

/// Access token lifetime: the configured one, else 60–90 minutes at random, as Entra.
pub fn token_lifetime_secs(state: &EmulatorState) -> i64 {
    match state.config.token_lifetime {
        Some(lifetime) => i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2),
        None => rand::thread_rng().gen_range(3600..=5400),
    }
}

/// Claims every emulator access token carries; callers fill in the subject.
pub fn base_claims(now: i64, lifetime_secs: i64, tenant_id: Uuid, client_id: &str) -> AccessClaims {
    AccessClaims {
        aud: GRAPH_AUDIENCE.to_owned(),
        iss: format!("https://sts.windows.net/{tenant_id}/"),
        iat: now,
        nbf: now,
        exp: now + lifetime_secs,
        tid: tenant_id.to_string(),
        appid: client_id.to_owned(),
        roles: Vec::new(),
        scp: None,
        idtyp: "app".to_owned(),
        oid: String::new(),
        sub: String::new(),
        upn: None,
        uti: Uuid::new_v4().simple().to_string(),
        ver: "1.0".to_owned(),
    }
}

pub fn sign<C: serde::Serialize>(state: &EmulatorState, claims: &C) -> Result<String, EntraError> {
    state.signer.sign(claims).map_err(|error| {
        tracing::error!(%error, "failed to sign an access token");
        EntraError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            50000,
            "There was an error issuing a token.",
        )
    })
}
