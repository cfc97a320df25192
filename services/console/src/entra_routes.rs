//! Signing in with Microsoft Entra ID: `/auth/entra/start` sends the
//! browser to the authority with a new flow, `/auth/entra/callback` finishes
//! it and starts a session whose person is the ID token's
//! `preferred_username`, with the highest role of their mapped groups and
//! app roles ([`crate::entra_roles`]).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use secrecy::ExposeSecret;

use crate::entra::{SignInFailure, FLOW_LIFETIME};
use crate::html::{document, document_redirecting_to_overview, escape};
use crate::oidc::PendingFlow;
use crate::web::{cookie_value, error_page, session_cookie};
use crate::AppState;

/// Binds a flow to the browser that started it. SameSite=Lax, not Strict:
/// the callback is a top-level navigation from the authority's site, and a
/// Strict cookie would not come with it.
pub const FLOW_COOKIE: &str = "__Host-galsync_entra_flow";

fn flow_cookie(value: &str) -> String {
    format!(
        "{FLOW_COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
        FLOW_LIFETIME.as_secs()
    )
}

fn cleared_flow_cookie() -> String {
    format!("{FLOW_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

const START_AGAIN: &str = "<p><a href=\"/sign-in\">Back to sign-in</a></p>";

/// A sign-in failure page; `message` is escaped here. The flow cookie is
/// cleared: whatever happened, that flow is over.
fn failure_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!("<p class=\"error\">{}</p>\n{START_AGAIN}", escape(message));
    let mut response = (status, Html(document(title, None, &body, false))).into_response();
    append_cookie(&mut response, &cleared_flow_cookie());
    response
}

fn append_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Starts a sign-in: a new flow kept server-side, found by the pre-session
/// cookie, and the browser sent to Entra's authorize endpoint.
pub async fn start(State(state): State<Arc<AppState>>) -> Response {
    let Some(entra) = state.entra.as_ref() else {
        return not_configured();
    };
    let flow = PendingFlow::new();
    let authorize_url = entra.authorize_url(&flow);
    let cookie = entra.flows.start(flow);
    let mut response = Redirect::to(&authorize_url).into_response();
    append_cookie(&mut response, &flow_cookie(&cookie));
    response
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Finishes a sign-in: checks the state against the browser's flow (once),
/// redeems the code, validates the ID token and maps the groups to a role.
pub async fn callback(
    State(state): State<Arc<AppState>>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(entra) = state.entra.as_ref() else {
        return not_configured();
    };
    let Some(flow_id) = cookie_value(&headers, FLOW_COOKIE) else {
        tracing::warn!("refused an entra callback without a sign-in in progress in this browser");
        return failure_page(
            StatusCode::BAD_REQUEST,
            "Sign-in not started here",
            "This browser has no sign-in in progress: it was started in another browser, it took longer than 10 minutes, or this page was opened again. Start again from the sign-in page.",
        );
    };
    let returned_state = query.state.unwrap_or_default();
    // The flow is spent whatever follows: a callback works once.
    let Some(flow) = entra.flows.finish(&flow_id, &returned_state) else {
        tracing::warn!("refused an entra callback whose state is not its browser's flow");
        return failure_page(
            StatusCode::BAD_REQUEST,
            "Sign-in not recognised",
            "This sign-in answer does not belong to a sign-in this browser started (its state does not match, it was used already, it took longer than 10 minutes, or the console restarted). Start again from the sign-in page.",
        );
    };
    if let Some(error) = query.error {
        let description = query.error_description.unwrap_or_default();
        tracing::warn!(%error, %description, "entra answered the sign-in with an error");
        return failure_page(
            StatusCode::FORBIDDEN,
            "Microsoft did not sign you in",
            &format!("Microsoft Entra ID answered: {error}: {description}"),
        );
    }
    let Some(code) = query.code else {
        return failure_page(
            StatusCode::BAD_REQUEST,
            "Sign-in incomplete",
            "The answer from Microsoft Entra ID has no authorization code. Start again from the sign-in page.",
        );
    };
    let signed_in = match entra.finish(&flow, &code).await {
        Ok(signed_in) => signed_in,
        Err(failure) => {
            tracing::warn!(%failure, "an entra sign-in failed");
            let status = match failure {
                SignInFailure::Unreachable { .. } => StatusCode::BAD_GATEWAY,
                SignInFailure::Credential(_) => StatusCode::INTERNAL_SERVER_ERROR,
                SignInFailure::Refused { .. }
                | SignInFailure::IdToken(_)
                | SignInFailure::Groups(_) => StatusCode::FORBIDDEN,
            };
            return failure_page(status, "Sign-in failed", &failure.to_string());
        }
    };
    let role = match entra.role_of(&signed_in).await {
        Ok(role) => role,
        Err(failure) => {
            tracing::warn!(%failure, "could not find the role of a person entra signed in");
            let status = match failure {
                SignInFailure::Unreachable { .. } => StatusCode::BAD_GATEWAY,
                _ => StatusCode::FORBIDDEN,
            };
            return failure_page(status, "Sign-in failed", &failure.to_string());
        }
    };
    // The Graph token served only to find the role.
    drop(signed_in.graph_token);
    let claims = signed_in.claims;
    let Some(role) = role else {
        tracing::warn!(person = %claims.preferred_username, oid = %claims.oid, "refused an entra sign-in: no group or app role mapped to a role");
        let message = format!(
            "Microsoft signed you in as {} ({}, object ID {}), but you are in none of the Entra groups, and hold none of the app roles, that give a role in this console. Ask the console's administrator to add you to the group mapped to the role you need (viewer, operator or admin), or to assign you the app role mapped to it.",
            claims.preferred_username, claims.name, claims.oid
        );
        return failure_page(StatusCode::FORBIDDEN, "No role in this console", &message);
    };
    let (session_id, session) = state
        .sessions
        .start_via_entra(claims.preferred_username.clone(), role);
    tracing::info!(person = %session.person, role = role.as_str(), "signed in with entra id");
    // As for a one-time link: a refresh from this page, not a redirect, so
    // the Strict session cookie comes with the overview's request although
    // this navigation started at another site.
    let body = format!(
        "<p>Signed in as {} ({}). <a href=\"/\">Open the overview</a>.</p>",
        escape(&session.person),
        session.role.as_str()
    );
    let mut response = Html(document_redirecting_to_overview("Signed in", &body)).into_response();
    append_cookie(&mut response, &session_cookie(session_id.expose_secret()));
    append_cookie(&mut response, &cleared_flow_cookie());
    response
}

fn not_configured() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Not available",
        "Sign-in with Microsoft Entra ID is not configured on this console (--entra-tenant-id and the other --entra-… flags).",
        None,
    )
}
