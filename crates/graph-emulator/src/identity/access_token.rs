//! The access tokens the emulator issues: their claims, lifetime and
//! signature, and the uncacheable answer that carries them. Every grant
//! (client credentials, refresh token, authorization code, device code)
//! builds on this.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde_json::Value;
use uuid::Uuid;

use crate::errors::EntraError;
use crate::tokens::{AccessClaims, GRAPH_AUDIENCE};
use crate::EmulatorState;

/// The Graph application id, accepted as a resource name in scopes.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

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
