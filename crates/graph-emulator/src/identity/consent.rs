//! `GET /{tenant}/adminconsent` (and `/{tenant}/v2.0/adminconsent`): the
//! tenant-wide admin consent a browser is sent to. The admin's click is the
//! consent decision set beforehand through the admin API; the next visit
//! applies it and redirects back like Entra. Without a decision the visit
//! shows the (emulated) consent page and waits. On `/organizations` and
//! `/common` the consenting tenant is the one with a pending decision for
//! the app (the tenant of the admin who would sign in).

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use uuid::Uuid;

use super::client_auth::resolve_tenant_segment;
use super::entra_errors;
use super::model::ConsentDecision;
use super::{client_key, read};
use crate::errors::EntraError;
use crate::tokens::GRAPH_AUDIENCE;
use crate::{AppState, EmulatorState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/adminconsent", get(admin_consent))
        .route("/{tenant}/v2.0/adminconsent", get(admin_consent))
}

#[derive(Debug, Default, Deserialize)]
struct AdminConsentQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    scope: Option<String>,
}

async fn admin_consent(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(query): Query<AdminConsentQuery>,
) -> Response {
    match visit_admin_consent(&state, &tenant, &query) {
        Ok(response) => response,
        Err(error) => error_page(&error),
    }
}

fn visit_admin_consent(
    state: &EmulatorState,
    tenant: &str,
    query: &AdminConsentQuery,
) -> Result<Response, EntraError> {
    let client_id =
        non_empty(&query.client_id).ok_or_else(|| entra_errors::missing_parameter("client_id"))?;
    let redirect_uri = non_empty(&query.redirect_uri)
        .ok_or_else(|| entra_errors::missing_parameter("redirect_uri"))?;
    // On `/organizations` (or `/common`) the admin's own tenant is the one
    // consenting: the tenant whose admin decision is pending for this app.
    let is_alias = matches!(
        tenant.to_ascii_lowercase().as_str(),
        "organizations" | "common"
    );
    let tenant_id = if is_alias {
        match state.identity.tenant_with_pending_decision(client_id) {
            Some(tenant_id) => tenant_id,
            None => return Ok(waiting_page(tenant, client_id)),
        }
    } else {
        resolve_tenant_segment(&state.identity, tenant)?
    };
    check_app_and_redirect(state, tenant_id, tenant, client_id, redirect_uri)?;
    let Some(decision) = state.identity.take_consent_decision(tenant_id, client_id) else {
        return Ok(waiting_page(&tenant_id.to_string(), client_id));
    };
    let mut location =
        url::Url::parse(redirect_uri).map_err(|_| redirect_mismatch(client_id, redirect_uri))?;
    {
        let mut pairs = location.query_pairs_mut();
        pairs.append_pair("admin_consent", "True");
        match decision {
            ConsentDecision::Approve => {
                state
                    .identity
                    .grant_consent(tenant_id, client_id, None)
                    .map_err(|_| entra_errors::app_not_found(client_id, tenant))?;
                pairs.append_pair("tenant", &tenant_id.to_string());
                let scope = query
                    .scope
                    .clone()
                    .unwrap_or_else(|| format!("{GRAPH_AUDIENCE}/.default"));
                pairs.append_pair("scope", &scope);
            }
            ConsentDecision::Decline => {
                pairs.append_pair("error", "access_denied");
                pairs.append_pair("error_subcode", "cancel");
                pairs.append_pair(
                    "error_description",
                    "AADSTS65004: User declined to consent to access the app.",
                );
            }
        }
        if let Some(request_state) = &query.state {
            pairs.append_pair("state", request_state);
        }
    }
    Ok((
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response())
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

/// The app must exist, be consentable in this tenant, and have registered
/// the redirect URI exactly; Entra shows an error page otherwise.
pub(super) fn check_app_and_redirect(
    state: &EmulatorState,
    tenant_id: Uuid,
    tenant: &str,
    client_id: &str,
    redirect_uri: &str,
) -> Result<(), EntraError> {
    let apps = read(&state.identity.apps);
    let Some(app) = apps.get(&client_key(client_id)) else {
        return Err(entra_errors::app_not_found(client_id, tenant));
    };
    if app.home_tenant != tenant_id && !app.multi_tenant {
        return Err(entra_errors::app_not_found(client_id, tenant));
    }
    if !app
        .redirect_uris
        .iter()
        .any(|registered| registered == redirect_uri)
    {
        return Err(redirect_mismatch(client_id, redirect_uri));
    }
    Ok(())
}

fn redirect_mismatch(client_id: &str, redirect_uri: &str) -> EntraError {
    EntraError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        50011,
        format!("The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal."),
    )
}

/// Entra shows errors it cannot send back as a page, not a redirect.
pub(super) fn error_page(error: &EntraError) -> Response {
    let body = error.body();
    let description = body["error_description"].as_str().unwrap_or_default();
    let page = format!(
        "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body><h1>Sorry, but we're having trouble signing you in.</h1><p id=\"error\">{}</p></body></html>",
        html_escape(description)
    );
    (error.status, Html(page)).into_response()
}

fn waiting_page(tenant: &str, client_id: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html><head><title>Permissions requested</title></head><body><h1>Permissions requested</h1><p>The emulator waits for the admin's decision. Set it with POST /_admin/tenants/{}/apps/{}/consent-decision {{\"decision\":\"approve\"}} (or \"decline\"), then visit this page again.</p></body></html>",
        html_escape(tenant),
        html_escape(client_id)
    );
    (StatusCode::OK, Html(page)).into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
