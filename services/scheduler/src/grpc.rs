//! gRPC adapters: the public `Scheduler` API (authenticated by role) and the
//! internal `WorkQueue` for writers.

use std::sync::Arc;

use futures::Stream;
use galsync_proto::v1;
use galsync_proto::v1::scheduler_server::Scheduler as SchedulerApi;
use galsync_proto::v1::work_queue_server::WorkQueue;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::access::{claimed_actor, Access, Caller, Role};
use crate::error::SchedulerError;
use crate::profiles;
use crate::queue::millis_timestamp;
use crate::scheduler::{decode_spec, run_state_to_proto, Scheduler, ACTIVE_STATES};
use crate::store::{ApiKeyRow, ProfileRow, RunRow, RunSignal};
use crate::work_items::{mailbox_result, run_counts, ITEM_SUPERSEDED};

/// ListAuditLog's page when the request names none, and its largest.
const AUDIT_LOG_DEFAULT_LIMIT: u32 = 100;
const AUDIT_LOG_MAX_LIMIT: u32 = 500;

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
        let checked = match self.access.caller(self.scheduler.store(), request).await {
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

    async fn run_message(&self, run: RunRow) -> Result<v1::Run, Status> {
        let items = self
            .scheduler
            .store()
            .work_items_of_run(&run.run_id)
            .await
            .map_err(SchedulerError::from)?;
        let live: Vec<_> = items
            .iter()
            .filter(|item| item.state != ITEM_SUPERSEDED)
            .collect();
        let tally = crate::work_items::mailbox_tally(&items);
        let mailboxes = live
            .iter()
            .filter(|item| crate::work_items::item_is_terminal(&item.state))
            .map(|item| mailbox_result(item))
            .collect();
        Ok(v1::Run {
            trace_id: galsync_platform::telemetry::run_trace_id(&run.run_id),
            run_id: run.run_id,
            profile_id: run.profile_id,
            state: run_state_to_proto(&run.state) as i32,
            trigger: run.trigger,
            dry_run: run.dry_run,
            snapshot_id: run.snapshot_id,
            created_at: Some(millis_timestamp(run.created_at)),
            started_at: run.started_at.map(millis_timestamp),
            finished_at: run.finished_at.map(millis_timestamp),
            mailboxes_total: run.mailboxes_total as u32,
            mailboxes_done: tally.done as u32,
            mailboxes_succeeded: tally.succeeded as u32,
            mailboxes_failed: tally.failed as u32,
            mailboxes_cancelled: tally.cancelled as u32,
            repair: run.repair,
            counts: Some(run_counts(&items)),
            mailboxes,
            error: run.error,
            read_stats: run
                .read_stats
                .as_deref()
                .and_then(|bytes| v1::ReadStats::decode(bytes).ok()),
        })
    }
}

fn profile_message(row: &ProfileRow) -> Result<v1::Profile, Status> {
    let spec = decode_spec(row)?;
    Ok(v1::Profile {
        profile_id: row.profile_id.clone(),
        spec: Some(spec),
        version: row.version as u64,
        created_at: Some(millis_timestamp(row.created_at)),
        updated_at: Some(millis_timestamp(row.updated_at)),
        next_run_at: row.next_run_at.map(millis_timestamp),
        last_run_id: row.last_run_id.clone(),
    })
}

/// A tenant-scoped caller may create or move a profile only into its tenant.
fn require_tenant_in_scope(caller: &Caller, spec: &v1::ProfileSpec) -> Result<(), Status> {
    let Some(scope) = caller.tenant.as_deref() else {
        return Ok(());
    };
    match profiles::tenant_id_field("spec.tenant_id", &spec.tenant_id) {
        Ok(tenant_id) if tenant_id == scope => Ok(()),
        Ok(tenant_id) => Err(SchedulerError::PermissionDenied(format!(
            "{} is scoped to tenant {scope}; it cannot make or change a profile of tenant {tenant_id}",
            caller.actor
        ))
        .into()),
        // The profile's own validation names the bad field.
        Err(_) => Ok(()),
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
        let caller = self
            .caller(&request, Role::Admin, "galsync.v1.Scheduler/CreateProfile")
            .await?;
        let Some(spec) = request.into_inner().spec else {
            return Err(SchedulerError::invalid("spec", "is missing").into());
        };
        require_tenant_in_scope(&caller, &spec)?;
        let row = self.scheduler.create_profile(&caller, spec).await?;
        Ok(Response::new(profile_message(&row)?))
    }

    async fn update_profile(
        &self,
        request: Request<v1::UpdateProfileRequest>,
    ) -> Result<Response<v1::Profile>, Status> {
        let caller = self
            .caller(&request, Role::Admin, "galsync.v1.Scheduler/UpdateProfile")
            .await?;
        let message = request.into_inner();
        let Some(spec) = message.spec else {
            return Err(SchedulerError::invalid("spec", "is missing").into());
        };
        let profile_id = profiles::id_field("profile_id", &message.profile_id)?;
        self.scheduler.profile_for(&caller, profile_id).await?;
        require_tenant_in_scope(&caller, &spec)?;
        let row = self
            .scheduler
            .update_profile(&caller, profile_id, spec, message.expected_version)
            .await?;
        Ok(Response::new(profile_message(&row)?))
    }

    async fn get_profile(
        &self,
        request: Request<v1::GetProfileRequest>,
    ) -> Result<Response<v1::Profile>, Status> {
        let caller = self
            .caller(&request, Role::Viewer, "galsync.v1.Scheduler/GetProfile")
            .await?;
        let row = self
            .scheduler
            .profile_for(
                &caller,
                profiles::id_field("profile_id", &request.into_inner().profile_id)?,
            )
            .await?;
        Ok(Response::new(profile_message(&row)?))
    }

    async fn list_profiles(
        &self,
        request: Request<v1::ListProfilesRequest>,
    ) -> Result<Response<v1::ListProfilesResponse>, Status> {
        let caller = self
            .caller(&request, Role::Viewer, "galsync.v1.Scheduler/ListProfiles")
            .await?;
        let asked = request.into_inner().tenant_id;
        let Some(tenant_id) = caller.tenant_filter(asked.trim()) else {
            return Ok(Response::new(v1::ListProfilesResponse::default()));
        };
        let rows = self
            .scheduler
            .store()
            .list_profiles(tenant_id)
            .await
            .map_err(SchedulerError::from)?;
        let mut profiles = Vec::new();
        for row in &rows {
            profiles.push(profile_message(row)?);
        }
        Ok(Response::new(v1::ListProfilesResponse { profiles }))
    }

    async fn delete_profile(
        &self,
        request: Request<v1::DeleteProfileRequest>,
    ) -> Result<Response<v1::DeleteProfileResponse>, Status> {
        let caller = self
            .caller(&request, Role::Admin, "galsync.v1.Scheduler/DeleteProfile")
            .await?;
        let message = request.into_inner();
        let profile_id = profiles::id_field("profile_id", &message.profile_id)?;
        self.scheduler.profile_for(&caller, profile_id).await?;
        self.scheduler.delete_profile(&caller, profile_id).await?;
        Ok(Response::new(v1::DeleteProfileResponse {}))
    }

    async fn explain_profile(
        &self,
        request: Request<v1::ExplainProfileRequest>,
    ) -> Result<Response<v1::ExplainProfileResponse>, Status> {
        let caller = self
            .caller(
                &request,
                Role::Viewer,
                "galsync.v1.Scheduler/ExplainProfile",
            )
            .await?;
        let message = request.into_inner();
        let profile_id = profiles::id_field("profile_id", &message.profile_id)?;
        self.scheduler.profile_for(&caller, profile_id).await?;
        let explanation = self.scheduler.explain_profile(profile_id).await?;
        Ok(Response::new(explanation))
    }

    async fn run_profile(
        &self,
        request: Request<v1::RunProfileRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        let caller = self
            .caller(&request, Role::Operator, "galsync.v1.Scheduler/RunProfile")
            .await?;
        let message = request.into_inner();
        let trigger = format!("api:{}", caller.actor);
        let profile_id = profiles::id_field("profile_id", &message.profile_id)?;
        self.scheduler.profile_for(&caller, profile_id).await?;
        let run = self
            .scheduler
            .start_run(
                &caller,
                profile_id,
                message.dry_run,
                message.full_read,
                &trigger,
            )
            .await?;
        Ok(Response::new(self.run_message(run).await?))
    }

    async fn get_run(
        &self,
        request: Request<v1::GetRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        let caller = self
            .caller(&request, Role::Viewer, "galsync.v1.Scheduler/GetRun")
            .await?;
        let run = self
            .scheduler
            .run_for(
                &caller,
                profiles::id_field("run_id", &request.into_inner().run_id)?,
            )
            .await?;
        Ok(Response::new(self.run_message(run).await?))
    }

    async fn list_runs(
        &self,
        request: Request<v1::ListRunsRequest>,
    ) -> Result<Response<v1::ListRunsResponse>, Status> {
        let caller = self
            .caller(&request, Role::Viewer, "galsync.v1.Scheduler/ListRuns")
            .await?;
        let message = request.into_inner();
        let Some(tenant_id) = caller.tenant_filter("") else {
            return Ok(Response::new(v1::ListRunsResponse::default()));
        };
        let limit = if message.limit == 0 {
            50
        } else {
            message.limit.min(1000)
        };
        let rows = self
            .scheduler
            .store()
            .list_runs(message.profile_id.trim(), tenant_id, i64::from(limit))
            .await
            .map_err(SchedulerError::from)?;
        let mut runs = Vec::new();
        for row in rows {
            runs.push(self.run_message(row).await?);
        }
        Ok(Response::new(v1::ListRunsResponse { runs }))
    }

    async fn watch_run(
        &self,
        request: Request<v1::WatchRunRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = self
            .caller(&request, Role::Viewer, "galsync.v1.Scheduler/WatchRun")
            .await?;
        let run_id = profiles::id_field("run_id", &request.into_inner().run_id)?.to_owned();
        self.scheduler.run_for(&caller, &run_id).await?;
        let scheduler = self.scheduler.clone();
        // Events come from the store, so a watcher on any scheduler replica
        // sees every event in order: the past first, then new ones as the
        // driver appends them, until the run has ended.
        let stream = async_stream_of_events(scheduler, run_id);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn cancel_run(
        &self,
        request: Request<v1::CancelRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        let caller = self
            .caller(&request, Role::Operator, "galsync.v1.Scheduler/CancelRun")
            .await?;
        let message = request.into_inner();
        let run_id = profiles::id_field("run_id", &message.run_id)?;
        self.scheduler.run_for(&caller, run_id).await?;
        let run = self.scheduler.cancel_run(&caller, run_id).await?;
        Ok(Response::new(self.run_message(run).await?))
    }

    async fn approve_deletions(
        &self,
        request: Request<v1::ApproveDeletionsRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        let caller = self
            .caller(
                &request,
                Role::Operator,
                "galsync.v1.Scheduler/ApproveDeletions",
            )
            .await?;
        let message = request.into_inner();
        let run_id = profiles::id_field("run_id", &message.run_id)?;
        self.scheduler.run_for(&caller, run_id).await?;
        let run = self.scheduler.approve_deletions(&caller, run_id).await?;
        Ok(Response::new(self.run_message(run).await?))
    }

    async fn list_planned_changes(
        &self,
        request: Request<v1::ListPlannedChangesRequest>,
    ) -> Result<Response<v1::ListPlannedChangesResponse>, Status> {
        let caller = self
            .caller(
                &request,
                Role::Viewer,
                "galsync.v1.Scheduler/ListPlannedChanges",
            )
            .await?;
        let message = request.into_inner();
        self.scheduler
            .run_for(&caller, profiles::id_field("run_id", &message.run_id)?)
            .await?;
        let page = self
            .scheduler
            .planned_changes(
                profiles::id_field("run_id", &message.run_id)?,
                message.mailbox_id.trim(),
                message.page_size,
                message.page_token.trim(),
            )
            .await?;
        Ok(Response::new(page))
    }

    async fn create_api_key(
        &self,
        request: Request<v1::CreateApiKeyRequest>,
    ) -> Result<Response<v1::ApiKey>, Status> {
        let caller = self
            .caller(&request, Role::Admin, "galsync.v1.Scheduler/CreateApiKey")
            .await?;
        let message = request.into_inner();
        let role = match v1::ApiRole::try_from(message.role).unwrap_or_default() {
            v1::ApiRole::Viewer => Role::Viewer,
            v1::ApiRole::Operator => Role::Operator,
            v1::ApiRole::Admin => Role::Admin,
            v1::ApiRole::Unspecified => {
                return Err(SchedulerError::invalid("role", "use VIEWER, OPERATOR or ADMIN").into())
            }
        };
        let created = self
            .scheduler
            .create_api_key(&caller, &message.name, role, &message.tenant_id)
            .await?;
        Ok(Response::new(v1::ApiKey {
            secret: created.secret,
            ..api_key_message(&created.key)
        }))
    }

    async fn list_api_keys(
        &self,
        request: Request<v1::ListApiKeysRequest>,
    ) -> Result<Response<v1::ListApiKeysResponse>, Status> {
        let caller = self
            .caller(&request, Role::Admin, "galsync.v1.Scheduler/ListApiKeys")
            .await?;
        let keys = self.scheduler.list_api_keys(&caller).await?;
        Ok(Response::new(v1::ListApiKeysResponse {
            keys: keys.iter().map(api_key_message).collect(),
        }))
    }

    async fn list_audit_log(
        &self,
        request: Request<v1::ListAuditLogRequest>,
    ) -> Result<Response<v1::ListAuditLogResponse>, Status> {
        let caller = self
            .caller(&request, Role::Admin, "galsync.v1.Scheduler/ListAuditLog")
            .await?;
        if caller.tenant.is_some() {
            return Err(Status::permission_denied(format!(
                "{} is scoped to one tenant and the audit log is not kept per tenant; use a key for every tenant",
                caller.actor
            )));
        }
        let message = request.into_inner();
        let limit = match message.limit {
            0 => AUDIT_LOG_DEFAULT_LIMIT,
            asked => asked.min(AUDIT_LOG_MAX_LIMIT),
        };
        let rows = self
            .scheduler
            .store()
            .list_audit_filtered(
                message.actor.trim(),
                message.action.trim(),
                message.before_id,
                i64::from(limit),
            )
            .await
            .map_err(SchedulerError::from)?;
        let full_page = rows.len() == limit as usize;
        let mut entries = Vec::with_capacity(rows.len());
        for (id, at_millis, actor, action, target, detail) in rows {
            entries.push(v1::AuditLogEntry {
                id,
                at: Some(millis_timestamp(at_millis)),
                actor,
                action,
                target,
                detail,
            });
        }
        let next_before_id = match entries.last() {
            Some(oldest) if full_page => oldest.id,
            _ => 0,
        };
        Ok(Response::new(v1::ListAuditLogResponse {
            entries,
            next_before_id,
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<v1::RevokeApiKeyRequest>,
    ) -> Result<Response<v1::ApiKey>, Status> {
        let caller = self
            .caller(&request, Role::Admin, "galsync.v1.Scheduler/RevokeApiKey")
            .await?;
        let key = self
            .scheduler
            .revoke_api_key(&caller, &request.into_inner().key_id)
            .await?;
        Ok(Response::new(api_key_message(&key)))
    }
}

/// A stored key as the API shows it: never its secret or hash.
fn api_key_message(key: &ApiKeyRow) -> v1::ApiKey {
    let role = match Role::parse(&key.role) {
        Some(Role::Viewer) => v1::ApiRole::Viewer,
        Some(Role::Operator) => v1::ApiRole::Operator,
        Some(Role::Admin) => v1::ApiRole::Admin,
        None => v1::ApiRole::Unspecified,
    };
    v1::ApiKey {
        key_id: key.key_id.clone(),
        name: key.name.clone(),
        role: role as i32,
        secret: String::new(),
        tenant_id: key.tenant_id.clone(),
        created_at: Some(millis_timestamp(key.created_at)),
        created_by: key.created_by.clone(),
        revoked_at: key.revoked_at.map(millis_timestamp),
    }
}

/// A run's events from the store: woken as soon as this process appends
/// one, and looking again every [`Scheduler::recheck_interval`] for events a
/// driver on another replica appends.
fn async_stream_of_events(
    scheduler: Arc<Scheduler>,
    run_id: String,
) -> impl Stream<Item = Result<v1::RunEvent, Status>> + Send {
    // Subscribed before the first read, so an event appended meanwhile wakes
    // the first wait.
    let appended = scheduler
        .store()
        .watch_run(&run_id, RunSignal::EventAppended);
    let recheck = scheduler.recheck_interval();
    futures::stream::unfold(
        (
            scheduler,
            run_id,
            0i64,
            std::collections::VecDeque::new(),
            false,
            appended,
        ),
        move |(scheduler, run_id, mut last_sequence, mut pending, mut finished, mut appended)| async move {
            loop {
                if let Some(event) = pending.pop_front() {
                    return Some((
                        Ok(event),
                        (
                            scheduler,
                            run_id,
                            last_sequence,
                            pending,
                            finished,
                            appended,
                        ),
                    ));
                }
                if finished {
                    return None;
                }
                // Whether the run had ended before reading, so no event is missed.
                let ended = match scheduler.store().get_run(&run_id).await {
                    Ok(Some(run)) => !ACTIVE_STATES.contains(&run.state.as_str()),
                    Ok(None) => true,
                    Err(error) => {
                        let status = Status::from(SchedulerError::from(error));
                        return Some((
                            Err(status),
                            (scheduler, run_id, last_sequence, pending, true, appended),
                        ));
                    }
                };
                match scheduler.store().events_after(&run_id, last_sequence).await {
                    Ok(rows) => {
                        for (sequence, bytes) in rows {
                            last_sequence = sequence;
                            if let Ok(mut event) = v1::RunEvent::decode(bytes.as_slice()) {
                                event.sequence = sequence as u64;
                                pending.push_back(event);
                            }
                        }
                    }
                    Err(error) => {
                        let status = Status::from(SchedulerError::from(error));
                        return Some((
                            Err(status),
                            (scheduler, run_id, last_sequence, pending, true, appended),
                        ));
                    }
                }
                if ended {
                    finished = true;
                    continue;
                }
                if pending.is_empty() {
                    // Either way the store is read again: a signal only
                    // says to look sooner.
                    if let Ok(Err(_closed)) =
                        tokio::time::timeout(recheck, appended.changed()).await
                    {
                        tokio::time::sleep(recheck).await;
                    }
                }
            }
        },
    )
}

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
