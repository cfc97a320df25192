//! Access tokens and the [`TokenSource`] a [`crate::GraphClient`] draws them from.

use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// A bearer token for Graph. The value never prints.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The bearer value (redacted in `Debug`).
    pub value: SecretString,
    pub expires_at: DateTime<Utc>,
    /// App permissions granted (`roles` claim), for diagnostics only: read
    /// without verifying the token.
    pub roles: Vec<String>,
    /// Delegated scopes (`scp` claim) of a delegated token.
    pub scopes: Vec<String>,
    /// The tenant (`tid` claim), when the token is a JWT.
    pub tenant_id: Option<String>,
}

#[derive(Deserialize, Default)]
struct UnverifiedClaims {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    scp: Option<String>,
    #[serde(default)]
    tid: Option<String>,
}

impl AccessToken {
    /// Wraps a token value; claims are read from its payload when it is a
    /// JWT (unverified, diagnostics only) and left empty otherwise.
    pub fn new(value: SecretString, expires_at: DateTime<Utc>) -> Self {
        let claims = decode_unverified_claims(value.expose_secret()).unwrap_or_default();
        let scopes = claims
            .scp
            .map(|scp| scp.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        Self {
            value,
            expires_at,
            roles: claims.roles,
            scopes,
            tenant_id: claims.tid,
        }
    }

    /// Whether the token expires within `margin` from now.
    pub fn expires_within(&self, margin: chrono::Duration) -> bool {
        self.expires_at - Utc::now() <= margin
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles
            .iter()
            .any(|granted| granted.eq_ignore_ascii_case(role))
    }
}

fn decode_unverified_claims(token: &str) -> Option<UnverifiedClaims> {
    let payload = token.split('.').nth(1)?;
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&decoded).ok()
}

/// Why a caller asks for a fresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidationReason {
    /// The Graph status that caused it (401 or 403).
    pub status: u16,
    /// The Graph error code, e.g. `InvalidAuthenticationToken`.
    pub code: String,
}

impl std::fmt::Display for InvalidationReason {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "graph returned {} {}", self.status, self.code)
    }
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The identity platform refused or could not be reached: an
    /// [`crate::identity::IdentityError`], boxed so that this module, which
    /// the identity module builds on, does not depend on it.
    #[error(transparent)]
    Identity(Box<dyn std::error::Error + Send + Sync>),

    /// Any other source (e.g. the auth-broker over gRPC).
    #[error("token source failed: {message}")]
    Source {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

/// Supplies access tokens to a [`crate::GraphClient`]: the auth-broker client
/// in services, [`crate::identity::CachedTokenSource`] or
/// [`StaticTokenSource`] elsewhere.
pub trait TokenSource: Send + Sync + 'static {
    /// A token valid for at least a few minutes.
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, TokenError>>;

    /// Drop any cached token: Graph refused it (permissions changed, revoked).
    fn invalidate(&self, reason: InvalidationReason) -> BoxFuture<'_, ()>;
}

impl<T: TokenSource + ?Sized> TokenSource for Arc<T> {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, TokenError>> {
        (**self).token()
    }

    fn invalidate(&self, reason: InvalidationReason) -> BoxFuture<'_, ()> {
        (**self).invalidate(reason)
    }
}

/// Always the same token; invalidation is ignored. For tests and tools.
#[derive(Debug, Clone)]
pub struct StaticTokenSource {
    token: AccessToken,
}

impl StaticTokenSource {
    pub fn new(token: AccessToken) -> Self {
        Self { token }
    }
}

impl TokenSource for StaticTokenSource {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, TokenError>> {
        let token = self.token.clone();
        Box::pin(async move { Ok(token) })
    }

    fn invalidate(&self, _reason: InvalidationReason) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_read_from_a_jwt_payload() {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = engine
            .encode(br#"{"roles":["User.Read.All","Contacts.ReadWrite"],"tid":"t-1","scp":"a b"}"#);
        let value = format!("e30.{payload}.c2ln");
        let token = AccessToken::new(SecretString::from(value), Utc::now());
        assert_eq!(token.roles, vec!["User.Read.All", "Contacts.ReadWrite"]);
        assert!(token.has_role("contacts.readwrite"));
        assert_eq!(token.scopes, vec!["a", "b"]);
        assert_eq!(token.tenant_id.as_deref(), Some("t-1"));
    }

    #[test]
    fn opaque_tokens_have_no_claims() {
        let token = AccessToken::new(SecretString::from("opaque"), Utc::now());
        assert!(token.roles.is_empty());
        assert_eq!(token.tenant_id, None);
    }
}
