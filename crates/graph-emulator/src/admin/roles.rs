//! Admin routes for app roles (`/_admin/tenants/{tenant}/apps/{client_id}/app-roles`,
//! `…/app-role-assignments`), users' directory roles
//! (`/_admin/tenants/{tenant}/users/{upn}/directory-roles`) and the replication
//! delay (`/_admin/replication-delay`). The state they change lives in
//! [`crate::identity`].

use std::collections::BTreeSet;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::identity::device::signed_in_user;
use crate::identity::model::IdentityAdminError;
use crate::identity::permissions::DirectoryRole;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .merge(app_role_routes())
        .merge(directory_role_routes())
        .merge(replication_routes())
}

fn app_role_routes() -> Router<AppState> {
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

/// Who is assigned: a user by UPN (or object id), or a group by object id.
#[derive(Debug, Deserialize)]
struct Assign {
    #[serde(default)]
    upn: Option<String>,
    #[serde(default)]
    group: Option<String>,
    value: String,
}

async fn assign(
    State(state): State<AppState>,
    Path((tenant, client_id)): Path<(String, String)>,
    Json(body): Json<Assign>,
) -> Result<Response, IdentityAdminError> {
    let tenant_id = resolve(&state, &tenant)?;
    let (principal_id, principal_type) = match (&body.upn, &body.group) {
        (Some(upn), None) => {
            let Some(user) = state.directory.find_user(tenant_id, upn) else {
                return Err(IdentityAdminError::InvalidUser(upn.clone()));
            };
            (user.id, "User")
        }
        (None, Some(group)) => {
            let found = state.directory.read(tenant_id, |directory| {
                directory.find_group(group).map(|group| group.id)
            });
            let Some(group_id) = found else {
                return Err(IdentityAdminError::InvalidAssignment(format!(
                    "no group of the tenant has the object id {group}"
                )));
            };
            (group_id, "Group")
        }
        _ => {
            return Err(IdentityAdminError::InvalidAssignment(
                "give either upn (a user) or group (a group's object id), not both".to_owned(),
            ))
        }
    };
    state.identity.assign_app_role(
        tenant_id,
        &client_id,
        &principal_id.to_string(),
        &body.value,
    )?;
    let answer =
        json!({"principalId": principal_id, "principalType": principal_type, "value": body.value});
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

fn resolve(state: &AppState, tenant: &str) -> Result<Uuid, IdentityAdminError> {
    state
        .identity
        .resolve_tenant(tenant)
        .ok_or_else(|| IdentityAdminError::UnknownTenant(tenant.to_owned()))
}

fn directory_role_routes() -> Router<AppState> {
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
    let tenant_id = resolve(&state, &tenant)?;
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
    let tenant_id = resolve(&state, &tenant)?;
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

fn replication_routes() -> Router<AppState> {
    Router::new().route("/_admin/replication-delay", get(show_delay).put(set_delay))
}

#[derive(Debug, Deserialize)]
struct SetDelay {
    /// Seconds at time scale 1 (scaled by `--time-scale` like the flag).
    seconds: f64,
}

async fn show_delay(State(state): State<AppState>) -> Response {
    delay_view(&state).into_response()
}

async fn set_delay(State(state): State<AppState>, Json(body): Json<SetDelay>) -> Response {
    if !body.seconds.is_finite() || body.seconds < 0.0 {
        let answer = json!({"error": "seconds must be a number at or above 0"});
        return (axum::http::StatusCode::BAD_REQUEST, Json(answer)).into_response();
    }
    let unscaled = Duration::from_secs_f64(body.seconds);
    state
        .identity
        .set_replication_delay(state.config.scaled(unscaled));
    delay_view(&state).into_response()
}

fn delay_view(state: &AppState) -> Json<serde_json::Value> {
    let effective = state.identity.replication_delay();
    Json(json!({
        "time_scale": state.config.time_scale,
        "effective_seconds": effective.as_secs_f64(),
    }))
}
