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

use std::collections::HashMap;
use std::sync::RwLock;

use axum::Router;
use uuid::Uuid;

use crate::AppState;

#[derive(Debug, Default)]
pub struct IdentityStore {
    tenants: RwLock<HashMap<Uuid, TenantRecord>>,
}

#[derive(Debug, Clone, Default)]
pub struct TenantRecord {
    pub verified_domains: Vec<String>,
}

impl IdentityStore {
    /// Creates (or replaces the domains of) a tenant.
    pub fn create_tenant(&self, tenant_id: Uuid, verified_domains: Vec<String>) {
        let mut tenants = self
            .tenants
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tenants.entry(tenant_id).or_default().verified_domains = verified_domains;
    }

    pub fn tenant_exists(&self, tenant_id: Uuid) -> bool {
        self.tenants
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains_key(&tenant_id)
    }

    pub fn resolve_tenant(&self, tenant_or_domain: &str) -> Option<Uuid> {
        if let Ok(id) = tenant_or_domain.parse::<Uuid>() {
            return self.tenant_exists(id).then_some(id);
        }
        let tenants = self
            .tenants
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
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

    /// False when an Exchange application access policy keeps `client_id` out of the mailbox.
    pub fn mailbox_in_app_scope(&self, _tenant_id: Uuid, _client_id: &str, _user_id: &str) -> bool {
        true
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
}
