//! The scheduler's view of the directory-reader: snapshots, targets and filter
//! explanations. A trait, so tests can stand in a fake reader over real gRPC.

use futures::future::BoxFuture;
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
    client: DirectoryReaderClient<Channel>,
}

impl GrpcDirectory {
    pub fn new(channel: Channel) -> Self {
        Self {
            client: DirectoryReaderClient::new(channel).max_decoding_message_size(64 * 1024 * 1024),
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
        _ => SchedulerError::Internal(message),
    }
}

impl DirectorySource for GrpcDirectory {
    fn take_snapshot(
        &self,
        request: v1::TakeSnapshotRequest,
    ) -> BoxFuture<'_, Result<v1::Snapshot, SchedulerError>> {
        Box::pin(async move {
            let mut client = self.client.clone();
            client
                .take_snapshot(request)
                .await
                .map(|response| response.into_inner())
                .map_err(|status| reader_error("read the directory", status))
        })
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
        Box::pin(async move {
            let mut client = self.client.clone();
            client
                .resolve_targets(request)
                .await
                .map(|response| response.into_inner())
                .map_err(|status| reader_error("resolve the target mailboxes", status))
        })
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
