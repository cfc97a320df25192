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
use crate::pages::page;
use crate::session::Role;
use crate::tenant_view::{broker_page, health, health_cell, no_broker_page};
use crate::web::{csrf_refusal, refused_below, SignedIn};
use crate::AppState;

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
