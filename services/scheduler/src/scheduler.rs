//! The scheduler's domain: profiles, runs (one at a time per profile under a
//! persisted lock), approvals and cancellation. Each use case has its module:
//! profile administration (`scheduler/profile_admin.rs`), starting,
//! cancelling and approving runs (`scheduler/run_control.rs`), runs as the
//! API shows them and their event log (`scheduler/run_views.rs`), the changes
//! a run planned (`scheduler/planned_changes.rs`). The run driver lives in
//! `driver.rs`, the work queue in `queue.rs`. The gRPC adapter (`grpc.rs`)
//! calls these use cases, never the store.

mod planned_changes;
mod profile_admin;
mod run_control;
mod run_views;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use galsync_proto::v1;
use prost::Message;

use crate::access::{Access, Caller};
use crate::directory::DirectorySource;
use crate::error::SchedulerError;
use crate::store::{AuditRow, ProfileRow, SchedulerStore};
use crate::tenants::TenantRegistry;

/// Timing settings (shortened in tests).
#[derive(Debug, Clone)]
pub struct Timings {
    /// How long a run lock lives without renewal (a dead holder frees it then).
    pub lock_ttl: Duration,
    /// While a run's items are ending, how often at most its driver looks
    /// at them all and reports progress (it sees the last one end at once).
    pub driver_poll: Duration,
    /// How often a run's driver and `WatchRun` look at the store when this
    /// process heard of no change: the safety net for work completed through
    /// another scheduler replica, and for leases that lapse. The driver
    /// also renews its lock this often (at most a third of `lock_ttl`).
    pub driver_recheck: Duration,
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
            driver_recheck: Duration::from_secs(1),
            tick: Duration::from_secs(1),
            max_attempts: 5,
            run_retention: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

pub use crate::run_state::RunState;

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

    /// How long a watcher of a run that heard of no change waits before
    /// looking at the store again: `driver_recheck`, and often enough for
    /// the driver to renew its run lock.
    pub(crate) fn recheck_interval(&self) -> Duration {
        let renewal = self.timings.lock_ttl / 3;
        self.timings
            .driver_recheck
            .min(renewal)
            .max(Duration::from_millis(1))
    }

    /// The store itself: for tests that reach under the API (the service
    /// goes through the use cases above).
    pub fn store(&self) -> &SchedulerStore {
        &self.store
    }

    /// Who calls: `access` authenticates the request, looking presented
    /// API keys up in the store.
    pub(crate) async fn authenticate<T>(
        &self,
        access: &Access,
        request: &tonic::Request<T>,
    ) -> Result<Caller, SchedulerError> {
        access.caller(&self.store, request).await
    }

    /// Audit entries newest first (see [`SchedulerStore::list_audit_filtered`]).
    pub async fn audit_log(
        &self,
        actor: &str,
        action: &str,
        before_id: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, SchedulerError> {
        Ok(self
            .store
            .list_audit_filtered(actor, action, before_id, limit)
            .await?)
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
}

pub fn decode_spec(profile: &ProfileRow) -> Result<v1::ProfileSpec, SchedulerError> {
    v1::ProfileSpec::decode(profile.spec.as_slice()).map_err(|error| {
        SchedulerError::Internal(format!(
            "profile {} is unreadable: {error}",
            profile.profile_id
        ))
    })
}
