//! How the console shows a tenant's parts — its health at a glance, an
//! app's heading, a new certificate — and the pages for a broker that is
//! missing or refused, shared by the tenant pages and the overview.

use axum::response::Response;
use galsync_proto::v1;

use crate::html::Page;
use crate::pages::{page, when};
use crate::web::{service_status_page, Service, SignedIn};

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

/// A certificate the broker just made or imported: its thumbprint, state,
/// expiry, what the broker did about Entra, and its `.cer` to upload.
pub(crate) fn certificate_page(
    title: &str,
    certificate: &v1::Certificate,
    tenant_id: &str,
    signed_in: &SignedIn,
) -> Response {
    let mut body = Page::default();
    body.markup("<p role=\"status\">New certificate <code>")
        .text(&certificate.thumbprint_sha1)
        .markup("</code>, ")
        .text(state_name(certificate.state))
        .markup(", valid until ")
        .text(&when(certificate.not_after.as_ref()))
        .markup(".</p>\n");
    if !certificate.registration.is_empty() {
        body.markup("<p>")
            .text(&certificate.registration)
            .markup("</p>\n");
    }
    body.markup("<p><a class=\"button\" href=\"/tenants/")
        .text(tenant_id)
        .markup("/certificates/")
        .text(&certificate.certificate_id)
        .markup("/cer\" download>Download .cer</a> to upload it to the app registration (Certificates &amp; secrets → Certificates → Upload certificate).</p>\n<p><a href=\"/tenants/")
        .text(tenant_id)
        .markup("\">Back to the tenant</a></p>\n");
    page(title, signed_in, body, false)
}
