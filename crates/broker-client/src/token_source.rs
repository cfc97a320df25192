//! The client side of the broker for the services that need Graph tokens: a
//! [`TokenSource`] backed by `GetGraphToken`, caching the token until five
//! minutes before it expires and calling `InvalidateToken` when Graph refuses it.

use galsync_platform::telemetry::{traced, Traced};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use futures::future::BoxFuture;
use galsync_graph::{AccessToken, InvalidationReason, TokenError, TokenSource};
use galsync_proto::v1;
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use secrecy::SecretString;
use tonic::transport::Channel;

const REFRESH_AHEAD: chrono::Duration = chrono::Duration::minutes(5);

#[derive(Debug, Clone)]
struct Cached {
    token: AccessToken,
    graph_base_url: String,
}

/// Graph tokens for one tenant and purpose, from the auth-broker.
#[derive(Debug, Clone)]
pub struct BrokerTokenSource {
    client: AuthBrokerClient<Traced>,
    tenant_id: String,
    purpose: v1::TokenPurpose,
    cached: Arc<tokio::sync::Mutex<Option<Cached>>>,
}

impl BrokerTokenSource {
    pub fn new(channel: Channel, tenant_id: impl Into<String>, purpose: v1::TokenPurpose) -> Self {
        Self {
            client: AuthBrokerClient::new(traced(channel)),
            tenant_id: tenant_id.into(),
            purpose,
            cached: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// The Graph base URL (with `/v1.0`) the broker says this tenant uses.
    pub async fn graph_base_url(&self) -> Result<String, TokenError> {
        Ok(self.current().await?.graph_base_url)
    }

    async fn current(&self) -> Result<Cached, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(entry) = cached.as_ref() {
            if !entry.token.expires_within(REFRESH_AHEAD) {
                return Ok(entry.clone());
            }
        }
        let request = v1::GetGraphTokenRequest {
            tenant_id: self.tenant_id.clone(),
            purpose: self.purpose as i32,
        };
        let mut delays = galsync_platform::grpc::PEER_RETRY_DELAYS.iter();
        let response = loop {
            let mut client = self.client.clone();
            match client.get_graph_token(request.clone()).await {
                Ok(response) => break response.into_inner(),
                Err(status) if galsync_platform::grpc::peer_went_away(&status) => {
                    // A token still valid serves while the broker is away.
                    if let Some(entry) = cached.as_ref() {
                        if !entry.token.expires_within(chrono::Duration::seconds(30)) {
                            return Ok(entry.clone());
                        }
                    }
                    let Some(delay) = delays.next() else {
                        return Err(refused(self.purpose, &status));
                    };
                    tracing::warn!(error = %status.message(), retry_in_secs = delay.as_secs(), "the auth-broker cannot be reached; trying again");
                    tokio::time::sleep(*delay).await;
                }
                Err(status) => return Err(refused(self.purpose, &status)),
            }
        };
        let expires_at = response
            .expires_at
            .and_then(|at| {
                Utc.timestamp_opt(at.seconds, at.nanos.max(0) as u32)
                    .single()
            })
            .unwrap_or_else(Utc::now);
        let entry = Cached {
            token: AccessToken::new(SecretString::from(response.access_token), expires_at),
            graph_base_url: response.graph_base_url,
        };
        *cached = Some(entry.clone());
        Ok(entry)
    }
}

fn refused(purpose: v1::TokenPurpose, status: &tonic::Status) -> TokenError {
    TokenError::Source {
        message: format!(
            "the auth-broker refused a {} token: {}",
            purpose_name(purpose),
            status.message()
        ),
        source: None,
    }
}

fn purpose_name(purpose: v1::TokenPurpose) -> &'static str {
    match purpose {
        v1::TokenPurpose::Directory => "directory",
        v1::TokenPurpose::Contacts => "contacts",
        v1::TokenPurpose::Unspecified => "unspecified",
    }
}

impl TokenSource for BrokerTokenSource {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, TokenError>> {
        Box::pin(async move { Ok(self.current().await?.token) })
    }

    fn invalidate(&self, reason: InvalidationReason) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.cached.lock().await.take();
            let mut client = self.client.clone();
            let request = v1::InvalidateTokenRequest {
                tenant_id: self.tenant_id.clone(),
                purpose: self.purpose as i32,
                reason: reason.to_string(),
            };
            if let Err(status) = client.invalidate_token(request).await {
                tracing::warn!(error = %status.message(), "the auth-broker did not invalidate the token");
            }
        })
    }
}
