//! A [`TokenSource`] that requests app-only tokens itself and caches them.

use futures::future::BoxFuture;
use tokio::sync::Mutex;
use tracing::info;

use super::{ClientCredential, IdentityClient};
use crate::token::{AccessToken, InvalidationReason, TokenError, TokenSource};

/// Client-credentials tokens, cached and refreshed ahead of expiry. Concurrent
/// callers share one token request (single flight).
#[derive(Debug)]
pub struct CachedTokenSource {
    identity: IdentityClient,
    client_id: String,
    credential: ClientCredential,
    refresh_ahead: chrono::Duration,
    cached: Mutex<Option<AccessToken>>,
}

impl CachedTokenSource {
    /// Refreshes 5 minutes before expiry.
    pub fn new(
        identity: IdentityClient,
        client_id: impl Into<String>,
        credential: ClientCredential,
    ) -> Self {
        Self {
            identity,
            client_id: client_id.into(),
            credential,
            refresh_ahead: chrono::Duration::minutes(5),
            cached: Mutex::new(None),
        }
    }

    pub fn with_refresh_ahead(mut self, refresh_ahead: chrono::Duration) -> Self {
        self.refresh_ahead = refresh_ahead;
        self
    }
}

impl TokenSource for CachedTokenSource {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, TokenError>> {
        Box::pin(async move {
            // Holding the lock across the request is the single flight.
            let mut cached = self.cached.lock().await;
            if let Some(token) = cached.as_ref() {
                if !token.expires_within(self.refresh_ahead) {
                    return Ok(token.clone());
                }
            }
            let token = self
                .identity
                .client_credentials(&self.client_id, &self.credential)
                .await?;
            *cached = Some(token.clone());
            Ok(token)
        })
    }

    fn invalidate(&self, reason: InvalidationReason) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            info!(client_id = %self.client_id, %reason, "dropping the cached graph token");
            *self.cached.lock().await = None;
        })
    }
}
