//! The reader's repository over SQLite or PostgreSQL with one set of queries
//! (see `galsync_platform::with_pool!`): read scopes with their users and
//! delta link, snapshots, and photos.

use galsync_platform::store::StorePool;

mod photos;
mod scopes;
mod snapshots;

pub use photos::PhotoRow;
pub use scopes::ScopeChange;
pub use snapshots::SnapshotRow;

#[derive(Debug, Clone)]
pub struct Store {
    pool: StorePool,
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Store {
    pub fn new(pool: StorePool) -> Self {
        Self { pool }
    }
}
