//! Mailbox inspection and acting as the mailbox's own user (a phone, Outlook,
//! another tool): no app token, not counted as app requests. Rust methods on
//! [`MailboxStore`] take the tenant id and the user's object id; the JSON
//! routes under `/_admin/tenants/{tenant}/mailboxes/{user}/…` accept a tenant
//! GUID or domain and a user id or UPN.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::body::{contact_changes, ContactChanges};
use super::model::Projection;
use super::store::{MailboxError, MailboxStore};
use crate::directory::MailboxLookup;
use crate::AppState;

/// A folder as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderSummary {
    pub id: String,
    pub display_name: String,
    pub parent_folder_id: String,
    pub contact_count: usize,
    /// True for the mailbox's default Contacts folder.
    pub is_default: bool,
}

/// Why an action as the mailbox's user failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserActionError {
    #[error("no such folder or contact in the mailbox")]
    NotFound,
    #[error("the default contacts folder cannot be renamed or deleted")]
    DistinguishedFolder,
    #[error("invalid contact: {0}")]
    InvalidContact(String),
}

impl From<MailboxError> for UserActionError {
    fn from(error: MailboxError) -> Self {
        match error {
            MailboxError::NotFound | MailboxError::FolderExists => UserActionError::NotFound,
            MailboxError::DistinguishedFolder => UserActionError::DistinguishedFolder,
        }
    }
}

fn user_changes(contact: Value) -> Result<ContactChanges, UserActionError> {
    let Value::Object(object) = contact else {
        return Err(UserActionError::InvalidContact(
            "expected a json object".to_owned(),
        ));
    };
    contact_changes(object).map_err(|error| UserActionError::InvalidContact(error.message))
}

impl MailboxStore {
    /// Every folder of the mailbox, the default Contacts folder first.
    pub fn folders(&self, tenant_id: Uuid, user_id: &str) -> Vec<FolderSummary> {
        self.with(tenant_id, user_id, |mailbox| {
            mailbox
                .all_folders()
                .into_iter()
                .map(|folder| FolderSummary {
                    id: folder.id.clone(),
                    display_name: folder.display_name.clone(),
                    parent_folder_id: folder.parent_folder_id.clone(),
                    contact_count: mailbox.contact_count(&folder.id),
                    is_default: folder.id == mailbox.root_folder_id,
                })
                .collect()
        })
    }

    /// Folders whose display name equals `display_name` (case-insensitive).
    pub fn folders_named(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        display_name: &str,
    ) -> Vec<FolderSummary> {
        self.folders(tenant_id, user_id)
            .into_iter()
            .filter(|folder| folder.display_name.eq_ignore_ascii_case(display_name))
            .collect()
    }

    /// Id of the default Contacts folder.
    pub fn default_folder_id(&self, tenant_id: Uuid, user_id: &str) -> String {
        self.with(tenant_id, user_id, |mailbox| mailbox.root_folder_id.clone())
    }

    /// A folder's contacts exactly as stored, with every extended property.
    pub fn folder_contacts(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        folder_id: &str,
    ) -> Result<Vec<Value>, UserActionError> {
        self.with(tenant_id, user_id, |mailbox| {
            let projection = Projection::everything();
            Ok(mailbox
                .folder_contacts(folder_id)?
                .map(|contact| contact.to_json(&projection))
                .collect())
        })
    }

    /// One contact (any folder) exactly as stored.
    pub fn contact(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        contact_id: &str,
    ) -> Result<Value, UserActionError> {
        self.with(tenant_id, user_id, |mailbox| {
            Ok(mailbox
                .contact(contact_id, None)?
                .to_json(&Projection::everything()))
        })
    }

    pub fn contact_count(&self, tenant_id: Uuid, user_id: &str, folder_id: &str) -> usize {
        self.with(tenant_id, user_id, |mailbox| {
            mailbox.contact_count(folder_id)
        })
    }

    /// Creates a folder as the user would; duplicate names are allowed, as
    /// other clients manage to create them.
    pub fn user_create_folder(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        parent_folder_id: Option<&str>,
        display_name: &str,
    ) -> Result<FolderSummary, UserActionError> {
        self.with(tenant_id, user_id, |mailbox| {
            let parent = parent_folder_id
                .map(str::to_owned)
                .unwrap_or_else(|| mailbox.root_folder_id.clone());
            let folder = mailbox.create_folder(&parent, display_name, true)?;
            Ok(FolderSummary {
                id: folder.id,
                display_name: folder.display_name,
                parent_folder_id: folder.parent_folder_id,
                contact_count: 0,
                is_default: false,
            })
        })
    }

    pub fn user_rename_folder(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        folder_id: &str,
        display_name: &str,
    ) -> Result<FolderSummary, UserActionError> {
        self.with(tenant_id, user_id, |mailbox| {
            let folder = mailbox.rename_folder(folder_id, display_name, true)?;
            Ok(FolderSummary {
                contact_count: mailbox.contact_count(&folder.id),
                id: folder.id,
                display_name: folder.display_name,
                parent_folder_id: folder.parent_folder_id,
                is_default: false,
            })
        })
    }

    /// Deletes a folder with everything in it.
    pub fn user_delete_folder(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        folder_id: &str,
    ) -> Result<(), UserActionError> {
        self.with(tenant_id, user_id, |mailbox| {
            Ok(mailbox.delete_folder(folder_id)?)
        })
    }

    /// Creates a contact (Graph's contact JSON) in a folder, or the default
    /// Contacts folder; returns it as stored.
    pub fn user_create_contact(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        folder_id: Option<&str>,
        contact: Value,
    ) -> Result<Value, UserActionError> {
        let changes = user_changes(contact)?;
        self.with(tenant_id, user_id, |mailbox| {
            let folder = folder_id
                .map(str::to_owned)
                .unwrap_or_else(|| mailbox.root_folder_id.clone());
            Ok(mailbox
                .create_contact(&folder, changes, chrono::Utc::now())?
                .to_json(&Projection::everything()))
        })
    }

    /// Edits a contact as the user would (null clears a field).
    pub fn user_update_contact(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        contact_id: &str,
        patch: Value,
    ) -> Result<Value, UserActionError> {
        let changes = user_changes(patch)?;
        self.with(tenant_id, user_id, |mailbox| {
            Ok(mailbox
                .update_contact(contact_id, None, changes, chrono::Utc::now())?
                .to_json(&Projection::everything()))
        })
    }

    pub fn user_delete_contact(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        contact_id: &str,
    ) -> Result<(), UserActionError> {
        self.with(tenant_id, user_id, |mailbox| {
            Ok(mailbox.delete_contact(contact_id, None)?)
        })
    }
}

pub fn routes() -> Router<AppState> {
    let mailbox = "/_admin/tenants/{tenant}/mailboxes/{user}";
    Router::new()
        .route(
            &format!("{mailbox}/folders"),
            get(list_folders).post(create_folder),
        )
        .route(
            &format!("{mailbox}/folders/{{folder_id}}"),
            patch(rename_folder).delete(delete_folder),
        )
        .route(
            &format!("{mailbox}/folders/{{folder_id}}/contacts"),
            get(list_contacts).post(create_contact),
        )
        .route(
            &format!("{mailbox}/contacts"),
            axum::routing::post(create_default_contact),
        )
        .route(
            &format!("{mailbox}/contacts/{{contact_id}}"),
            get(show_contact)
                .patch(update_contact)
                .delete(delete_contact),
        )
        .route(&format!("{mailbox}/counts"), get(counts))
}

fn admin_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

fn action_error(error: UserActionError) -> Response {
    let status = match error {
        UserActionError::NotFound => StatusCode::NOT_FOUND,
        UserActionError::DistinguishedFolder | UserActionError::InvalidContact(_) => {
            StatusCode::BAD_REQUEST
        }
    };
    admin_error(status, error.to_string())
}

/// Resolves a tenant (GUID or domain) and a user (id or UPN) with a mailbox.
pub fn resolve_mailbox(
    state: &AppState,
    tenant: &str,
    user: &str,
) -> Result<(Uuid, String), Response> {
    let Some(tenant_id) = state.identity.resolve_tenant(tenant) else {
        return Err(admin_error(
            StatusCode::NOT_FOUND,
            format!("tenant {tenant} not found"),
        ));
    };
    match state.directory.mailbox_user(tenant_id, user) {
        Ok(user_id) => Ok((tenant_id, user_id)),
        Err(MailboxLookup::NoSuchUser) => Err(admin_error(
            StatusCode::NOT_FOUND,
            format!("user {user} not found"),
        )),
        Err(MailboxLookup::NoMailbox) => Err(admin_error(
            StatusCode::NOT_FOUND,
            format!("user {user} has no mailbox"),
        )),
    }
}

type AdminResult = Result<Response, Response>;

async fn list_folders(
    State(state): State<AppState>,
    Path((tenant, user)): Path<(String, String)>,
) -> AdminResult {
    let (tenant_id, user_id) = resolve_mailbox(&state, &tenant, &user)?;
    Ok(Json(state.mailboxes.folders(tenant_id, &user_id)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FolderRequest {
    display_name: String,
    parent_folder_id: Option<String>,
}

async fn create_folder(
    State(state): State<AppState>,
    Path((tenant, user)): Path<(String, String)>,
    Json(request): Json<FolderRequest>,
) -> AdminResult {
    let (tenant_id, user_id) = resolve_mailbox(&state, &tenant, &user)?;
    let folder = state
        .mailboxes
        .user_create_folder(
            tenant_id,
            &user_id,
            request.parent_folder_id.as_deref(),
            &request.display_name,
        )
        .map_err(action_error)?;
    Ok((StatusCode::CREATED, Json(folder)).into_response())
}

async fn rename_folder(
    State(state): State<AppState>,
    Path((tenant, user, folder_id)): Path<(String, String, String)>,
    Json(request): Json<FolderRequest>,
) -> AdminResult {
    let (tenant_id, user_id) = resolve_mailbox(&state, &tenant, &user)?;
    let folder = state
        .mailboxes
        .user_rename_folder(tenant_id, &user_id, &folder_id, &request.display_name)
        .map_err(action_error)?;
    Ok(Json(folder).into_response())
}

async fn delete_folder(
    State(state): State<AppState>,
    Path((tenant, user, folder_id)): Path<(String, String, String)>,
) -> AdminResult {
    let (tenant_id, user_id) = resolve_mailbox(&state, &tenant, &user)?;
    state
        .mailboxes
        .user_delete_folder(tenant_id, &user_id, &folder_id)
        .map_err(action_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_contacts(
    State(state): State<AppState>,
    Path((tenant, user, folder_id)): Path<(String, String, String)>,
) -> AdminResult {
    let (tenant_id, user_id) = resolve_mailbox(&state, &tenant, &user)?;
    let contacts = state
        .mailboxes
        .folder_contacts(tenant_id, &user_id, &folder_id)
        .map_err(action_error)?;
    Ok(Json(contacts).into_response())
}

async fn create_contact(
    State(state): State<AppState>,
    Path((tenant, user, folder_id)): Path<(String, String, String)>,
    Json(contact): Json<Value>,
) -> AdminResult {
    let (tenant_id, user_id) = resolve_mailbox(&state, &tenant, &user)?;
    let created = state
        .mailboxes
        .user_create_contact(tenant_id, &user_id, Some(&folder_id), contact)
        .map_err(action_error)?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn create_default_contact(
    State(state): State<AppState>,
    Path((tenant, user)): Path<(String, String)>,
    Json(contact): Json<Value>,
) -> AdminResult {
    let (tenant_id, user_id) = resolve_mailbox(&state, &tenant, &user)?;
    let created = state
        .mailboxes
        .user_create_contact(tenant_id, &user_id, None, contact)
        .map_err(action_error)?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn show_contact(
    State(state): State<AppState>,
    Path((tenant, user, contact_id)): Path<(String, String, String)>,
) -> AdminResult {
    let (tenant_id, user_id) = resolve_mailbox(&state, &tenant, &user)?;
    let contact = state
        .mailboxes
        .contact(tenant_id, &user_id, &contact_id)
        .map_err(action_error)?;
    Ok(Json(contact).into_response())
}

async fn update_contact(
    State(state): State<AppState>,
    Path((tenant, user, contact_id)): Path<(String, String, String)>,
    Json(patch): Json<Value>,
) -> AdminResult {
    let (tenant_id, user_id) = resolve_mailbox(&state, &tenant, &user)?;
    let updated = state
        .mailboxes
        .user_update_contact(tenant_id, &user_id, &contact_id, patch)
        .map_err(action_error)?;
    Ok(Json(updated).into_response())
}

async fn delete_contact(
    State(state): State<AppState>,
    Path((tenant, user, contact_id)): Path<(String, String, String)>,
) -> AdminResult {
    let (tenant_id, user_id) = resolve_mailbox(&state, &tenant, &user)?;
    state
        .mailboxes
        .user_delete_contact(tenant_id, &user_id, &contact_id)
        .map_err(action_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn counts(
    State(state): State<AppState>,
    Path((tenant, user)): Path<(String, String)>,
) -> AdminResult {
    let (tenant_id, user_id) = resolve_mailbox(&state, &tenant, &user)?;
    let folders = state.mailboxes.folders(tenant_id, &user_id);
    let total: usize = folders.iter().map(|folder| folder.contact_count).sum();
    Ok(Json(json!({"folders": folders, "total": total})).into_response())
}
