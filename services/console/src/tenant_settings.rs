//! A tenant's settings and its removal, from the tenant's page: the name,
//! the login and Graph hosts and whether the broker uploads rotated
//! certificates itself (`UpdateTenant`), and removal after a confirmation
//! page that names what goes with it (`RemoveTenant`). Admins only; the
//! broker enforces the same and audits the person.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use galsync_proto::v1;

use crate::html::Page;
use crate::pages::page;
use crate::session::Role;
use crate::tenant_view::{broker_page, no_broker_page};
use crate::web::{csrf_refusal, refused_below, status_page, SignedIn};
use crate::AppState;

/// The settings form and the way to removal, for an admin; nothing for
/// anyone else.
pub(crate) fn settings_section(body: &mut Page, signed_in: &SignedIn, tenant: &v1::Tenant) {
    if signed_in.session.role < Role::Admin {
        return;
    }
    settings_form(body, signed_in, tenant, None);
    body.markup("<section aria-labelledby=\"remove-heading\"><h2 id=\"remove-heading\">Remove the tenant</h2>\n<p>Deletes the tenant, its apps and every certificate key and client secret the auth-broker holds for it. Its audit events stay.</p>\n<p><a class=\"button\" href=\"/tenants/")
        .text(&tenant.tenant_id)
        .markup("/remove\">Remove tenant…</a></p></section>\n");
}

fn settings_form(
    body: &mut Page,
    signed_in: &SignedIn,
    tenant: &v1::Tenant,
    error: Option<(&str, &SettingsForm)>,
) {
    let typed = error.map(|(_, form)| form);
    let display_name = typed.map_or(tenant.display_name.as_str(), |form| &form.display_name);
    let login = typed.map_or(tenant.login_base_url.as_str(), |form| &form.login_base_url);
    let graph = typed.map_or(tenant.graph_base_url.as_str(), |form| &form.graph_base_url);
    let upload = typed.map_or(tenant.upload_rotated_certificates, |form| {
        form.upload_rotated_certificates.is_some()
    });
    body.markup("<section aria-labelledby=\"settings-heading\"><h2 id=\"settings-heading\">Settings</h2>\n<form method=\"post\" action=\"/tenants/")
        .text(&tenant.tenant_id)
        .markup("/settings\" class=\"fields\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
        .text(signed_in.session.csrf_token())
        .markup("\">\n<label for=\"settings-name\">Name</label> <input id=\"settings-name\" name=\"display_name\" required value=\"")
        .text(display_name)
        .markup("\">\n<label for=\"settings-login\">Login host (empty: login.microsoftonline.com)</label> <input id=\"settings-login\" name=\"login_base_url\" value=\"")
        .text(login)
        .markup("\">\n<label for=\"settings-graph\">Graph host (empty: graph.microsoft.com)</label> <input id=\"settings-graph\" name=\"graph_base_url\" value=\"")
        .text(graph)
        .markup("\">\n<label class=\"span\" for=\"settings-upload\"><input type=\"checkbox\" id=\"settings-upload\" name=\"upload_rotated_certificates\" value=\"on\"")
        .markup(if upload { " checked" } else { "" })
        .markup("> Upload rotated certificates to the app registration (the current certificate proves it)</label>\n");
    if let Some((message, _)) = error {
        body.markup("<p class=\"error\" id=\"settings-error\" role=\"alert\">")
            .text(message)
            .markup("</p>\n");
    }
    body.markup("<button type=\"submit\">Save settings</button></form></section>\n");
}

#[derive(serde::Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    login_base_url: String,
    #[serde(default)]
    graph_base_url: String,
    /// Present (`on`) when the box is ticked; browsers send nothing otherwise.
    upload_rotated_certificates: Option<String>,
}

/// Saves the settings form: every field is sent, the broker changes those
/// that differ and audits the change with the person's name.
pub async fn update(
    State(state): State<Arc<AppState>>,
    Path(tenant_id): Path<String>,
    signed_in: SignedIn,
    Form(form): Form<SettingsForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Changing a tenant") {
        return refused;
    }
    let Some(broker) = state.broker.as_ref() else {
        return no_broker_page(&signed_in, "Tenant");
    };
    let message = v1::UpdateTenantRequest {
        tenant_id: tenant_id.clone(),
        display_name: Some(form.display_name.trim().to_owned()),
        login_base_url: Some(form.login_base_url.trim().to_owned()),
        graph_base_url: Some(form.graph_base_url.trim().to_owned()),
        client_id_changes: Vec::new(),
        upload_rotated_certificates: Some(form.upload_rotated_certificates.is_some()),
    };
    let person = &signed_in.session;
    match broker.update_tenant(person, message).await {
        Ok(updated) => {
            tracing::info!(person = %person.person, tenant = %tenant_id, changed = ?updated.changed_fields, "tenant updated");
            Redirect::to(&format!("/tenants/{tenant_id}")).into_response()
        }
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            let tenant = match broker.tenant(person, &tenant_id).await {
                Ok(tenant) => tenant,
                Err(status) => return broker_page(&status, &signed_in),
            };
            let mut body = Page::default();
            settings_form(
                &mut body,
                &signed_in,
                &tenant,
                Some((status.message(), &form)),
            );
            (
                StatusCode::BAD_REQUEST,
                page(&tenant.display_name, &signed_in, body, false),
            )
                .into_response()
        }
        Err(status) => broker_page(&status, &signed_in),
    }
}

/// The confirmation page: what removal deletes, the profiles that still use
/// the tenant (removal waits for them), and a form asking for the tenant's
/// directory ID.
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    Path(tenant_id): Path<String>,
    signed_in: SignedIn,
) -> Response {
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Removing a tenant") {
        return refused;
    }
    confirm_page(&state, &signed_in, &tenant_id, None).await
}

async fn confirm_page(
    state: &AppState,
    signed_in: &SignedIn,
    tenant_id: &str,
    error: Option<&str>,
) -> Response {
    let Some(broker) = state.broker.as_ref() else {
        return no_broker_page(signed_in, "Remove tenant");
    };
    let person = &signed_in.session;
    let tenant = match broker.tenant(person, tenant_id).await {
        Ok(tenant) => tenant,
        Err(status) => return broker_page(&status, signed_in),
    };
    let profiles = match state.api.profiles_of_tenant(person, tenant_id).await {
        Ok(profiles) => profiles,
        Err(status) => return status_page(&status, signed_in),
    };
    let mut body = Page::default();
    body.markup("<p>Removing <strong>")
        .text(&tenant.display_name)
        .markup("</strong> (<code>")
        .text(&tenant.tenant_id)
        .markup("</code>) deletes its ")
        .text(&tenant.apps.len().to_string())
        .markup(" app registration(s) from galsync with every certificate key and client secret the auth-broker holds for them. The apps stay in Entra; delete them there if nothing else uses them.</p>\n");
    if !profiles.is_empty() {
        used_by(&mut body, &profiles);
    } else {
        body.markup("<form method=\"post\" action=\"/tenants/")
            .text(&tenant.tenant_id)
            .markup("/remove\" class=\"fields\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
            .text(person.csrf_token())
            .markup("\">\n<label for=\"remove-confirm\">Type the directory (tenant) ID to confirm</label> <input id=\"remove-confirm\" name=\"confirm\" required autocomplete=\"off\">\n");
        if let Some(message) = error {
            body.markup("<p class=\"error\" id=\"remove-error\" role=\"alert\">")
                .text(message)
                .markup("</p>\n");
        }
        body.markup("<button type=\"submit\" class=\"danger\">Remove tenant</button></form>\n");
    }
    body.markup("<p><a href=\"/tenants/")
        .text(&tenant.tenant_id)
        .markup("\">Keep the tenant</a></p>\n");
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, page("Remove tenant", signed_in, body, false)).into_response()
}

/// The profiles that keep the tenant, each linked, and what to do.
fn used_by(body: &mut Page, profiles: &[v1::Profile]) {
    body.markup("<p class=\"error\" role=\"alert\">The tenant cannot be removed while profiles use it: delete each (or move it to another tenant), then come back.</p>\n<ul>\n");
    for profile in profiles {
        let name = profile.spec.as_ref().map_or("", |spec| spec.name.as_str());
        body.markup("<li><a href=\"/profiles/")
            .text(&profile.profile_id)
            .markup("\">")
            .text(name)
            .markup("</a></li>\n");
    }
    body.markup("</ul>\n");
}

#[derive(serde::Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    confirm: String,
}

/// Removes the tenant once the typed ID matches and no profile uses it.
pub async fn remove(
    State(state): State<Arc<AppState>>,
    Path(tenant_id): Path<String>,
    signed_in: SignedIn,
    Form(form): Form<RemoveForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Removing a tenant") {
        return refused;
    }
    let Some(broker) = state.broker.as_ref() else {
        return no_broker_page(&signed_in, "Remove tenant");
    };
    if !form.confirm.trim().eq_ignore_ascii_case(&tenant_id) {
        let message = "confirm: type the tenant's directory (tenant) ID exactly as shown to remove it; nothing was removed";
        return confirm_page(&state, &signed_in, &tenant_id, Some(message)).await;
    }
    let person = &signed_in.session;
    let profiles = match state.api.profiles_of_tenant(person, &tenant_id).await {
        Ok(profiles) => profiles,
        Err(status) => return status_page(&status, &signed_in),
    };
    if !profiles.is_empty() {
        return confirm_page(&state, &signed_in, &tenant_id, None).await;
    }
    let removed = match broker.remove_tenant(person, &tenant_id).await {
        Ok(removed) => removed,
        Err(status) => return broker_page(&status, &signed_in),
    };
    tracing::info!(person = %person.person, tenant = %tenant_id, "tenant removed");
    let name = removed
        .tenant
        .as_ref()
        .map_or("", |tenant| tenant.display_name.as_str());
    let mut body = Page::default();
    body.markup("<p role=\"status\">Removed <strong>")
        .text(name)
        .markup("</strong> (<code>")
        .text(&tenant_id)
        .markup("</code>): ")
        .text(&removed.apps.to_string())
        .markup(" app(s), ")
        .text(&removed.certificate_keys.to_string())
        .markup(" certificate key(s) and ")
        .text(&removed.client_secrets.to_string())
        .markup(
            " client secret(s) deleted.</p>\n<p><a href=\"/tenants\">Back to the tenants</a></p>\n",
        );
    page("Tenant removed", &signed_in, body, false)
}
