//! Exchange application access, as an Exchange administrator sets it for an
//! app's service principal: the older application access scope and the
//! application RBAC role assignments (`New-` / `Remove-ManagementRoleAssignment
//! -App`), and the checks the mailbox endpoints make against them.
//! <https://learn.microsoft.com/exchange/permissions-exo/application-rbac>

use uuid::Uuid;

use super::model::{AppView, IdentityAdminError};
use super::{client_key, read, IdentityStore};

impl IdentityStore {
    /// Sets the Exchange application access scope: the user object ids the
    /// app may reach (None = all mailboxes).
    pub fn set_exchange_scope(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        user_ids: Option<Vec<String>>,
    ) -> Result<AppView, IdentityAdminError> {
        self.with_service_principal(tenant_id, client_id, |service_principal| {
            service_principal.exchange_scope = user_ids.map(|ids| ids.into_iter().collect());
        })?;
        self.show_app(tenant_id, client_id)
    }

    /// Assigns an Exchange application role (`Application Contacts.ReadWrite`)
    /// to the app's service principal over `user_ids` (a management scope's
    /// members; `None` = the whole organisation), or removes the assignment
    /// (`assign` false): `New-` / `Remove-ManagementRoleAssignment -App`.
    pub fn set_exchange_role_assignment(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        role: &str,
        assign: bool,
        user_ids: Option<Vec<String>>,
    ) -> Result<AppView, IdentityAdminError> {
        let permission = exchange_role_permission(role)
            .ok_or_else(|| IdentityAdminError::UnknownExchangeRole(role.to_owned()))?;
        self.with_service_principal(tenant_id, client_id, |service_principal| {
            let assignments = &mut service_principal.exchange_role_assignments;
            if assign {
                let scope = user_ids.map(|ids| ids.into_iter().collect());
                assignments.insert(permission.to_owned(), scope);
            } else {
                assignments.remove(permission);
            }
        })?;
        self.show_app(tenant_id, client_id)
    }

    /// True when an Exchange application role carrying one of `permissions`
    /// is assigned to the app, whatever its scope.
    pub fn has_exchange_role(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        permissions: &[&str],
    ) -> bool {
        read(&self.service_principals)
            .get(&(tenant_id, client_key(client_id)))
            .is_some_and(|principal| {
                permissions.iter().any(|permission| {
                    principal
                        .exchange_role_assignments
                        .contains_key(*permission)
                })
            })
    }

    /// True when an Exchange application role carrying one of `permissions`
    /// is assigned to the app over a scope that holds `user_id`.
    pub fn exchange_role_allows(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        permissions: &[&str],
        user_id: &str,
    ) -> bool {
        let service_principals = read(&self.service_principals);
        let Some(service_principal) = service_principals.get(&(tenant_id, client_key(client_id)))
        else {
            return false;
        };
        permissions.iter().any(|permission| {
            match service_principal.exchange_role_assignments.get(*permission) {
                None => false,
                Some(None) => true,
                Some(Some(scope)) => scope.iter().any(|id| id.eq_ignore_ascii_case(user_id)),
            }
        })
    }
}

/// How Exchange names its application roles: `Application <permission>`.
pub(super) const EXCHANGE_APPLICATION_ROLE_PREFIX: &str = "Application ";

/// The Graph permission an Exchange application role carries, for the
/// mailbox roles the emulator serves (contacts and mailbox settings).
/// <https://learn.microsoft.com/exchange/permissions-exo/application-rbac#supported-application-roles>
fn exchange_role_permission(role: &str) -> Option<&'static str> {
    let permission = role.strip_prefix(EXCHANGE_APPLICATION_ROLE_PREFIX)?;
    [
        "Contacts.Read",
        "Contacts.ReadWrite",
        "MailboxSettings.Read",
    ]
    .into_iter()
    .find(|known| known.eq_ignore_ascii_case(permission))
}
