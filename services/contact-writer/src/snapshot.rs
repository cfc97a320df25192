//! Snapshot entries and photos from the directory-reader, entries cached per
//! snapshot id (snapshots are immutable), fetched once however many
//! mailboxes ask at the same time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use galsync_proto::v1;
use galsync_proto::v1::directory_reader_client::DirectoryReaderClient;
use tonic::transport::Channel;

use crate::error::Error;

/// Snapshots kept in memory at once (a run uses one; a few runs overlap).
const CACHED_SNAPSHOTS: usize = 8;

/// A photo's bytes.
#[derive(Debug, Clone)]
pub struct PhotoBytes {
    pub content_type: String,
    pub data: Vec<u8>,
}

type Entries = Arc<Vec<v1::DirectoryEntry>>;
/// Snapshots by id, each loaded once however many mailboxes ask at once.
type SnapshotCache = Arc<Mutex<Vec<(String, Arc<tokio::sync::OnceCell<Entries>>)>>>;

/// The directory-reader as the writer uses it.
#[derive(Debug, Clone)]
pub struct SnapshotSource {
    client: DirectoryReaderClient<Channel>,
    cache: SnapshotCache,
}

impl SnapshotSource {
    pub fn new(channel: Channel) -> Self {
        Self {
            client: DirectoryReaderClient::new(channel).max_decoding_message_size(64 * 1024 * 1024),
            cache: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn cell(&self, snapshot_id: &str) -> Arc<tokio::sync::OnceCell<Entries>> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, cell)) = cache.iter().find(|(id, _)| id == snapshot_id) {
            return Arc::clone(cell);
        }
        if cache.len() >= CACHED_SNAPSHOTS {
            cache.remove(0);
        }
        let cell = Arc::new(tokio::sync::OnceCell::new());
        cache.push((snapshot_id.to_owned(), Arc::clone(&cell)));
        cell
    }

    /// Every entry of a snapshot.
    pub async fn entries(&self, snapshot_id: &str) -> Result<Entries, Error> {
        let cell = self.cell(snapshot_id);
        let entries = cell.get_or_try_init(|| self.stream(snapshot_id)).await?;
        Ok(Arc::clone(entries))
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
