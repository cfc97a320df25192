//! Bearer-token checks on every Graph call: signature, lifetime, tenant; then
//! handlers check the permission their endpoint needs.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::errors::GraphError;
use crate::tokens::{AccessClaims, TokenRejection};
use crate::AppState;

/// The verified caller of a Graph endpoint.
#[derive(Debug, Clone)]
pub struct GraphCaller {
    pub claims: AccessClaims,
    /// The tenant the token was issued in.
    pub tenant_id: uuid::Uuid,
}

impl GraphCaller {
    /// 403 `Authorization_RequestDenied` unless the token has one of `permissions`
    /// (directory endpoints).
    pub fn require_directory(&self, permissions: &[&str]) -> Result<(), GraphError> {
        if self.claims.has_any(permissions) {
            Ok(())
        } else {
            Err(GraphError::authorization_denied())
        }
    }

    /// 403 `ErrorAccessDenied` unless the token has one of `permissions`
    /// (Exchange endpoints).
    pub fn require_mailbox(&self, permissions: &[&str]) -> Result<(), GraphError> {
        if self.claims.has_any(permissions) {
            Ok(())
        } else {
            Err(GraphError::access_denied(
                "Access is denied. Check credentials and try again.",
            ))
        }
    }
}

/// Reads and verifies the bearer token of a request.
pub fn authenticate(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<GraphCaller, GraphError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(GraphError::unauthorized("Access token is empty."));
    };
    let Some(token) = value
        .to_str()
        .ok()
        .and_then(|text| text.strip_prefix("Bearer "))
    else {
        return Err(GraphError::unauthorized(
            "Access token validation failure. Invalid audience.",
        ));
    };
    let claims = match state.signer.verify(token.trim(), state.clock.unix_now()) {
        Ok(claims) => claims,
        Err(TokenRejection::Expired) => {
            return Err(GraphError::unauthorized(
                "Lifetime validation failed, the token is expired.",
            ))
        }
        Err(TokenRejection::NotYetValid) => {
            return Err(GraphError::unauthorized(
                "Lifetime validation failed, the token is not yet valid.",
            ))
        }
        Err(TokenRejection::WrongAudience) => {
            return Err(GraphError::unauthorized(
                "Access token validation failure. Invalid audience.",
            ))
        }
        Err(TokenRejection::BadSignature) | Err(TokenRejection::Malformed) => {
            return Err(GraphError::unauthorized(
                "Access token validation failure. Invalid signature.",
            ))
        }
    };
    let Ok(tenant_id) = claims.tid.parse::<uuid::Uuid>() else {
        return Err(GraphError::unauthorized(
            "Access token validation failure. Invalid tenant.",
        ));
    };
    if !state.identity.tenant_exists(tenant_id) {
        return Err(GraphError::unauthorized(
            "Access token validation failure. Invalid tenant.",
        ));
    }
    Ok(GraphCaller { claims, tenant_id })
}

impl FromRequestParts<AppState> for GraphCaller {
    type Rejection = GraphError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(state, &parts.headers)
    }
}
