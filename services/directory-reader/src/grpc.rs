//! gRPC adapter: requests in, domain calls, `Status` out.

use std::pin::Pin;
use std::sync::Arc;

use galsync_platform::{authorize, AllowedCallers};
use galsync_proto::v1;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::filter::CompiledFilter;
use crate::service::{validate_tenant_id, Reader, SnapshotRequest};

/// Entries per streamed chunk when the caller does not say.
const DEFAULT_CHUNK_SIZE: usize = 500;
/// Largest chunk a caller may ask for (keeps messages under gRPC's 4 MiB default).
const MAX_CHUNK_SIZE: usize = 5_000;

/// Who may call the reader. The scheduler drives it (takes snapshots,
/// resolves targets, explains filters) and reads snapshots; writers only read
/// snapshots and their photos. Nobody else reads the directory.
#[derive(Debug, Clone)]
pub struct ReaderAccess {
    /// TakeSnapshot, ResolveTargets, ExplainFilter.
    pub drivers: AllowedCallers,
    /// GetSnapshot, StreamSnapshot, DiffSnapshots, GetPhoto.
    pub snapshot_readers: AllowedCallers,
}

/// The `galsync.v1.DirectoryReader` service.
#[derive(Debug, Clone)]
pub struct DirectoryReaderService {
    reader: Arc<Reader>,
    access: ReaderAccess,
}

impl DirectoryReaderService {
    pub fn new(reader: Arc<Reader>, access: ReaderAccess) -> Self {
        Self { reader, access }
    }
}

fn hex_id(value: &str, field: &'static str) -> Result<String, Error> {
    let trimmed = value.trim().to_ascii_lowercase();
    if trimmed.len() != 64
        || !trimmed
            .chars()
            .all(|character| character.is_ascii_hexdigit())
    {
        return Err(Error::invalid(
            field,
            format!("{value:?} is not a hex SHA-256"),
        ));
    }
    Ok(trimmed)
}

fn chunk_size(requested: u32) -> usize {
    match requested {
        0 => DEFAULT_CHUNK_SIZE,
        size => (size as usize).min(MAX_CHUNK_SIZE),
    }
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<v1::SnapshotChunk, Status>> + Send>>;

#[tonic::async_trait]
impl v1::directory_reader_server::DirectoryReader for DirectoryReaderService {
    async fn take_snapshot(
        &self,
        request: Request<v1::TakeSnapshotRequest>,
    ) -> Result<Response<v1::Snapshot>, Status> {
        authorize(
            &request,
            "galsync.v1.DirectoryReader/TakeSnapshot",
            &self.access.drivers,
        )?;
        let request = request.into_inner();
        let tenant_id = validate_tenant_id(&request.tenant_id)?;
        let filter = CompiledFilter::compile(&request.filter.unwrap_or_default())?;
        let snapshot = self
            .reader
            .take_snapshot(SnapshotRequest {
                tenant_id,
                filter,
                force_full_read: request.force_full_read,
                include_photos: request.include_photos,
            })
            .await?;
        Ok(Response::new(snapshot))
    }

    async fn get_snapshot(
        &self,
        request: Request<v1::GetSnapshotRequest>,
    ) -> Result<Response<v1::Snapshot>, Status> {
        authorize(
            &request,
            "galsync.v1.DirectoryReader/GetSnapshot",
            &self.access.snapshot_readers,
        )?;
        let snapshot_id = hex_id(&request.get_ref().snapshot_id, "snapshot_id")?;
        Ok(Response::new(self.reader.get_snapshot(&snapshot_id).await?))
    }

    async fn stream_snapshot(
        &self,
        request: Request<v1::StreamSnapshotRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        authorize(
            &request,
            "galsync.v1.DirectoryReader/StreamSnapshot",
            &self.access.snapshot_readers,
        )?;
        let request = request.into_inner();
        let snapshot_id = hex_id(&request.snapshot_id, "snapshot_id")?;
        let size = chunk_size(request.chunk_size);
        let entries = self.reader.snapshot_entries(&snapshot_id).await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let chunk_count = entries.len().div_ceil(size).max(1);
            let mut remaining = entries.into_iter();
            for chunk_index in 0..chunk_count {
                let chunk = v1::SnapshotChunk {
                    entries: remaining.by_ref().take(size).collect(),
                    chunk_index: chunk_index as u32,
                    last: chunk_index + 1 == chunk_count,
                };
                if sender.send(Ok(chunk)).await.is_err() {
                    // The caller went away.
                    return;
                }
            }
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn diff_snapshots(
        &self,
        request: Request<v1::DiffSnapshotsRequest>,
    ) -> Result<Response<v1::SnapshotDiff>, Status> {
        authorize(
            &request,
            "galsync.v1.DirectoryReader/DiffSnapshots",
            &self.access.snapshot_readers,
        )?;
        let request = request.into_inner();
        let from = hex_id(&request.from_snapshot_id, "from_snapshot_id")?;
        let to = hex_id(&request.to_snapshot_id, "to_snapshot_id")?;
        Ok(Response::new(self.reader.diff(&from, &to).await?))
    }

    async fn resolve_targets(
        &self,
        request: Request<v1::ResolveTargetsRequest>,
    ) -> Result<Response<v1::TargetList>, Status> {
        authorize(
            &request,
            "galsync.v1.DirectoryReader/ResolveTargets",
            &self.access.drivers,
        )?;
        let request = request.into_inner();
        let tenant_id = validate_tenant_id(&request.tenant_id)?;
        let selector = request.selector.unwrap_or_default();
        Ok(Response::new(
            self.reader.resolve_targets(&tenant_id, &selector).await?,
        ))
    }

    async fn explain_filter(
        &self,
        request: Request<v1::ExplainFilterRequest>,
    ) -> Result<Response<v1::FilterExplanation>, Status> {
        authorize(
            &request,
            "galsync.v1.DirectoryReader/ExplainFilter",
            &self.access.drivers,
        )?;
        let request = request.into_inner();
        let tenant_id = validate_tenant_id(&request.tenant_id)?;
        let filter = CompiledFilter::compile(&request.filter.unwrap_or_default())?;
        Ok(Response::new(
            self.reader.explain_filter(&tenant_id, &filter).await?,
        ))
    }

    async fn get_photo(
        &self,
        request: Request<v1::GetPhotoRequest>,
    ) -> Result<Response<v1::Photo>, Status> {
        authorize(
            &request,
            "galsync.v1.DirectoryReader/GetPhoto",
            &self.access.snapshot_readers,
        )?;
        let photo_hash = hex_id(&request.get_ref().photo_hash, "photo_hash")?;
        Ok(Response::new(self.reader.photo(&photo_hash).await?))
    }
}
