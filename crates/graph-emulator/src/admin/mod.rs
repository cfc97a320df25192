//! The admin API (`/_admin/…`): seeding, inspection, counters, faults, the
//! clock. Every admin route and its HTTP handler lives here, and [`routes`]
//! is the one table of them; the state each route changes stays in its own
//! area ([`crate::identity`], [`crate::directory`], [`crate::mailbox`],
//! [`crate::accounting`], [`crate::faults`], [`crate::clock`]). The areas
//! never depend on this module.

use axum::Router;

use crate::AppState;

mod directory;
mod identity;
mod instrument;
mod mailbox;
mod roles;

/// Every `/_admin/…` route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(instrument::routes())
        .merge(identity::routes())
        .merge(roles::routes())
        .merge(directory::routes())
        .merge(mailbox::routes())
}
