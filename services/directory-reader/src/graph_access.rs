//! One Graph client per tenant, drawing `directory` tokens from the auth-broker.

use std::collections::HashMap;
use std::sync::Arc;

use galsync_auth_broker::client::BrokerTokenSource;
use galsync_graph::{GraphClient, GraphClientConfig, RetryPolicy, TokenSource};
use galsync_proto::v1;
use tokio::sync::Mutex;
use tonic::transport::Channel;

use crate::error::{Error, Result};

/// Graph clients by tenant, created on first use and kept.
#[derive(Debug)]
pub struct GraphAccess {
    broker: Channel,
    http: reqwest::Client,
    retry: RetryPolicy,
    clients: Mutex<HashMap<String, GraphClient>>,
}

impl GraphAccess {
    pub fn new(broker: Channel, http: reqwest::Client) -> Self {
        Self {
            broker,
            http,
            retry: RetryPolicy::default(),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant's Graph client (base URL as the broker says), one per tenant.
    pub async fn client(&self, tenant_id: &str) -> Result<GraphClient> {
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(tenant_id) {
            return Ok(client.clone());
        }
        let tokens =
            BrokerTokenSource::new(self.broker.clone(), tenant_id, v1::TokenPurpose::Directory);
        let graph_base_url = tokens
            .graph_base_url()
            .await
            .map_err(|error| Error::graph(tenant_id, error.into()))?;
        let token_source: Arc<dyn TokenSource> = Arc::new(tokens);
        let config = GraphClientConfig {
            base_url: graph_base_url,
            retry: self.retry.clone(),
        };
        let client = GraphClient::new(self.http.clone(), config, token_source)
            .map_err(|error| Error::graph(tenant_id, error))?;
        clients.insert(tenant_id.to_owned(), client.clone());
        Ok(client)
    }
}
