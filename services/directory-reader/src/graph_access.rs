//! One Graph client per tenant, drawing `directory` tokens from the auth-broker.

use galsync_broker_client::GraphClients;
use galsync_graph::GraphClient;
use galsync_proto::v1;
use tonic::transport::Channel;

use crate::error::{Error, Result};

/// The reader's Graph clients by tenant (see [`GraphClients`]).
#[derive(Debug)]
pub struct GraphAccess {
    clients: GraphClients,
}

impl GraphAccess {
    pub fn new(broker: Channel, http: reqwest::Client) -> Self {
        Self {
            clients: GraphClients::new(broker, http, v1::TokenPurpose::Directory),
        }
    }

    /// The tenant's Graph client (base URL as the broker says), one per tenant.
    pub async fn client(&self, tenant_id: &str) -> Result<GraphClient> {
        self.clients
            .client(tenant_id)
            .await
            .map_err(|error| Error::graph(tenant_id, error))
    }
}
