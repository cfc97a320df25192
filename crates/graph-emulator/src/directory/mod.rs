//! The directory: users, groups, memberships, photos, delta, and the seeded
//! synthetic tenant generator.
//!
//! CONTRACT used by the rest of the emulator (keep these signatures):
//! - `DirectoryStore::mailbox_user(&self, tenant_id: Uuid, user: &str) -> Result<String, MailboxLookup>`
//!   resolves a user id or UPN to the user's object id when the user exists and has a mailbox.
//! - `DirectoryStore::add_mailbox_user(&self, tenant_id: Uuid, display_name: &str, upn: &str, licensed: bool) -> String`
//!   adds a minimal user (the object id is returned); a convenience for tests of other modules.
//! - `routes() -> Router<AppState>`

use std::collections::HashMap;
use std::sync::RwLock;

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

/// Placeholder model until the full directory lands: (object id, UPN, licensed).
#[derive(Debug, Default)]
pub struct DirectoryStore {
    users: RwLock<HashMap<Uuid, Vec<(String, String, bool)>>>,
}

impl DirectoryStore {
    pub fn mailbox_user(&self, tenant_id: Uuid, user: &str) -> Result<String, MailboxLookup> {
        let users = self
            .users
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(list) = users.get(&tenant_id) else {
            return Err(MailboxLookup::NoSuchUser);
        };
        for (id, upn, licensed) in list {
            if id.eq_ignore_ascii_case(user) || upn.eq_ignore_ascii_case(user) {
                return if *licensed {
                    Ok(id.clone())
                } else {
                    Err(MailboxLookup::NoMailbox)
                };
            }
        }
        Err(MailboxLookup::NoSuchUser)
    }

    pub fn add_mailbox_user(
        &self,
        tenant_id: Uuid,
        _display_name: &str,
        upn: &str,
        licensed: bool,
    ) -> String {
        let id = Uuid::new_v4().to_string();
        let mut users = self
            .users
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        users
            .entry(tenant_id)
            .or_default()
            .push((id.clone(), upn.to_owned(), licensed));
        id
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
}
