//! The Microsoft identity platform: tenants, app registrations, service
//! principals, consent, and the token, device-code, admin-consent and JWKS
//! endpoints.
//!
//! CONTRACT used by the rest of the emulator (keep these signatures):
//! - `IdentityStore::tenant_exists(&self, tenant_id: Uuid) -> bool`
//! - `IdentityStore::resolve_tenant(&self, tenant_or_domain: &str) -> Option<Uuid>`
//! - `IdentityStore::mailbox_in_app_scope(&self, tenant_id: Uuid, client_id: &str, user_id: &str) -> bool`
//! - `IdentityStore::create_tenant(&self, tenant_id: Uuid, verified_domains: Vec<String>)`
//! - `routes() -> Router<AppState>`
//!
//! Layout: [`model`] (records and views), [`registry`] (admin operations on
//! the store), [`certificates`], [`assertion`] (client assertion checks),
//! [`client_auth`], [`authorize`] (authorization code flow with PKCE, ID tokens), [`token`] (the token endpoint and app-only tokens),
//! [`access_token`] (claims, lifetime and signature of every issued token),
//! [`device`] (device code and refresh tokens), [`consent`] (`/adminconsent`),
//! [`delegated`] (delegated and refresh tokens), [`discovery`] (OpenID configuration, JWKS, instance discovery),
//! [`entra_errors`] (AADSTS answers),
//! [`permissions`] (Graph permission and directory role ids),
//! [`app_roles`] (an app's own roles, the ID token's `roles`),
//! [`membership_claims`] (`groups` or its overage, and `roles`, in ID tokens),
//! [`directory_roles`] (who is an administrator), [`replication`] (the
//! delay before Graph writes reach the token endpoint), [`graph`]
//! (`/v1.0/applications`, `/v1.0/servicePrincipals`, app role assignments —
//! the same registrations the token endpoint uses). Their `/_admin/…`
//! routes are served by [`crate::admin`].

pub mod access_token;
pub mod app_roles;
pub mod assertion;
mod authorization_code;
pub mod authorize;
pub mod certificates;
pub mod client_auth;
pub mod consent;
pub mod delegated;
pub mod device;
pub mod directory_roles;
pub mod discovery;
pub mod entra_errors;
pub mod exchange_access;
pub mod graph;
pub mod logout;
pub mod membership_claims;
pub mod model;
pub mod permissions;
pub mod registry;
pub mod replication;
pub mod token;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::Router;
use uuid::Uuid;

pub use model::{ConsentDecision, SignedInUser, TenantRecord};

use crate::AppState;
use model::{AppRegistration, DeviceCodeRecord, RefreshGrant, ServicePrincipal};

/// Everything the identity platform knows. All methods are cheap and
/// synchronous; locks are never held across an await.
#[derive(Default)]
pub struct IdentityStore {
    /// The emulator's clock (shared with [`crate::EmulatorState::clock`]).
    clock: Arc<crate::clock::Clock>,
    /// Milliseconds (already time-scaled) before a write through Graph
    /// reaches the token endpoint; see [`replication`].
    replication_delay_ms: AtomicU64,
    /// Directory roles of users, by (tenant, lower-case user object id).
    directory_roles: RwLock<HashMap<(Uuid, String), BTreeSet<permissions::DirectoryRole>>>,
    tenants: RwLock<HashMap<Uuid, TenantRecord>>,
    /// App registrations by lower-case client id.
    apps: RwLock<HashMap<String, AppRegistration>>,
    /// Service principals by (tenant, lower-case client id).
    service_principals: RwLock<HashMap<(Uuid, String), ServicePrincipal>>,
    /// What the admin answers on the next `/adminconsent` visit, by (tenant,
    /// lower-case client id). Kept apart from service principals: an app has
    /// none in a tenant until consent is granted there.
    consent_decisions: RwLock<HashMap<(Uuid, String), ConsentDecision>>,
    /// Client assertion ids already redeemed: (client id, jti) → assertion expiry.
    used_assertion_ids: Mutex<HashMap<(String, String), i64>>,
    /// Device codes by device code.
    device_codes: Mutex<HashMap<String, DeviceCodeRecord>>,
    /// Refresh tokens by the SHA-256 of the token.
    refresh_tokens: Mutex<HashMap<[u8; 32], RefreshGrant>>,
    /// Authorization codes by the SHA-256 of the code.
    authorization_codes: Mutex<HashMap<[u8; 32], authorize::AuthorizationCodeRecord>>,
    /// Who the emulated browser is signed in as, by tenant (see [`authorize`]).
    browser_users: Mutex<HashMap<Uuid, SignedInUser>>,
    /// App registrations' own app roles and their user assignments, by
    /// (tenant, lower-case client id); see [`app_roles`].
    app_roles: RwLock<HashMap<(Uuid, String), app_roles::AppRoles>>,
}

/// Counts only: device codes and refresh token hashes are credentials.
impl std::fmt::Debug for IdentityStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("IdentityStore")
            .field("tenants", &read(&self.tenants).len())
            .field("apps", &read(&self.apps).len())
            .field("service_principals", &read(&self.service_principals).len())
            .field("device_codes", &lock(&self.device_codes).len())
            .field("refresh_tokens", &lock(&self.refresh_tokens).len())
            .finish_non_exhaustive()
    }
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Client ids are GUIDs; Entra compares them case-insensitively.
fn client_key(client_id: &str) -> String {
    client_id.trim().to_ascii_lowercase()
}

impl IdentityStore {
    /// A store on the emulator's clock; writes through Graph reach the token
    /// endpoint `replication_delay` (already time-scaled) after they happen.
    pub fn new(clock: Arc<crate::clock::Clock>, replication_delay: std::time::Duration) -> Self {
        let store = Self {
            clock,
            ..Self::default()
        };
        store.set_replication_delay(replication_delay);
        store
    }

    /// The emulator clock in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Creates (or replaces the domains of) a tenant.
    pub fn create_tenant(&self, tenant_id: Uuid, verified_domains: Vec<String>) {
        let mut tenants = write(&self.tenants);
        tenants.entry(tenant_id).or_default().verified_domains = verified_domains;
    }

    pub fn tenant_exists(&self, tenant_id: Uuid) -> bool {
        read(&self.tenants).contains_key(&tenant_id)
    }

    /// A tenant by GUID or by one of its verified domains.
    pub fn resolve_tenant(&self, tenant_or_domain: &str) -> Option<Uuid> {
        if let Ok(id) = tenant_or_domain.parse::<Uuid>() {
            return self.tenant_exists(id).then_some(id);
        }
        let tenants = read(&self.tenants);
        tenants
            .iter()
            .find(|(_, record)| {
                record
                    .verified_domains
                    .iter()
                    .any(|domain| domain.eq_ignore_ascii_case(tenant_or_domain))
            })
            .map(|(id, _)| *id)
    }

    /// The verified domains of a tenant.
    pub fn tenant_domains(&self, tenant_id: Uuid) -> Option<Vec<String>> {
        read(&self.tenants)
            .get(&tenant_id)
            .map(|record| record.verified_domains.clone())
    }

    /// The object `id` Graph gives the application `client_id` (what a
    /// proof of possession names as `iss`).
    pub fn application_object_id(&self, client_id: &str) -> Option<Uuid> {
        read(&self.apps)
            .get(&client_key(client_id))
            .map(|app| app.graph.object_id)
    }

    /// False when an Exchange application access policy keeps `client_id` out of the mailbox.
    pub fn mailbox_in_app_scope(&self, tenant_id: Uuid, client_id: &str, user_id: &str) -> bool {
        let service_principals = read(&self.service_principals);
        let Some(service_principal) = service_principals.get(&(tenant_id, client_key(client_id)))
        else {
            return true;
        };
        match &service_principal.exchange_scope {
            None => true,
            Some(allowed) => allowed
                .iter()
                .any(|allowed_id| allowed_id.eq_ignore_ascii_case(user_id)),
        }
    }
}

/// Token, device-code, admin-consent and discovery routes (the identity
/// admin routes are in [`crate::admin`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(token::routes())
        .merge(authorize::routes())
        .merge(logout::routes())
        .merge(device::routes())
        .merge(consent::routes())
        .merge(discovery::routes())
        .merge(graph::routes())
}
