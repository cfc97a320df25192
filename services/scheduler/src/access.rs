//! Who may call the public API: mTLS identities bound to roles, or API keys
//! (stored as SHA-256 hashes) — viewer < operator < admin.

use std::collections::BTreeMap;

use galsync_platform::{authorize, caller_identity, AllowedCallers, CallerIdentity, Refusal};
use sha2::Digest;

use crate::error::SchedulerError;
use crate::on_behalf::{console_caller, on_behalf_of, refuse_claim};
use crate::store::SchedulerStore;

pub use crate::caller::{Caller, Role};

#[derive(Debug, Clone)]
pub struct Access {
    bindings: BTreeMap<String, Role>,
    workers: AllowedCallers,
    trust_plaintext_loopback: bool,
    /// The admin console's identity, the only one believed when it names the
    /// person it calls for (see [`crate::on_behalf`]); `None`: nobody.
    console_identity: Option<String>,
}

/// API key secrets look like `gsk_<key id>_<random>`.
const API_KEY_PREFIX: &str = "gsk_";

impl Access {
    /// `bindings` are `IDENTITY=ROLE` pairs, e.g. `cli=admin`.
    pub fn new(
        bindings: &[String],
        worker_identities: &[String],
        trust_plaintext_loopback: bool,
    ) -> Result<Self, String> {
        let mut parsed = BTreeMap::new();
        for binding in bindings {
            let Some((identity, role_text)) = binding.split_once('=') else {
                return Err(format!("`{binding}` is not IDENTITY=ROLE, e.g. cli=admin"));
            };
            let Some(role) = Role::parse(role_text) else {
                return Err(format!(
                    "`{role_text}` in `{binding}` is not a role; use viewer, operator or admin"
                ));
            };
            parsed.insert(identity.trim().to_owned(), role);
        }
        Ok(Self {
            bindings: parsed,
            workers: AllowedCallers::new(worker_identities, trust_plaintext_loopback),
            trust_plaintext_loopback,
            console_identity: None,
        })
    }

    /// Names the console's identity (`--console-identity`); blank: none.
    pub fn with_console_identity(mut self, identity: &str) -> Self {
        let trimmed = identity.trim();
        self.console_identity = (!trimmed.is_empty()).then(|| trimmed.to_owned());
        self
    }

    /// Authenticates a public-API request: an API key if one is presented,
    /// else the mTLS identity.
    pub async fn caller<T>(
        &self,
        store: &SchedulerStore,
        request: &tonic::Request<T>,
    ) -> Result<Caller, SchedulerError> {
        let claimed = on_behalf_of(request)?;
        let console_identity = self.console_identity.as_deref();
        if let Some(secret) = bearer(request) {
            if claimed.is_some() {
                return Err(refuse_claim("an API key", console_identity));
            }
            return api_key_caller(store, &secret, self.trust_plaintext_loopback).await;
        }
        let identity = caller_identity(request);
        let is_console = matches!(&identity, CallerIdentity::Service(name) if Some(name.as_str()) == console_identity);
        if claimed.is_some() && !is_console {
            return Err(refuse_claim(&identity.to_string(), console_identity));
        }
        match identity {
            CallerIdentity::Service(name) => {
                let Some(role) = self.bindings.get(&name) else {
                    return Err(SchedulerError::PermissionDenied(format!(
                        "identity {name} has no role; bind one with --role-binding {name}=viewer|operator|admin"
                    )));
                };
                if !is_console {
                    return Ok(Caller::unscoped(
                        *role,
                        format!("urn:galsync:service:{name}"),
                    ));
                }
                // The console never calls as itself: a call without a
                // person would carry the console's own role.
                match claimed {
                    Some(claimed) => Ok(console_caller(&name, *role, claimed)),
                    None => Err(SchedulerError::PermissionDenied(format!(
                        "the console identity {name} calls only on behalf of a signed-in person; send {} and {}",
                        crate::on_behalf::ON_BEHALF_OF_HEADER,
                        crate::on_behalf::ON_BEHALF_OF_ROLE_HEADER
                    ))),
                }
            }
            CallerIdentity::LocalPlaintext if self.trust_plaintext_loopback => {
                Ok(Caller::unscoped(Role::Admin, LOCAL_PLAINTEXT_ACTOR))
            }
            CallerIdentity::LocalPlaintext
            | CallerIdentity::Unidentified
            | CallerIdentity::Person(_) => Err(SchedulerError::Unauthenticated(
                "present a client certificate or an API key (authorization: Bearer gsk_…)"
                    .to_owned(),
            )),
        }
    }

    /// Only writers (`--worker-identity`) use the work queue; returns the
    /// caller's name for the lease.
    pub fn require_worker<T>(
        &self,
        request: &tonic::Request<T>,
        rpc: &str,
    ) -> Result<String, Refusal> {
        match authorize(request, rpc, &self.workers)? {
            CallerIdentity::Service(name) => Ok(name),
            other => Ok(other.to_string()),
        }
    }
}

/// Who a refused public-API caller claimed to be, for the log and the audit.
pub fn claimed_actor<T>(request: &tonic::Request<T>) -> String {
    if bearer(request).is_some() {
        return "api-key".to_owned();
    }
    caller_identity(request).to_string()
}

fn bearer<T>(request: &tonic::Request<T>) -> Option<String> {
    let value = request.metadata().get("authorization")?.to_str().ok()?;
    let secret = value.strip_prefix("Bearer ")?.trim();
    secret
        .starts_with(API_KEY_PREFIX)
        .then(|| secret.to_owned())
}

/// The actor name of a trusted plaintext caller.
pub const LOCAL_PLAINTEXT_ACTOR: &str = "local-plaintext";

async fn api_key_caller(
    store: &SchedulerStore,
    secret: &str,
    plaintext_mode: bool,
) -> Result<Caller, SchedulerError> {
    let refused = || SchedulerError::Unauthenticated("the API key is not valid".to_owned());
    let key_id = secret
        .strip_prefix(API_KEY_PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .map(|(key_id, _)| key_id.to_owned())
        .ok_or_else(refused)?;
    let Some(key) = store.api_key(&key_id).await? else {
        return Err(refused());
    };
    if !constant_time_eq(hash_secret(secret).as_bytes(), key.key_hash.as_bytes()) {
        return Err(refused());
    }
    if key.revoked_at.is_some() {
        return Err(SchedulerError::Unauthenticated(format!(
            "the API key \"{}\" was revoked; ask an administrator for a new one (galsync api-key create)",
            key.name
        )));
    }
    if key.plaintext_only && !plaintext_mode {
        return Err(SchedulerError::Unauthenticated(format!(
            "the API key \"{}\" was created in a plaintext session (galsync up --plaintext) and is refused while TLS is on; create a new key over mTLS",
            key.name
        )));
    }
    let role = Role::parse(&key.role).ok_or_else(refused)?;
    Ok(Caller {
        role,
        actor: format!("api-key:{}", key.name),
        tenant: (!key.tenant_id.is_empty()).then_some(key.tenant_id),
    })
}

/// Makes a new key: (key id, secret to show once, hash to store).
pub fn new_api_key() -> (String, String, String) {
    use rand::RngCore;
    let key_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let mut random = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let secret = format!("{API_KEY_PREFIX}{key_id}_{}", hex::encode(random));
    let hash = hash_secret(&secret);
    (key_id, secret, hash)
}

fn hash_secret(secret: &str) -> String {
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter()
        .zip(right)
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_and_bindings_parse() {
        assert!(Role::Admin > Role::Operator && Role::Operator > Role::Viewer);
        let access = Access::new(
            &["cli=admin".to_owned()],
            &["contact-writer".to_owned()],
            false,
        )
        .unwrap();
        assert_eq!(access.bindings.get("cli"), Some(&Role::Admin));
        assert!(Access::new(&["cli:admin".to_owned()], &[], false).is_err());
        assert!(Access::new(&["cli=root".to_owned()], &[], false).is_err());
        let viewer = Caller::unscoped(Role::Viewer, "x");
        assert!(viewer.require(Role::Operator).is_err());
    }

    #[test]
    fn api_keys_are_hashed_and_compared_in_full() {
        let (key_id, secret, hash) = new_api_key();
        assert!(secret.starts_with(&format!("gsk_{key_id}_")));
        assert_ne!(hash, secret);
        assert!(!hash.contains(&secret));
        assert!(constant_time_eq(
            hash_secret(&secret).as_bytes(),
            hash.as_bytes()
        ));
        assert!(!constant_time_eq(
            hash_secret("gsk_x_y").as_bytes(),
            hash.as_bytes()
        ));
    }
}
