//! The internal `galsync.v1.WorkQueue` writers lease mailboxes from.

use std::sync::Arc;

use galsync_proto::v1;
use galsync_proto::v1::work_queue_server::WorkQueue;
use tonic::{Request, Response, Status};

use crate::access::Access;
use crate::scheduler::Scheduler;

/// The internal `galsync.v1.WorkQueue`.
#[derive(Clone)]
pub struct WorkQueueService {
    scheduler: Arc<Scheduler>,
    access: Arc<Access>,
}

impl WorkQueueService {
    pub fn new(scheduler: Arc<Scheduler>, access: Arc<Access>) -> Self {
        Self { scheduler, access }
    }

    /// Only `--worker-identity` services call the work queue; a refusal
    /// names the caller and the RPC and is audited as `access.denied`.
    async fn worker<T>(&self, request: &Request<T>, rpc: &str) -> Result<String, Status> {
        let refusal = match self.access.require_worker(request, rpc) {
            Ok(worker) => return Ok(worker),
            Err(refusal) => refusal,
        };
        self.scheduler
            .audit_refusal(&refusal.caller.to_string(), rpc, &refusal.to_string())
            .await?;
        Err(refusal.into())
    }
}

#[tonic::async_trait]
impl WorkQueue for WorkQueueService {
    async fn lease(
        &self,
        request: Request<v1::LeaseRequest>,
    ) -> Result<Response<v1::LeaseResponse>, Status> {
        let identity = self.worker(&request, "galsync.v1.WorkQueue/Lease").await?;
        let message = request.into_inner();
        let worker = if message.worker_id.is_empty() {
            identity
        } else {
            message.worker_id
        };
        let wait = std::time::Duration::from_secs(u64::from(message.wait_seconds));
        let lease = self
            .scheduler
            .lease_waiting(&worker, message.lease_seconds, wait)
            .await?;
        Ok(Response::new(v1::LeaseResponse { lease }))
    }

    async fn heartbeat(
        &self,
        request: Request<v1::HeartbeatRequest>,
    ) -> Result<Response<v1::HeartbeatResponse>, Status> {
        self.worker(&request, "galsync.v1.WorkQueue/Heartbeat")
            .await?;
        let message = request.into_inner();
        let response = self
            .scheduler
            .heartbeat(
                &message.lease_token,
                message.lease_seconds,
                message.progress,
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn complete(
        &self,
        request: Request<v1::CompleteRequest>,
    ) -> Result<Response<v1::CompleteResponse>, Status> {
        self.worker(&request, "galsync.v1.WorkQueue/Complete")
            .await?;
        let message = request.into_inner();
        self.scheduler
            .complete(&message.lease_token, message.result, message.plan)
            .await?;
        Ok(Response::new(v1::CompleteResponse {}))
    }

    async fn fail(
        &self,
        request: Request<v1::FailRequest>,
    ) -> Result<Response<v1::FailResponse>, Status> {
        self.worker(&request, "galsync.v1.WorkQueue/Fail").await?;
        let message = request.into_inner();
        let will_retry = self
            .scheduler
            .fail(&message.lease_token, &message.reason, message.retryable)
            .await?;
        Ok(Response::new(v1::FailResponse { will_retry }))
    }

    async fn release(
        &self,
        request: Request<v1::ReleaseRequest>,
    ) -> Result<Response<v1::ReleaseResponse>, Status> {
        self.worker(&request, "galsync.v1.WorkQueue/Release")
            .await?;
        let request = request.into_inner();
        self.scheduler
            .release(&request.lease_token, request.progress)
            .await?;
        Ok(Response::new(v1::ReleaseResponse {}))
    }
}
