//! What every response shares: security headers, the session cookie, the
//! signed-in extractor (anonymous → the sign-in page), the CSRF check, and
//! error pages.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::html::{document, escape, Header};
use crate::session::{Role, Session};
use crate::AppState;

/// `__Host-`: the browser keeps it only when Secure, for `/`, without Domain.
pub const SESSION_COOKIE: &str = "__Host-galsync_session";

/// Only this origin's stylesheet and script; no inline code, no framing, no
/// form posted elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every response, pages, assets and errors alike.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Sign-in links carry their token in the path: never send it on.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The `Set-Cookie` value that starts a session.
pub fn session_cookie(session_id: &str) -> String {
    format!("{SESSION_COOKIE}={session_id}; Path=/; Secure; HttpOnly; SameSite=Strict")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The value of the request's cookie `cookie_name`, when it has a non-empty one.
pub fn cookie_value(headers: &HeaderMap, cookie_name: &str) -> Option<String> {
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else {
            continue;
        };
        for pair in text.split(';') {
            if let Some((name, found)) = pair.trim().split_once('=') {
                if name == cookie_name && !found.is_empty() {
                    return Some(found.to_owned());
                }
            }
        }
    }
    None
}

fn session_id_from(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE)
}

/// A request from a signed-in person. Without a live session the request
/// is answered with a redirect to the sign-in page, whatever it asked for.
pub struct SignedIn {
    pub session_id: String,
    pub session: Session,
}

impl SignedIn {
    pub fn header(&self) -> Header<'_> {
        Header {
            person: &self.session.person,
            role: self.session.role.as_str(),
            csrf_token: self.session.csrf_token(),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(session_id) = session_id_from(&parts.headers) else {
            return Err(Redirect::to("/sign-in").into_response());
        };
        match state.sessions.session(&session_id) {
            Some(session) => Ok(SignedIn {
                session_id,
                session,
            }),
            None => {
                let mut response = Redirect::to("/sign-in?ended=1").into_response();
                if let Ok(value) = HeaderValue::from_str(&cleared_session_cookie()) {
                    response.headers_mut().insert(header::SET_COOKIE, value);
                }
                Err(response)
            }
        }
    }
}

/// The refusal of a form whose CSRF token is not the session's; `None`
/// when it is.
pub fn csrf_refusal(signed_in: &SignedIn, presented: &str) -> Option<Response> {
    if signed_in.session.csrf_matches(presented) {
        return None;
    }
    tracing::warn!(person = %signed_in.session.person, "refused a form with a missing or wrong csrf token");
    Some(error_page(
        StatusCode::FORBIDDEN,
        "Refused",
        "This form did not come from this console's page (its CSRF token is missing or wrong). Reload the page and try again.",
        Some(signed_in.header()),
    ))
}

/// The refusal (403) of an action that needs `role`, for someone below it;
/// `what` names the action ("Cancelling a run").
pub fn refused_below(signed_in: &SignedIn, role: Role, what: &str) -> Option<Response> {
    if signed_in.session.role >= role {
        return None;
    }
    Some(error_page(
        StatusCode::FORBIDDEN,
        "Not allowed",
        &format!(
            "{what} needs the {} role. You are signed in as {}.",
            role.as_str(),
            signed_in.session.role.as_str()
        ),
        Some(signed_in.header()),
    ))
}

/// An error page with `status`; `message` is escaped here.
pub fn error_page(
    status: StatusCode,
    title: &str,
    message: &str,
    header: Option<Header<'_>>,
) -> Response {
    let body = format!("<p class=\"error\">{}</p>", escape(message));
    (status, Html(document(title, header, &body, false))).into_response()
}

/// A galsync service the console calls, for the pages of its refusals.
#[derive(Debug, Clone, Copy)]
pub enum Service {
    Scheduler,
    AuthBroker,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Scheduler => "scheduler",
            Service::AuthBroker => "auth-broker",
        }
    }

    /// What to do when the service refuses the console itself.
    fn identity_fix(self) -> &'static str {
        match self {
            Service::Scheduler => "give the console a certificate of the scheduler's CA (--pki-dir) and bind its identity on the scheduler (--role-binding console=admin)",
            Service::AuthBroker => "give the console a certificate of the auth-broker's CA (--pki-dir) and name its identity on the auth-broker (--console-identity console)",
        }
    }

    fn url_flag(self) -> &'static str {
        match self {
            Service::Scheduler => "--scheduler-url",
            Service::AuthBroker => "--broker-url",
        }
    }
}

/// The page for a refusal or failure of the scheduler's API.
pub fn status_page(status: &tonic::Status, signed_in: &SignedIn) -> Response {
    service_status_page(Service::Scheduler, status, signed_in)
}

/// The page for a refusal or failure of `service`'s API.
pub fn service_status_page(
    service: Service,
    status: &tonic::Status,
    signed_in: &SignedIn,
) -> Response {
    let name = service.name();
    let (code, title, message) = match status.code() {
        tonic::Code::PermissionDenied => (
            StatusCode::FORBIDDEN,
            "Not allowed".to_owned(),
            format!("The {name} refused: {}", status.message()),
        ),
        tonic::Code::NotFound => (
            StatusCode::NOT_FOUND,
            "Not found".to_owned(),
            status.message().to_owned(),
        ),
        tonic::Code::InvalidArgument => (
            StatusCode::BAD_REQUEST,
            "Invalid request".to_owned(),
            status.message().to_owned(),
        ),
        tonic::Code::FailedPrecondition | tonic::Code::Aborted | tonic::Code::AlreadyExists => (
            StatusCode::CONFLICT,
            "Not possible now".to_owned(),
            status.message().to_owned(),
        ),
        tonic::Code::Unauthenticated => (
            StatusCode::BAD_GATEWAY,
            format!("The {name} refused the console"),
            format!("{}; {}", status.message(), service.identity_fix()),
        ),
        _ => (
            StatusCode::BAD_GATEWAY,
            format!("The {name} did not answer"),
            format!(
                "{} (check {} and that the {name} runs)",
                status.message(),
                service.url_flag()
            ),
        ),
    };
    tracing::warn!(service = name, code = ?status.code(), message = status.message(), "a service's api failed a page");
    error_page(code, &title, &message, Some(signed_in.header()))
}
