//! A tenant page's parts and its actions: certificates (generate, rotate,
//! download the `.cer`), the client secret, the admin-consent link and Test
//! Connection. Admins change; operators test; everyone signed in reads.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use galsync_proto::v1;

use crate::html::Page;
use crate::pages::{page, when};
use crate::session::Role;
use crate::tenant_view::{
    app_heading, broker_page, certificate_page, days_left, no_broker_page, state_name,
};
use crate::web::{csrf_refusal, refused_below, SignedIn};
use crate::AppState;

/// One app's consent, certificates and client secret, with the forms the
/// person's role allows.
pub(crate) fn app_section(
    body: &mut Page,
    signed_in: &SignedIn,
    tenant: &v1::Tenant,
    app: &v1::AppRegistration,
    consent: &v1::ConsentStatus,
    certificates: &[&v1::Certificate],
) {
    let is_admin = signed_in.session.role >= Role::Admin;
    let csrf_token = signed_in.session.csrf_token();
    let app_path = format!("/tenants/{}/apps/{}", tenant.tenant_id, app.client_id);
    app_heading(body, app);

    body.markup("<h3>Admin consent</h3>\n<p id=\"consent-")
        .text(&app.client_id)
        .markup("\">");
    if consent.granted {
        body.markup("Granted ")
            .text(&when(consent.recorded_at.as_ref()))
            .markup(".");
    } else if !consent.error.is_empty() {
        body.markup("<strong class=\"attention\">Refused: ")
            .text(&consent.error)
            .markup("</strong> ")
            .text(&consent.error_description);
    } else {
        body.markup("<strong class=\"attention\">Not granted yet.</strong> A Global Administrator (or Privileged Role Administrator) of the tenant grants the app's permissions once.");
    }
    body.markup("</p>\n");
    if is_admin {
        body.markup("<p><a class=\"button\" href=\"")
            .text(&app_path)
            .markup("/consent\">Grant admin consent in Microsoft Entra</a></p>\n");
    }

    body.markup("<h3>Certificates</h3>\n");
    if certificates.is_empty() {
        body.markup("<p>No certificate yet.</p>\n");
    } else {
        body.markup("<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table><thead><tr><th scope=\"col\">Thumbprint (SHA-1, as the portal shows it)</th><th scope=\"col\">State</th><th scope=\"col\">Expires</th><th scope=\"col\">Days left</th><th scope=\"col\">Key</th><th scope=\"col\">Public certificate</th></tr></thead><tbody>\n");
        for certificate in certificates {
            body.markup("<tr><td><code>")
                .text(&certificate.thumbprint_sha1)
                .markup("</code></td><td>")
                .text(state_name(certificate.state))
                .markup("</td><td>")
                .text(&when(certificate.not_after.as_ref()))
                .markup("</td><td>")
                .number(days_left(certificate))
                .markup("</td><td>RSA ")
                .number(certificate.key_bits)
                .markup("</td><td><a href=\"/tenants/")
                .text(&tenant.tenant_id)
                .markup("/certificates/")
                .text(&certificate.certificate_id)
                .markup("/cer\" download>Download .cer</a></td></tr>\n");
        }
        body.markup("</tbody></table></div>\n");
    }
    let pending = certificates
        .iter()
        .any(|certificate| certificate.state == v1::CertificateState::PendingRegistration as i32);
    if pending {
        body.markup("<p class=\"notice\">A certificate is waiting for Entra: download its <code>.cer</code> and upload it to the app registration (Certificates &amp; secrets → Certificates → Upload certificate); the broker uses it from its first accepted token request.</p>\n");
    }
    if is_admin && app.auth_mode == v1::AuthMode::Certificate as i32 {
        let (label, action) = if certificates.is_empty() {
            ("Generate certificate", "generate")
        } else {
            ("Rotate certificate", "rotate")
        };
        body.markup("<form method=\"post\" action=\"")
            .text(&app_path)
            .markup("/certificates\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
            .text(csrf_token)
            .markup("\"><input type=\"hidden\" name=\"action\" value=\"")
            .text(action)
            .markup("\"><button type=\"submit\">")
            .text(label)
            .markup("</button></form>\n");
        crate::certificate_import::import_form(body, signed_in, &app_path, &app.client_id, None);
    }

    body.markup("<h3>Client secret</h3>\n<p>");
    if app.has_client_secret {
        body.markup("A secret is stored (sealed; it is never shown)");
        if app.client_secret_expires_at.is_some() {
            body.markup("; Entra expires it ")
                .text(&when(app.client_secret_expires_at.as_ref()));
        }
        body.markup(".");
    } else {
        body.markup("No secret is stored.");
    }
    let (secret, needs_action) = crate::tenant_view::app_secret_health(app);
    if needs_action {
        body.markup(" <strong class=\"attention\">Needs you: ")
            .text(&secret)
            .markup(if app.has_client_secret {
                "; make a new secret in Entra (Certificates &amp; secrets → Client secrets) and store it"
            } else {
                "; this app signs in with a secret: store one"
            })
            .markup(if is_admin {
                " below.</strong>"
            } else {
                " (an admin can).</strong>"
            });
    }
    body.markup("</p>\n");
    if is_admin {
        let field = format!("secret-{}", app.client_id);
        body.markup("<form method=\"post\" action=\"")
            .text(&app_path)
            .markup("/secret\" class=\"fields\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
            .text(csrf_token)
            .markup("\">\n<label for=\"")
            .text(&field)
            .markup("\">Secret value (Certificates &amp; secrets → Client secrets → Value)</label> <input type=\"password\" autocomplete=\"off\" id=\"")
            .text(&field)
            .markup("\" name=\"secret\" required>\n<label for=\"")
            .text(&field)
            .markup("-expires\">Expires (as Entra shows it; optional)</label> <input type=\"date\" id=\"")
            .text(&field)
            .markup("-expires\" name=\"expires\">\n<button type=\"submit\">Store secret</button></form>\n");
    }
}

/// Test Connection, for operators and admins.
pub(crate) fn test_connection_form(body: &mut Page, signed_in: &SignedIn, tenant_id: &str) {
    body.markup("<h2>Test connection</h2>\n");
    if signed_in.session.role < Role::Operator {
        body.markup("<p>Testing the connection needs the operator role.</p>\n");
        return;
    }
    body.markup("<p>Asks Entra for each app's token, checks its permissions and reads from Graph; with a mailbox, also reads its contact folders.</p>\n<form method=\"post\" action=\"/tenants/")
        .text(tenant_id)
        .markup("/test\" class=\"fields\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
        .text(signed_in.session.csrf_token())
        .markup("\">\n<label for=\"probe-mailbox\">Mailbox to probe (optional, e.g. adele@contoso.com)</label> <input id=\"probe-mailbox\" name=\"probe_mailbox\">\n<button type=\"submit\">Test connection</button></form>\n");
}

#[derive(serde::Deserialize)]
pub struct CertificateForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    action: String,
}

/// Generates the app's first certificate, or rotates to a new one.
pub async fn certificate(
    State(state): State<Arc<AppState>>,
    Path((tenant_id, client_id)): Path<(String, String)>,
    signed_in: SignedIn,
    Form(form): Form<CertificateForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Managing certificates") {
        return refused;
    }
    let Some(broker) = state.broker.as_ref() else {
        return no_broker_page(&signed_in, "Tenant");
    };
    let person = &signed_in.session;
    let made = if form.action == "rotate" {
        broker
            .rotate_certificate(person, &tenant_id, &client_id)
            .await
    } else {
        broker
            .generate_certificate(person, &tenant_id, &client_id)
            .await
    };
    let certificate = match made {
        Ok(certificate) => certificate,
        Err(status) => return broker_page(&status, &signed_in),
    };
    tracing::info!(person = %person.person, tenant = %tenant_id, thumbprint = %certificate.thumbprint_sha1, "certificate made");
    certificate_page("Certificate made", &certificate, &tenant_id, &signed_in)
}

/// The public certificate as a `.cer` file (DER), as Entra's upload takes it.
pub async fn download_cer(
    State(state): State<Arc<AppState>>,
    Path((tenant_id, certificate_id)): Path<(String, String)>,
    signed_in: SignedIn,
) -> Response {
    let Some(broker) = state.broker.as_ref() else {
        return no_broker_page(&signed_in, "Tenant");
    };
    let exported = match broker
        .export_certificate(&signed_in.session, &certificate_id)
        .await
    {
        Ok(exported) => exported,
        Err(status) => return broker_page(&status, &signed_in),
    };
    let belongs = exported
        .certificate
        .as_ref()
        .is_some_and(|certificate| certificate.tenant_id == tenant_id);
    if !belongs {
        return broker_page(
            &tonic::Status::not_found(format!(
                "tenant {tenant_id} has no certificate {certificate_id}"
            )),
            &signed_in,
        );
    }
    let thumbprint = exported
        .certificate
        .as_ref()
        .map_or("", |certificate| certificate.thumbprint_sha1.as_str());
    let disposition = format!("attachment; filename=\"galsync-{thumbprint}.cer\"");
    let mut response = exported.cer_der.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pkix-cert"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[derive(serde::Deserialize)]
pub struct SecretForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    secret: String,
    /// `YYYY-MM-DD`, or empty.
    #[serde(default)]
    expires: String,
}

impl std::fmt::Debug for SecretForm {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SecretForm")
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// Stores the app's client secret at the broker (sealed there; the console
/// keeps nothing of it).
pub async fn secret(
    State(state): State<Arc<AppState>>,
    Path((tenant_id, client_id)): Path<(String, String)>,
    signed_in: SignedIn,
    Form(form): Form<SecretForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Storing a client secret") {
        return refused;
    }
    let Some(broker) = state.broker.as_ref() else {
        return no_broker_page(&signed_in, "Tenant");
    };
    let expires_at = match form.expires.trim() {
        "" => None,
        text => match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(date) => date.and_hms_opt(0, 0, 0).map(|at| prost_types::Timestamp {
                seconds: at.and_utc().timestamp(),
                nanos: 0,
            }),
            Err(_) => {
                return broker_page(
                    &tonic::Status::invalid_argument(
                        "invalid expires: give the date as YYYY-MM-DD, as Entra shows it, or leave it empty",
                    ),
                    &signed_in,
                )
            }
        },
    };
    let message = v1::SetClientSecretRequest {
        tenant_id: tenant_id.clone(),
        client_id,
        secret: form.secret,
        expires_at,
    };
    match broker.set_client_secret(&signed_in.session, message).await {
        Ok(_) => Redirect::to(&format!("/tenants/{tenant_id}")).into_response(),
        Err(status) => broker_page(&status, &signed_in),
    }
}

/// Sends the administrator to Entra's admin-consent page for the app; Entra
/// sends them back to the broker's consent callback. A link, not a form:
/// the page's `form-action 'self'` would stop a form's redirect to Entra.
pub async fn consent(
    State(state): State<Arc<AppState>>,
    Path((tenant_id, client_id)): Path<(String, String)>,
    signed_in: SignedIn,
) -> Response {
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Asking for admin consent") {
        return refused;
    }
    let Some(broker) = state.broker.as_ref() else {
        return no_broker_page(&signed_in, "Tenant");
    };
    match broker
        .admin_consent_url(&signed_in.session, &tenant_id, &client_id)
        .await
    {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(status) => broker_page(&status, &signed_in),
    }
}

#[derive(serde::Deserialize)]
pub struct TestForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    probe_mailbox: String,
}

/// Runs Test Connection and shows each check with its fix.
pub async fn test_connection(
    State(state): State<Arc<AppState>>,
    Path(tenant_id): Path<String>,
    signed_in: SignedIn,
    Form(form): Form<TestForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    if let Some(refused) = refused_below(&signed_in, Role::Operator, "Testing a connection") {
        return refused;
    }
    let Some(broker) = state.broker.as_ref() else {
        return no_broker_page(&signed_in, "Test connection");
    };
    let result = match broker
        .test_connection(&signed_in.session, &tenant_id, form.probe_mailbox.trim())
        .await
    {
        Ok(result) => result,
        Err(status) => return broker_page(&status, &signed_in),
    };
    let mut body = Page::default();
    if result.ok {
        body.markup("<p class=\"ok\" role=\"status\"><strong>Every check passed.</strong> galsync can read the directory and write contacts for this tenant.</p>\n");
    } else {
        body.markup("<p class=\"error\" role=\"alert\"><strong>Some checks failed.</strong> Each says what to do.</p>\n");
    }
    body.markup("<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table><thead><tr><th scope=\"col\">Check</th><th scope=\"col\">Result</th><th scope=\"col\">What was found</th><th scope=\"col\">What to do</th></tr></thead><tbody>\n");
    for check in &result.checks {
        body.markup("<tr><td><code>")
            .text(&check.name)
            .markup("</code></td><td>");
        if check.ok {
            body.markup("passed");
        } else {
            body.markup("<strong class=\"attention\">failed</strong>");
        }
        body.markup("</td><td>").text(&check.detail);
        if !check.error_code.is_empty() {
            body.markup(" (<code>")
                .text(&check.error_code)
                .markup("</code>)");
        }
        body.markup("</td><td>")
            .text(&check.fix)
            .markup("</td></tr>\n");
    }
    body.markup("</tbody></table></div>\n<p><a href=\"/tenants/")
        .text(&tenant_id)
        .markup("\">Back to the tenant</a></p>\n");
    page("Test connection", &signed_in, body, false)
}
