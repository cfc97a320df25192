//! `GET /{tenant}/oauth2/v2.0/logout`: signing out of the emulated browser
//! session, as "OpenID Connect on the Microsoft identity platform", section
//! "Send a sign-out request"
//! (<https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#send-a-sign-out-request>)
//! describes it: the session at the identity provider ends and, with a
//! `post_logout_redirect_uri`, the browser is sent there. The docs require
//! that URI to match one of the redirect URIs registered for the
//! application; the request names no application, so the emulator accepts a
//! URI registered on an app of that tenant and refuses any other with an
//! error page (strictest reading: never an open redirect).

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use uuid::Uuid;

use super::client_auth::resolve_tenant_segment;
use super::consent::error_page;
use super::{lock, read, IdentityStore};
use crate::errors::EntraError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/{tenant}/oauth2/v2.0/logout", get(logout_endpoint))
}

#[derive(Debug, Deserialize)]
struct LogoutQuery {
    post_logout_redirect_uri: Option<String>,
}

async fn logout_endpoint(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(query): Query<LogoutQuery>,
) -> Response {
    let tenant_id = match resolve_tenant_segment(&state.identity, &tenant) {
        Ok(tenant_id) => tenant_id,
        Err(error) => return error_page(&error),
    };
    if let Some(uri) = query.post_logout_redirect_uri.as_deref() {
        if !state.identity.is_registered_redirect(tenant_id, uri) {
            return error_page(&unregistered_redirect(uri));
        }
    }
    state.identity.sign_out_browser(tenant_id);
    match query.post_logout_redirect_uri {
        Some(uri) => {
            let mut response = StatusCode::FOUND.into_response();
            if let Ok(location) = HeaderValue::from_str(&uri) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        None => Html(
            "<!DOCTYPE html><html><head><title>Sign out</title></head><body><h1>You signed out of your account</h1><p>It's a good idea to close all browser windows.</p></body></html>",
        )
        .into_response(),
    }
}

fn unregistered_redirect(uri: &str) -> EntraError {
    EntraError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        50011,
        format!("The post_logout_redirect_uri '{uri}' does not match a redirect URI registered for an application of this tenant."),
    )
}

impl IdentityStore {
    /// Ends the emulated browser's session on `tenant_id`: a later
    /// authorize request finds nobody signed in until a test signs someone
    /// in again (`POST /_admin/tenants/{tenant}/browser-sign-in`).
    pub fn sign_out_browser(&self, tenant_id: Uuid) {
        lock(&self.browser_users).remove(&tenant_id);
    }

    /// Whether someone is signed in to the emulated browser on `tenant_id`.
    pub fn browser_signed_in(&self, tenant_id: Uuid) -> bool {
        lock(&self.browser_users).contains_key(&tenant_id)
    }

    fn is_registered_redirect(&self, tenant_id: Uuid, uri: &str) -> bool {
        read(&self.apps).values().any(|app| {
            (app.home_tenant == tenant_id || app.multi_tenant)
                && app.redirect_uris.iter().any(|registered| registered == uri)
        })
    }
}
