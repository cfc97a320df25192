//! JSON admin routes over the mailbox admin methods, under
//! `/_admin/tenants/{tenant}/mailboxes/{user}/…` (tenant GUID or domain, user
//! id or UPN): folders, a folder's contacts as stored, acting as the user,
//! counts.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::directory::MailboxLookup;
use crate::mailbox::admin::UserActionError;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
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

/// A refused admin call: `{"error": "…"}` with a status.
#[derive(Debug, Clone)]
pub struct AdminFailure {
    pub status: StatusCode,
    pub message: String,
}

impl IntoResponse for AdminFailure {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": self.message}))).into_response()
    }
}

fn admin_error(status: StatusCode, message: impl Into<String>) -> AdminFailure {
    AdminFailure {
        status,
        message: message.into(),
    }
}

fn action_error(error: UserActionError) -> AdminFailure {
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
) -> Result<(Uuid, String), AdminFailure> {
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

type AdminResult = Result<Response, AdminFailure>;

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
