//! Exchange Online mailboxes as Graph exposes them: contact folders, contacts
//! with extended properties, photos, contacts delta, `$batch`, and the
//! per-app-per-mailbox throttling limits (in [`crate::throttle::mailbox`]).
//!
//! Submodules: [`model`] (stored shapes, ids), [`body`] (request bodies),
//! [`store`] and [`items`] (per-mailbox storage), [`odata`] and [`filter`] (query options), [`folders`],
//! [`contacts`], [`delta`], [`photos`] (Graph routes), [`batch`] (`$batch`),
//! [`admin`] (inspection and acting as the user, served at `/_admin/…` by
//! [`crate::admin`]).

pub mod admin;
pub mod batch;
pub mod batch_request;
pub mod body;
pub mod contacts;
pub mod delta;
pub mod filter;
pub mod folders;
pub mod items;
pub mod model;
pub mod odata;
pub mod photos;
pub mod store;

use std::sync::{Arc, Mutex};

use crate::auth::GraphCaller;
use crate::directory::MailboxLookup;
use crate::errors::GraphError;
use crate::AppState;
use axum::http::StatusCode;
use axum::Router;

pub use store::{Mailbox, MailboxError, MailboxStore};

/// Permissions that allow reading contacts.
pub(crate) const READ_PERMISSIONS: &[&str] = &["Contacts.Read", "Contacts.ReadWrite"];
/// Permissions that allow writing contacts.
pub(crate) const WRITE_PERMISSIONS: &[&str] = &["Contacts.ReadWrite"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(folders::routes())
        .merge(contacts::routes())
        .merge(delta::routes())
        .merge(photos::routes())
        .merge(batch::routes())
}

/// A mailbox the caller may use, resolved from the `{id|upn}` path segment.
pub(crate) struct OpenMailbox {
    pub mailbox: Arc<Mutex<Mailbox>>,
}

impl OpenMailbox {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Mailbox> {
        store::lock(&self.mailbox)
    }
}

/// Checks the caller's permission, resolves the user, and applies the app's
/// Exchange scope, in the order Graph does.
///
/// Exchange authorises an app by either of two grants, which add up
/// (<https://learn.microsoft.com/exchange/permissions-exo/application-rbac>:
/// RBAC grants "are independent of the unscoped grants in Microsoft Entra
/// ID"): the permission in the token's `roles` (limited by an application
/// access policy, when one applies), or an Exchange application role
/// assigned to the app whose scope holds the mailbox (not in the token).
pub(crate) fn open_mailbox(
    state: &AppState,
    caller: &GraphCaller,
    user: &str,
    permissions: &[&str],
) -> Result<OpenMailbox, GraphError> {
    let entra_grant = caller.require_mailbox(permissions);
    let entra_granted = entra_grant.is_ok();
    if !entra_granted
        && !state
            .identity
            .has_exchange_role(caller.tenant_id, &caller.claims.appid, permissions)
    {
        entra_grant?;
    }
    let user_id = match state.directory.mailbox_user(caller.tenant_id, user) {
        Ok(user_id) => user_id,
        Err(MailboxLookup::NoSuchUser) => {
            return Err(GraphError::new(
                StatusCode::NOT_FOUND,
                "ErrorInvalidUser",
                format!("The requested user '{user}' is invalid."),
            ))
        }
        Err(MailboxLookup::NoMailbox) => {
            return Err(GraphError::new(
                StatusCode::NOT_FOUND,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            ))
        }
    };
    let exchange_grant = || {
        state.identity.exchange_role_allows(
            caller.tenant_id,
            &caller.claims.appid,
            permissions,
            &user_id,
        )
    };
    if entra_granted {
        if !state
            .identity
            .mailbox_in_app_scope(caller.tenant_id, &caller.claims.appid, &user_id)
            && !exchange_grant()
        {
            return Err(GraphError::access_denied("Access to OData is disabled."));
        }
    } else if !exchange_grant() {
        // Out of every role assignment's scope: Exchange refuses as for no grant.
        caller.require_mailbox(permissions)?;
    }
    Ok(OpenMailbox {
        mailbox: state.mailboxes.open(caller.tenant_id, &user_id),
    })
}

/// 400 `ErrorInvalidIdMalformed` for ids that cannot be Exchange ids.
pub(crate) fn check_id(id: &str) -> Result<(), GraphError> {
    if model::is_well_formed_id(id) {
        Ok(())
    } else {
        Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidIdMalformed",
            "Id is malformed.",
        ))
    }
}

/// The Graph error for a failed mailbox operation.
pub(crate) fn item_error(error: MailboxError) -> GraphError {
    match error {
        MailboxError::NotFound => {
            GraphError::not_found("The specified object was not found in the store.")
        }
        MailboxError::FolderExists => GraphError::new(
            StatusCode::CONFLICT,
            "ErrorFolderExists",
            "A folder with the specified name already exists.",
        ),
        MailboxError::DistinguishedFolder => GraphError::new(
            StatusCode::BAD_REQUEST,
            "ErrorDeleteDistinguishedFolder",
            "Distinguished folders cannot be deleted.",
        ),
    }
}

/// `@odata.context` of a response, e.g. `…/$metadata#users('x')/contactFolders`.
pub(crate) fn odata_context(state: &AppState, fragment: &str) -> String {
    format!("{}/v1.0/$metadata#{fragment}", state.base_url())
}
