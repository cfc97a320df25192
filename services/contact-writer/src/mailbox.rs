//! One mailbox through Graph, every request paced (single requests and
//! `$batch` calls); the folder (`folders`) and listing it with the ownership
//! property (`listing`) build on it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use galsync_graph::{BatchRequest, BatchResponse, GraphClient, GraphError, GraphRequest};
use serde_json::Value;

use self::batches::MAX_THROTTLED_ROUNDS;
use crate::coalesce::Coalescer;
use crate::concurrency::MailboxConcurrency;
use crate::error::Error;
use crate::pacing::{MailboxPacer, Throttled};

mod batches;
mod folders;
mod listing;

pub(crate) use batches::{chain, run_batch, SubOutcome};
pub use folders::FolderChoice;
pub use listing::{encode_query_value, listed_contact, source_property, ListedContact};

/// What one reconciliation sent, counted by the mailbox itself: a batch
/// shared with other mailboxes is one HTTP request of the run that sent it
/// (its client's stats), while each run counts its own sub-requests here.
#[derive(Debug, Default)]
pub struct Tally {
    pub sub_requests: AtomicU64,
    /// Sub-requests sent again after throttling or a transient failure.
    pub retries: AtomicU64,
}

impl Tally {
    pub fn sub_requests(&self) -> u64 {
        self.sub_requests.load(Ordering::Relaxed)
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

/// Graph for one mailbox, paced.
#[derive(Debug, Clone)]
pub struct MailboxGraph {
    pub graph: GraphClient,
    pub pacer: Arc<MailboxPacer>,
    pub mailbox_id: String,
    /// The mailbox as it goes into Graph paths (checked, encoded).
    pub user: galsync_graph::UserKey,
    /// The tenant's shared `$batch` calls.
    pub batches: Arc<Coalescer>,
    pub tally: Arc<Tally>,
    /// Told of app-wide throttling, so the writer drives fewer mailboxes.
    pub concurrency: Arc<MailboxConcurrency>,
}

impl MailboxGraph {
    /// Tells the writer's mailbox concurrency of a throttle that is not this
    /// mailbox's own limit.
    fn note_throttle(&self, api: &galsync_graph::ApiError) {
        if let Some(retry_after) = api.retry_after.filter(|_| api.is_app_wide_throttle()) {
            self.concurrency.app_throttled(retry_after);
        }
    }

    /// Sets the request counts of what this mailbox sent so far.
    pub fn count_requests(&self, counts: &mut galsync_proto::v1::SyncCounts) {
        let stats = self.graph.stats();
        counts.graph_requests = stats.requests();
        counts.batched_requests = self.tally.sub_requests();
        counts.retries = stats.retries() + self.tally.retries();
    }

    fn error(&self, source: GraphError) -> Error {
        Error::from_graph(&self.mailbox_id, source)
    }

    /// One paced request. Throttling comes back here rather than being
    /// retried inside the Graph client, so the mailbox's pacer holds every
    /// sender to it (batches too) for the Retry-After, then this request is
    /// sent again.
    pub async fn send(&self, request: GraphRequest) -> Result<galsync_graph::GraphResponse, Error> {
        let request = request.with_throttling_to_caller();
        let mut throttled_rounds = 0;
        loop {
            let permit = self.pacer.acquire(1).await;
            let result = self.graph.send(request.clone()).await;
            let (throttled, server_retry_after) = match &result {
                Err(error) => match error.api() {
                    Some(api) if api.is_throttled() => {
                        self.note_throttle(api);
                        // Without a Retry-After: back off, doubling.
                        let retry_after = api
                            .retry_after
                            .unwrap_or_else(|| Duration::from_secs(1 << throttled_rounds.min(6)));
                        (
                            Some(Throttled {
                                refused: 1,
                                retry_after,
                            }),
                            None,
                        )
                    }
                    Some(api) => (None, api.retry_after),
                    None => (None, None),
                },
                Ok(_) => (None, None),
            };
            let again = throttled.is_some() && throttled_rounds < MAX_THROTTLED_ROUNDS;
            self.pacer.finish(permit, throttled);
            if let Some(delay) = server_retry_after {
                self.pacer.pause(delay);
            }
            if again {
                throttled_rounds += 1;
                self.tally.retries.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            return result.map_err(|error| self.error(error));
        }
    }

    async fn get_json(&self, url: &str) -> Result<Value, Error> {
        let response = self.send(GraphRequest::get(url)).await?;
        response.json().map_err(|error| self.error(error))
    }

    /// One paced `$batch`, shared with other mailboxes' when that saves a
    /// round trip (no sub-request retry: the caller decides). The longest
    /// sub-response Retry-After holds the whole mailbox, exactly that long;
    /// only throttling (429) answers cut the mailbox's rate, once per batch.
    pub async fn batch(
        &self,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, GraphError> {
        let count = requests.len() as u32;
        // A chain (each step waits for the one before) holds one of the
        // mailbox's places at Graph, whatever its length.
        let at_once = if batches::is_chain(&requests) {
            1
        } else {
            count
        };
        let permit = self.pacer.acquire_running(count, at_once).await;
        self.tally
            .sub_requests
            .fetch_add(u64::from(count), Ordering::Relaxed);
        let result = self.batches.batch(&self.graph, requests).await;
        let mut throttled: Option<Throttled> = None;
        let mut server_retry_after: Option<Duration> = None;
        match &result {
            Ok(responses) => {
                for response in responses {
                    let Some(retry_after) = response.retry_after() else {
                        continue;
                    };
                    let api_error = response.api_error();
                    if let Some(api_error) = &api_error {
                        self.note_throttle(api_error);
                    }
                    let is_throttled = api_error.is_some_and(|api_error| api_error.is_throttled());
                    if !is_throttled {
                        server_retry_after = server_retry_after.max(Some(retry_after));
                        continue;
                    }
                    let event = throttled.get_or_insert(Throttled {
                        refused: 0,
                        retry_after,
                    });
                    event.refused += 1;
                    event.retry_after = event.retry_after.max(retry_after);
                }
            }
            Err(error) => match error.api() {
                Some(api) if api.is_throttled() => {
                    self.note_throttle(api);
                    throttled = api.retry_after.map(|retry_after| Throttled {
                        refused: count,
                        retry_after,
                    });
                }
                Some(api) => server_retry_after = api.retry_after,
                None => {}
            },
        }
        if result.is_ok() && throttled.is_none() {
            self.concurrency.progressed();
        }
        self.pacer.finish(permit, throttled);
        if let Some(delay) = server_retry_after {
            self.pacer.pause(delay);
        }
        result
    }

    pub fn contacts_path(&self, folder_id: &str) -> String {
        format!(
            "/users/{}/contactFolders/{}/contacts",
            self.user,
            galsync_graph::path::segment(folder_id)
        )
    }

    /// Backoff without a Retry-After before sending failed sub-requests
    /// again: only the caller waits. A server error of one request is not a
    /// signal about the mailbox, so the other writes to it go on.
    pub async fn back_off(&self, retry_number: u32) -> Duration {
        let delay = galsync_graph::RetryPolicy::default().backoff_delay(retry_number);
        tokio::time::sleep(delay).await;
        delay
    }
}
