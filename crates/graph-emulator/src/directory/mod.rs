//! The directory: users, groups, memberships, photos, delta, and the seeded
//! synthetic tenant generator.
//!
//! CONTRACT used by the rest of the emulator (keep these signatures):
//! - `DirectoryStore::mailbox_user(&self, tenant_id: Uuid, user: &str) -> Result<String, MailboxLookup>`
//!   resolves a user id or UPN to the user's object id when the user exists and has a mailbox.
//! - `routes() -> Router<AppState>`

use axum::Router;
use uuid::Uuid;

use crate::AppState;

/// Why a mailbox could not be addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxLookup {
    /// No such user in the tenant.
    NoSuchUser,
    /// The user exists but has no Exchange Online mailbox (not licensed).
    NoMailbox,
}

#[derive(Debug, Default)]
pub struct DirectoryStore {}

impl DirectoryStore {
    pub fn mailbox_user(&self, _tenant_id: Uuid, _user: &str) -> Result<String, MailboxLookup> {
        Err(MailboxLookup::NoSuchUser)
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
}
