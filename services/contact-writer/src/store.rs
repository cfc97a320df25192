//! The writer's state over SQLite or PostgreSQL: per (profile, mailbox) the
//! folder and whether the contact rows can be trusted; per (profile, mailbox,
//! source user) the contact id and the hashes of what was written.
//!
//! Crash safety rests on one contract: a run marks the mailbox uncertain
//! ([`WriterStore::mark_uncertain`]) before its first Graph write and valid
//! only after its last store write. Any crash in between leaves it uncertain,
//! and the next run rebuilds the rows from the mailbox before writing.

use galsync_platform::store::StorePool;

mod contacts;
mod mailboxes;

pub use contacts::ContactRecord;
pub use mailboxes::MailboxState;

/// The contact-writer's repository.
#[derive(Debug, Clone)]
pub struct WriterStore {
    pool: StorePool,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

impl WriterStore {
    pub fn new(pool: StorePool) -> Self {
        Self { pool }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
