//! The identity platform's data: tenants, app registrations with their
//! credentials, service principals with granted roles, pending device codes
//! and refresh tokens. Secrets are stored as hashes only.

use std::collections::{BTreeSet, HashSet};

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
    /// App roles granted by admin consent (appRoleAssignments).
    pub granted_roles: BTreeSet<String>,
    pub admin_consented: bool,
    /// Exchange application access scope: the user object ids the app may
    /// reach. `None` = every mailbox.
    pub exchange_scope: Option<HashSet<String>>,
}

impl Default for ServicePrincipal {
    fn default() -> Self {
        Self {
            object_id: Uuid::new_v4(),
            granted_roles: BTreeSet::new(),
            admin_consented: false,
            exchange_scope: None,
        }
    }
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
            | Self::InvalidUser(_) => StatusCode::BAD_REQUEST,
        }
    }
}

impl axum::response::IntoResponse for IdentityAdminError {
    fn into_response(self) -> axum::response::Response {
        let body = serde_json::json!({ "error": self.to_string() });
        (self.status(), axum::Json(body)).into_response()
    }
}
