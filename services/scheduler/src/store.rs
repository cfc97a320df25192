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
mod work;

pub use api_keys::ApiKeyRow;
pub use profiles::ProfileRow;
pub use runs::RunRow;
pub use work::WorkItemRow;

#[derive(Debug, Clone)]
pub struct SchedulerStore {
    pool: StorePool,
    /// Woken when this process queues work, so waiting leases answer at once.
    work_added: std::sync::Arc<tokio::sync::Notify>,
}

impl SchedulerStore {
    pub fn new(pool: StorePool) -> Self {
        Self {
            pool,
            work_added: Default::default(),
        }
    }

    /// Resolves when this process next queues work.
    pub fn work_added(&self) -> tokio::sync::futures::Notified<'_> {
        self.work_added.notified()
    }

    pub fn pool(&self) -> &StorePool {
        &self.pool
    }
}
