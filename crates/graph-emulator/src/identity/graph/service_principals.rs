//! `/v1.0/servicePrincipals`: list (with `$filter`, e.g. `appId eq
//! '00000003-0000-0000-c000-000000000000'` for Microsoft Graph's own, with
//! its `appRoles`), create for an application, get by id or `appId`.
//!
//! Pages: https://learn.microsoft.com/graph/api/serviceprincipal-list,
//! https://learn.microsoft.com/graph/api/serviceprincipal-post-serviceprincipals,
//! https://learn.microsoft.com/graph/api/serviceprincipal-get,
//! https://learn.microsoft.com/graph/api/resources/approle.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest;
use uuid::Uuid;

use super::authorization::{may_change, require_application_write, require_read};
use super::query::{alternate_key, ObjectFilter};
use super::{bad_request, graph_time, odata_context};
use crate::auth::GraphCaller;
use crate::directory::http::resource_not_found;
use crate::errors::GraphError;
use crate::identity::access_token::GRAPH_APP_ID;
use crate::identity::model::{AppRegistration, ServicePrincipal};
use crate::identity::permissions::GRAPH_PERMISSIONS;
use crate::identity::{client_key, read, write};
use crate::AppState;

/// The tenant Microsoft's first-party apps are registered in.
const MICROSOFT_SERVICES_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";

const FILTERABLE: &[&str] = &["id", "appId", "displayName"];

/// A service principal of the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedServicePrincipal {
    /// Microsoft Graph's, present in every tenant.
    MicrosoftGraph,
    /// An application's, by client id (store key).
    App(String),
}

/// Microsoft Graph's service principal id in `tenant_id`: stable, different per tenant.
pub fn microsoft_graph_id(tenant_id: Uuid) -> Uuid {
    let digest = sha2::Sha256::digest(format!("microsoft-graph-sp|{tenant_id}").as_bytes());
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The tenant's service principal with object id `id`.
pub fn resolve_by_id(
    state: &AppState,
    tenant_id: Uuid,
    id: &str,
) -> Option<ResolvedServicePrincipal> {
    if microsoft_graph_id(tenant_id)
        .to_string()
        .eq_ignore_ascii_case(id.trim())
    {
        return Some(ResolvedServicePrincipal::MicrosoftGraph);
    }
    read(&state.identity.service_principals)
        .iter()
        .find(|((tenant, _), principal)| {
            *tenant == tenant_id
                && principal
                    .object_id
                    .to_string()
                    .eq_ignore_ascii_case(id.trim())
        })
        .map(|((_, key), _)| ResolvedServicePrincipal::App(key.clone()))
}

/// The tenant's service principal of the app `app_id`.
pub fn resolve_by_app_id(
    state: &AppState,
    tenant_id: Uuid,
    app_id: &str,
) -> Option<ResolvedServicePrincipal> {
    if app_id.trim().eq_ignore_ascii_case(GRAPH_APP_ID) {
        return Some(ResolvedServicePrincipal::MicrosoftGraph);
    }
    let key = client_key(app_id);
    read(&state.identity.service_principals)
        .contains_key(&(tenant_id, key.clone()))
        .then_some(ResolvedServicePrincipal::App(key))
}

/// Microsoft Graph's service principal: its app roles (application
/// permissions) and delegated scopes, with Microsoft's ids.
pub fn render_microsoft_graph(tenant_id: Uuid) -> Value {
    let mut app_roles = Vec::new();
    let mut scopes = Vec::new();
    for permission in GRAPH_PERMISSIONS {
        if let Some(id) = permission.app_role_id {
            app_roles.push(json!({
                "allowedMemberTypes": ["Application"],
                "description": format!("Allows the app to {} without a signed-in user.", permission.app_role_display_name.to_lowercase()),
                "displayName": permission.app_role_display_name,
                "id": id,
                "isEnabled": true,
                "origin": "Application",
                "value": permission.name,
            }));
        }
        if let Some(id) = permission.scope_id {
            scopes.push(json!({
                "adminConsentDescription": permission.app_role_display_name,
                "adminConsentDisplayName": permission.app_role_display_name,
                "id": id,
                "isEnabled": true,
                "type": "Admin",
                "userConsentDescription": null,
                "userConsentDisplayName": null,
                "value": permission.name,
            }));
        }
    }
    json!({
        "id": microsoft_graph_id(tenant_id),
        "deletedDateTime": null,
        "accountEnabled": true,
        "appDisplayName": "Microsoft Graph",
        "appId": GRAPH_APP_ID,
        "appOwnerOrganizationId": MICROSOFT_SERVICES_TENANT,
        "displayName": "Microsoft Graph",
        "servicePrincipalNames": [
            GRAPH_APP_ID,
            "https://graph.microsoft.com",
            "https://graph.microsoft.com/",
        ],
        "servicePrincipalType": "Application",
        "signInAudience": "AzureADMultipleOrgs",
        "tags": [],
        "appRoles": app_roles,
        "oauth2PermissionScopes": scopes,
    })
}

/// An application's service principal.
pub fn render_app_principal(app: &AppRegistration, principal: &ServicePrincipal) -> Value {
    json!({
        "id": principal.object_id,
        "deletedDateTime": null,
        "accountEnabled": true,
        "appDisplayName": app.display_name,
        "appId": app.client_id,
        "appOwnerOrganizationId": app.home_tenant,
        "createdDateTime": graph_time(principal.created_at),
        "displayName": app.display_name,
        "servicePrincipalNames": [app.client_id],
        "servicePrincipalType": "Application",
        "signInAudience": app.graph.sign_in_audience,
        "tags": app.graph.tags,
        "appRoles": [],
        "oauth2PermissionScopes": [],
    })
}

fn render(state: &AppState, tenant_id: Uuid, resolved: &ResolvedServicePrincipal) -> Option<Value> {
    match resolved {
        ResolvedServicePrincipal::MicrosoftGraph => Some(render_microsoft_graph(tenant_id)),
        ResolvedServicePrincipal::App(key) => {
            let apps = read(&state.identity.apps);
            let principals = read(&state.identity.service_principals);
            let app = apps.get(key)?;
            let principal = principals.get(&(tenant_id, key.clone()))?;
            Some(render_app_principal(app, principal))
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: GraphCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, GraphError> {
    require_read(&caller)?;
    let filter = match query.get("$filter") {
        Some(text) => Some(ObjectFilter::parse(text, FILTERABLE, "ServicePrincipal")?),
        None => None,
    };
    let mut all = vec![render_microsoft_graph(caller.tenant_id)];
    {
        let apps = read(&state.identity.apps);
        let principals = read(&state.identity.service_principals);
        let mut in_tenant: Vec<(&AppRegistration, &ServicePrincipal)> = principals
            .iter()
            .filter(|((tenant, _), _)| *tenant == caller.tenant_id)
            .filter_map(|((_, key), principal)| apps.get(key).map(|app| (app, principal)))
            .collect();
        in_tenant.sort_by_key(|(_, principal)| principal.created_at);
        for (app, principal) in in_tenant {
            all.push(render_app_principal(app, principal));
        }
    }
    let value: Vec<Value> = all
        .into_iter()
        .filter(|principal| match &filter {
            None => true,
            Some(filter) => filter.matches(&filter_values(principal)),
        })
        .collect();
    Ok(
        Json(json!({"@odata.context": odata_context("servicePrincipals"), "value": value}))
            .into_response(),
    )
}

fn filter_values(principal: &Value) -> HashMap<&'static str, Vec<String>> {
    let text = |name: &str| {
        principal[name]
            .as_str()
            .map(|value| vec![value.to_owned()])
            .unwrap_or_default()
    };
    HashMap::from([
        ("id", text("id")),
        ("appId", text("appId")),
        ("displayName", text("displayName")),
    ])
}

pub async fn get_by_id(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    require_read(&caller)?;
    let resolved =
        resolve_by_id(&state, caller.tenant_id, &id).ok_or_else(|| resource_not_found(&id))?;
    entity(&state, caller.tenant_id, &resolved, &id)
}

/// `GET /servicePrincipals(appId='…')`.
pub async fn get_by_key(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(key): Path<String>,
) -> Result<Response, GraphError> {
    require_read(&caller)?;
    let app_id = match alternate_key(&key) {
        Some((name, value)) if name.eq_ignore_ascii_case("appId") => value,
        _ => {
            return Err(bad_request(format!(
                "Invalid object identifier 'servicePrincipals{key}'."
            )))
        }
    };
    let resolved = resolve_by_app_id(&state, caller.tenant_id, &app_id)
        .ok_or_else(|| resource_not_found(&app_id))?;
    entity(&state, caller.tenant_id, &resolved, &app_id)
}

fn entity(
    state: &AppState,
    tenant_id: Uuid,
    resolved: &ResolvedServicePrincipal,
    named: &str,
) -> Result<Response, GraphError> {
    let mut rendered =
        render(state, tenant_id, resolved).ok_or_else(|| resource_not_found(named))?;
    rendered["@odata.context"] = json!(odata_context("servicePrincipals/$entity"));
    Ok(Json(rendered).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateServicePrincipal {
    app_id: Option<String>,
}

/// `POST /servicePrincipals {"appId"}`: the application's service principal
/// in the caller's tenant (its home tenant, or another for a multi-tenant
/// app). The token endpoint knows it after the replication delay.
pub async fn create(
    State(state): State<AppState>,
    caller: GraphCaller,
    body: Bytes,
) -> Result<Response, GraphError> {
    let access = require_application_write(&state, &caller)?;
    let request: CreateServicePrincipal = serde_json::from_slice(&body).map_err(|error| {
        bad_request(format!(
            "Invalid request body for resource 'ServicePrincipal': {error}"
        ))
    })?;
    let Some(app_id) = request.app_id.filter(|app_id| !app_id.trim().is_empty()) else {
        return Err(bad_request(
            "A value is required for property 'appId' of resource 'ServicePrincipal'.",
        ));
    };
    let key = client_key(&app_id);
    let replicated_from_ms = state.identity.replicated_from_ms();
    {
        let apps = read(&state.identity.apps);
        let usable_here = apps
            .get(&key)
            .filter(|app| app.home_tenant == caller.tenant_id || app.multi_tenant);
        let Some(app) = usable_here else {
            return Err(bad_request(format!(
                "The appId '{app_id}' of the service principal does not reference a valid application object."
            )));
        };
        if app.home_tenant == caller.tenant_id {
            may_change(access, &caller, &app.graph.owners)?;
        }
        let mut principals = write(&state.identity.service_principals);
        if principals.contains_key(&(caller.tenant_id, key.clone())) {
            // Emulator's choice of status: the directory refuses a second
            // service principal for one appId in a tenant.
            return Err(GraphError::new(
                StatusCode::CONFLICT,
                "Request_MultipleObjectsWithSameKeyValue",
                format!("The service principal cannot be created, updated, or restored because the service principal name {app_id} is already in use."),
            ));
        }
        principals.insert(
            (caller.tenant_id, key.clone()),
            ServicePrincipal {
                known_from_ms: replicated_from_ms,
                created_at: state.clock.now(),
                ..ServicePrincipal::default()
            },
        );
    }
    let resolved = ResolvedServicePrincipal::App(key);
    let mut rendered =
        render(&state, caller.tenant_id, &resolved).ok_or_else(|| resource_not_found(&app_id))?;
    rendered["@odata.context"] = json!(odata_context("servicePrincipals/$entity"));
    Ok((StatusCode::CREATED, Json(rendered)).into_response())
}
