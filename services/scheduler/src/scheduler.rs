//! The scheduler's domain: profiles, runs (one at a time per profile under a
//! persisted lock), approvals and cancellation. The run driver lives in
//! `driver.rs`, the work queue in `queue.rs`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use galsync_proto::v1;
use prost::Message;

use crate::access::Caller;
use crate::directory::DirectorySource;
use crate::error::SchedulerError;
use crate::profiles;
use crate::store::{ProfileRow, RunRow, SchedulerStore};
use crate::tenants::TenantRegistry;

/// Timing settings (shortened in tests).
#[derive(Debug, Clone)]
pub struct Timings {
    /// How long a run lock lives without renewal (a dead holder frees it then).
    pub lock_ttl: Duration,
    /// How often the driver renews its lock and checks its run.
    pub driver_poll: Duration,
    /// How often due schedules and orphaned runs are looked for.
    pub tick: Duration,
    /// Attempts per work item before it fails.
    pub max_attempts: u32,
    /// Finished runs older than this are deleted.
    pub run_retention: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            lock_ttl: Duration::from_secs(60),
            driver_poll: Duration::from_millis(250),
            tick: Duration::from_secs(1),
            max_attempts: 5,
            run_retention: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

pub const STATE_QUEUED: &str = "queued";
pub const STATE_READING: &str = "reading";
pub const STATE_WRITING: &str = "writing";
pub const STATE_SUCCEEDED: &str = "succeeded";
pub const STATE_PARTIALLY_FAILED: &str = "partially-failed";
pub const STATE_FAILED: &str = "failed";
pub const STATE_CANCELLED: &str = "cancelled";
pub const STATE_AWAITING_APPROVAL: &str = "awaiting-approval";
pub const ACTIVE_STATES: &[&str] = &[STATE_QUEUED, STATE_READING, STATE_WRITING];

pub fn run_state_to_proto(state: &str) -> v1::RunState {
    match state {
        STATE_QUEUED => v1::RunState::Queued,
        STATE_READING => v1::RunState::Reading,
        STATE_WRITING => v1::RunState::Writing,
        STATE_SUCCEEDED => v1::RunState::Succeeded,
        STATE_PARTIALLY_FAILED => v1::RunState::PartiallyFailed,
        STATE_FAILED => v1::RunState::Failed,
        STATE_CANCELLED => v1::RunState::Cancelled,
        STATE_AWAITING_APPROVAL => v1::RunState::AwaitingApproval,
        _ => v1::RunState::Unspecified,
    }
}

pub struct Scheduler {
    pub(crate) store: SchedulerStore,
    pub(crate) directory: Arc<dyn DirectorySource>,
    /// This process's id as a lock holder.
    pub(crate) node_id: String,
    pub(crate) timings: Timings,
    /// Set when the process stops: drivers and the ticker end, leaving their
    /// runs for whichever scheduler takes the expired locks.
    pub(crate) stopping: tokio::sync::watch::Sender<bool>,
    /// The auth-broker's tenants, when `--broker-url` is set: profiles for
    /// a tenant it does not know are refused.
    pub(crate) tenants: Option<Arc<dyn TenantRegistry>>,
    /// Served on `--metrics-listen`.
    pub(crate) metrics: crate::metrics::SchedulerMetrics,
    /// The runs this process drives: a run whose lock lapsed while its
    /// driver here waited on the store is not adopted a second time.
    pub(crate) driving: std::sync::Mutex<std::collections::HashSet<String>>,
}

pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

impl Scheduler {
    /// `tenants`: the auth-broker's tenants, to refuse profiles for one it
    /// does not know; `None` skips the check (no `--broker-url`).
    pub fn new(
        store: SchedulerStore,
        directory: Arc<dyn DirectorySource>,
        timings: Timings,
        tenants: Option<Arc<dyn TenantRegistry>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            directory,
            node_id: format!("scheduler-{}", uuid::Uuid::new_v4().simple()),
            timings,
            stopping: tokio::sync::watch::channel(false).0,
            tenants,
            metrics: crate::metrics::SchedulerMetrics::default(),
            driving: Default::default(),
        })
    }

    /// The Prometheus metrics this scheduler counts into.
    pub fn metrics(&self) -> &crate::metrics::SchedulerMetrics {
        &self.metrics
    }

    /// Refuses a tenant the auth-broker does not know, naming `field`.
    pub(crate) async fn require_registered_tenant(
        &self,
        field: &str,
        tenant_id: &str,
    ) -> Result<(), SchedulerError> {
        match &self.tenants {
            Some(tenants) => tenants.require_registered(field, tenant_id).await,
            None => Ok(()),
        }
    }

    /// This process's id as a run-lock holder.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Stops driving runs (on shutdown). Runs in progress keep their state and
    /// are adopted by a scheduler once their lock expires.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    pub(crate) fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Sleeps for `duration`, returning early (true) when the scheduler stops.
    pub(crate) async fn pause(&self, duration: std::time::Duration) -> bool {
        let mut stopping = self.stopping.subscribe();
        tokio::select! {
            _ = tokio::time::sleep(duration) => self.is_stopping(),
            _ = stopping.wait_for(|stopped| *stopped) => true,
        }
    }

    pub fn store(&self) -> &SchedulerStore {
        &self.store
    }

    /// Records a call refused because of who made it.
    pub(crate) async fn audit_refusal(
        &self,
        actor: &str,
        rpc: &str,
        reason: &str,
    ) -> Result<(), SchedulerError> {
        tracing::warn!(actor, rpc, reason, "refused a call");
        self.store
            .insert_audit(now_millis(), actor, "access.denied", rpc, reason)
            .await?;
        Ok(())
    }

    pub(crate) async fn audit(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), SchedulerError> {
        tracing::info!(actor = %caller.actor, action, target, detail, "audit");
        self.store
            .insert_audit(now_millis(), &caller.actor, action, target, detail)
            .await?;
        Ok(())
    }

    pub async fn create_profile(
        &self,
        caller: &Caller,
        spec: v1::ProfileSpec,
    ) -> Result<ProfileRow, SchedulerError> {
        let spec = profiles::validate(spec)?;
        self.require_registered_tenant("spec.tenant_id", &spec.tenant_id)
            .await?;
        self.refuse_shared_folder(&spec, None).await?;
        let now = Utc::now();
        let row = ProfileRow {
            profile_id: uuid::Uuid::new_v4().to_string(),
            tenant_id: spec.tenant_id.clone(),
            name: spec.name.clone(),
            next_run_at: next_run_millis(&spec, now),
            enabled: spec.enabled,
            spec: spec.encode_to_vec(),
            version: 1,
            last_run_id: String::new(),
            created_at: now.timestamp_millis(),
            updated_at: now.timestamp_millis(),
        };
        if !self.store.insert_profile(&row).await? {
            return Err(SchedulerError::AlreadyExists(format!(
                "tenant {} already has a profile named \"{}\"",
                row.tenant_id, row.name
            )));
        }
        self.audit(caller, "profile.created", &row.profile_id, &row.name)
            .await?;
        Ok(row)
    }

    pub async fn update_profile(
        &self,
        caller: &Caller,
        profile_id: &str,
        spec: v1::ProfileSpec,
        expected_version: u64,
    ) -> Result<ProfileRow, SchedulerError> {
        let current = self.profile(profile_id).await?;
        if expected_version != 0 && expected_version as i64 != current.version {
            return Err(SchedulerError::FailedPrecondition(format!(
                "profile {profile_id} changed since you read it (version {} now, {expected_version} read); read it again",
                current.version
            )));
        }
        let spec = profiles::validate(spec)?;
        if spec.tenant_id != current.tenant_id {
            self.require_registered_tenant("spec.tenant_id", &spec.tenant_id)
                .await?;
        }
        self.refuse_shared_folder(&spec, Some(&current.profile_id))
            .await?;
        let now = Utc::now();
        let row = ProfileRow {
            tenant_id: spec.tenant_id.clone(),
            name: spec.name.clone(),
            next_run_at: next_run_millis(&spec, now),
            enabled: spec.enabled,
            spec: spec.encode_to_vec(),
            version: current.version + 1,
            updated_at: now.timestamp_millis(),
            ..current.clone()
        };
        if !self.store.update_profile(&row, current.version).await? {
            return Err(SchedulerError::FailedPrecondition(format!(
                "profile {profile_id} changed while you updated it; read it again"
            )));
        }
        self.audit(
            caller,
            "profile.updated",
            profile_id,
            &format!("version {}", row.version),
        )
        .await?;
        Ok(row)
    }

    /// See [`profiles::refuse_shared_folder`]; `own_id` is the profile being
    /// updated, which does not collide with itself.
    async fn refuse_shared_folder(
        &self,
        spec: &v1::ProfileSpec,
        own_id: Option<&str>,
    ) -> Result<(), SchedulerError> {
        let mut others = Vec::new();
        for row in self.store.list_profiles(&spec.tenant_id).await? {
            if Some(row.profile_id.as_str()) == own_id {
                continue;
            }
            if row.name == spec.name {
                // The same name is the plainer mistake; say that one.
                return Err(SchedulerError::AlreadyExists(format!(
                    "tenant {} already has a profile named \"{}\"",
                    row.tenant_id, row.name
                )));
            }
            others.push((row.profile_id.clone(), decode_spec(&row)?));
        }
        profiles::refuse_shared_folder(spec, &others)
    }

    /// One page of the changes a run's writers planned (see
    /// `ListPlannedChanges`). The page token is `{mailbox_id}:{index}`: the
    /// first change not yet returned.
    pub async fn planned_changes(
        &self,
        run_id: &str,
        only_mailbox: &str,
        page_size: u32,
        page_token: &str,
    ) -> Result<v1::ListPlannedChangesResponse, SchedulerError> {
        self.run(run_id).await?;
        let page_size = match page_size {
            0 => 500,
            size => size.min(5_000),
        } as usize;
        let (mut from_mailbox, mut skip) = if page_token.is_empty() {
            (String::new(), 0usize)
        } else {
            let parsed = page_token
                .rsplit_once(':')
                .and_then(|(mailbox, index)| Some((mailbox.to_owned(), index.parse().ok()?)));
            parsed.ok_or_else(|| {
                SchedulerError::invalid(
                    "page_token",
                    "is not a token this API gave; pass next_page_token as it came, or nothing for the first page",
                )
            })?
        };
        let mut response = v1::ListPlannedChangesResponse::default();
        let mut inclusive = true;
        loop {
            let plans = self
                .store
                .plans_of_run(run_id, &from_mailbox, inclusive, only_mailbox, 50)
                .await?;
            let fetched = plans.len();
            for (mailbox_id, bytes) in plans {
                let plan = v1::MailboxPlan::decode(bytes.as_slice()).map_err(|error| {
                    SchedulerError::Internal(format!(
                        "the plan of {mailbox_id} is unreadable: {error}"
                    ))
                })?;
                let start = if mailbox_id == from_mailbox { skip } else { 0 };
                for (index, change) in plan.changes.into_iter().enumerate().skip(start) {
                    if response.changes.len() == page_size {
                        response.next_page_token = format!("{mailbox_id}:{index}");
                        return Ok(response);
                    }
                    response.changes.push(v1::MailboxChange {
                        mailbox_id: mailbox_id.clone(),
                        change: Some(change),
                    });
                }
                // The next query starts after this mailbox.
                from_mailbox = mailbox_id;
                inclusive = false;
                skip = 0;
            }
            if fetched < 50 {
                return Ok(response);
            }
        }
    }

    pub async fn profile(&self, profile_id: &str) -> Result<ProfileRow, SchedulerError> {
        self.store
            .get_profile(profile_id.trim())
            .await?
            .ok_or_else(|| SchedulerError::NotFound(format!("profile {profile_id} does not exist")))
    }

    pub async fn delete_profile(
        &self,
        caller: &Caller,
        profile_id: &str,
    ) -> Result<(), SchedulerError> {
        if let Some(run_id) = self.store.run_lock_holder(profile_id, now_millis()).await? {
            return Err(SchedulerError::Busy(format!(
                "profile {profile_id} has run {run_id} in progress; cancel it first"
            )));
        }
        if !self.store.delete_profile(profile_id).await? {
            return Err(SchedulerError::NotFound(format!(
                "profile {profile_id} does not exist"
            )));
        }
        self.audit(caller, "profile.deleted", profile_id, "").await
    }

    pub async fn explain_profile(
        &self,
        profile_id: &str,
    ) -> Result<v1::ExplainProfileResponse, SchedulerError> {
        let profile = self.profile(profile_id).await?;
        let spec = decode_spec(&profile)?;
        let filter = self
            .directory
            .explain_filter(&profile.tenant_id, spec.source.clone().unwrap_or_default())
            .await?;
        let targets = self
            .directory
            .resolve_targets(&profile.tenant_id, spec.targets.clone().unwrap_or_default())
            .await?;
        Ok(v1::ExplainProfileResponse {
            filter: Some(filter),
            target_mailboxes: targets.mailbox_ids.len() as u64,
            unresolved_targets: targets.unresolved,
        })
    }

    /// Starts a run of the profile now, unless one is in progress (ABORTED).
    pub async fn start_run(
        self: &Arc<Self>,
        caller: &Caller,
        profile_id: &str,
        dry_run: bool,
        full_read: bool,
        trigger: &str,
    ) -> Result<RunRow, SchedulerError> {
        let profile = self.profile(profile_id).await?;
        let run_id = uuid::Uuid::new_v4().to_string();
        let now = now_millis();
        let acquired = self.take_run_lock(&profile.profile_id, &run_id).await?;
        if !acquired {
            let holder = self
                .store
                .run_lock_holder(&profile.profile_id, now)
                .await?
                .unwrap_or_default();
            return Err(SchedulerError::Busy(format!(
                "profile {} already has run {holder} in progress; watch it or cancel it",
                profile.profile_id
            )));
        }
        let run = RunRow {
            run_id: run_id.clone(),
            profile_id: profile.profile_id.clone(),
            state: STATE_QUEUED.to_owned(),
            trigger: trigger.to_owned(),
            dry_run,
            full_read,
            snapshot_id: String::new(),
            created_at: now,
            started_at: None,
            finished_at: None,
            mailboxes_total: 0,
            error: String::new(),
            read_stats: None,
            cancel_requested: false,
            repair: false,
        };
        self.store.insert_run(&run).await?;
        self.store
            .set_last_run(&profile.profile_id, &run_id)
            .await?;
        self.append_state_event(&run_id, v1::RunState::Queued)
            .await?;
        self.metrics.run_started();
        self.audit(
            caller,
            "run.started",
            &run_id,
            &format!("profile {} ({trigger})", profile.profile_id),
        )
        .await?;
        self.spawn_driver(run_id);
        Ok(run)
    }

    /// The profile, if `caller` may see its tenant: another tenant's profile
    /// is "not found" to a tenant-scoped API key, as if it did not exist.
    pub async fn profile_for(
        &self,
        caller: &Caller,
        profile_id: &str,
    ) -> Result<ProfileRow, SchedulerError> {
        let row = self.profile(profile_id).await?;
        if !caller.sees_tenant(&row.tenant_id) {
            return Err(SchedulerError::NotFound(format!(
                "profile {profile_id} does not exist"
            )));
        }
        Ok(row)
    }

    /// The run, if `caller` may see its profile's tenant (see
    /// [`Scheduler::profile_for`]); a run whose profile was deleted is seen
    /// only by callers of every tenant.
    pub async fn run_for(&self, caller: &Caller, run_id: &str) -> Result<RunRow, SchedulerError> {
        let run = self.run(run_id).await?;
        if caller.tenant.is_some() {
            let profile = self.store.get_profile(&run.profile_id).await?;
            if !profile.is_some_and(|profile| caller.sees_tenant(&profile.tenant_id)) {
                return Err(SchedulerError::NotFound(format!(
                    "run {run_id} does not exist"
                )));
            }
        }
        Ok(run)
    }

    pub async fn run(&self, run_id: &str) -> Result<RunRow, SchedulerError> {
        self.store
            .get_run(run_id.trim())
            .await?
            .ok_or_else(|| SchedulerError::NotFound(format!("run {run_id} does not exist")))
    }

    pub async fn cancel_run(
        &self,
        caller: &Caller,
        run_id: &str,
    ) -> Result<RunRow, SchedulerError> {
        let run = self.run(run_id).await?;
        if !ACTIVE_STATES.contains(&run.state.as_str()) && run.state != STATE_AWAITING_APPROVAL {
            return Err(SchedulerError::FailedPrecondition(format!(
                "run {run_id} already ended ({})",
                run.state
            )));
        }
        self.store.request_cancel(&run.run_id).await?;
        if run.state == STATE_AWAITING_APPROVAL {
            // No driver is running; end it here.
            let mut ended = run.clone();
            ended.state = STATE_CANCELLED.to_owned();
            ended.finished_at = Some(now_millis());
            self.store.update_run(&ended).await?;
            self.append_state_event(&ended.run_id, v1::RunState::Cancelled)
                .await?;
        }
        self.audit(caller, "run.cancel_requested", run_id, "")
            .await?;
        self.run(run_id).await
    }

    /// Re-queues the mailboxes whose deletes the guard held, with deletions
    /// approved, and drives the run again.
    pub async fn approve_deletions(
        self: &Arc<Self>,
        caller: &Caller,
        run_id: &str,
    ) -> Result<RunRow, SchedulerError> {
        let mut run = self.run(run_id).await?;
        if run.state != STATE_AWAITING_APPROVAL {
            return Err(SchedulerError::FailedPrecondition(format!(
                "run {run_id} is {}, not awaiting approval",
                run.state
            )));
        }
        let acquired = self.take_run_lock(&run.profile_id, &run.run_id).await?;
        if !acquired {
            return Err(SchedulerError::Busy(format!(
                "profile {} has another run in progress; approve when it ends",
                run.profile_id
            )));
        }
        let requeued = self.requeue_awaiting_approval(&run.run_id).await?;
        run.state = STATE_WRITING.to_owned();
        run.finished_at = None;
        self.store.update_run(&run).await?;
        self.append_state_event(&run.run_id, v1::RunState::Writing)
            .await?;
        self.audit(
            caller,
            "run.deletions_approved",
            run_id,
            &format!("{requeued} mailbox(es)"),
        )
        .await?;
        self.spawn_driver(run.run_id.clone());
        Ok(run)
    }

    pub(crate) fn lock_ttl_millis(&self) -> i64 {
        self.timings.lock_ttl.as_millis() as i64
    }

    /// Takes the profile's run lock for `run_id` as this scheduler; false
    /// while another run holds a live lock.
    pub(crate) async fn take_run_lock(
        &self,
        profile_id: &str,
        run_id: &str,
    ) -> Result<bool, SchedulerError> {
        let now = now_millis();
        Ok(self
            .store
            .acquire_run_lock(
                profile_id,
                run_id,
                &self.node_id,
                now,
                now + self.lock_ttl_millis(),
            )
            .await?)
    }

    /// Appends a run event (sequence assigned by the store).
    pub(crate) async fn append_event(
        &self,
        run_id: &str,
        detail: v1::run_event::Detail,
        state: v1::RunState,
    ) -> Result<(), SchedulerError> {
        let now = Utc::now();
        let event = v1::RunEvent {
            sequence: 0,
            at: Some(galsync_proto::timestamp(now.into())),
            run_id: run_id.to_owned(),
            state: state as i32,
            detail: Some(detail),
        };
        self.store
            .append_event(run_id, now.timestamp_millis(), &event.encode_to_vec())
            .await?;
        Ok(())
    }

    pub(crate) async fn append_state_event(
        &self,
        run_id: &str,
        state: v1::RunState,
    ) -> Result<(), SchedulerError> {
        self.append_event(
            run_id,
            v1::run_event::Detail::StateChanged(state as i32),
            state,
        )
        .await
    }
}

pub fn decode_spec(profile: &ProfileRow) -> Result<v1::ProfileSpec, SchedulerError> {
    v1::ProfileSpec::decode(profile.spec.as_slice()).map_err(|error| {
        SchedulerError::Internal(format!(
            "profile {} is unreadable: {error}",
            profile.profile_id
        ))
    })
}

fn next_run_millis(spec: &v1::ProfileSpec, now: chrono::DateTime<Utc>) -> Option<i64> {
    if !spec.enabled {
        return None;
    }
    profiles::next_run(spec.schedule.as_ref(), now).map(|at| at.timestamp_millis())
}
