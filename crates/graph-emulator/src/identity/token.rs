//! `POST /{tenant}/oauth2/v2.0/token`: grant dispatch and the
//! `client_credentials` grant. The access tokens themselves: [`super::access_token`].

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use super::access_token::{
    base_claims, is_graph_resource, sign, token_lifetime_secs, token_response,
};
use super::client_auth::{
    authenticated_client, merge_basic_credentials, parse_form, request_base_url, required,
    resolve_tenant_segment, ClientLookup, CredentialRule, LoginRequest,
};
use super::{authorization_code, delegated, device, entra_errors};
use crate::errors::EntraError;
use crate::{AppState, EmulatorState};

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

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

fn handle_token_request(
    state: &EmulatorState,
    request: &LoginRequest,
) -> Result<Value, EntraError> {
    let grant_type = required(&request.form, "grant_type")?;
    match grant_type {
        "client_credentials" => client_credentials_grant(state, request),
        "refresh_token" => delegated::refresh_token_grant(state, request),
        "authorization_code" => authorization_code::authorization_code_grant(state, request),
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
