//! `/v1.0/applications`: list (with `$filter`), create, get and update by
//! object id, by `appId` and by `uniqueName` (upsert). An application
//! created here is an app registration like the admin API's, known to the
//! token endpoint once the replication delay has passed.
//!
//! Pages: https://learn.microsoft.com/graph/api/application-list,
//! https://learn.microsoft.com/graph/api/application-post-applications,
//! https://learn.microsoft.com/graph/api/application-get,
//! https://learn.microsoft.com/graph/api/application-update,
//! https://learn.microsoft.com/graph/api/application-upsert.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use uuid::Uuid;

use super::application_write::{insert_application, parse_body, update_application};
use super::authorization::{require_application_write, require_read};
use super::keys::render_key_credential;
use super::query::{alternate_key, ObjectFilter};
use super::{bad_request, graph_time, odata_context};
use crate::auth::GraphCaller;
use crate::directory::http::resource_not_found;
use crate::errors::GraphError;
use crate::identity::model::AppRegistration;
use crate::identity::read;
use crate::AppState;

const FILTERABLE: &[&str] = &["id", "appId", "displayName", "uniqueName"];

/// How the URL names the application.
pub(super) enum ApplicationRef {
    ObjectId(String),
    AppId(String),
    UniqueName(String),
}

pub(super) fn reference_from_key(segment: &str) -> Result<ApplicationRef, GraphError> {
    match alternate_key(segment) {
        Some((name, value)) if name.eq_ignore_ascii_case("appId") => {
            Ok(ApplicationRef::AppId(value))
        }
        Some((name, value)) if name.eq_ignore_ascii_case("uniqueName") => {
            Ok(ApplicationRef::UniqueName(value))
        }
        _ => Err(bad_request(format!(
            "Invalid object identifier 'applications{segment}'."
        ))),
    }
}

pub(super) fn reference_text(reference: &ApplicationRef) -> &str {
    match reference {
        ApplicationRef::ObjectId(text)
        | ApplicationRef::AppId(text)
        | ApplicationRef::UniqueName(text) => text,
    }
}

/// The client id (store key) of the tenant's application named by `reference`.
pub(super) fn find_application(
    state: &AppState,
    tenant_id: Uuid,
    reference: &ApplicationRef,
) -> Option<String> {
    let apps = read(&state.identity.apps);
    apps.iter()
        .filter(|(_, app)| app.home_tenant == tenant_id)
        .find(|(_, app)| match reference {
            ApplicationRef::ObjectId(id) => {
                app.graph.object_id.to_string().eq_ignore_ascii_case(id)
            }
            ApplicationRef::AppId(app_id) => app.client_id.eq_ignore_ascii_case(app_id),
            ApplicationRef::UniqueName(name) => {
                app.graph.unique_name.as_deref() == Some(name.as_str())
            }
        })
        .map(|(key, _)| key.clone())
}

pub async fn list(
    State(state): State<AppState>,
    caller: GraphCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, GraphError> {
    require_read(&caller)?;
    let filter = match query.get("$filter") {
        Some(text) => Some(ObjectFilter::parse(text, FILTERABLE, "Application")?),
        None => None,
    };
    let publisher_domain = publisher_domain(&state, caller.tenant_id);
    let apps = read(&state.identity.apps);
    let mut matching: Vec<&AppRegistration> = apps
        .values()
        .filter(|app| app.home_tenant == caller.tenant_id)
        .filter(|app| {
            filter
                .as_ref()
                .is_none_or(|filter| filter.matches(&filter_values(app)))
        })
        .collect();
    matching.sort_by_key(|app| app.graph.created_at);
    let value: Vec<Value> = matching
        .into_iter()
        .map(|app| render_application(app, &publisher_domain))
        .collect();
    Ok(
        Json(json!({"@odata.context": odata_context("applications"), "value": value}))
            .into_response(),
    )
}

fn filter_values(app: &AppRegistration) -> HashMap<&'static str, Vec<String>> {
    HashMap::from([
        ("id", vec![app.graph.object_id.to_string()]),
        ("appId", vec![app.client_id.clone()]),
        ("displayName", vec![app.display_name.clone()]),
        (
            "uniqueName",
            app.graph.unique_name.iter().cloned().collect(),
        ),
    ])
}

pub async fn create(
    State(state): State<AppState>,
    caller: GraphCaller,
    body: Bytes,
) -> Result<Response, GraphError> {
    let access = require_application_write(&state, &caller)?;
    let request = parse_body(&body)?;
    let key = insert_application(&state, &caller, access, request)?;
    created(&state, caller.tenant_id, &key)
}

pub async fn get_by_id(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    show(&state, &caller, &ApplicationRef::ObjectId(id))
}

pub async fn get_by_key(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(key): Path<String>,
) -> Result<Response, GraphError> {
    let reference = reference_from_key(&key)?;
    show(&state, &caller, &reference)
}

fn show(
    state: &AppState,
    caller: &GraphCaller,
    reference: &ApplicationRef,
) -> Result<Response, GraphError> {
    require_read(caller)?;
    let key = find_application(state, caller.tenant_id, reference)
        .ok_or_else(|| resource_not_found(reference_text(reference)))?;
    let publisher_domain = publisher_domain(state, caller.tenant_id);
    let apps = read(&state.identity.apps);
    let app = apps
        .get(&key)
        .ok_or_else(|| resource_not_found(reference_text(reference)))?;
    let mut rendered = render_application(app, &publisher_domain);
    rendered["@odata.context"] = json!(odata_context("applications/$entity"));
    Ok(Json(rendered).into_response())
}

pub async fn patch_by_id(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    update(
        &state,
        &caller,
        ApplicationRef::ObjectId(id),
        &HeaderMap::new(),
        &body,
    )
}

/// `PATCH /applications(appId='…')`, and the upsert
/// `PATCH /applications(uniqueName='…')` with `Prefer: create-if-missing`
/// (201 and the new application; without the header a missing one is 404).
pub async fn patch_by_key(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GraphError> {
    let reference = reference_from_key(&key)?;
    update(&state, &caller, reference, &headers, &body)
}

fn update(
    state: &AppState,
    caller: &GraphCaller,
    reference: ApplicationRef,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, GraphError> {
    let access = require_application_write(state, caller)?;
    let request = parse_body(body)?;
    let Some(key) = find_application(state, caller.tenant_id, &reference) else {
        let create_if_missing = headers
            .get_all("prefer")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| {
                value
                    .split(',')
                    .any(|item| item.trim().eq_ignore_ascii_case("create-if-missing"))
            });
        return match reference {
            ApplicationRef::UniqueName(unique_name) if create_if_missing => {
                let mut request = request;
                request.unique_name = Some(unique_name);
                let key = insert_application(state, caller, access, request)?;
                created(state, caller.tenant_id, &key)
            }
            other => Err(resource_not_found(reference_text(&other))),
        };
    };
    update_application(state, caller, access, &key, request)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn created(state: &AppState, tenant_id: Uuid, key: &str) -> Result<Response, GraphError> {
    let publisher_domain = publisher_domain(state, tenant_id);
    let apps = read(&state.identity.apps);
    let app = apps.get(key).ok_or_else(|| resource_not_found(key))?;
    let mut rendered = render_application(app, &publisher_domain);
    rendered["@odata.context"] = json!(odata_context("applications/$entity"));
    Ok((StatusCode::CREATED, Json(rendered)).into_response())
}

fn publisher_domain(state: &AppState, tenant_id: Uuid) -> String {
    state
        .identity
        .tenant_domains(tenant_id)
        .and_then(|domains| domains.into_iter().next())
        .unwrap_or_default()
}

/// An `application` as Graph returns it (the properties the emulator models).
pub fn render_application(app: &AppRegistration, publisher_domain: &str) -> Value {
    let key_credentials: Vec<Value> = app.certificates.iter().map(render_key_credential).collect();
    let password_credentials: Vec<Value> = app
        .secrets
        .iter()
        .map(|secret| {
            json!({
                "customKeyIdentifier": null,
                "displayName": null,
                "endDateTime": graph_time(secret.expires_at),
                "hint": secret.hint,
                "keyId": secret.key_id,
                "secretText": null,
                "startDateTime": null,
            })
        })
        .collect();
    json!({
        "id": app.graph.object_id,
        "deletedDateTime": null,
        "appId": app.client_id,
        "createdDateTime": graph_time(app.graph.created_at),
        "displayName": app.display_name,
        "identifierUris": [],
        "isFallbackPublicClient": app.public_client,
        "publisherDomain": publisher_domain,
        "signInAudience": app.graph.sign_in_audience,
        "tags": app.graph.tags,
        "uniqueName": app.graph.unique_name,
        "appRoles": [],
        "keyCredentials": key_credentials,
        "passwordCredentials": password_credentials,
        "requiredResourceAccess": app.graph.required_resource_access,
        "publicClient": {"redirectUris": []},
        "web": {"redirectUris": app.redirect_uris},
    })
}
