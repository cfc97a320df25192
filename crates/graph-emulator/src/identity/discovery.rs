//! What clients (MSAL and others) read before they ask for a token: the
//! OpenID Connect configuration per tenant, the JWKS that verifies the
//! emulator's tokens, and the instance discovery answer.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::client_auth::{request_base_url, resolve_tenant_segment};
use crate::errors::EntraError;
use crate::{AppState, EmulatorState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(keys))
        .route("/{tenant}/discovery/keys", get(keys))
        .route("/common/discovery/instance", get(instance_discovery))
}

/// The tenant segment of a discovery URL: a known tenant as GUID, or a
/// multi-tenant alias kept as is.
fn discovery_tenant(state: &EmulatorState, tenant: &str) -> Result<String, EntraError> {
    let lowered = tenant.to_ascii_lowercase();
    if matches!(lowered.as_str(), "common" | "organizations" | "consumers") {
        return Ok(lowered);
    }
    let tenant_id = resolve_tenant_segment(&state.identity, tenant)?;
    Ok(tenant_id.to_string())
}

async fn openid_configuration(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let tenant_segment = match discovery_tenant(&state, &tenant) {
        Ok(segment) => segment,
        Err(error) => return error.into_response(),
    };
    let base = request_base_url(&state, &headers);
    Json(openid_document(&base, &tenant_segment)).into_response()
}

/// Entra's v2.0 OpenID configuration, with every endpoint on the emulator.
pub fn openid_document(base: &str, tenant_segment: &str) -> Value {
    let host = base.split("://").nth(1).unwrap_or(base);
    // Multi-tenant documents carry the `{tenantid}` placeholder, as Entra's do.
    let issuer_tenant = if tenant_segment.contains('-') {
        tenant_segment
    } else {
        "{tenantid}"
    };
    json!({
        "token_endpoint": format!("{base}/{tenant_segment}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tenant_segment}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{issuer_tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{tenant_segment}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tenant_segment}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{tenant_segment}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{base}/{tenant_segment}/kerberos"),
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": host,
        "rbac_url": "https://pas.windows.net",
    })
}

async fn keys(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    if let Err(error) = discovery_tenant(&state, &tenant) {
        return error.into_response();
    }
    Json(state.signer.jwks()).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct InstanceDiscoveryQuery {
    authorization_endpoint: Option<String>,
}

/// `GET /common/discovery/instance`: tells a client that the emulator's host
/// is a valid authority and where its tenant's OpenID configuration is.
async fn instance_discovery(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<InstanceDiscoveryQuery>,
) -> Json<Value> {
    let request_base = request_base_url(&state, &headers);
    // The authorization endpoint names the authority the client was given:
    // `{scheme}://{host}/{tenant}/oauth2/v2.0/authorize`.
    let (base, tenant) = query
        .authorization_endpoint
        .as_deref()
        .and_then(|endpoint| url::Url::parse(endpoint).ok())
        .map(|endpoint| {
            let base = endpoint.origin().ascii_serialization();
            let tenant = endpoint
                .path_segments()
                .and_then(|mut segments| segments.next().map(str::to_owned))
                .filter(|segment| !segment.is_empty())
                .unwrap_or_else(|| "common".to_owned());
            (base, tenant)
        })
        .unwrap_or_else(|| (request_base.clone(), "common".to_owned()));
    let host = base.split("://").nth(1).unwrap_or(&base).to_owned();
    Json(json!({
        "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{
            "preferred_network": host,
            "preferred_cache": host,
            "aliases": [host],
        }],
    }))
}
