//! Snapshot entries and photos from the directory-reader. Snapshots are
//! immutable, so their entries are cached per snapshot id, and the desired
//! contacts per snapshot and field rules: each is fetched or computed once
//! however many mailboxes of a run ask at the same time.

use galsync_platform::telemetry::{traced, Traced};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use galsync_proto::v1;
use galsync_proto::v1::directory_reader_client::DirectoryReaderClient;
use tokio::sync::OnceCell;
use tonic::transport::Channel;

use crate::error::Error;
use crate::mapping::{Desired, FieldRules};

/// Snapshots kept in memory at once (a run uses one; a few runs overlap).
const CACHED_SNAPSHOTS: usize = 8;

/// A photo's bytes.
#[derive(Debug, Clone)]
pub struct PhotoBytes {
    pub content_type: String,
    pub data: Vec<u8>,
}

type Entries = Arc<Vec<v1::DirectoryEntry>>;

/// The latest few values by key, each computed once however many tasks ask
/// at the same time; the oldest key goes when a new one comes.
#[derive(Debug)]
struct OnceCache<T> {
    cells: Mutex<Vec<(String, Arc<OnceCell<T>>)>>,
}

impl<T> OnceCache<T> {
    fn new() -> Self {
        Self {
            cells: Mutex::new(Vec::new()),
        }
    }

    fn cell(&self, key: &str) -> Arc<OnceCell<T>> {
        let mut cells = self
            .cells
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, cell)) = cells.iter().find(|(cached, _)| cached == key) {
            return Arc::clone(cell);
        }
        if cells.len() >= CACHED_SNAPSHOTS {
            cells.remove(0);
        }
        let cell = Arc::new(OnceCell::new());
        cells.push((key.to_owned(), Arc::clone(&cell)));
        cell
    }
}

/// The directory-reader as the writer uses it.
#[derive(Debug, Clone)]
pub struct SnapshotSource {
    client: DirectoryReaderClient<Traced>,
    entries: Arc<OnceCache<Entries>>,
    desired: Arc<OnceCache<Arc<Vec<Desired>>>>,
}

impl SnapshotSource {
    pub fn new(channel: Channel) -> Self {
        Self {
            client: DirectoryReaderClient::new(traced(channel))
                .max_decoding_message_size(64 * 1024 * 1024),
            entries: Arc::new(OnceCache::new()),
            desired: Arc::new(OnceCache::new()),
        }
    }

    /// Every entry of a snapshot.
    pub async fn entries(&self, snapshot_id: &str) -> Result<Entries, Error> {
        let cell = self.entries.cell(snapshot_id);
        let entries = cell.get_or_try_init(|| self.stream(snapshot_id)).await?;
        Ok(Arc::clone(entries))
    }

    /// The contacts a snapshot asks for under a profile's field rules:
    /// computed once for all the mailboxes of a run, and held once in memory.
    pub async fn desired(
        &self,
        snapshot_id: &str,
        field_rules: &HashMap<String, i32>,
    ) -> Result<Arc<Vec<Desired>>, Error> {
        let mut rules: Vec<(&String, &i32)> = field_rules.iter().collect();
        rules.sort();
        let mut key = snapshot_id.to_owned();
        for (field, rule) in rules {
            key.push_str(&format!("\u{0}{field}={rule}"));
        }
        let cell = self.desired.cell(&key);
        let desired = cell
            .get_or_try_init(|| async {
                let entries = self.entries(snapshot_id).await?;
                let rules = FieldRules::from_proto(field_rules);
                Ok::<_, Error>(Arc::new(crate::mapping::desired_contacts(&entries, &rules)))
            })
            .await?;
        Ok(Arc::clone(desired))
    }

    async fn stream(&self, snapshot_id: &str) -> Result<Entries, Error> {
        let unavailable = |status: tonic::Status| {
            if status.code() == tonic::Code::NotFound {
                Error::SnapshotNotFound {
                    snapshot_id: snapshot_id.to_owned(),
                }
            } else {
                Error::SnapshotUnavailable {
                    snapshot_id: snapshot_id.to_owned(),
                    reason: status.message().to_owned(),
                }
            }
        };
        let mut client = self.client.clone();
        let request = v1::StreamSnapshotRequest {
            snapshot_id: snapshot_id.to_owned(),
            chunk_size: 0,
        };
        let mut stream = client
            .stream_snapshot(request)
            .await
            .map_err(unavailable)?
            .into_inner();
        let mut entries = Vec::new();
        while let Some(chunk) = stream.message().await.map_err(unavailable)? {
            entries.extend(chunk.entries);
            if chunk.last {
                break;
            }
        }
        tracing::info!(snapshot = %snapshot_id, entries = entries.len(), "fetched snapshot");
        Ok(Arc::new(entries))
    }

    /// A photo by content hash.
    pub async fn photo(&self, photo_hash: &str) -> Result<PhotoBytes, Error> {
        let mut client = self.client.clone();
        let photo = client
            .get_photo(v1::GetPhotoRequest {
                photo_hash: photo_hash.to_owned(),
            })
            .await
            .map_err(|status| Error::SnapshotUnavailable {
                snapshot_id: format!("photo {photo_hash}"),
                reason: status.message().to_owned(),
            })?
            .into_inner();
        Ok(PhotoBytes {
            content_type: if photo.content_type.is_empty() {
                "image/jpeg".to_owned()
            } else {
                photo.content_type
            },
            data: photo.data,
        })
    }
}

/// Photos by hash for one reconciliation (tests and callers without a reader
/// pass a map).
pub type PhotoMap = HashMap<String, PhotoBytes>;
