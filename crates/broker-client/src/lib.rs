//! The caller's side of the auth-broker, for the directory-reader and the
//! contact-writer: Graph tokens drawn over gRPC ([`BrokerTokenSource`]) and
//! one Graph client per tenant built on them ([`GraphClients`]). These
//! services hold no credential, so they link none of the broker's
//! credential code (sealing, certificates, its store): only this crate.

mod token_source;

use std::collections::HashMap;
use std::sync::Arc;

use galsync_graph::{GraphClient, GraphClientConfig, GraphError, RetryPolicy, TokenSource};
use galsync_proto::v1;
use tokio::sync::Mutex;
use tonic::transport::Channel;

pub use token_source::BrokerTokenSource;

/// Graph clients by tenant for one token purpose, each made on first use
/// (at the Graph base URL the broker names for the tenant) and kept.
#[derive(Debug)]
pub struct GraphClients {
    broker: Channel,
    http: reqwest::Client,
    purpose: v1::TokenPurpose,
    retry: RetryPolicy,
    clients: Mutex<HashMap<String, GraphClient>>,
}

impl GraphClients {
    /// `broker` is a channel to the auth-broker; `http` the client every
    /// tenant's Graph requests share.
    pub fn new(broker: Channel, http: reqwest::Client, purpose: v1::TokenPurpose) -> Self {
        Self {
            broker,
            http,
            purpose,
            retry: RetryPolicy::default(),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant's Graph client. Making one asks the broker for a token
    /// (and so its Graph base URL); an error says why the broker or Graph
    /// setup refused.
    pub async fn client(&self, tenant_id: &str) -> Result<GraphClient, GraphError> {
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(tenant_id) {
            return Ok(client.clone());
        }
        let tokens = BrokerTokenSource::new(self.broker.clone(), tenant_id, self.purpose);
        let base_url = tokens.graph_base_url().await?;
        let token_source: Arc<dyn TokenSource> = Arc::new(tokens);
        let config = GraphClientConfig {
            base_url,
            retry: self.retry.clone(),
        };
        let client = GraphClient::new(self.http.clone(), config, token_source)?;
        clients.insert(tenant_id.to_owned(), client.clone());
        Ok(client)
    }
}
