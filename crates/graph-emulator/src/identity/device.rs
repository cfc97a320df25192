//! The device authorization grant: `POST /{tenant}/oauth2/v2.0/devicecode`,
//! polling with `grant_type=urn:ietf:params:oauth:grant-type:device_code`,
//! and the admin's approval or refusal (stood in for by the admin API).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use rand::{Rng, RngCore};
use serde_json::{json, Value};
use sha2::Digest;
use uuid::Uuid;

use super::access_token::token_response;
use super::client_auth::{
    authenticated_client, delegated_client, find_client, parse_form, request_base_url, required,
    ClientLookup, CredentialRule, DelegatedTenant, LoginRequest,
};
use super::delegated::{issue_delegated_tokens, resolve_scopes};
use super::entra_errors;
use super::model::{
    DeviceCodeRecord, DeviceCodeStatus, IdentityAdminError, PendingDeviceCode, SignedInUser,
};
use super::{lock, IdentityStore};
use crate::directory::MailboxLookup;
use crate::errors::EntraError;
use crate::{AppState, EmulatorState};

/// Seconds a device code stays valid (Entra's default).
pub const DEVICE_CODE_LIFETIME_SECS: i64 = 900;
/// Seconds a client should wait between polls.
pub const POLL_INTERVAL_SECS: i64 = 5;
/// Where the user signs in, as Entra tells them.
pub const VERIFICATION_URI: &str = "https://microsoft.com/devicelogin";

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/{tenant}/oauth2/v2.0/devicecode",
        post(devicecode_endpoint),
    )
}

async fn devicecode_endpoint(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = LoginRequest {
        tenant,
        form: parse_form(&body),
        base_url: request_base_url(&state, &headers),
    };
    match start_device_flow(&state, &request) {
        Ok(answer) => token_response(answer),
        Err(error) => error.into_response(),
    }
}

fn start_device_flow(state: &EmulatorState, request: &LoginRequest) -> Result<Value, EntraError> {
    let client_id = required(&request.form, "client_id")?;
    let scope = required(&request.form, "scope")?;
    let (delegated_tenant, client) = delegated_client(&state.identity, &request.tenant, client_id)?;
    // Validates the scopes now so a bad request fails before the user signs in.
    resolve_scopes(state, scope, &client, &request.base_url)?;
    let device_code = random_device_code();
    let user_code = random_user_code();
    let record = DeviceCodeRecord {
        tenant_id: match delegated_tenant {
            DelegatedTenant::Tenant(tenant_id) => Some(tenant_id),
            DelegatedTenant::Organizations => None,
        },
        client_id: client.client_id.clone(),
        user_code: user_code.clone(),
        scopes: scope.split_whitespace().map(str::to_owned).collect(),
        expires_at: state.clock.unix_now() + DEVICE_CODE_LIFETIME_SECS,
        status: DeviceCodeStatus::Pending,
    };
    lock(&state.identity.device_codes).insert(device_code.clone(), record);
    Ok(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": VERIFICATION_URI,
        "expires_in": DEVICE_CODE_LIFETIME_SECS,
        "interval": POLL_INTERVAL_SECS,
        "message": format!("To sign in, use a web browser to open the page {VERIFICATION_URI} and enter the code {user_code} to authenticate."),
    }))
}

/// `grant_type=urn:ietf:params:oauth:grant-type:device_code`.
pub fn device_code_grant(
    state: &EmulatorState,
    request: &LoginRequest,
) -> Result<Value, EntraError> {
    let client_id = required(&request.form, "client_id")?;
    let device_code = required(&request.form, "device_code")?;
    let (delegated_tenant, client) = authenticated_client(
        state,
        request,
        client_id,
        ClientLookup::Delegated,
        CredentialRule::PublicClientAllowed,
    )?;
    let now = state.clock.unix_now();
    let requested_tenant = match delegated_tenant {
        DelegatedTenant::Tenant(tenant_id) => Some(tenant_id),
        DelegatedTenant::Organizations => None,
    };
    let (user, user_tenant, scope_text) = {
        let mut device_codes = lock(&state.identity.device_codes);
        let Some(record) = device_codes.get_mut(device_code) else {
            return Err(entra_errors::bad_verification_code());
        };
        // Polled on the same tenant (or alias) the flow was started on.
        if record.tenant_id != requested_tenant
            || !record.client_id.eq_ignore_ascii_case(&client.client_id)
        {
            return Err(entra_errors::bad_verification_code());
        }
        if record.status == DeviceCodeStatus::Redeemed {
            return Err(entra_errors::device_code_redeemed());
        }
        if now >= record.expires_at {
            return Err(entra_errors::device_code_expired());
        }
        let (user, user_tenant) = match &record.status {
            DeviceCodeStatus::Pending => return Err(entra_errors::authorization_pending()),
            DeviceCodeStatus::Declined => return Err(entra_errors::authorization_declined()),
            DeviceCodeStatus::Redeemed => return Err(entra_errors::device_code_redeemed()),
            DeviceCodeStatus::Approved { user, tenant_id } => (user.clone(), *tenant_id),
        };
        record.status = DeviceCodeStatus::Redeemed;
        (user, user_tenant, record.scopes.join(" "))
    };
    let scopes = resolve_scopes(state, &scope_text, &client, &request.base_url)?;
    let client_info = request
        .form
        .get("client_info")
        .is_some_and(|value| value == "1");
    // On `/organizations` the admin of another tenant signing in installs
    // the multi-tenant app there.
    let issuing_client = if user_tenant == client.tenant_id {
        client
    } else {
        state
            .identity
            .ensure_service_principal(user_tenant, &client.client_id);
        find_client(
            &state.identity,
            user_tenant,
            &request.tenant,
            &client.client_id,
        )?
    };
    issue_delegated_tokens(state, &issuing_client, &user, &scopes, client_info)
}

/// The user who signs in as `upn`: a directory user of the tenant, or (for
/// admins not seeded in the directory) any UPN on a verified domain.
pub fn signed_in_user(
    state: &EmulatorState,
    tenant_id: Uuid,
    upn: &str,
) -> Result<SignedInUser, IdentityAdminError> {
    if let Ok(object_id) = state.directory.mailbox_user(tenant_id, upn) {
        return Ok(SignedInUser {
            upn: upn.to_owned(),
            object_id,
        });
    }
    let exists_without_mailbox =
        state.directory.mailbox_user(tenant_id, upn) == Err(MailboxLookup::NoMailbox);
    let domain = upn.rsplit_once('@').map(|(_, domain)| domain).unwrap_or("");
    let on_verified_domain = state
        .identity
        .tenant_domains(tenant_id)
        .unwrap_or_default()
        .iter()
        .any(|verified| verified.eq_ignore_ascii_case(domain));
    if !exists_without_mailbox && !on_verified_domain {
        return Err(IdentityAdminError::InvalidUser(upn.to_owned()));
    }
    // Stable object id per (tenant, UPN) for users the directory does not list.
    let digest =
        sha2::Sha256::digest(format!("{tenant_id}|{}", upn.to_ascii_lowercase()).as_bytes());
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Ok(SignedInUser {
        upn: upn.to_owned(),
        object_id: uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string(),
    })
}

/// Approves a pending user code as the admin `upn` (their sign-in on the
/// verification page). The next poll gets tokens.
pub fn approve_device_code(
    state: &EmulatorState,
    user_code: &str,
    upn: &str,
) -> Result<PendingDeviceCode, IdentityAdminError> {
    let now = state.clock.unix_now();
    let requested_tenant = state
        .identity
        .device_code_tenant(user_code)
        .ok_or_else(|| IdentityAdminError::UnknownUserCode(user_code.to_owned()))?;
    // On `/organizations` the user's domain names their tenant.
    let tenant_id = match requested_tenant {
        Some(tenant_id) => tenant_id,
        None => upn
            .rsplit_once('@')
            .and_then(|(_, domain)| state.identity.resolve_tenant(domain))
            .ok_or_else(|| IdentityAdminError::InvalidUser(upn.to_owned()))?,
    };
    let user = signed_in_user(state, tenant_id, upn)?;
    state.identity.decide_device_code(
        user_code,
        DeviceCodeStatus::Approved { user, tenant_id },
        now,
    )
}

/// Declines a pending user code (the user cancels on the verification page).
pub fn decline_device_code(
    state: &EmulatorState,
    user_code: &str,
) -> Result<PendingDeviceCode, IdentityAdminError> {
    let now = state.clock.unix_now();
    state
        .identity
        .decide_device_code(user_code, DeviceCodeStatus::Declined, now)
}

impl IdentityStore {
    /// Device codes waiting for a user, oldest expiry first.
    pub fn pending_device_codes(&self, now: i64) -> Vec<PendingDeviceCode> {
        let device_codes = lock(&self.device_codes);
        let mut pending: Vec<PendingDeviceCode> = device_codes
            .values()
            .filter(|record| record.status == DeviceCodeStatus::Pending && record.expires_at > now)
            .map(pending_view)
            .collect();
        pending.sort_by_key(|view| view.expires_at);
        pending
    }

    /// The tenant a user code's flow was started in: `Some(None)` for
    /// `/organizations`, `None` for an unknown code.
    fn device_code_tenant(&self, user_code: &str) -> Option<Option<Uuid>> {
        lock(&self.device_codes)
            .values()
            .find(|record| record.user_code.eq_ignore_ascii_case(user_code))
            .map(|record| record.tenant_id)
    }

    fn decide_device_code(
        &self,
        user_code: &str,
        decision: DeviceCodeStatus,
        now: i64,
    ) -> Result<PendingDeviceCode, IdentityAdminError> {
        let mut device_codes = lock(&self.device_codes);
        let Some(record) = device_codes
            .values_mut()
            .find(|record| record.user_code.eq_ignore_ascii_case(user_code))
        else {
            return Err(IdentityAdminError::UnknownUserCode(user_code.to_owned()));
        };
        if record.status != DeviceCodeStatus::Pending {
            return Err(IdentityAdminError::UserCodeDecided(user_code.to_owned()));
        }
        if now >= record.expires_at {
            return Err(IdentityAdminError::UserCodeExpired(user_code.to_owned()));
        }
        record.status = decision;
        Ok(pending_view(record))
    }
}

fn pending_view(record: &DeviceCodeRecord) -> PendingDeviceCode {
    PendingDeviceCode {
        user_code: record.user_code.clone(),
        tenant_id: record.tenant_id,
        client_id: record.client_id.clone(),
        scopes: record.scopes.clone(),
        expires_at: chrono::DateTime::from_timestamp(record.expires_at, 0).unwrap_or_default(),
    }
}

fn random_device_code() -> String {
    let mut random = [0_u8; 48];
    rand::thread_rng().fill_bytes(&mut random);
    format!(
        "DAQABAAEAAA{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
    )
}

/// Nine characters without look-alikes (no 0/O, 1/I), like Entra's codes.
fn random_user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..9)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}
