//! API keys for other systems: an integrator's script, an MSP's portal.
//! Created, listed and revoked by administrators; each key has a role and,
//! for an MSP, may be scoped to one tenant — it then sees and changes nothing
//! of another. The secret is shown once and stored only as a SHA-256 hash.

use crate::access::{new_api_key, Caller, Role, LOCAL_PLAINTEXT_ACTOR};
use crate::error::SchedulerError;
use crate::profiles;
use crate::scheduler::{now_millis, Scheduler};
use crate::store::ApiKeyRow;

/// A new key and its secret, to hand to its holder once.
pub struct NewApiKey {
    pub key: ApiKeyRow,
    pub secret: String,
}

impl Scheduler {
    /// Makes a key named `name` with `role`, scoped to `tenant_id` when it
    /// is not empty. A scoped caller can only make keys of its own scope.
    pub async fn create_api_key(
        &self,
        caller: &Caller,
        name: &str,
        role: Role,
        tenant_id: &str,
    ) -> Result<NewApiKey, SchedulerError> {
        if name.trim().is_empty() {
            return Err(SchedulerError::invalid(
                "name",
                "is empty; say who the key is for, e.g. hr-onboarding",
            ));
        }
        let name = profiles::id_field("name", name)?.to_owned();
        let tenant_id = match (caller.tenant.as_deref(), tenant_id.trim()) {
            (None, "") => String::new(),
            (None, asked) => {
                let tenant_id = profiles::tenant_id_field("tenant_id", asked)?;
                self.require_registered_tenant("tenant_id", &tenant_id)
                    .await?;
                tenant_id
            }
            (Some(scope), asked) => {
                if !asked.is_empty() && profiles::tenant_id_field("tenant_id", asked)? != scope {
                    return Err(SchedulerError::PermissionDenied(format!(
                        "{} is scoped to tenant {scope} and can only make keys for it; leave tenant_id empty or give {scope}",
                        caller.actor
                    )));
                }
                scope.to_owned()
            }
        };
        let (key_id, secret, key_hash) = new_api_key();
        let key = ApiKeyRow {
            key_id,
            name,
            key_hash,
            role: role.as_str().to_owned(),
            created_at: now_millis(),
            plaintext_only: caller.actor == LOCAL_PLAINTEXT_ACTOR,
            tenant_id,
            created_by: caller.actor.clone(),
            revoked_at: None,
        };
        self.store.insert_api_key(&key).await?;
        let scope = if key.tenant_id.is_empty() {
            "every tenant".to_owned()
        } else {
            format!("tenant {}", key.tenant_id)
        };
        self.audit(
            caller,
            "api_key.created",
            &key.key_id,
            &format!("{} as {} for {scope}", key.name, key.role),
        )
        .await?;
        Ok(NewApiKey { key, secret })
    }

    /// The keys the caller may see: all, or those of its tenant.
    pub async fn list_api_keys(&self, caller: &Caller) -> Result<Vec<ApiKeyRow>, SchedulerError> {
        let tenant_id = caller.tenant.as_deref().unwrap_or_default();
        Ok(self.store.list_api_keys(tenant_id).await?)
    }

    /// Revokes a key: its next call is refused. A key of another tenant's
    /// scope is "not found" to a scoped caller, as if it did not exist.
    pub async fn revoke_api_key(
        &self,
        caller: &Caller,
        key_id: &str,
    ) -> Result<ApiKeyRow, SchedulerError> {
        let key_id = profiles::id_field("key_id", key_id)?;
        let not_found = || {
            SchedulerError::NotFound(format!(
                "API key {key_id} does not exist; `galsync api-key list` shows the keys"
            ))
        };
        let key = self.store.api_key(key_id).await?.ok_or_else(not_found)?;
        if !caller.sees_tenant(&key.tenant_id) {
            return Err(not_found());
        }
        if key.revoked_at.is_some() {
            return Ok(key);
        }
        self.store.revoke_api_key(key_id, now_millis()).await?;
        self.audit(caller, "api_key.revoked", key_id, &key.name)
            .await?;
        self.store.api_key(key_id).await?.ok_or_else(not_found)
    }
}
