//! gRPC adapters: the public `Scheduler` API (authenticated by role) and the
//! internal `WorkQueue` for writers. The `Scheduler` trait's methods hand
//! each call to its use case: profiles (`grpc/profiles.rs`), runs
//! (`grpc/runs.rs`), API keys and the audit log (`grpc/keys_and_audit.rs`);
//! the work queue is `grpc/work_queue.rs`.

mod keys_and_audit;
mod profiles;
mod runs;
mod work_queue;

use std::sync::Arc;

use galsync_proto::v1;
use galsync_proto::v1::scheduler_server::Scheduler as SchedulerApi;
use tonic::{Request, Response, Status};

use crate::access::{claimed_actor, Access, Caller, Role};
use crate::scheduler::Scheduler;

pub use work_queue::WorkQueueService;

#[derive(Clone)]
pub struct SchedulerService {
    scheduler: Arc<Scheduler>,
    access: Arc<Access>,
}

impl SchedulerService {
    pub fn new(scheduler: Arc<Scheduler>, access: Arc<Access>) -> Self {
        Self { scheduler, access }
    }

    /// Authenticates the caller of `rpc` and checks its role; a refusal
    /// names the RPC, is logged and is audited as `access.denied`.
    async fn caller<T>(
        &self,
        request: &Request<T>,
        needed: Role,
        rpc: &str,
    ) -> Result<Caller, Status> {
        let checked = match self.scheduler.authenticate(&self.access, request).await {
            Ok(caller) => caller.require(needed).map(|()| caller),
            Err(error) => Err(error),
        };
        let error = match checked {
            Ok(caller) => return Ok(caller),
            Err(error) => error,
        };
        let reason = error.to_string();
        self.scheduler
            .audit_refusal(&claimed_actor(request), rpc, &reason)
            .await?;
        let status = Status::from(error);
        Err(Status::new(
            status.code(),
            format!("{}; refused {rpc}", status.message()),
        ))
    }
}

/// What tonic's generated trait expects of a server stream.
type EventStream = tonic::codegen::BoxStream<v1::RunEvent>;

#[tonic::async_trait]
impl SchedulerApi for SchedulerService {
    async fn create_profile(
        &self,
        request: Request<v1::CreateProfileRequest>,
    ) -> Result<Response<v1::Profile>, Status> {
        profiles::create(self, request).await
    }

    async fn update_profile(
        &self,
        request: Request<v1::UpdateProfileRequest>,
    ) -> Result<Response<v1::Profile>, Status> {
        profiles::update(self, request).await
    }

    async fn get_profile(
        &self,
        request: Request<v1::GetProfileRequest>,
    ) -> Result<Response<v1::Profile>, Status> {
        profiles::get(self, request).await
    }

    async fn list_profiles(
        &self,
        request: Request<v1::ListProfilesRequest>,
    ) -> Result<Response<v1::ListProfilesResponse>, Status> {
        profiles::list(self, request).await
    }

    async fn delete_profile(
        &self,
        request: Request<v1::DeleteProfileRequest>,
    ) -> Result<Response<v1::DeleteProfileResponse>, Status> {
        profiles::delete(self, request).await
    }

    async fn explain_profile(
        &self,
        request: Request<v1::ExplainProfileRequest>,
    ) -> Result<Response<v1::ExplainProfileResponse>, Status> {
        profiles::explain(self, request).await
    }

    async fn run_profile(
        &self,
        request: Request<v1::RunProfileRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        runs::start(self, request).await
    }

    async fn get_run(
        &self,
        request: Request<v1::GetRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        runs::get(self, request).await
    }

    async fn list_runs(
        &self,
        request: Request<v1::ListRunsRequest>,
    ) -> Result<Response<v1::ListRunsResponse>, Status> {
        runs::list(self, request).await
    }

    async fn watch_run(
        &self,
        request: Request<v1::WatchRunRequest>,
    ) -> Result<Response<EventStream>, Status> {
        runs::watch(self, request).await
    }

    async fn cancel_run(
        &self,
        request: Request<v1::CancelRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        runs::cancel(self, request).await
    }

    async fn approve_deletions(
        &self,
        request: Request<v1::ApproveDeletionsRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        runs::approve_deletions(self, request).await
    }

    async fn list_planned_changes(
        &self,
        request: Request<v1::ListPlannedChangesRequest>,
    ) -> Result<Response<v1::ListPlannedChangesResponse>, Status> {
        runs::list_planned_changes(self, request).await
    }

    async fn create_api_key(
        &self,
        request: Request<v1::CreateApiKeyRequest>,
    ) -> Result<Response<v1::ApiKey>, Status> {
        keys_and_audit::create_api_key(self, request).await
    }

    async fn list_api_keys(
        &self,
        request: Request<v1::ListApiKeysRequest>,
    ) -> Result<Response<v1::ListApiKeysResponse>, Status> {
        keys_and_audit::list_api_keys(self, request).await
    }

    async fn list_audit_log(
        &self,
        request: Request<v1::ListAuditLogRequest>,
    ) -> Result<Response<v1::ListAuditLogResponse>, Status> {
        keys_and_audit::list_audit_log(self, request).await
    }

    async fn revoke_api_key(
        &self,
        request: Request<v1::RevokeApiKeyRequest>,
    ) -> Result<Response<v1::ApiKey>, Status> {
        keys_and_audit::revoke_api_key(self, request).await
    }
}
