//! The writer's shared parts: the store, Graph clients per tenant (tokens
//! from the auth-broker), per-mailbox pacers, the snapshot source.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use galsync_broker_client::GraphClients;
use galsync_graph::{Deadline, HttpOptions, RequestStats};
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

/// Everything a reconciliation needs, shared by the RPCs and the work loop.
pub struct Engine {
    pub store: WriterStore,
    pub settings: EngineSettings,
    pub pacers: Pacers,
    pub snapshots: SnapshotSource,
    /// How many mailboxes the work loop reconciles at once.
    pub concurrency: Arc<MailboxConcurrency>,
    /// Served on `--metrics-listen`.
    pub metrics: crate::metrics::WriterMetrics,
    /// Graph clients by tenant, on `contacts` tokens from the broker.
    graph: GraphClients,
    /// Each tenant's batches, shared by its mailboxes.
    batches: tokio::sync::Mutex<HashMap<String, Arc<Coalescer>>>,
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
            metrics: crate::metrics::WriterMetrics::default(),
            graph: GraphClients::new(broker, http, v1::TokenPurpose::Contacts),
            batches: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Graph for one mailbox of a tenant (`contacts` tokens from the
    /// broker), paced, counting into fresh stats; under a work item's
    /// `lease`, nothing is sent to Graph once it is about to lapse.
    pub async fn mailbox(
        &self,
        tenant_id: &str,
        mailbox_id: &str,
        lease: Option<Deadline>,
    ) -> Result<MailboxGraph, Error> {
        let user = galsync_graph::UserKey::parse("mailbox_id", mailbox_id)
            .map_err(|error| Error::InvalidRequest(error.to_string()))?;
        let client = self
            .graph
            .client(tenant_id)
            .await
            .map_err(|error| Error::GraphSetup {
                tenant_id: tenant_id.to_owned(),
                reason: error.to_string(),
            })?;
        let batches = Arc::clone(
            self.batches
                .lock()
                .await
                .entry(tenant_id.to_owned())
                .or_insert_with(|| Coalescer::new(self.settings.batch_linger)),
        );
        let client = match lease {
            Some(lease) => client.with_deadline(lease),
            None => client,
        };
        Ok(MailboxGraph {
            graph: client.with_stats(Arc::new(RequestStats::new())),
            pacer: self.pacers.for_mailbox(tenant_id, mailbox_id),
            mailbox_id: mailbox_id.to_owned(),
            user,
            batches,
            tally: Arc::new(Tally::default()),
            concurrency: Arc::clone(&self.concurrency),
        })
    }
}
