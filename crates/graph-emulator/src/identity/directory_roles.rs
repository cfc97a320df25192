//! Directory roles of users (Global Administrator, Application
//! Administrator, …): what Graph checks, besides the delegated scope, when a
//! signed-in admin manages applications and grants permissions. Set through
//! the admin API, as an administrator assigns them in the Entra admin center.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::permissions::DirectoryRole;
use super::{read, write, IdentityStore};

impl IdentityStore {
    /// Replaces the directory roles of the user `user_object_id`.
    pub fn set_directory_roles(
        &self,
        tenant_id: Uuid,
        user_object_id: &str,
        roles: BTreeSet<DirectoryRole>,
    ) {
        let key = (tenant_id, user_object_id.trim().to_ascii_lowercase());
        let mut directory_roles = write(&self.directory_roles);
        if roles.is_empty() {
            directory_roles.remove(&key);
        } else {
            directory_roles.insert(key, roles);
        }
    }

    /// The directory roles of a user (none unless assigned).
    pub fn directory_roles(
        &self,
        tenant_id: Uuid,
        user_object_id: &str,
    ) -> BTreeSet<DirectoryRole> {
        read(&self.directory_roles)
            .get(&(tenant_id, user_object_id.trim().to_ascii_lowercase()))
            .cloned()
            .unwrap_or_default()
    }
}
