//! The writer's shared parts: the store, Graph clients per tenant (tokens
//! from the auth-broker), per-mailbox pacers, the snapshot source.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use galsync_auth_broker::client::BrokerTokenSource;
use galsync_graph::{
    GraphClient, GraphClientConfig, HttpOptions, RequestStats, RetryPolicy, TokenSource,
};
use galsync_proto::v1;
use tonic::transport::Channel;

use crate::coalesce::Coalescer;
use crate::concurrency::MailboxConcurrency;
use crate::error::Error;
use crate::mailbox::{MailboxGraph, Tally};
use crate::pacing::{Pacers, PacingConfig};
use crate::snapshot::{PhotoBytes, PhotoMap, SnapshotSource};
use crate::store::WriterStore;

/// Where photos come from during one reconciliation.
pub trait PhotoSource: Send + Sync {
    fn photo<'a>(&'a self, photo_hash: &'a str) -> BoxFuture<'a, Result<PhotoBytes, Error>>;
}

impl PhotoSource for SnapshotSource {
    fn photo<'a>(&'a self, photo_hash: &'a str) -> BoxFuture<'a, Result<PhotoBytes, Error>> {
        Box::pin(SnapshotSource::photo(self, photo_hash))
    }
}

impl PhotoSource for PhotoMap {
    fn photo<'a>(&'a self, photo_hash: &'a str) -> BoxFuture<'a, Result<PhotoBytes, Error>> {
        let found = self.get(photo_hash).cloned();
        Box::pin(async move {
            found.ok_or_else(|| Error::SnapshotUnavailable {
                snapshot_id: format!("photo {photo_hash}"),
                reason: "unknown photo hash".to_owned(),
            })
        })
    }
}

/// Settings of the reconciliation engine.
#[derive(Debug, Clone, Copy)]
pub struct EngineSettings {
    pub pacing: PacingConfig,
    /// Sub-requests per `$batch` (≤ 20).
    pub batch_size: usize,
    /// How long a partial batch waits for other mailboxes' sub-requests to
    /// share its call (zero: mailboxes never share a call).
    pub batch_linger: Duration,
    /// Mailboxes reconciled at once at start, and the most ever
    /// ([`MailboxConcurrency`] finds how many Graph allows in between).
    pub mailboxes_at_start: usize,
    pub max_mailboxes: usize,
}

/// The default [`EngineSettings::batch_linger`]: short next to a Graph round
/// trip, long enough for mailboxes reconciled side by side to meet.
pub const DEFAULT_BATCH_LINGER: Duration = Duration::from_millis(10);

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            pacing: PacingConfig::default(),
            batch_size: 20,
            batch_linger: DEFAULT_BATCH_LINGER,
            mailboxes_at_start: 8,
            max_mailboxes: 512,
        }
    }
}

/// A tenant's Graph client and its shared batches.
#[derive(Debug, Clone)]
struct TenantGraph {
    client: GraphClient,
    batches: Arc<Coalescer>,
}

/// Everything a reconciliation needs, shared by the RPCs and the work loop.
pub struct Engine {
    pub store: WriterStore,
    pub settings: EngineSettings,
    pub pacers: Pacers,
    pub snapshots: SnapshotSource,
    /// How many mailboxes the work loop reconciles at once.
    pub concurrency: Arc<MailboxConcurrency>,
    http: reqwest::Client,
    broker: Channel,
    tenants: tokio::sync::Mutex<HashMap<String, TenantGraph>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Engine")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// `broker` and `reader` are channels to the auth-broker and the
    /// directory-reader (connected lazily).
    pub fn new(
        store: WriterStore,
        broker: Channel,
        reader: Channel,
        settings: EngineSettings,
    ) -> Result<Self, Error> {
        let http = HttpOptions::default()
            .build_client()
            .map_err(|error| Error::GraphSetup {
                tenant_id: String::new(),
                reason: error.to_string(),
            })?;
        Ok(Self {
            store,
            settings,
            pacers: Pacers::new(settings.pacing),
            snapshots: SnapshotSource::new(reader),
            concurrency: MailboxConcurrency::new(
                settings.mailboxes_at_start,
                settings.max_mailboxes,
            ),
            http,
            broker,
            tenants: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Graph for one mailbox of a tenant (`contacts` tokens from the
    /// broker), paced, counting into fresh stats.
    pub async fn mailbox(&self, tenant_id: &str, mailbox_id: &str) -> Result<MailboxGraph, Error> {
        let user = galsync_graph::UserKey::parse("mailbox_id", mailbox_id)
            .map_err(|error| Error::InvalidRequest(error.to_string()))?;
        let tenant = self.tenant(tenant_id).await?;
        Ok(MailboxGraph {
            graph: tenant.client.with_stats(Arc::new(RequestStats::new())),
            pacer: self.pacers.for_mailbox(tenant_id, mailbox_id),
            mailbox_id: mailbox_id.to_owned(),
            user,
            batches: tenant.batches,
            tally: Arc::new(Tally::default()),
            concurrency: Arc::clone(&self.concurrency),
        })
    }

    async fn tenant(&self, tenant_id: &str) -> Result<TenantGraph, Error> {
        let mut tenants = self.tenants.lock().await;
        if let Some(tenant) = tenants.get(tenant_id) {
            return Ok(tenant.clone());
        }
        let setup_error = |reason: String| Error::GraphSetup {
            tenant_id: tenant_id.to_owned(),
            reason,
        };
        let tokens = BrokerTokenSource::new(
            self.broker.clone(),
            tenant_id.to_owned(),
            v1::TokenPurpose::Contacts,
        );
        let base_url = tokens
            .graph_base_url()
            .await
            .map_err(|error| setup_error(error.to_string()))?;
        let token_source: Arc<dyn TokenSource> = Arc::new(tokens);
        let config = GraphClientConfig {
            base_url,
            retry: RetryPolicy::default(),
        };
        let client = GraphClient::new(self.http.clone(), config, token_source)
            .map_err(|error| setup_error(error.to_string()))?;
        let tenant = TenantGraph {
            client,
            batches: Coalescer::new(self.settings.batch_linger),
        };
        tenants.insert(tenant_id.to_owned(), tenant.clone());
        Ok(tenant)
    }
}
