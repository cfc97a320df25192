//! Tenants, as the auth-broker holds them: the list with each tenant's
//! connection health, registering one, and a tenant's page (its apps,
//! certificates, client secret, admin consent and Test Connection; the
//! actions are in [`crate::tenant_actions`]). The broker decides what each
//! role may do: viewers read, operators also test, admins change.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use galsync_proto::v1;

use crate::html::Page;
use crate::pages::{page, when};
use crate::session::Role;
use crate::web::{csrf_refusal, refused_below, service_status_page, Service, SignedIn};
use crate::AppState;

/// The page's sentence when the console was started without `--broker-url`.
pub const NO_BROKER: &str = "The console is not connected to the auth-broker, so tenants, certificates and consent are not shown. Start it with --broker-url (galsync up does).";

/// The page saying the console has no broker.
pub(crate) fn no_broker_page(signed_in: &SignedIn, title: &str) -> Response {
    let mut body = Page::default();
    body.markup("<p>").text(NO_BROKER).markup("</p>\n");
    page(title, signed_in, body, false)
}

pub(crate) fn broker_page(status: &tonic::Status, signed_in: &SignedIn) -> Response {
    service_status_page(Service::AuthBroker, status, signed_in)
}

/// A tenant's connection health at a glance, for the overview and the list.
pub struct Health {
    /// e.g. `expires in 729 days`, `not yet uploaded to Entra`, `none`.
    pub certificate: String,
    /// Whether the certificate part needs the administrator.
    pub certificate_needs_action: bool,
    /// e.g. `granted 2026-12-04 19:40:00 UTC`, `not granted yet`.
    pub consent: String,
    pub consent_needs_action: bool,
    /// Each app's client secret, e.g. `expires in 12 days`, `none`.
    pub client_secret: String,
    /// An app signing in with a secret has none, or a secret has expired or
    /// expires within the broker's renewal window.
    pub client_secret_needs_action: bool,
}

/// The health of a tenant as `ListTenantHealth` reports it: its newest
/// usable certificate (certificate-mode apps) and its apps' consent.
pub fn health(reported: &v1::TenantHealth) -> Health {
    let no_tenant = v1::Tenant::default();
    let tenant = reported.tenant.as_ref().unwrap_or(&no_tenant);
    let (certificate, certificate_needs_action) =
        certificate_health(tenant, &reported.certificates);
    let mut consents = Vec::new();
    let mut consent_needs_action = false;
    for app in &tenant.apps {
        let status = reported
            .consents
            .iter()
            .find(|consent| consent.client_id == app.client_id)
            .and_then(|consent| consent.status.clone())
            .unwrap_or_default();
        let text = if status.granted {
            format!("granted {}", when(status.recorded_at.as_ref()))
        } else if !status.error.is_empty() {
            consent_needs_action = true;
            format!("refused: {} {}", status.error, status.error_description)
        } else {
            consent_needs_action = true;
            "not granted yet".to_owned()
        };
        consents.push(if tenant.apps.len() > 1 {
            format!("{}: {text}", app.client_id)
        } else {
            text
        });
    }
    let (client_secret, client_secret_needs_action) = secret_health(tenant);
    Health {
        certificate,
        certificate_needs_action,
        consent: consents.join("; "),
        consent_needs_action,
        client_secret,
        client_secret_needs_action,
    }
}

/// Each app's client secret (see [`app_secret_health`]), prefixed with its
/// client ID when the tenant has several apps.
fn secret_health(tenant: &v1::Tenant) -> (String, bool) {
    let mut texts = Vec::new();
    let mut needs_action = false;
    for app in &tenant.apps {
        let (text, app_needs_action) = app_secret_health(app);
        needs_action |= app_needs_action;
        texts.push(if tenant.apps.len() > 1 {
            format!("{}: {text}", app.client_id)
        } else {
            text
        });
    }
    (texts.join("; "), needs_action)
}

/// An app's client secret: stored or not, and when it expires, and whether
/// it needs the administrator: expired or expiring within the broker's
/// renewal window (`--cert-renewal-days`; the broker says so in
/// `client_secret_expiring_soon`, as it does to the CLI), or missing from
/// an app that signs in with one.
pub fn app_secret_health(app: &v1::AppRegistration) -> (String, bool) {
    let now = chrono::Utc::now().timestamp();
    match (app.has_client_secret, app.client_secret_expires_at) {
        (false, _) => (
            "none".to_owned(),
            app.auth_mode == v1::AuthMode::ClientSecret as i32,
        ),
        (true, None) => ("stored, expiry not given".to_owned(), false),
        (true, Some(expires_at)) => {
            let days = (expires_at.seconds - now).div_euclid(86_400);
            let text = if expires_at.seconds <= now {
                format!("expired {}", when(Some(&expires_at)))
            } else {
                format!("expires in {days} days")
            };
            (text, app.client_secret_expiring_soon)
        }
    }
}

fn certificate_health(tenant: &v1::Tenant, certificates: &[v1::Certificate]) -> (String, bool) {
    let certificate_apps = tenant
        .apps
        .iter()
        .filter(|app| app.auth_mode == v1::AuthMode::Certificate as i32)
        .count();
    if certificate_apps == 0 {
        return ("client secret mode".to_owned(), false);
    }
    let active = certificates
        .iter()
        .filter(|certificate| certificate.state == v1::CertificateState::Active as i32)
        .max_by_key(|certificate| certificate.not_after.map(|at| at.seconds));
    if let Some(certificate) = active {
        let days = days_left(certificate);
        let text = format!("expires in {days} days");
        return (text, certificate.expiring_soon);
    }
    let pending = certificates
        .iter()
        .any(|certificate| certificate.state == v1::CertificateState::PendingRegistration as i32);
    if pending {
        return (
            "made, not yet accepted by Entra (upload the .cer)".to_owned(),
            true,
        );
    }
    ("none: generate one".to_owned(), true)
}

/// Whole days until the certificate expires (negative once expired).
pub fn days_left(certificate: &v1::Certificate) -> i64 {
    let now = chrono::Utc::now().timestamp();
    let not_after = certificate.not_after.map_or(now, |at| at.seconds);
    (not_after - now).div_euclid(86_400)
}

pub fn state_name(state: i32) -> &'static str {
    match v1::CertificateState::try_from(state).unwrap_or(v1::CertificateState::Unspecified) {
        v1::CertificateState::Unspecified => "unknown",
        v1::CertificateState::PendingRegistration => "pending registration",
        v1::CertificateState::Active => "active",
        v1::CertificateState::Retired => "retired",
        v1::CertificateState::Expired => "expired",
    }
}

fn auth_mode_name(mode: i32) -> &'static str {
    match v1::AuthMode::try_from(mode).unwrap_or(v1::AuthMode::Unspecified) {
        v1::AuthMode::Certificate => "certificate",
        v1::AuthMode::ClientSecret => "client secret",
        v1::AuthMode::Unspecified => "unknown",
    }
}

/// Writes a health cell: the text, marked when it needs the administrator.
pub fn health_cell(body: &mut Page, text: &str, needs_action: bool) {
    if needs_action {
        body.markup("<td><strong class=\"attention\">")
            .text(text)
            .markup("</strong></td>");
    } else {
        body.markup("<td>").text(text).markup("</td>");
    }
}

#[derive(serde::Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    auth_mode: String,
    #[serde(default)]
    login_base_url: String,
    #[serde(default)]
    graph_base_url: String,
}

pub async fn list(State(state): State<Arc<AppState>>, signed_in: SignedIn) -> Response {
    tenants_page(&state, &signed_in, None, StatusCode::OK).await
}

async fn tenants_page(
    state: &AppState,
    signed_in: &SignedIn,
    register_error: Option<(&str, &RegisterForm)>,
    status: StatusCode,
) -> Response {
    let Some(broker) = state.broker.as_ref() else {
        return no_broker_page(signed_in, "Tenants");
    };
    let person = &signed_in.session;
    // One call for every tenant's health, however many there are.
    let tenants = match broker.tenants_with_health(person).await {
        Ok(tenants) => tenants,
        Err(status) => return broker_page(&status, signed_in),
    };
    let mut body = Page::default();
    body.markup("<section aria-labelledby=\"tenants-heading\"><h2 id=\"tenants-heading\">Registered tenants</h2>\n");
    if tenants.is_empty() {
        body.markup("<p>No tenant is registered yet.</p>\n");
    } else {
        body.markup("<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table><thead><tr><th scope=\"col\">Tenant</th><th scope=\"col\">Tenant ID</th><th scope=\"col\">Certificate</th><th scope=\"col\">Client secret</th><th scope=\"col\">Admin consent</th></tr></thead><tbody>\n");
        for reported in &tenants {
            let health = health(reported);
            let Some(tenant) = reported.tenant.as_ref() else {
                continue;
            };
            body.markup("<tr><td><a href=\"/tenants/")
                .text(&tenant.tenant_id)
                .markup("\">")
                .text(&tenant.display_name)
                .markup("</a></td><td><code>")
                .text(&tenant.tenant_id)
                .markup("</code></td>");
            health_cell(
                &mut body,
                &health.certificate,
                health.certificate_needs_action,
            );
            health_cell(
                &mut body,
                &health.client_secret,
                health.client_secret_needs_action,
            );
            health_cell(&mut body, &health.consent, health.consent_needs_action);
            body.markup("</tr>\n");
        }
        body.markup("</tbody></table></div>\n");
    }
    body.markup("</section>\n");
    if person.role >= Role::Admin {
        register_form(&mut body, signed_in, register_error);
    }
    (status, page("Tenants", signed_in, body, false)).into_response()
}

fn register_form(
    body: &mut Page,
    signed_in: &SignedIn,
    register_error: Option<(&str, &RegisterForm)>,
) {
    let typed = register_error.map(|(_, form)| form);
    let value = |pick: fn(&RegisterForm) -> &str| typed.map(pick).unwrap_or_default().to_owned();
    body.markup("<section aria-labelledby=\"register-heading\"><h2 id=\"register-heading\">Register a tenant</h2>\n<p>The tenant's directory ID and the application (client) ID of the app registration galsync signs in as (Entra admin center → App registrations). One app serves both reading the directory and writing contacts; the CLI registers two for least privilege.</p>\n<form method=\"post\" action=\"/tenants\" class=\"fields\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
        .text(signed_in.session.csrf_token())
        .markup("\">\n<label for=\"tenant-id\">Directory (tenant) ID</label> <input id=\"tenant-id\" name=\"tenant_id\" required value=\"")
        .text(&value(|form| &form.tenant_id))
        .markup("\">\n<label for=\"tenant-name\">Name</label> <input id=\"tenant-name\" name=\"display_name\" required value=\"")
        .text(&value(|form| &form.display_name))
        .markup("\">\n<label for=\"client-id\">Application (client) ID</label> <input id=\"client-id\" name=\"client_id\" required value=\"")
        .text(&value(|form| &form.client_id))
        .markup("\">\n<label for=\"auth-mode\">Signs in with</label> <select id=\"auth-mode\" name=\"auth_mode\"><option value=\"certificate\">a certificate (recommended)</option><option value=\"client_secret\">a client secret</option></select>\n<label for=\"login-base\">Login host (empty: login.microsoftonline.com)</label> <input id=\"login-base\" name=\"login_base_url\" value=\"")
        .text(&value(|form| &form.login_base_url))
        .markup("\">\n<label for=\"graph-base\">Graph host (empty: graph.microsoft.com)</label> <input id=\"graph-base\" name=\"graph_base_url\" value=\"")
        .text(&value(|form| &form.graph_base_url))
        .markup("\">\n");
    if let Some((message, _)) = register_error {
        body.markup("<p class=\"error\" id=\"register-error\" role=\"alert\">")
            .text(message)
            .markup("</p>\n");
    }
    body.markup("<button type=\"submit\">Register tenant</button></form></section>\n");
}

/// Registers a tenant with one app for every purpose.
pub async fn register(
    State(state): State<Arc<AppState>>,
    signed_in: SignedIn,
    Form(form): Form<RegisterForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Registering a tenant") {
        return refused;
    }
    let Some(broker) = state.broker.as_ref() else {
        return no_broker_page(&signed_in, "Tenants");
    };
    let auth_mode = match form.auth_mode.as_str() {
        "client_secret" => v1::AuthMode::ClientSecret,
        _ => v1::AuthMode::Certificate,
    };
    let message = v1::RegisterTenantRequest {
        tenant_id: form.tenant_id.trim().to_owned(),
        display_name: form.display_name.trim().to_owned(),
        login_base_url: form.login_base_url.trim().to_owned(),
        graph_base_url: form.graph_base_url.trim().to_owned(),
        apps: vec![v1::AppRegistration {
            client_id: form.client_id.trim().to_owned(),
            auth_mode: auth_mode as i32,
            purposes: vec![
                v1::TokenPurpose::Directory as i32,
                v1::TokenPurpose::Contacts as i32,
            ],
            ..Default::default()
        }],
    };
    match broker.register_tenant(&signed_in.session, message).await {
        Ok(tenant) => {
            tracing::info!(person = %signed_in.session.person, tenant = %tenant.tenant_id, "tenant registered");
            Redirect::to(&format!("/tenants/{}", tenant.tenant_id)).into_response()
        }
        Err(status)
            if matches!(
                status.code(),
                tonic::Code::InvalidArgument | tonic::Code::AlreadyExists
            ) =>
        {
            tenants_page(
                &state,
                &signed_in,
                Some((status.message(), &form)),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(status) => broker_page(&status, &signed_in),
    }
}

/// One tenant: its apps with consent and secret, its certificates, and the
/// forms that change them.
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(tenant_id): Path<String>,
    signed_in: SignedIn,
) -> Response {
    let Some(broker) = state.broker.as_ref() else {
        return no_broker_page(&signed_in, "Tenant");
    };
    let person = &signed_in.session;
    let tenant = match broker.tenant(person, &tenant_id).await {
        Ok(tenant) => tenant,
        Err(status) => return broker_page(&status, &signed_in),
    };
    let certificates = match broker.certificates(person, &tenant_id).await {
        Ok(certificates) => certificates,
        Err(status) => return broker_page(&status, &signed_in),
    };
    let mut body = Page::default();
    body.markup("<p>Directory (tenant) ID <code>")
        .text(&tenant.tenant_id)
        .markup("</code>; login at ")
        .text(&tenant.login_base_url)
        .markup(", Graph at ")
        .text(&tenant.graph_base_url)
        .markup(".</p>\n");
    for app in &tenant.apps {
        let consent = match broker
            .consent_status(person, &tenant_id, &app.client_id)
            .await
        {
            Ok(consent) => consent,
            Err(status) => return broker_page(&status, &signed_in),
        };
        let app_certificates: Vec<&v1::Certificate> = certificates
            .iter()
            .filter(|certificate| certificate.client_id == app.client_id)
            .collect();
        crate::tenant_actions::app_section(
            &mut body,
            &signed_in,
            &tenant,
            app,
            &consent,
            &app_certificates,
        );
    }
    crate::tenant_actions::test_connection_form(&mut body, &signed_in, &tenant_id);
    crate::tenant_settings::settings_section(&mut body, &signed_in, &tenant);
    page(&tenant.display_name, &signed_in, body, false)
}

pub(crate) fn app_heading(body: &mut Page, app: &v1::AppRegistration) {
    let purposes: Vec<&str> = app
        .purposes
        .iter()
        .map(|purpose| {
            match v1::TokenPurpose::try_from(*purpose).unwrap_or(v1::TokenPurpose::Unspecified) {
                v1::TokenPurpose::Directory => "directory",
                v1::TokenPurpose::Contacts => "contacts",
                v1::TokenPurpose::Unspecified => "unknown",
            }
        })
        .collect();
    body.markup("<h2>App <code>")
        .text(&app.client_id)
        .markup("</code></h2>\n<p>Signs in with ")
        .text(auth_mode_name(app.auth_mode))
        .markup("; tokens for ")
        .text(&purposes.join(" and "))
        .markup(".</p>\n");
}
