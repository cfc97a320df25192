//! App role assignments: granting an application permission of Microsoft
//! Graph to an app's service principal (admin consent done through Graph),
//! and listing grants. A grant is a role in the same consent model the
//! admin API and `/adminconsent` write; tokens carry it once the
//! replication delay has passed.
//!
//! Pages: https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto,
//! https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignedto,
//! https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignments,
//! https://learn.microsoft.com/graph/api/resources/approleassignment.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::authorization::{require_app_role_grant, require_assignment_read};
use super::service_principals::{microsoft_graph_id, resolve_by_id, ResolvedServicePrincipal};
use super::{bad_request, graph_time, odata_context};
use crate::auth::GraphCaller;
use crate::directory::http::resource_not_found;
use crate::errors::GraphError;
use crate::identity::access_token::GRAPH_APP_ID;
use crate::identity::model::{AppRegistration, RoleGrant, ServicePrincipal};
use crate::identity::permissions::{app_role_by_id, permission_by_name};
use crate::identity::{read, write};
use crate::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssignmentWrite {
    principal_id: Option<Uuid>,
    resource_id: Option<Uuid>,
    app_role_id: Option<Uuid>,
}

/// `POST /servicePrincipals/{resource id}/appRoleAssignedTo`.
pub async fn grant(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(resource): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let resolved = resolve_by_id(&state, caller.tenant_id, &resource)
        .ok_or_else(|| resource_not_found(&resource))?;
    let resource_is_graph = resolved == ResolvedServicePrincipal::MicrosoftGraph;
    require_app_role_grant(&state, &caller, resource_is_graph)?;
    let request: AssignmentWrite = serde_json::from_slice(&body).map_err(|error| {
        bad_request(format!(
            "Invalid request body for resource 'AppRoleAssignment': {error}"
        ))
    })?;
    let (Some(principal_id), Some(resource_id), Some(app_role_id)) = (
        request.principal_id,
        request.resource_id,
        request.app_role_id,
    ) else {
        return Err(bad_request(
            "principalId, resourceId and appRoleId are required for an appRoleAssignment.",
        ));
    };
    if !resource_id
        .to_string()
        .eq_ignore_ascii_case(resource.trim())
    {
        return Err(bad_request(format!(
            "resourceId {resource_id} is not the service principal of the request URL."
        )));
    }
    // Only Microsoft Graph defines app roles in the emulator; an app's own
    // service principal has none to assign.
    let role = if resource_is_graph {
        app_role_by_id(app_role_id)
            .filter(|permission| permission.app_role_id.is_some())
            .map(|permission| permission.name)
    } else {
        None
    };
    let Some(role_name) = role else {
        return Err(bad_request(format!(
            "Permission being assigned was not found on application '{}'.",
            if resource_is_graph {
                GRAPH_APP_ID
            } else {
                resource.as_str()
            }
        )));
    };
    let effective_from_ms = state.identity.replicated_from_ms();
    let apps = read(&state.identity.apps);
    let mut principals = write(&state.identity.service_principals);
    let found = principals.iter_mut().find(|((tenant, _), principal)| {
        *tenant == caller.tenant_id && principal.object_id == principal_id
    });
    let Some(((_, key), principal)) = found else {
        return Err(bad_request(format!(
            "The principal {principal_id} of the appRoleAssignment does not exist in the directory."
        )));
    };
    if principal.granted_roles.contains_key(role_name) {
        return Err(bad_request(
            "Permission being assigned already exists on the object",
        ));
    }
    let grant = RoleGrant::new(state.clock.now(), effective_from_ms);
    principal
        .granted_roles
        .insert(role_name.to_owned(), grant.clone());
    principal.admin_consented = true;
    let display_name = apps
        .get(key)
        .map(|app| app.display_name.clone())
        .unwrap_or_default();
    let mut rendered = render_assignment(
        caller.tenant_id,
        principal.object_id,
        &display_name,
        role_name,
        &grant,
    );
    rendered["@odata.context"] = json!(odata_context(&format!(
        "servicePrincipals('{resource}')/appRoleAssignedTo/$entity"
    )));
    Ok((StatusCode::CREATED, Json(rendered)).into_response())
}

fn render_assignment(
    tenant_id: Uuid,
    principal_id: Uuid,
    principal_display_name: &str,
    role_name: &str,
    grant: &RoleGrant,
) -> Value {
    let app_role_id = permission_by_name(role_name).and_then(|permission| permission.app_role_id);
    json!({
        "id": grant.assignment_id,
        "deletedDateTime": null,
        "appRoleId": app_role_id,
        "createdDateTime": graph_time(grant.created_at),
        "principalDisplayName": principal_display_name,
        "principalId": principal_id,
        "principalType": "ServicePrincipal",
        "resourceDisplayName": "Microsoft Graph",
        "resourceId": microsoft_graph_id(tenant_id),
    })
}

fn grants_of(tenant_id: Uuid, app: &AppRegistration, principal: &ServicePrincipal) -> Vec<Value> {
    principal
        .granted_roles
        .iter()
        .map(|(role, grant)| {
            render_assignment(
                tenant_id,
                principal.object_id,
                &app.display_name,
                role,
                grant,
            )
        })
        .collect()
}

/// `GET /servicePrincipals/{id}/appRoleAssignedTo`: who holds the resource's app roles.
pub async fn list_assigned_to(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(resource): Path<String>,
) -> Result<Response, GraphError> {
    require_assignment_read(&caller)?;
    let resolved = resolve_by_id(&state, caller.tenant_id, &resource)
        .ok_or_else(|| resource_not_found(&resource))?;
    let mut value = Vec::new();
    if resolved == ResolvedServicePrincipal::MicrosoftGraph {
        let apps = read(&state.identity.apps);
        let principals = read(&state.identity.service_principals);
        for ((tenant, key), principal) in principals.iter() {
            if *tenant != caller.tenant_id {
                continue;
            }
            if let Some(app) = apps.get(key) {
                value.extend(grants_of(caller.tenant_id, app, principal));
            }
        }
    }
    let context = odata_context(&format!(
        "servicePrincipals('{resource}')/appRoleAssignedTo"
    ));
    Ok(Json(json!({"@odata.context": context, "value": value})).into_response())
}

/// `GET /servicePrincipals/{id}/appRoleAssignments`: the app roles a client holds.
pub async fn list_assignments(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(client): Path<String>,
) -> Result<Response, GraphError> {
    require_assignment_read(&caller)?;
    let resolved = resolve_by_id(&state, caller.tenant_id, &client)
        .ok_or_else(|| resource_not_found(&client))?;
    let mut value = Vec::new();
    if let ResolvedServicePrincipal::App(key) = resolved {
        let apps = read(&state.identity.apps);
        let principals = read(&state.identity.service_principals);
        if let (Some(app), Some(principal)) = (
            apps.get(&key),
            principals.get(&(caller.tenant_id, key.clone())),
        ) {
            value = grants_of(caller.tenant_id, app, principal);
        }
    }
    let context = odata_context(&format!("servicePrincipals('{client}')/appRoleAssignments"));
    Ok(Json(json!({"@odata.context": context, "value": value})).into_response())
}
