//! The scheduler's repository over SQLite or PostgreSQL: profiles, runs and
//! their events, the work queue, run locks, API keys and the audit log.
//! Protobuf messages (profile specs, work requests, results) are stored as
//! their encoded bytes; the columns queries filter on are plain columns.

use galsync_platform::store::StorePool;

pub type StoreResult<T> = Result<T, sqlx::Error>;

mod api_keys;
mod locks;
mod profiles;
mod runs;
mod signals;
mod work;

pub use api_keys::{ApiKeyRow, AuditRow};
pub use profiles::ProfileRow;
pub use runs::RunRow;
pub use signals::{RunSignal, RunSignals};
pub use work::WorkItemRow;

#[derive(Debug, Clone)]
pub struct SchedulerStore {
    pool: StorePool,
    /// Woken when this process queues work, so waiting leases answer at once.
    work_added: std::sync::Arc<tokio::sync::Notify>,
    /// Woken when this process changes a run's items or appends its events.
    run_signals: std::sync::Arc<RunSignals>,
}

impl SchedulerStore {
    pub fn new(pool: StorePool) -> Self {
        Self {
            pool,
            work_added: Default::default(),
            run_signals: Default::default(),
        }
    }

    /// Resolves when this process next queues work.
    pub fn work_added(&self) -> tokio::sync::futures::Notified<'_> {
        self.work_added.notified()
    }

    /// A receiver that changes when this process next raises `signal` of
    /// `run_id` (see [`RunSignals::subscribe`]).
    pub fn watch_run(&self, run_id: &str, signal: RunSignal) -> tokio::sync::watch::Receiver<u64> {
        self.run_signals.subscribe(run_id, signal)
    }

    pub fn pool(&self) -> &StorePool {
        &self.pool
    }
}
