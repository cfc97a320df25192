//! An app registration's own app roles (`appRoles` with
//! `allowedMemberTypes: ["User"]`) and the users assigned to them in a
//! tenant (the app's enterprise application → Users and groups). A user
//! signing in to the app gets the `value` of each role assigned to them in
//! the ID token's `roles` claim.
//!
//! Followed: "Add app roles to your application and receive them in the
//! token" (<https://learn.microsoft.com/entra/identity-platform/howto-add-app-roles-in-apps>:
//! "the roles claim … of the ID token" for users assigned app roles of the
//! app they sign in to; the `value` is what the token carries) and the ID
//! token claims reference
//! (<https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference>,
//! `roles`). Only direct user assignments are modelled: assigning a group
//! to an app role (which Entra allows with Entra ID P1) is not.
//!
//! Admin API: `POST /_admin/tenants/{tenant}/apps/{client_id}/app-roles`
//! `{"value": "GalSync.Admin"}` defines a role (its `id` is returned);
//! `POST …/app-role-assignments` `{"upn": "…", "value": "GalSync.Admin"}`
//! assigns a user of the tenant to it.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::model::IdentityAdminError;
use super::{client_key, read, write, IdentityStore};
use crate::AppState;

/// The app roles of one app registration and who holds them in a tenant.
#[derive(Debug, Clone, Default)]
pub struct AppRoles {
    /// Role `value` → role `id`.
    defined: BTreeMap<String, Uuid>,
    /// Lower-case user object id → the values of the roles assigned to them.
    assigned: BTreeMap<String, BTreeSet<String>>,
}

impl IdentityStore {
    /// Defines the app role `value` (members: users) on `client_id`'s
    /// registration in `tenant_id`; returns its id (the same id when it is
    /// already defined).
    pub fn define_app_role(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        value: &str,
    ) -> Result<Uuid, IdentityAdminError> {
        self.show_app(tenant_id, client_id)?;
        let value = value.trim();
        if value.is_empty() || value.contains(' ') {
            return Err(IdentityAdminError::UnknownRole(format!(
                "{value:?} (an app role value has no spaces and is not empty)"
            )));
        }
        let mut app_roles = write(&self.app_roles);
        let roles = app_roles
            .entry((tenant_id, client_key(client_id)))
            .or_default();
        Ok(*roles
            .defined
            .entry(value.to_owned())
            .or_insert_with(Uuid::new_v4))
    }

    /// Assigns the user `user_object_id` to the app role `value` of
    /// `client_id`, which must be defined.
    pub fn assign_app_role(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        user_object_id: &str,
        value: &str,
    ) -> Result<(), IdentityAdminError> {
        let mut app_roles = write(&self.app_roles);
        let Some(roles) = app_roles.get_mut(&(tenant_id, client_key(client_id))) else {
            return Err(IdentityAdminError::UnknownRole(value.to_owned()));
        };
        if !roles.defined.contains_key(value) {
            return Err(IdentityAdminError::UnknownRole(value.to_owned()));
        }
        roles
            .assigned
            .entry(user_object_id.trim().to_ascii_lowercase())
            .or_default()
            .insert(value.to_owned());
        Ok(())
    }

    /// The values of the app roles of `client_id` assigned to the user, sorted.
    pub fn app_roles_of_user(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        user_object_id: &str,
    ) -> Vec<String> {
        read(&self.app_roles)
            .get(&(tenant_id, client_key(client_id)))
            .and_then(|roles| roles.assigned.get(&user_object_id.to_ascii_lowercase()))
            .map(|values| values.iter().cloned().collect())
            .unwrap_or_default()
    }
}

pub fn routes() -> Router<AppState> {
    let app = "/_admin/tenants/{tenant}/apps/{client_id}";
    Router::new()
        .route(&format!("{app}/app-roles"), post(define))
        .route(&format!("{app}/app-role-assignments"), post(assign))
}

#[derive(Debug, Deserialize)]
struct Define {
    value: String,
}

async fn define(
    State(state): State<AppState>,
    Path((tenant, client_id)): Path<(String, String)>,
    Json(body): Json<Define>,
) -> Result<Response, IdentityAdminError> {
    let tenant_id = resolve(&state, &tenant)?;
    let id = state
        .identity
        .define_app_role(tenant_id, &client_id, &body.value)?;
    let answer = json!({"id": id, "value": body.value.trim(), "allowedMemberTypes": ["User"]});
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

#[derive(Debug, Deserialize)]
struct Assign {
    upn: String,
    value: String,
}

async fn assign(
    State(state): State<AppState>,
    Path((tenant, client_id)): Path<(String, String)>,
    Json(body): Json<Assign>,
) -> Result<Response, IdentityAdminError> {
    let tenant_id = resolve(&state, &tenant)?;
    let Some(user) = state.directory.find_user(tenant_id, &body.upn) else {
        return Err(IdentityAdminError::InvalidUser(body.upn));
    };
    state
        .identity
        .assign_app_role(tenant_id, &client_id, &user.id.to_string(), &body.value)?;
    let answer = json!({"principalId": user.id, "value": body.value});
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

fn resolve(state: &AppState, tenant: &str) -> Result<Uuid, IdentityAdminError> {
    state
        .identity
        .resolve_tenant(tenant)
        .ok_or_else(|| IdentityAdminError::UnknownTenant(tenant.to_owned()))
}
