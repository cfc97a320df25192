//! API keys for other systems: the list, creating one (its secret shown
//! once) and revoking one. The scheduler's API allows all three to admins
//! only; the console offers them to admins only.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use galsync_proto::v1;

use crate::html::Page;
use crate::pages::{page, when};
use crate::session::Role;
use crate::web::{csrf_refusal, refused_below, status_page, SignedIn};
use crate::AppState;

#[derive(serde::Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    tenant_id: String,
}

#[derive(serde::Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf_token: String,
}

fn role_name(role: i32) -> &'static str {
    match v1::ApiRole::try_from(role).unwrap_or(v1::ApiRole::Unspecified) {
        v1::ApiRole::Unspecified => "unknown",
        v1::ApiRole::Viewer => "viewer",
        v1::ApiRole::Operator => "operator",
        v1::ApiRole::Admin => "admin",
    }
}

fn api_role(text: &str) -> v1::ApiRole {
    match text {
        "viewer" => v1::ApiRole::Viewer,
        "operator" => v1::ApiRole::Operator,
        "admin" => v1::ApiRole::Admin,
        _ => v1::ApiRole::Unspecified,
    }
}

pub async fn list(State(state): State<Arc<AppState>>, signed_in: SignedIn) -> Response {
    keys_page(&state, &signed_in, None, StatusCode::OK).await
}

/// The list and the create form; `create_error` is the API's refusal of
/// the last form, shown next to it.
async fn keys_page(
    state: &AppState,
    signed_in: &SignedIn,
    create_error: Option<&str>,
    status: StatusCode,
) -> Response {
    let mut body = Page::default();
    if signed_in.session.role < Role::Admin {
        body.markup("<p>Listing, creating and revoking API keys needs the admin role.</p>\n");
        return page("API keys", signed_in, body, false);
    }
    let keys = match state.api.api_keys(&signed_in.session).await {
        Ok(keys) => keys,
        Err(status) => return status_page(&status, signed_in),
    };
    let csrf_token = signed_in.session.csrf_token();
    body.markup("<section aria-labelledby=\"create-heading\"><h2 id=\"create-heading\">Create a key</h2>\n<form method=\"post\" action=\"/api-keys\" class=\"fields\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
        .text(csrf_token)
        .markup("\">\n<label for=\"key-name\">Name (who the key is for)</label> <input id=\"key-name\" name=\"name\" required>\n<label for=\"key-role\">Role</label> <select id=\"key-role\" name=\"role\"><option value=\"viewer\">viewer</option><option value=\"operator\">operator</option><option value=\"admin\">admin</option></select>\n<label for=\"key-tenant\">Tenant ID (empty: every tenant)</label> <input id=\"key-tenant\" name=\"tenant_id\">\n");
    if let Some(message) = create_error {
        body.markup("<p class=\"error\" id=\"create-error\" role=\"alert\">")
            .text(message)
            .markup("</p>\n");
    }
    body.markup("<button type=\"submit\">Create key</button></form></section>\n");
    body.markup("<section aria-labelledby=\"keys-heading\"><h2 id=\"keys-heading\">Keys</h2>\n");
    if keys.is_empty() {
        body.markup("<p>No API key yet.</p>\n</section>\n");
        return (status, page("API keys", signed_in, body, false)).into_response();
    }
    body.markup("<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Key ID</th><th scope=\"col\">Role</th><th scope=\"col\">Tenant</th><th scope=\"col\">Created</th><th scope=\"col\">Created by</th><th scope=\"col\">Revoked</th></tr></thead><tbody>\n");
    for key in &keys {
        let tenant = if key.tenant_id.is_empty() {
            "every tenant"
        } else {
            key.tenant_id.as_str()
        };
        body.markup("<tr><td>")
            .text(&key.name)
            .markup("</td><td><code>")
            .text(&key.key_id)
            .markup("</code></td><td>")
            .text(role_name(key.role))
            .markup("</td><td>")
            .text(tenant)
            .markup("</td><td>")
            .text(&when(key.created_at.as_ref()))
            .markup("</td><td>")
            .text(&key.created_by)
            .markup("</td><td>");
        if key.revoked_at.is_some() {
            body.text(&when(key.revoked_at.as_ref()));
        } else {
            body.markup("<form method=\"post\" action=\"/api-keys/")
                .text(&key.key_id)
                .markup("/revoke\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
                .text(csrf_token)
                .markup("\"><button class=\"danger\" type=\"submit\">Revoke</button></form>");
        }
        body.markup("</td></tr>\n");
    }
    body.markup("</tbody></table></div>\n</section>\n");
    (status, page("API keys", signed_in, body, false)).into_response()
}

/// Creates a key and shows its secret, this once.
pub async fn create(
    State(state): State<Arc<AppState>>,
    signed_in: SignedIn,
    Form(form): Form<CreateForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Managing API keys") {
        return refused;
    }
    let message = v1::CreateApiKeyRequest {
        name: form.name.trim().to_owned(),
        role: api_role(&form.role) as i32,
        tenant_id: form.tenant_id.trim().to_owned(),
    };
    let key = match state.api.create_api_key(&signed_in.session, message).await {
        Ok(key) => key,
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            return keys_page(
                &state,
                &signed_in,
                Some(status.message()),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        Err(status) => return status_page(&status, &signed_in),
    };
    tracing::info!(person = %signed_in.session.person, key_id = %key.key_id, "api key created");
    let mut body = Page::default();
    body.markup("<p class=\"notice\" role=\"alert\"><strong>Copy the secret now: it will not be shown again.</strong> The scheduler keeps only its hash; a lost secret means a new key.</p>\n<p>Key <strong>")
        .text(&key.name)
        .markup("</strong> (")
        .text(role_name(key.role))
        .markup("), sent as <code>authorization: Bearer &lt;secret&gt;</code>:</p>\n<p><label for=\"secret\">Secret</label> <input id=\"secret\" class=\"secret\" readonly size=\"60\" value=\"")
        .text(&key.secret)
        .markup("\"></p>\n<p><a href=\"/api-keys\">Back to the API keys</a></p>\n");
    page("API key created", &signed_in, body, false)
}

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Path(key_id): Path<String>,
    signed_in: SignedIn,
    Form(form): Form<RevokeForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Managing API keys") {
        return refused;
    }
    match state.api.revoke_api_key(&signed_in.session, &key_id).await {
        Ok(key) => {
            tracing::info!(person = %signed_in.session.person, key_id = %key.key_id, "api key revoked");
            Redirect::to("/api-keys").into_response()
        }
        Err(status) => status_page(&status, &signed_in),
    }
}
