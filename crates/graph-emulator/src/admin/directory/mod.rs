//! Directory admin API: seeding, mutations (each one visible to delta),
//! inspection. `{tenant}` is a tenant id or a verified domain. Errors are
//! `{"error": "…"}` with 400 / 404 / 409. Groups and memberships: [`groups`].

mod groups;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::AppState;

use crate::directory::patch::user_from_json;
use crate::directory::properties::admin_view;
use crate::directory::seed::SeedOptions;
use crate::directory::store::DirectoryError;

pub(super) const TENANT: &str = "/_admin/tenants/{tenant}/directory";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/_admin/tenants/{tenant}/seed", post(seed))
        .route(&format!("{TENANT}/seed"), post(seed))
        .route(&format!("{TENANT}/counts"), get(counts))
        .route(&format!("{TENANT}/users"), get(list_users).post(add_user))
        .route(
            &format!("{TENANT}/users/{{id}}"),
            get(show_user).patch(patch_user).delete(delete_user),
        )
        .route(
            &format!("{TENANT}/users/{{id}}/disable"),
            post(disable_user),
        )
        .route(&format!("{TENANT}/users/{{id}}/enable"), post(enable_user))
        .route(
            &format!("{TENANT}/users/{{id}}/restore"),
            post(restore_user),
        )
        .route(&format!("{TENANT}/users/{{id}}/license"), put(set_license))
        .route(&format!("{TENANT}/users/{{id}}/manager"), put(set_manager))
        .route(
            &format!("{TENANT}/users/{{id}}/photo"),
            put(set_photo).delete(remove_photo),
        )
        .merge(groups::routes())
}

pub(super) struct AdminError(pub StatusCode, pub String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

impl From<DirectoryError> for AdminError {
    fn from(error: DirectoryError) -> Self {
        let status = match &error {
            DirectoryError::NoSuchUser(_)
            | DirectoryError::NoSuchGroup(_)
            | DirectoryError::NoSuchDeletedUser(_) => StatusCode::NOT_FOUND,
            DirectoryError::UpnTaken(_) | DirectoryError::IdTaken(_) => StatusCode::CONFLICT,
            DirectoryError::InvalidValue(_) => StatusCode::BAD_REQUEST,
        };
        AdminError(status, error.to_string())
    }
}

pub(super) type AdminResult = Result<Response, AdminError>;

pub(super) fn tenant_id(state: &AppState, tenant: &str) -> Result<Uuid, AdminError> {
    state
        .identity
        .resolve_tenant(tenant)
        .ok_or_else(|| AdminError(StatusCode::NOT_FOUND, format!("tenant {tenant} not found")))
}

/// A user id from an id or UPN, active or soft-deleted.
fn user_id(state: &AppState, tenant: Uuid, id_or_upn: &str) -> Result<Uuid, AdminError> {
    let found = state.directory.read(tenant, |directory| {
        if let Ok(id) = id_or_upn.parse::<Uuid>() {
            let known = directory.users.contains_key(&id) || directory.deleted.contains_key(&id);
            return known.then_some(id);
        }
        directory.find_user(id_or_upn).map(|user| user.id)
    });
    found.ok_or_else(|| AdminError(StatusCode::NOT_FOUND, format!("user {id_or_upn} not found")))
}

async fn seed(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Json(mut body): Json<Map<String, Value>>,
) -> AdminResult {
    let tenant_id = match state.identity.resolve_tenant(&tenant) {
        Some(id) => id,
        None => {
            let id = tenant.parse::<Uuid>().unwrap_or_else(|_| Uuid::new_v4());
            let domain = match body.get("domain").and_then(Value::as_str) {
                Some(domain) => domain.to_owned(),
                None if tenant.contains('.') => tenant.clone(),
                None => SeedOptions::default().domain,
            };
            state.identity.create_tenant(id, vec![domain]);
            id
        }
    };
    if !body.contains_key("domain") && tenant.contains('.') {
        body.insert("domain".to_owned(), Value::String(tenant.clone()));
    }
    let options: SeedOptions = serde_json::from_value(Value::Object(body)).map_err(|error| {
        AdminError(
            StatusCode::BAD_REQUEST,
            format!("invalid seed options: {error}"),
        )
    })?;
    let summary = state.directory.seed(tenant_id, &options)?;
    let mut response = serde_json::to_value(&summary).unwrap_or_default();
    if let Value::Object(object) = &mut response {
        object.insert("tenant_id".to_owned(), json!(tenant_id));
        object.insert("domain".to_owned(), json!(options.domain));
    }
    Ok(Json(response).into_response())
}

async fn counts(State(state): State<AppState>, Path(tenant): Path<String>) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let counts = state.directory.read(tenant_id, |directory| {
        let users = directory.users.values();
        json!({
            "users": directory.users.len(),
            "enabled": users.clone().filter(|user| user.account_enabled).count(),
            "licensed": users.clone().filter(|user| user.licensed).count(),
            "with_mailbox": users.clone().filter(|user| user.has_mailbox()).count(),
            "guests": users.clone().filter(|user| user.user_type == crate::directory::model::UserType::Guest).count(),
            "with_photo": users.filter(|user| user.photo.is_some()).count(),
            "soft_deleted": directory.deleted.len(),
            "groups": directory.groups.len(),
            "change_log_position": directory.head(),
            "delta_generation": directory.delta_generation,
        })
    });
    Ok(Json(counts).into_response())
}

#[derive(Debug, Deserialize)]
struct ListOptions {
    #[serde(default)]
    include_deleted: bool,
}

async fn list_users(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(options): Query<ListOptions>,
) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let users = state
        .directory
        .list_users(tenant_id, options.include_deleted);
    let list: Vec<Value> = users.iter().map(|user| admin_view(user)).collect();
    Ok(Json(json!({"count": list.len(), "users": list})).into_response())
}

async fn add_user(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let user = user_from_json(&body)?;
    let view = admin_view(&user);
    state.directory.add_user(tenant_id, user)?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn show_user(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let user_id = user_id(&state, tenant_id, &id)?;
    let user = state.directory.read(tenant_id, |directory| {
        directory
            .users
            .get(&user_id)
            .or_else(|| directory.deleted.get(&user_id))
            .cloned()
    });
    match user {
        Some(user) => Ok(Json(admin_view(&user)).into_response()),
        None => Err(AdminError(
            StatusCode::NOT_FOUND,
            format!("user {id} not found"),
        )),
    }
}

async fn patch_user(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    Json(body): Json<Map<String, Value>>,
) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let user_id = user_id(&state, tenant_id, &id)?;
    let user = state.directory.patch_user(tenant_id, user_id, &body)?;
    Ok(Json(admin_view(&user)).into_response())
}

#[derive(Debug, Deserialize)]
struct DeleteOptions {
    #[serde(default)]
    permanent: bool,
}

async fn delete_user(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    Query(options): Query<DeleteOptions>,
) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let user_id = user_id(&state, tenant_id, &id)?;
    if options.permanent {
        state.directory.hard_delete_user(tenant_id, user_id)?;
    } else {
        state.directory.delete_user(tenant_id, user_id)?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn set_enabled(state: AppState, tenant: String, id: String, enabled: bool) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let user_id = user_id(&state, tenant_id, &id)?;
    let user = state
        .directory
        .set_account_enabled(tenant_id, user_id, enabled)?;
    Ok(Json(admin_view(&user)).into_response())
}

async fn disable_user(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> AdminResult {
    set_enabled(state, tenant, id, false).await
}

async fn enable_user(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> AdminResult {
    set_enabled(state, tenant, id, true).await
}

async fn restore_user(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let user_id = user_id(&state, tenant_id, &id)?;
    let user = state.directory.restore_user(tenant_id, user_id)?;
    Ok(Json(admin_view(&user)).into_response())
}

#[derive(Debug, Deserialize)]
struct LicenseBody {
    licensed: bool,
}

async fn set_license(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    Json(body): Json<LicenseBody>,
) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let user_id = user_id(&state, tenant_id, &id)?;
    let user = state
        .directory
        .set_licensed(tenant_id, user_id, body.licensed)?;
    Ok(Json(admin_view(&user)).into_response())
}

#[derive(Debug, Deserialize)]
struct ManagerBody {
    manager_id: Option<Uuid>,
}

async fn set_manager(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    Json(body): Json<ManagerBody>,
) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let user_id = user_id(&state, tenant_id, &id)?;
    let user = state
        .directory
        .set_manager(tenant_id, user_id, body.manager_id)?;
    Ok(Json(admin_view(&user)).into_response())
}

async fn set_photo(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let user_id = user_id(&state, tenant_id, &id)?;
    if body.is_empty() {
        return Err(AdminError(
            StatusCode::BAD_REQUEST,
            "photo body is empty".to_owned(),
        ));
    }
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("image/jpeg");
    let user = state
        .directory
        .set_photo(tenant_id, user_id, body, content_type)?;
    Ok(Json(admin_view(&user)).into_response())
}

async fn remove_photo(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let user_id = user_id(&state, tenant_id, &id)?;
    let user = state.directory.remove_photo(tenant_id, user_id)?;
    Ok(Json(admin_view(&user)).into_response())
}
