//! Identity admin API (`/_admin/…`, JSON): what an administrator does in the
//! Entra portal and on the sign-in pages, for tests, the demo and other
//! crates. Every route has a Rust twin on [`IdentityStore`] or in
//! [`crate::identity::device`].
//!
//! `{tenant}` is a tenant GUID or a verified domain; `{client_id}` an app's
//! client id.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::identity::device::{approve_device_code, decline_device_code};
use crate::identity::model::{AppRegistrationRequest, ConsentDecision, IdentityAdminError};
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    let app = "/_admin/tenants/{tenant}/apps/{client_id}";
    Router::new()
        .route("/_admin/tenants", post(create_tenant))
        .route("/_admin/tenants/{tenant}", get(show_tenant))
        .route("/_admin/tenants/{tenant}/apps", post(register_app))
        .route(app, get(show_app))
        .route(&format!("{app}/certificates"), post(upload_certificate))
        .route(
            &format!("{app}/certificates/{{thumbprint}}"),
            delete(remove_certificate),
        )
        .route(&format!("{app}/secrets"), post(add_secret))
        .route(&format!("{app}/redirect-uris"), post(add_redirect_uri))
        .route(
            &format!("{app}/consent"),
            post(grant_consent).delete(revoke_consent),
        )
        .route(
            &format!("{app}/consent/roles/{{role}}"),
            delete(revoke_role),
        )
        .route(
            &format!("{app}/consent-decision"),
            post(set_consent_decision),
        )
        .route(&format!("{app}/exchange-scope"), put(set_exchange_scope))
        .route(
            &format!("{app}/exchange-role-assignments/{{role}}"),
            put(assign_exchange_role).delete(remove_exchange_role),
        )
        .route(
            "/_admin/tenants/{tenant}/users/{upn}/revoke-sessions",
            post(revoke_sessions),
        )
        .route(
            "/_admin/tenants/{tenant}/browser-sign-in",
            post(browser_sign_in),
        )
        .route(
            "/_admin/id-tokens/unpublished-key",
            post(sign_id_tokens_with_unpublished_key),
        )
        .route("/_admin/devicecodes", get(list_device_codes))
        .route("/_admin/devicecodes/{user_code}/approve", post(approve))
        .route("/_admin/devicecodes/{user_code}/decline", post(decline))
}

type AdminResult = Result<Response, IdentityAdminError>;

fn resolve(state: &AppState, tenant: &str) -> Result<Uuid, IdentityAdminError> {
    state
        .identity
        .resolve_tenant(tenant)
        .ok_or_else(|| IdentityAdminError::UnknownTenant(tenant.to_owned()))
}

#[derive(Debug, Deserialize)]
struct CreateTenant {
    tenant_id: Option<Uuid>,
    #[serde(default)]
    domains: Vec<String>,
}

async fn create_tenant(State(state): State<AppState>, Json(body): Json<CreateTenant>) -> Response {
    let tenant_id = body.tenant_id.unwrap_or_else(Uuid::new_v4);
    state
        .identity
        .create_tenant(tenant_id, body.domains.clone());
    let answer = json!({"tenant_id": tenant_id, "domains": body.domains});
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn show_tenant(State(state): State<AppState>, Path(tenant): Path<String>) -> AdminResult {
    let tenant_id = resolve(&state, &tenant)?;
    let domains = state.identity.tenant_domains(tenant_id).unwrap_or_default();
    Ok(Json(json!({"tenant_id": tenant_id, "domains": domains})).into_response())
}

async fn register_app(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Json(body): Json<AppRegistrationRequest>,
) -> AdminResult {
    let tenant_id = resolve(&state, &tenant)?;
    let view = state.identity.register_app(tenant_id, body)?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn show_app(
    State(state): State<AppState>,
    Path((tenant, client_id)): Path<(String, String)>,
) -> AdminResult {
    let tenant_id = resolve(&state, &tenant)?;
    Ok(Json(state.identity.show_app(tenant_id, &client_id)?).into_response())
}

#[derive(Debug, Deserialize)]
struct CertificateUpload {
    /// PEM text or base64 of the DER.
    certificate: String,
}

/// Takes `{"certificate": "<PEM or base64 DER>"}` as JSON, or the `.cer`
/// file itself (DER or PEM) as the raw body.
async fn upload_certificate(
    State(state): State<AppState>,
    Path((tenant, client_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> AdminResult {
    resolve(&state, &tenant)?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|content_type| content_type.starts_with("application/json"));
    let certificate_bytes = if is_json {
        let upload: CertificateUpload = serde_json::from_slice(&body).map_err(|error| {
            IdentityAdminError::InvalidCertificate(format!("invalid json body: {error}"))
        })?;
        upload.certificate.into_bytes()
    } else {
        body.to_vec()
    };
    let view = state
        .identity
        .upload_certificate(&client_id, &certificate_bytes)?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn remove_certificate(
    State(state): State<AppState>,
    Path((tenant, client_id, thumbprint)): Path<(String, String, String)>,
) -> AdminResult {
    resolve(&state, &tenant)?;
    let removed = state.identity.remove_certificate(&client_id, &thumbprint)?;
    Ok(Json(json!({"removed": removed})).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AddSecret {
    /// The secret value; generated when absent.
    value: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    /// Alternative to `expires_at`; default 180 days (the portal's default).
    expires_in_days: Option<i64>,
}

async fn add_secret(
    State(state): State<AppState>,
    Path((tenant, client_id)): Path<(String, String)>,
    Json(body): Json<AddSecret>,
) -> AdminResult {
    resolve(&state, &tenant)?;
    let expires_at = match body.expires_at {
        Some(expires_at) => expires_at,
        None => state.clock.now() + Duration::days(body.expires_in_days.unwrap_or(180)),
    };
    let secret = state
        .identity
        .add_client_secret(&client_id, body.value, expires_at)?;
    Ok((StatusCode::CREATED, Json(secret)).into_response())
}

#[derive(Debug, Deserialize)]
struct AddRedirectUri {
    redirect_uri: String,
}

async fn add_redirect_uri(
    State(state): State<AppState>,
    Path((tenant, client_id)): Path<(String, String)>,
    Json(body): Json<AddRedirectUri>,
) -> AdminResult {
    let tenant_id = resolve(&state, &tenant)?;
    state
        .identity
        .add_redirect_uri(&client_id, &body.redirect_uri)?;
    Ok(Json(state.identity.show_app(tenant_id, &client_id)?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GrantConsent {
    /// Roles to grant; every requested role when absent.
    roles: Option<Vec<String>>,
}

async fn grant_consent(
    State(state): State<AppState>,
    Path((tenant, client_id)): Path<(String, String)>,
    body: Option<Json<GrantConsent>>,
) -> AdminResult {
    let tenant_id = resolve(&state, &tenant)?;
    let roles = body.and_then(|Json(grant)| grant.roles);
    Ok(Json(state.identity.grant_consent(tenant_id, &client_id, roles)?).into_response())
}

async fn revoke_consent(
    State(state): State<AppState>,
    Path((tenant, client_id)): Path<(String, String)>,
) -> AdminResult {
    let tenant_id = resolve(&state, &tenant)?;
    Ok(Json(state.identity.revoke_consent(tenant_id, &client_id)?).into_response())
}

async fn revoke_role(
    State(state): State<AppState>,
    Path((tenant, client_id, role)): Path<(String, String, String)>,
) -> AdminResult {
    let tenant_id = resolve(&state, &tenant)?;
    Ok(Json(state.identity.revoke_role(tenant_id, &client_id, &role)?).into_response())
}

#[derive(Debug, Deserialize)]
struct SetConsentDecision {
    decision: ConsentDecision,
}

async fn set_consent_decision(
    State(state): State<AppState>,
    Path((tenant, client_id)): Path<(String, String)>,
    Json(body): Json<SetConsentDecision>,
) -> AdminResult {
    let tenant_id = resolve(&state, &tenant)?;
    state
        .identity
        .set_consent_decision(tenant_id, &client_id, body.decision)?;
    Ok(Json(state.identity.show_app(tenant_id, &client_id)?).into_response())
}

#[derive(Debug, Deserialize)]
struct SetExchangeScope {
    /// User object ids the app may reach; `null` = every mailbox.
    user_ids: Option<Vec<String>>,
}

async fn set_exchange_scope(
    State(state): State<AppState>,
    Path((tenant, client_id)): Path<(String, String)>,
    Json(body): Json<SetExchangeScope>,
) -> AdminResult {
    let tenant_id = resolve(&state, &tenant)?;
    let view = state
        .identity
        .set_exchange_scope(tenant_id, &client_id, body.user_ids)?;
    Ok(Json(view).into_response())
}

/// `New-ManagementRoleAssignment -App <service principal> -Role
/// "Application Contacts.ReadWrite" [-CustomResourceScope <scope>]`, with the
/// scope given as its members' user object ids.
async fn assign_exchange_role(
    State(state): State<AppState>,
    Path((tenant, client_id, role)): Path<(String, String, String)>,
    Json(body): Json<SetExchangeScope>,
) -> AdminResult {
    let tenant_id = resolve(&state, &tenant)?;
    let view = state.identity.set_exchange_role_assignment(
        tenant_id,
        &client_id,
        &role,
        true,
        body.user_ids,
    )?;
    Ok(Json(view).into_response())
}

/// `Remove-ManagementRoleAssignment` of that role from the app.
async fn remove_exchange_role(
    State(state): State<AppState>,
    Path((tenant, client_id, role)): Path<(String, String, String)>,
) -> AdminResult {
    let tenant_id = resolve(&state, &tenant)?;
    let view = state
        .identity
        .set_exchange_role_assignment(tenant_id, &client_id, &role, false, None)?;
    Ok(Json(view).into_response())
}

async fn revoke_sessions(
    State(state): State<AppState>,
    Path((tenant, upn)): Path<(String, String)>,
) -> AdminResult {
    let tenant_id = resolve(&state, &tenant)?;
    let revoked = state.identity.revoke_refresh_tokens(tenant_id, &upn);
    Ok(Json(json!({"revoked": revoked})).into_response())
}

async fn list_device_codes(State(state): State<AppState>) -> Response {
    Json(state.identity.pending_device_codes(state.clock.unix_now())).into_response()
}

#[derive(Debug, Deserialize)]
struct ApproveDeviceCode {
    /// The admin who signs in.
    upn: String,
}

async fn approve(
    State(state): State<AppState>,
    Path(user_code): Path<String>,
    Json(body): Json<ApproveDeviceCode>,
) -> AdminResult {
    let approved = approve_device_code(&state, &user_code, &body.upn)?;
    Ok(Json(approved).into_response())
}

async fn decline(State(state): State<AppState>, Path(user_code): Path<String>) -> AdminResult {
    let declined = decline_device_code(&state, &user_code)?;
    Ok(Json(declined).into_response())
}

/// The user the emulated browser is signed in as on this tenant's
/// `/authorize` (see [`crate::identity::authorize`]).
async fn browser_sign_in(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Json(body): Json<ApproveDeviceCode>,
) -> AdminResult {
    let user = crate::identity::authorize::sign_in_browser(&state, &tenant, &body.upn)?;
    Ok(Json(user).into_response())
}

#[derive(Debug, Deserialize)]
struct UnpublishedKey {
    enabled: bool,
}

/// `{"enabled": true}`: from now on the authorization code flow's ID tokens
/// are signed with a fresh key the JWKS does not publish (a relying party
/// must refuse them); `false` goes back to the published key.
async fn sign_id_tokens_with_unpublished_key(
    State(state): State<AppState>,
    Json(body): Json<UnpublishedKey>,
) -> Response {
    let signer = if body.enabled {
        // RSA key generation is slow: off the runtime.
        match tokio::task::spawn_blocking(crate::tokens::TokenSigner::generate).await {
            Ok(Ok(signer)) => Some(signer),
            Ok(Err(error)) => {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot make a key: {error}"),
                )
                    .into_response()
            }
            Err(error) => {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot make a key: {error}"),
                )
                    .into_response()
            }
        }
    } else {
        None
    };
    *state
        .unpublished_id_token_signer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = signer;
    Json(json!({"enabled": body.enabled})).into_response()
}
