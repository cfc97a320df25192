//! The first steps of every login request: which tenant the path names,
//! which app the request is from, and whether the app proved who it is
//! (client assertion, client secret, or nothing for public clients).

use std::collections::HashMap;

use base64::Engine;
use sha2::Digest;
use uuid::Uuid;

use super::assertion::{verify_client_assertion, AssertionCheck, JWT_BEARER_ASSERTION_TYPE};
use super::entra_errors;
use super::model::{CertificateCredential, SecretCredential};
use super::{client_key, read, IdentityStore};
use crate::errors::EntraError;
use crate::EmulatorState;

/// The login host every real client uses.
pub const MICROSOFT_LOGIN_HOST: &str = "https://login.microsoftonline.com";

/// Form fields of a login request.
pub type LoginForm = HashMap<String, String>;

/// One login request, with what the handler read from HTTP.
pub struct LoginRequest {
    pub tenant: String,
    pub form: LoginForm,
    pub base_url: String,
}

/// Parses an `application/x-www-form-urlencoded` body; later duplicates win.
pub fn parse_form(body: &[u8]) -> LoginForm {
    url::form_urlencoded::parse(body)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// `client_secret_basic`: takes `client_id` and `client_secret` from an
/// `Authorization: Basic` header (both form-url-encoded, RFC 6749 §2.3.1)
/// unless the form carries them.
pub fn merge_basic_credentials(headers: &axum::http::HeaderMap, form: &mut LoginForm) {
    let Some(encoded) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.strip_prefix("Basic "))
    else {
        return;
    };
    let Ok(decoded_bytes) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return;
    };
    let credentials_text = String::from_utf8_lossy(&decoded_bytes).into_owned();
    let Some((client_id, secret)) = credentials_text.split_once(':') else {
        return;
    };
    let unescape = |text: &str| -> String {
        url::form_urlencoded::parse(format!("value={text}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    form.entry("client_id".to_owned())
        .or_insert_with(|| unescape(client_id));
    form.entry("client_secret".to_owned())
        .or_insert_with(|| unescape(secret));
}

/// A required, non-empty form field, else AADSTS900144.
pub fn required<'a>(form: &'a LoginForm, name: &str) -> Result<&'a str, EntraError> {
    match form.get(name).map(|value| value.trim()) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(entra_errors::missing_parameter(name)),
    }
}

/// Resolves the `{tenant}` path segment (GUID or verified domain).
pub fn resolve_tenant_segment(store: &IdentityStore, tenant: &str) -> Result<Uuid, EntraError> {
    let lowered = tenant.to_ascii_lowercase();
    if matches!(lowered.as_str(), "common" | "organizations" | "consumers") {
        return Err(entra_errors::grant_not_supported_on_common());
    }
    if let Some(tenant_id) = store.resolve_tenant(tenant) {
        return Ok(tenant_id);
    }
    if tenant.parse::<Uuid>().is_err() && !tenant.contains('.') {
        return Err(entra_errors::tenant_malformed(tenant));
    }
    Err(entra_errors::tenant_not_found(tenant))
}

/// The `{tenant}` of a delegated request (device code, refresh token): a
/// tenant, or `/organizations` (`/common`) where the signed-in user's tenant
/// decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelegatedTenant {
    Tenant(Uuid),
    Organizations,
}

/// Resolves the tenant segment of a delegated request and finds the app:
/// in that tenant, or for `/organizations` in its home tenant (multi-tenant
/// apps only, else AADSTS50194).
pub fn delegated_client(
    store: &IdentityStore,
    tenant_as_sent: &str,
    client_id: &str,
) -> Result<(DelegatedTenant, ClientInTenant), EntraError> {
    let is_alias = matches!(
        tenant_as_sent.to_ascii_lowercase().as_str(),
        "organizations" | "common"
    );
    if !is_alias {
        let tenant_id = resolve_tenant_segment(store, tenant_as_sent)?;
        let client = find_client(store, tenant_id, tenant_as_sent, client_id)?;
        return Ok((DelegatedTenant::Tenant(tenant_id), client));
    }
    let home_tenant = {
        let apps = read(&store.apps);
        let Some(app) = apps.get(&client_key(client_id)) else {
            return Err(entra_errors::app_not_found(client_id, tenant_as_sent));
        };
        if !app.multi_tenant {
            return Err(entra_errors::app_not_multi_tenant(client_id));
        }
        app.home_tenant
    };
    let client = find_client(store, home_tenant, tenant_as_sent, client_id)?;
    Ok((DelegatedTenant::Organizations, client))
}

/// What the token endpoint needs to know about the calling app in a tenant.
#[derive(Debug, Clone)]
pub struct ClientInTenant {
    pub client_id: String,
    pub tenant_id: Uuid,
    pub service_principal_id: Uuid,
    pub granted_roles: Vec<String>,
    pub requested_scopes: Vec<String>,
    pub public_client: bool,
    certificates: Vec<CertificateCredential>,
    secrets: Vec<SecretCredential>,
}

/// Finds the app and its service principal in the tenant, else AADSTS700016.
///
/// What was written through Graph reaches the token endpoint only after the
/// replication delay (`known_from_ms`, `usable_from_ms`, `effective_from_ms`
/// against the emulator clock): until then the app is unknown, the
/// certificate unregistered, the role not granted — what a client sees from
/// Entra right after provisioning.
pub fn find_client(
    store: &IdentityStore,
    tenant_id: Uuid,
    tenant_as_sent: &str,
    client_id: &str,
) -> Result<ClientInTenant, EntraError> {
    let now_ms = store.now_ms();
    let key = client_key(client_id);
    if key == MICROSOFT_GRAPH_CLI_CLIENT_ID {
        return Ok(first_party_public_client(tenant_id));
    }
    let apps = read(&store.apps);
    let service_principals = read(&store.service_principals);
    let found = apps
        .get(&key)
        .zip(service_principals.get(&(tenant_id, key.clone())))
        .filter(|(app, service_principal)| {
            app.known_from_ms <= now_ms && service_principal.known_from_ms <= now_ms
        });
    let Some((app, service_principal)) = found else {
        return Err(entra_errors::app_not_found(client_id, tenant_as_sent));
    };
    Ok(ClientInTenant {
        client_id: key,
        tenant_id,
        service_principal_id: service_principal.object_id,
        granted_roles: service_principal
            .granted_roles
            .iter()
            .filter(|(_, grant)| grant.effective_from_ms <= now_ms)
            .map(|(role, _)| role.clone())
            .collect(),
        requested_scopes: app.requested_scopes.iter().cloned().collect(),
        public_client: app.public_client,
        certificates: app
            .certificates
            .iter()
            .filter(|certificate| certificate.usable_from_ms <= now_ms)
            .cloned()
            .collect(),
        secrets: app.secrets.clone(),
    })
}

/// "Microsoft Graph Command Line Tools": Microsoft's first-party public
/// client, the default `-ClientId` of Microsoft Graph PowerShell's
/// `Connect-MgGraph`
/// (<https://learn.microsoft.com/powershell/module/microsoft.graph.authentication/connect-mggraph>).
/// It exists in every tenant without registration, has no credential and
/// signs users in with the device authorization grant
/// (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code>);
/// its delegated token's `scp` is exactly the Graph scopes asked for.
pub const MICROSOFT_GRAPH_CLI_CLIENT_ID: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";

/// The first-party client in `tenant_id`: public, no app-only roles, no
/// requested scopes (`.default` resolves to nothing). The emulator's
/// choice: its service principal id is a fixed per-tenant value.
fn first_party_public_client(tenant_id: Uuid) -> ClientInTenant {
    let digest = sha2::Sha256::digest(format!("{tenant_id}|{MICROSOFT_GRAPH_CLI_CLIENT_ID}"));
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    ClientInTenant {
        client_id: MICROSOFT_GRAPH_CLI_CLIENT_ID.to_owned(),
        tenant_id,
        service_principal_id: uuid::Builder::from_random_bytes(bytes).into_uuid(),
        granted_roles: Vec::new(),
        requested_scopes: Vec::new(),
        public_client: true,
        certificates: Vec::new(),
        secrets: Vec::new(),
    }
}

/// Token URLs a client assertion's `aud` may name: Microsoft's and the
/// emulator's, with the tenant as sent, as GUID, or as a verified domain.
pub fn accepted_audiences(
    state: &EmulatorState,
    tenant_id: Uuid,
    tenant_as_sent: &str,
    request_base_url: &str,
) -> Vec<String> {
    let mut tenant_names = vec![tenant_as_sent.to_owned(), tenant_id.to_string()];
    tenant_names.extend(state.identity.tenant_domains(tenant_id).unwrap_or_default());
    let hosts = [
        MICROSOFT_LOGIN_HOST,
        state.base_url(),
        request_base_url.trim_end_matches('/'),
    ];
    let mut audiences = Vec::new();
    for host in hosts {
        for tenant_name in &tenant_names {
            audiences.push(format!("{host}/{tenant_name}/oauth2/v2.0/token"));
        }
    }
    audiences
}

/// Whether the grant needs a client credential: always for
/// `client_credentials`; for delegated grants unless the app allows public
/// client flows (and then a credential is an error, as in Entra).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialRule {
    Required,
    PublicClientAllowed,
}

/// Where a token grant looks for the calling app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientLookup {
    /// In the tenant the path names, already resolved.
    InTenant(Uuid),
    /// As a delegated request: in the path's tenant, or on `/organizations`
    /// (`/common`) in the app's home tenant (see [`delegated_client`]).
    Delegated,
}

/// The first steps every token grant shares: finds the calling app
/// `client_id` and checks its credential from the form under `rule`, with
/// the audiences of the tenant the app was found in. Gives the tenant as
/// the request named it and the app.
pub fn authenticated_client(
    state: &EmulatorState,
    request: &LoginRequest,
    client_id: &str,
    lookup: ClientLookup,
    rule: CredentialRule,
) -> Result<(DelegatedTenant, ClientInTenant), EntraError> {
    let (delegated_tenant, client) = match lookup {
        ClientLookup::InTenant(tenant_id) => {
            let client = find_client(&state.identity, tenant_id, &request.tenant, client_id)?;
            (DelegatedTenant::Tenant(tenant_id), client)
        }
        ClientLookup::Delegated => delegated_client(&state.identity, &request.tenant, client_id)?,
    };
    let audiences = accepted_audiences(state, client.tenant_id, &request.tenant, &request.base_url);
    authenticate_client(state, &client, &request.form, &audiences, rule)?;
    Ok((delegated_tenant, client))
}

/// Checks the client's credential from the form.
fn authenticate_client(
    state: &EmulatorState,
    client: &ClientInTenant,
    form: &LoginForm,
    audiences: &[String],
    rule: CredentialRule,
) -> Result<(), EntraError> {
    let assertion = form
        .get("client_assertion")
        .filter(|value| !value.is_empty());
    let secret = form.get("client_secret").filter(|value| !value.is_empty());
    if rule == CredentialRule::PublicClientAllowed && client.public_client {
        if assertion.is_some() || secret.is_some() {
            return Err(entra_errors::public_client_with_credential());
        }
        return Ok(());
    }
    if let Some(assertion) = assertion {
        let assertion_type = required(form, "client_assertion_type")?;
        if assertion_type != JWT_BEARER_ASSERTION_TYPE {
            return Err(entra_errors::invalid_assertion_type());
        }
        let check = AssertionCheck {
            client_id: &client.client_id,
            certificates: &client.certificates,
            accepted_audiences: audiences,
            now: state.clock.unix_now(),
        };
        return verify_client_assertion(&state.identity, assertion, &check);
    }
    if let Some(secret) = secret {
        return check_client_secret(state, client, secret);
    }
    Err(entra_errors::missing_client_credential())
}

fn check_client_secret(
    state: &EmulatorState,
    client: &ClientInTenant,
    secret: &str,
) -> Result<(), EntraError> {
    let presented: [u8; 32] = sha2::Sha256::digest(secret.as_bytes()).into();
    let matching = client
        .secrets
        .iter()
        .find(|credential| credential.value_sha256 == presented);
    let Some(credential) = matching else {
        return Err(entra_errors::invalid_client_secret(&client.client_id));
    };
    if credential.expires_at <= state.clock.now() {
        return Err(entra_errors::expired_client_secret(&client.client_id));
    }
    Ok(())
}

/// The base URL a client used to reach the emulator: `{scheme}://{host}`
/// from `Host`, or from `X-Forwarded-Proto` / `X-Forwarded-Host` when a TLS
/// proxy fronts the emulator, so discovery documents and assertion audiences
/// match what the client sees.
pub fn request_base_url(state: &EmulatorState, headers: &axum::http::HeaderMap) -> String {
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(|text| text.split(',').next().unwrap_or("").trim().to_owned())
            .filter(|text| !text.is_empty())
    };
    let host = header_text("x-forwarded-host").or_else(|| header_text("host"));
    let scheme = match header_text("x-forwarded-proto") {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    match host {
        Some(host) => format!("{scheme}://{host}"),
        None => state.base_url().to_owned(),
    }
}
