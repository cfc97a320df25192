//! An app registration's own app roles (`appRoles` with
//! `allowedMemberTypes: ["User"]`) and the users and groups assigned to them
//! in a tenant (the app's enterprise application → Users and groups). A user
//! signing in to the app gets the `value` of each role assigned to them, or
//! to a group they are a direct member of, in the ID token's `roles` claim.
//!
//! Followed: "Add app roles to your application and receive them in the
//! token" (<https://learn.microsoft.com/entra/identity-platform/howto-add-app-roles-in-apps>:
//! "the roles claim … of the ID token" for users assigned app roles of the
//! app they sign in to; the `value` is what the token carries), the ID
//! token claims reference
//! (<https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference>,
//! `roles`), and "Grant an appRoleAssignment to a group"
//! (<https://learn.microsoft.com/graph/api/group-post-approleassignments>:
//! "All direct members of the group will be considered assigned"). So a
//! group's app role reaches its direct members only, not the members of a
//! group nested in it (Entra's group-based assignment needs Entra ID P1 and
//! does not follow nesting).
//!
//! Admin API: `POST /_admin/tenants/{tenant}/apps/{client_id}/app-roles`
//! `{"value": "GalSync.Admin"}` defines a role (its `id` is returned);
//! `POST …/app-role-assignments` `{"upn": "…", "value": "GalSync.Admin"}`
//! assigns a user of the tenant to it, `{"group": "<object id>", "value":
//! …}` a group of the tenant.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::model::IdentityAdminError;
use super::{client_key, read, write, IdentityStore};

/// The app roles of one app registration and who holds them in a tenant.
#[derive(Debug, Clone, Default)]
pub struct AppRoles {
    /// Role `value` → role `id`.
    defined: BTreeMap<String, Uuid>,
    /// Lower-case object id of a user or a group → the values of the roles
    /// assigned to it.
    assigned: BTreeMap<String, BTreeSet<String>>,
}

impl IdentityStore {
    /// Defines the app role `value` (members: users) on `client_id`'s
    /// registration in `tenant_id`; returns its id (the same id when it is
    /// already defined).
    pub fn define_app_role(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        value: &str,
    ) -> Result<Uuid, IdentityAdminError> {
        self.show_app(tenant_id, client_id)?;
        let value = value.trim();
        if value.is_empty() || value.contains(' ') {
            return Err(IdentityAdminError::UnknownRole(format!(
                "{value:?} (an app role value has no spaces and is not empty)"
            )));
        }
        let mut app_roles = write(&self.app_roles);
        let roles = app_roles
            .entry((tenant_id, client_key(client_id)))
            .or_default();
        Ok(*roles
            .defined
            .entry(value.to_owned())
            .or_insert_with(Uuid::new_v4))
    }

    /// Assigns the user or group `principal_object_id` to the app role
    /// `value` of `client_id`, which must be defined.
    pub fn assign_app_role(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        principal_object_id: &str,
        value: &str,
    ) -> Result<(), IdentityAdminError> {
        let mut app_roles = write(&self.app_roles);
        let Some(roles) = app_roles.get_mut(&(tenant_id, client_key(client_id))) else {
            return Err(IdentityAdminError::UnknownRole(value.to_owned()));
        };
        if !roles.defined.contains_key(value) {
            return Err(IdentityAdminError::UnknownRole(value.to_owned()));
        }
        roles
            .assigned
            .entry(principal_object_id.trim().to_ascii_lowercase())
            .or_default()
            .insert(value.to_owned());
        Ok(())
    }

    /// The values of the app roles of `client_id` assigned to the user or
    /// to one of `direct_group_ids` (the groups the user is a direct member
    /// of), sorted, each once.
    pub fn app_roles_of_user(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        user_object_id: &str,
        direct_group_ids: &[String],
    ) -> Vec<String> {
        let app_roles = read(&self.app_roles);
        let Some(roles) = app_roles.get(&(tenant_id, client_key(client_id))) else {
            return Vec::new();
        };
        let mut values = BTreeSet::new();
        for principal in
            std::iter::once(user_object_id).chain(direct_group_ids.iter().map(String::as_str))
        {
            if let Some(assigned) = roles.assigned.get(&principal.to_ascii_lowercase()) {
                values.extend(assigned.iter().cloned());
            }
        }
        values.into_iter().collect()
    }
}
