//! A read scope's users as a committed round left them, shared by the
//! reader's rounds, the pre-filtered scopes that follow them and the
//! mailbox-purpose reads that complete them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::source::SourceUser;

/// Users of one read scope after a committed round.
#[derive(Debug, Clone)]
pub struct ScopeState {
    pub version: i64,
    pub delta_link: String,
    pub users: Arc<HashMap<String, SourceUser>>,
    /// Which `users` these are: a number this process gives each set of
    /// users it makes, kept by a round that changed nobody. Equal numbers
    /// mean the same users, so what was built from them can be reused.
    pub users_generation: u64,
    /// When this process last committed or confirmed the state with Graph.
    pub read_at: Instant,
}

impl ScopeState {
    /// The state of a round committed as `version` just now, its users new.
    pub fn read_now(version: i64, delta_link: String, users: HashMap<String, SourceUser>) -> Self {
        Self {
            version,
            delta_link,
            users: Arc::new(users),
            users_generation: next_users_generation(),
            read_at: Instant::now(),
        }
    }

    /// The same round with `users` in place of its own (new, so a new generation).
    pub fn with_users(self, users: HashMap<String, SourceUser>) -> Self {
        Self {
            users: Arc::new(users),
            users_generation: next_users_generation(),
            ..self
        }
    }
}

/// `users` keyed by id.
pub fn by_id(users: Vec<SourceUser>) -> HashMap<String, SourceUser> {
    let mut by_id = HashMap::with_capacity(users.len());
    for user in users {
        by_id.insert(user.id.clone(), user);
    }
    by_id
}

/// `users` with `removals` gone and `upserts` in.
pub fn changed(
    users: &HashMap<String, SourceUser>,
    removals: &[String],
    upserts: &[SourceUser],
) -> HashMap<String, SourceUser> {
    let mut users = users.clone();
    for removed_id in removals {
        users.remove(removed_id);
    }
    for user in upserts {
        users.insert(user.id.clone(), user.clone());
    }
    users
}

/// A `users_generation` no set of users of this process has had yet.
fn next_users_generation() -> u64 {
    static GENERATIONS: AtomicU64 = AtomicU64::new(1);
    GENERATIONS.fetch_add(1, Ordering::Relaxed)
}
