//! Directory roles of users (Global Administrator, Application
//! Administrator, …): what Graph checks, besides the delegated scope, when a
//! signed-in admin manages applications and grants permissions. Set through
//! the admin API, as an administrator assigns them in the Entra admin center.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::device::signed_in_user;
use super::model::IdentityAdminError;
use super::permissions::DirectoryRole;
use super::{read, write, IdentityStore};
use crate::AppState;

impl IdentityStore {
    /// Replaces the directory roles of the user `user_object_id`.
    pub fn set_directory_roles(
        &self,
        tenant_id: Uuid,
        user_object_id: &str,
        roles: BTreeSet<DirectoryRole>,
    ) {
        let key = (tenant_id, user_object_id.trim().to_ascii_lowercase());
        let mut directory_roles = write(&self.directory_roles);
        if roles.is_empty() {
            directory_roles.remove(&key);
        } else {
            directory_roles.insert(key, roles);
        }
    }

    /// The directory roles of a user (none unless assigned).
    pub fn directory_roles(
        &self,
        tenant_id: Uuid,
        user_object_id: &str,
    ) -> BTreeSet<DirectoryRole> {
        read(&self.directory_roles)
            .get(&(tenant_id, user_object_id.trim().to_ascii_lowercase()))
            .cloned()
            .unwrap_or_default()
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/_admin/tenants/{tenant}/users/{upn}/directory-roles",
        put(set_roles).get(show_roles),
    )
}

#[derive(Debug, Deserialize)]
struct SetRoles {
    /// Display names ("Application Administrator") or role template ids.
    roles: Vec<String>,
}

async fn set_roles(
    State(state): State<AppState>,
    Path((tenant, upn)): Path<(String, String)>,
    Json(body): Json<SetRoles>,
) -> Result<Response, IdentityAdminError> {
    let tenant_id = state
        .identity
        .resolve_tenant(&tenant)
        .ok_or_else(|| IdentityAdminError::UnknownTenant(tenant.clone()))?;
    let user = signed_in_user(&state, tenant_id, &upn)?;
    let mut roles = BTreeSet::new();
    for name in &body.roles {
        let role = DirectoryRole::parse(name)
            .ok_or_else(|| IdentityAdminError::UnknownDirectoryRole(name.clone()))?;
        roles.insert(role);
    }
    state
        .identity
        .set_directory_roles(tenant_id, &user.object_id, roles);
    Ok(roles_view(&state, tenant_id, &upn, &user.object_id).into_response())
}

async fn show_roles(
    State(state): State<AppState>,
    Path((tenant, upn)): Path<(String, String)>,
) -> Result<Response, IdentityAdminError> {
    let tenant_id = state
        .identity
        .resolve_tenant(&tenant)
        .ok_or_else(|| IdentityAdminError::UnknownTenant(tenant.clone()))?;
    let user = signed_in_user(&state, tenant_id, &upn)?;
    Ok(roles_view(&state, tenant_id, &upn, &user.object_id).into_response())
}

fn roles_view(
    state: &AppState,
    tenant_id: Uuid,
    upn: &str,
    object_id: &str,
) -> Json<serde_json::Value> {
    let roles: Vec<serde_json::Value> = state
        .identity
        .directory_roles(tenant_id, object_id)
        .into_iter()
        .map(|role| json!({"displayName": role.display_name(), "roleTemplateId": role.template_id()}))
        .collect();
    Json(json!({"upn": upn, "object_id": object_id, "roles": roles}))
}
