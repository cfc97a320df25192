//! Who called an RPC, once authenticated (see [`crate::access`]): a role,
//! the actor named in the audit log, and the tenant an API key is scoped to.

pub use galsync_platform::on_behalf::Role;

use crate::error::SchedulerError;

/// The authenticated caller of an RPC.
#[derive(Debug, Clone)]
pub struct Caller {
    pub role: Role,
    /// For the audit log, e.g. `urn:galsync:service:cli` or `api-key:hr-onboarding`.
    pub actor: String,
    /// The one tenant an API key is scoped to (an MSP's key for one
    /// customer); `None` sees every tenant.
    pub tenant: Option<String>,
}

impl Caller {
    /// A caller that sees every tenant.
    pub fn unscoped(role: Role, actor: impl Into<String>) -> Self {
        Self {
            role,
            actor: actor.into(),
            tenant: None,
        }
    }

    /// Whether the caller may see and change `tenant_id`'s profiles and runs.
    pub fn sees_tenant(&self, tenant_id: &str) -> bool {
        self.tenant
            .as_deref()
            .is_none_or(|scope| scope == tenant_id)
    }

    /// The tenant a listing is limited to: the caller's scope, else what the
    /// request asked for (empty: all). A scoped caller asking for another
    /// tenant gets `None`: nothing to list.
    pub fn tenant_filter<'a>(&'a self, asked: &'a str) -> Option<&'a str> {
        match self.tenant.as_deref() {
            None => Some(asked),
            Some(scope) if asked.is_empty() || asked == scope => Some(scope),
            Some(_) => None,
        }
    }

    pub fn require(&self, needed: Role) -> Result<(), SchedulerError> {
        if self.role >= needed {
            return Ok(());
        }
        Err(SchedulerError::PermissionDenied(format!(
            "{} has role {}; this needs {}",
            self.actor,
            self.role.as_str(),
            needed.as_str()
        )))
    }
}
