//! The directory: users, groups, memberships, photos, delta, and the seeded
//! synthetic tenant generator.
//!
//! CONTRACT used by the rest of the emulator (keep these signatures):
//! - `DirectoryStore::mailbox_user(&self, tenant_id: Uuid, user: &str) -> Result<String, MailboxLookup>`
//!   resolves a user id or UPN to the user's object id when the user exists and has a mailbox.
//! - `DirectoryStore::add_mailbox_user(&self, tenant_id: Uuid, display_name: &str, upn: &str, licensed: bool) -> String`
//!   adds a minimal user (the object id is returned); a convenience for tests of other modules.
//! - `routes() -> Router<AppState>`
//!
//! Mailbox kinds and licences as Graph shows them: `GET
//! /users/{id}/mailboxSettings/userPurpose` (needs MailboxSettings.Read) names
//! the kind (`user`, `shared`, `room`, `equipment`), 404
//! MailboxNotEnabledForRESTAPI when there is no mailbox; `assignedPlans` lists
//! each licence's service plans, Exchange Online being `service: "exchange"`.
//! Resource mailboxes are usually disabled and unlicensed, but not always (the
//! seed's first shared mailbox holds Exchange Online Plan 2), and a licence
//! need not bring a mailbox (the seed's Power BI Pro-only members). `GET
//! /places/microsoft.graph.room` (Place.Read.All) lists every room mailbox.

pub mod deleted;
pub mod delta;
pub mod delta_round;
pub mod filter_eval;
pub mod group_properties;
pub mod groups;
pub mod http;
pub mod member_groups;
pub mod model;
pub mod mutations;
pub mod patch;
pub mod photos;
pub mod places;
pub mod properties;
pub mod query;
pub mod seed;
pub mod store;
pub mod users;

use axum::routing::{get, post};
use axum::Router;
use uuid::Uuid;

use crate::AppState;

pub use model::{Group, LicenseSku, MailboxKind, MemberRef, User, UserType};
pub use seed::{SeedOptions, SeedSummary};
pub use store::{DeltaEvent, DirectoryStore};

/// Why a mailbox could not be addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxLookup {
    /// No such user in the tenant.
    NoSuchUser,
    /// The user exists but has no Exchange Online mailbox (not licensed).
    NoMailbox,
}

impl DirectoryStore {
    pub fn mailbox_user(&self, tenant_id: Uuid, user: &str) -> Result<String, MailboxLookup> {
        let Some(found) = self.find_user(tenant_id, user) else {
            return Err(MailboxLookup::NoSuchUser);
        };
        if found.has_mailbox() {
            Ok(found.id.to_string())
        } else {
            Err(MailboxLookup::NoMailbox)
        }
    }

    /// Adds a minimal member; licensed ones get a user mailbox and `mail` = UPN.
    /// An existing user with that UPN is returned as is.
    pub fn add_mailbox_user(
        &self,
        tenant_id: Uuid,
        display_name: &str,
        upn: &str,
        licensed: bool,
    ) -> String {
        if let Some(existing) = self.find_user(tenant_id, upn) {
            return existing.id.to_string();
        }
        let user = if licensed {
            User::new_licensed(display_name, upn)
        } else {
            User::new(display_name, upn)
        };
        let id = user.id;
        match self.add_user(tenant_id, user) {
            Ok(_) => id.to_string(),
            Err(error) => {
                tracing::warn!(%error, upn, "failed to add a mailbox user");
                id.to_string()
            }
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1.0/users", get(users::list_users))
        .route("/v1.0/users/$count", get(users::count_users))
        .route("/v1.0/users/delta", get(delta::users_delta))
        .route(
            "/v1.0/users/microsoft.graph.delta()",
            get(delta::users_delta),
        )
        .route("/v1.0/users/{id}", get(users::get_user))
        .route("/v1.0/users/{id}/manager", get(users::get_manager))
        .route("/v1.0/users/{id}/photo", get(photos::get_photo_metadata))
        .route(
            "/v1.0/users/{id}/photo/$value",
            get(photos::get_photo_value),
        )
        .route(
            "/v1.0/users/{id}/mailboxSettings",
            get(users::get_mailbox_settings),
        )
        .route(
            "/v1.0/users/{id}/mailboxSettings/userPurpose",
            get(users::get_user_purpose),
        )
        .route("/v1.0/places/microsoft.graph.room", get(places::list_rooms))
        .route(
            "/v1.0/directory/deletedItems/microsoft.graph.user",
            get(deleted::list_deleted_users),
        )
        .route(
            "/v1.0/directory/deletedItems/{id}",
            get(deleted::get_deleted_item),
        )
        .route(
            "/v1.0/me/checkMemberGroups",
            post(member_groups::check_my_member_groups),
        )
        .route("/v1.0/groups", get(groups::list_groups))
        .route("/v1.0/groups/{id}", get(groups::get_group))
        .route("/v1.0/groups/{id}/members", get(groups::members))
        .route(
            "/v1.0/groups/{id}/members/microsoft.graph.user",
            get(groups::member_users),
        )
        .route(
            "/v1.0/groups/{id}/transitiveMembers",
            get(groups::transitive_members),
        )
        .route(
            "/v1.0/groups/{id}/transitiveMembers/microsoft.graph.user",
            get(groups::transitive_member_users),
        )
}
