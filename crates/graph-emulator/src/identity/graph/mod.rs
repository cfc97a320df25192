//! Microsoft Graph's application management, over the same registrations the
//! token endpoint and the admin API use: `/v1.0/applications`,
//! `/v1.0/servicePrincipals` (Microsoft Graph's own included) and app role
//! assignments. What `galsync tenant provision` does with a signed-in admin.
//!
//! Layout: [`authorization`] (scopes, roles and directory roles),
//! [`applications`], [`keys`] (`keyCredentials`), [`service_principals`],
//! [`roll_keys`] (`addKey`, `removeKey`), [`assignments`] (`appRoleAssignedTo`, `appRoleAssignments`), [`query`]
//! (`$filter` and alternate keys).

mod application_write;
pub mod applications;
pub mod assignments;
pub mod authorization;
pub mod keys;
pub mod query;
pub mod roll_keys;
pub mod service_principals;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

use crate::errors::GraphError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1.0/applications",
            get(applications::list).post(applications::create),
        )
        .route(
            "/v1.0/applications/{id}",
            get(applications::get_by_id).patch(applications::patch_by_id),
        )
        // `applications(appId='…')`, `applications(uniqueName='…')`
        .route(
            "/v1.0/applications{key}",
            get(applications::get_by_key).patch(applications::patch_by_key),
        )
        .route(
            "/v1.0/applications/{id}/addKey",
            post(roll_keys::add_key_by_id),
        )
        .route(
            "/v1.0/applications/{id}/removeKey",
            post(roll_keys::remove_key_by_id),
        )
        // `applications(appId='…')/addKey`
        .route(
            "/v1.0/applications{key}/addKey",
            post(roll_keys::add_key_by_key),
        )
        .route(
            "/v1.0/applications{key}/removeKey",
            post(roll_keys::remove_key_by_key),
        )
        .route(
            "/v1.0/servicePrincipals",
            get(service_principals::list).post(service_principals::create),
        )
        .route(
            "/v1.0/servicePrincipals/{id}",
            get(service_principals::get_by_id),
        )
        .route(
            "/v1.0/servicePrincipals{key}",
            get(service_principals::get_by_key),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignedTo",
            get(assignments::list_assigned_to).post(assignments::grant),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignments",
            get(assignments::list_assignments),
        )
}

/// 400 `Request_BadRequest`, the directory's answer to an invalid write.
pub fn bad_request(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
}

/// `@odata.context` for `fragment`, e.g. `applications/$entity`.
pub fn odata_context(fragment: &str) -> String {
    format!("{}{fragment}", crate::directory::http::METADATA)
}

/// Graph's timestamps: RFC 3339 in UTC with a `Z`.
pub fn graph_time(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
