//! The identity platform's data: tenants, app registrations with their
//! credentials, service principals with granted roles, pending device codes
//! and refresh tokens. Secrets are stored as hashes only.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Default)]
pub struct TenantRecord {
    pub verified_domains: Vec<String>,
}

/// An app registration (the `application` object), owned by its home tenant.
#[derive(Debug, Clone)]
pub struct AppRegistration {
    pub client_id: String,
    pub home_tenant: Uuid,
    pub display_name: String,
    /// Application permissions the app asks for (Graph app roles).
    pub requested_roles: BTreeSet<String>,
    /// Delegated permissions the app asks for (used by `/.default` delegated requests).
    pub requested_scopes: BTreeSet<String>,
    /// Redirect URIs registered for the admin-consent callback.
    pub redirect_uris: Vec<String>,
    /// `signInAudience` AzureADMultipleOrgs: other tenants may consent to it.
    pub multi_tenant: bool,
    /// "Allow public client flows": device code without a client credential.
    pub public_client: bool,
    pub certificates: Vec<CertificateCredential>,
    pub secrets: Vec<SecretCredential>,
    /// What Graph shows of the registration (object id, tags, `uniqueName`,
    /// `requiredResourceAccess`, owners); see [`GraphApplicationFields`].
    pub graph: GraphApplicationFields,
    /// Unix milliseconds from which the token endpoint knows the app: 0 for
    /// apps registered through the admin API, creation + replication delay
    /// for apps created through Graph.
    pub known_from_ms: i64,
}

/// The parts of an `application` object only Graph shows or sets.
#[derive(Debug, Clone, Default)]
pub struct GraphApplicationFields {
    /// The application object's `id` (not the client id, which is `appId`).
    pub object_id: Uuid,
    pub sign_in_audience: String,
    pub tags: Vec<String>,
    /// Client-provided alternate key (`applications(uniqueName='…')`).
    pub unique_name: Option<String>,
    /// As the client wrote it; `requested_roles` / `requested_scopes` are the
    /// Microsoft Graph permissions among it, by name.
    pub required_resource_access: Vec<RequiredResourceAccess>,
    pub created_at: DateTime<Utc>,
    /// Object ids of the users (or service principals) that own the app.
    pub owners: Vec<String>,
}

/// One resource's entry in an app's `requiredResourceAccess`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequiredResourceAccess {
    pub resource_app_id: String,
    pub resource_access: Vec<ResourceAccess>,
}

/// A permission an app asks for: an app role (`Role`) or a delegated scope (`Scope`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceAccess {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
}

/// An uploaded certificate: only its public key and thumbprints are kept.
#[derive(Debug, Clone)]
pub struct CertificateCredential {
    pub key_id: Uuid,
    pub subject: String,
    pub sha1_thumbprint: [u8; 20],
    pub sha256_thumbprint: [u8; 32],
    /// RSA modulus and exponent, base64url without padding (JWK form).
    pub modulus_b64: String,
    pub exponent_b64: String,
    pub not_before: i64,
    pub not_after: i64,
    /// `displayName` of the key credential (Graph), else the subject.
    pub display_name: String,
    /// Unix milliseconds from which client assertions signed with it are
    /// accepted: 0 for admin uploads, write + replication delay through Graph.
    pub usable_from_ms: i64,
}

/// A client secret: the SHA-256 of its value, never the value.
#[derive(Clone)]
pub struct SecretCredential {
    pub key_id: Uuid,
    pub value_sha256: [u8; 32],
    /// First three characters, as the portal shows them.
    pub hint: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for SecretCredential {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SecretCredential")
            .field("key_id", &self.key_id)
            .field("hint", &self.hint)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The app's service principal in one tenant, with what the admin granted.
#[derive(Debug, Clone)]
pub struct ServicePrincipal {
    pub object_id: Uuid,
    /// App roles granted by admin consent (appRoleAssignments), by role name.
    pub granted_roles: BTreeMap<String, RoleGrant>,
    pub admin_consented: bool,
    /// Exchange application access scope: the user object ids the app may
    /// reach. `None` = every mailbox.
    pub exchange_scope: Option<HashSet<String>>,
    /// Exchange RBAC for Applications: role assignments made with
    /// `New-ManagementRoleAssignment -App`, by the Graph permission the
    /// application role carries (`Application Contacts.ReadWrite` →
    /// `Contacts.ReadWrite`), each with its resource scope (the user object
    /// ids of a management scope; `None` = the whole organisation).
    /// <https://learn.microsoft.com/exchange/permissions-exo/application-rbac>:
    /// these grants are independent of, and add to, the unscoped grants in
    /// Entra ID, and they never show in the token's `roles`.
    pub exchange_role_assignments: BTreeMap<String, Option<HashSet<String>>>,
    /// Unix milliseconds from which the token endpoint knows it (see
    /// [`AppRegistration::known_from_ms`]).
    pub known_from_ms: i64,
    pub created_at: DateTime<Utc>,
}

impl Default for ServicePrincipal {
    fn default() -> Self {
        Self {
            object_id: Uuid::new_v4(),
            granted_roles: BTreeMap::new(),
            admin_consented: false,
            exchange_scope: None,
            exchange_role_assignments: BTreeMap::new(),
            known_from_ms: 0,
            created_at: Utc::now(),
        }
    }
}

/// One granted app role of Microsoft Graph (an `appRoleAssignment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleGrant {
    /// The assignment's `id` as Graph shows it.
    pub assignment_id: String,
    pub created_at: DateTime<Utc>,
    /// Unix milliseconds from which tokens carry the role: 0 for admin-API
    /// consent, grant + replication delay for grants made through Graph.
    pub effective_from_ms: i64,
}

impl RoleGrant {
    /// A grant that takes effect at `effective_from_ms`.
    pub fn new(created_at: DateTime<Utc>, effective_from_ms: i64) -> Self {
        Self {
            assignment_id: random_assignment_id(),
            created_at,
            effective_from_ms,
        }
    }
}

/// Graph's assignment ids are 43 base64url characters (32 bytes).
fn random_assignment_id() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut random = [0_u8; 32];
    rand::thread_rng().fill_bytes(&mut random);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
}

/// The admin's answer on the consent screen, stood in for by the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentDecision {
    /// Grant every requested app role.
    Approve,
    /// Cancel on the consent screen.
    Decline,
}

/// State of a device-code sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceCodeStatus {
    Pending,
    /// Signed in as `user` of tenant `tenant_id`.
    Approved {
        user: SignedInUser,
        tenant_id: Uuid,
    },
    Declined,
    /// Tokens were issued for it; it cannot be redeemed again.
    Redeemed,
}

/// The user who signed in (delegated flows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedInUser {
    pub upn: String,
    pub object_id: String,
}

#[derive(Debug, Clone)]
pub struct DeviceCodeRecord {
    /// The tenant the flow was started in; None for `/organizations`.
    pub tenant_id: Option<Uuid>,
    pub client_id: String,
    pub user_code: String,
    /// Requested scopes, as sent.
    pub scopes: Vec<String>,
    pub expires_at: i64,
    pub status: DeviceCodeStatus,
}

/// What a refresh token stands for. Keyed by the SHA-256 of the token.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub tenant_id: Uuid,
    pub client_id: String,
    pub user: SignedInUser,
    /// Delegated Graph permissions (without OIDC scopes).
    pub scopes: BTreeSet<String>,
    pub issued_at: i64,
    pub revoked: bool,
}

/// An app as the admin API shows it, seen from one tenant.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AppView {
    pub client_id: String,
    pub home_tenant: Uuid,
    pub display_name: String,
    pub requested_roles: Vec<String>,
    pub requested_scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub multi_tenant: bool,
    pub public_client: bool,
    pub certificates: Vec<CertificateView>,
    pub secrets: Vec<SecretView>,
    /// The tenant this view is about (service principal, consent).
    pub tenant_id: Uuid,
    pub service_principal_id: Option<Uuid>,
    pub admin_consented: bool,
    pub granted_roles: Vec<String>,
    pub exchange_scope: Option<Vec<String>>,
    /// Exchange application roles (`Application Contacts.ReadWrite`) with
    /// their scopes' user object ids (`null` = the whole organisation).
    pub exchange_role_assignments: BTreeMap<String, Option<Vec<String>>>,
    pub pending_consent_decision: Option<ConsentDecision>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CertificateView {
    pub key_id: Uuid,
    pub subject: String,
    /// Upper-case hex, as the portal shows it.
    pub thumbprint_sha1: String,
    pub thumbprint_sha256: String,
    /// `x5t` as MSAL sends it: base64url of the SHA-1 thumbprint.
    pub x5t: String,
    pub x5t_s256: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SecretView {
    pub key_id: Uuid,
    pub hint: String,
    pub expires_at: DateTime<Utc>,
}

/// A newly added secret: the only time its value is shown.
#[derive(Clone, Serialize)]
pub struct NewClientSecret {
    pub key_id: Uuid,
    pub secret_text: String,
    pub hint: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for NewClientSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NewClientSecret")
            .field("key_id", &self.key_id)
            .field("hint", &self.hint)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A pending device code as the admin API lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PendingDeviceCode {
    pub user_code: String,
    /// None when the flow was started on `/organizations`.
    pub tenant_id: Option<Uuid>,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

/// Registration of an app, as the admin API takes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AppRegistrationRequest {
    /// Client id; a new GUID when absent.
    pub client_id: Option<String>,
    pub display_name: String,
    /// Application permissions, e.g. `User.Read.All`, `Contacts.ReadWrite`.
    pub requested_roles: Vec<String>,
    /// Delegated permissions, e.g. `Application.ReadWrite.All`.
    pub requested_scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub multi_tenant: bool,
    pub public_client: bool,
}

/// Why an admin operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityAdminError {
    #[error("tenant {0} not found")]
    UnknownTenant(String),
    #[error("app {0} not found")]
    UnknownApp(String),
    #[error("app {0} already exists")]
    AppExists(String),
    #[error("app {client_id} has no service principal in tenant {tenant_id}")]
    NoServicePrincipal { tenant_id: Uuid, client_id: String },
    #[error("app {client_id} is single-tenant and cannot be consented in tenant {tenant_id}")]
    SingleTenantApp { tenant_id: Uuid, client_id: String },
    #[error("role {0} is not requested by the app")]
    UnknownRole(String),
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
    #[error("invalid client id: {0}")]
    InvalidClientId(String),
    #[error("user code {0} not found")]
    UnknownUserCode(String),
    #[error("user code {0} was already authorized or declined")]
    UserCodeDecided(String),
    #[error("user code {0} has expired")]
    UserCodeExpired(String),
    #[error("user {0} cannot sign in to this tenant")]
    InvalidUser(String),
    #[error("invalid app role assignment: {0}")]
    InvalidAssignment(String),
    #[error("unknown directory role {0}")]
    UnknownDirectoryRole(String),
    #[error(
        "unknown Exchange application role {0}: use Application Contacts.Read, \
         Application Contacts.ReadWrite or Application MailboxSettings.Read"
    )]
    UnknownExchangeRole(String),
}

impl IdentityAdminError {
    /// HTTP status of the admin API answer.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Self::UnknownTenant(_)
            | Self::UnknownApp(_)
            | Self::NoServicePrincipal { .. }
            | Self::UnknownUserCode(_) => StatusCode::NOT_FOUND,
            Self::AppExists(_) | Self::UserCodeDecided(_) | Self::UserCodeExpired(_) => {
                StatusCode::CONFLICT
            }
            Self::SingleTenantApp { .. }
            | Self::UnknownRole(_)
            | Self::InvalidCertificate(_)
            | Self::InvalidClientId(_)
            | Self::InvalidUser(_)
            | Self::InvalidAssignment(_)
            | Self::UnknownDirectoryRole(_)
            | Self::UnknownExchangeRole(_) => StatusCode::BAD_REQUEST,
        }
    }
}

impl axum::response::IntoResponse for IdentityAdminError {
    fn into_response(self) -> axum::response::Response {
        let body = serde_json::json!({ "error": self.to_string() });
        (self.status(), axum::Json(body)).into_response()
    }
}
