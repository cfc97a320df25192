//! The scheduler's view of the directory-reader: snapshots, targets and filter
//! explanations. A trait, so tests can stand in a fake reader over real gRPC.

use futures::future::BoxFuture;
use galsync_platform::telemetry::{traced, Traced};
use galsync_proto::v1;
use galsync_proto::v1::directory_reader_client::DirectoryReaderClient;
use tonic::transport::Channel;

use crate::error::SchedulerError;

pub trait DirectorySource: Send + Sync + 'static {
    fn take_snapshot(
        &self,
        request: v1::TakeSnapshotRequest,
    ) -> BoxFuture<'_, Result<v1::Snapshot, SchedulerError>>;
    fn resolve_targets(
        &self,
        tenant_id: &str,
        selector: v1::TargetSelector,
    ) -> BoxFuture<'_, Result<v1::TargetList, SchedulerError>>;
    fn explain_filter(
        &self,
        tenant_id: &str,
        filter: v1::SourceFilter,
    ) -> BoxFuture<'_, Result<v1::FilterExplanation, SchedulerError>>;
}

/// The directory-reader over gRPC.
#[derive(Debug, Clone)]
pub struct GrpcDirectory {
    client: DirectoryReaderClient<Traced>,
}

impl GrpcDirectory {
    pub fn new(channel: Channel) -> Self {
        Self {
            client: DirectoryReaderClient::new(traced(channel))
                .max_decoding_message_size(64 * 1024 * 1024),
        }
    }
}

/// Runs `call` until it answers, retrying while the reader is away.
async fn retrying<T, F, Fut>(what: &str, call: F) -> Result<T, SchedulerError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    // Reads and target resolution change nothing: safe to repeat.
    let mut delays = galsync_platform::grpc::PEER_RETRY_DELAYS.iter();
    loop {
        match call().await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status) if galsync_platform::grpc::peer_went_away(&status) => match delays.next() {
                Some(delay) => {
                    tracing::warn!(error = %status.message(), code = ?status.code(), retry_in_secs = delay.as_secs(), "the directory-reader could not {what}; trying again");
                    tokio::time::sleep(*delay).await;
                }
                None => return Err(reader_error(what, status)),
            },
            Err(status) => return Err(reader_error(what, status)),
        }
    }
}

fn reader_error(what: &str, status: tonic::Status) -> SchedulerError {
    let message = format!(
        "the directory-reader could not {what}: {}",
        status.message()
    );
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
            SchedulerError::Unavailable(message)
        }
        tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition | tonic::Code::NotFound => {
            SchedulerError::FailedPrecondition(message)
        }
        _ => SchedulerError::Peer(message),
    }
}

impl DirectorySource for GrpcDirectory {
    fn take_snapshot(
        &self,
        request: v1::TakeSnapshotRequest,
    ) -> BoxFuture<'_, Result<v1::Snapshot, SchedulerError>> {
        Box::pin(retrying("read the directory", move || {
            let mut client = self.client.clone();
            let request = request.clone();
            async move { client.take_snapshot(request).await }
        }))
    }

    fn resolve_targets(
        &self,
        tenant_id: &str,
        selector: v1::TargetSelector,
    ) -> BoxFuture<'_, Result<v1::TargetList, SchedulerError>> {
        let request = v1::ResolveTargetsRequest {
            tenant_id: tenant_id.to_owned(),
            selector: Some(selector),
        };
        Box::pin(retrying("resolve the target mailboxes", move || {
            let mut client = self.client.clone();
            let request = request.clone();
            async move { client.resolve_targets(request).await }
        }))
    }

    fn explain_filter(
        &self,
        tenant_id: &str,
        filter: v1::SourceFilter,
    ) -> BoxFuture<'_, Result<v1::FilterExplanation, SchedulerError>> {
        let request = v1::ExplainFilterRequest {
            tenant_id: tenant_id.to_owned(),
            filter: Some(filter),
        };
        Box::pin(async move {
            let mut client = self.client.clone();
            client
                .explain_filter(request)
                .await
                .map(|response| response.into_inner())
                .map_err(|status| reader_error("explain the filter", status))
        })
    }
}
