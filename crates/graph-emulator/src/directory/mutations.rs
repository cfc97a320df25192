//! Directory mutations for in-process use (tests, the demo, the admin API).
//! Each one that changes a user's Graph-visible state appends exactly one entry
//! to the tenant's change log, which is what `/users/delta` reports.

use std::sync::Arc;

use axum::body::Bytes;
use uuid::Uuid;

use super::model::{Group, MailboxKind, MemberRef, Photo, User};
use super::properties::{all_fields_mask, changed_fields};
use super::store::{ChangeKind, DirectoryError, DirectoryStore, TenantDirectory};

fn insert_user(directory: &mut TenantDirectory, user: User) -> Result<Uuid, DirectoryError> {
    let upn_key = user.user_principal_name.to_lowercase();
    if directory.upn_index.contains_key(&upn_key) {
        return Err(DirectoryError::UpnTaken(user.user_principal_name));
    }
    if directory.users.contains_key(&user.id) || directory.deleted.contains_key(&user.id) {
        return Err(DirectoryError::IdTaken(user.id));
    }
    let id = user.id;
    directory.upn_index.insert(upn_key, id);
    directory.users.insert(id, Arc::new(user));
    directory.record(id, ChangeKind::Upserted, all_fields_mask());
    Ok(id)
}

impl DirectoryStore {
    /// Adds a user as given (its `id` included); fails on a taken id or UPN.
    pub fn add_user(&self, tenant_id: Uuid, user: User) -> Result<Uuid, DirectoryError> {
        self.write(tenant_id, |directory| insert_user(directory, user))
    }

    /// Adds many users at once under one lock (seeding): all of them, or none
    /// when an id or UPN is taken.
    pub fn add_users(&self, tenant_id: Uuid, users: Vec<User>) -> Result<usize, DirectoryError> {
        self.write(tenant_id, |directory| {
            let mut batch_upns = std::collections::HashSet::with_capacity(users.len());
            let mut batch_ids = std::collections::HashSet::with_capacity(users.len());
            for user in &users {
                let upn_key = user.user_principal_name.to_lowercase();
                if directory.upn_index.contains_key(&upn_key) || !batch_upns.insert(upn_key) {
                    return Err(DirectoryError::UpnTaken(user.user_principal_name.clone()));
                }
                let id_known = directory.users.contains_key(&user.id)
                    || directory.deleted.contains_key(&user.id);
                if id_known || !batch_ids.insert(user.id) {
                    return Err(DirectoryError::IdTaken(user.id));
                }
            }
            let added = users.len();
            for user in users {
                insert_user(directory, user)?;
            }
            Ok(added)
        })
    }

    /// Changes an active user through `change`; logs the properties that differ.
    pub fn modify_user(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        change: impl FnOnce(&mut User),
    ) -> Result<Arc<User>, DirectoryError> {
        self.try_modify_user(tenant_id, user_id, |user| {
            change(user);
            Ok(())
        })
    }

    /// Like `modify_user`, for changes that can fail (nothing is changed then).
    pub fn try_modify_user(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        change: impl FnOnce(&mut User) -> Result<(), DirectoryError>,
    ) -> Result<Arc<User>, DirectoryError> {
        self.write(tenant_id, |directory| {
            let Some(current) = directory.users.get(&user_id).cloned() else {
                return Err(DirectoryError::NoSuchUser(user_id.to_string()));
            };
            let mut updated = (*current).clone();
            change(&mut updated)?;
            updated.id = user_id;
            let old_upn = current.user_principal_name.to_lowercase();
            let new_upn = updated.user_principal_name.to_lowercase();
            if old_upn != new_upn {
                if directory.upn_index.contains_key(&new_upn) {
                    return Err(DirectoryError::UpnTaken(updated.user_principal_name));
                }
                directory.upn_index.remove(&old_upn);
                directory.upn_index.insert(new_upn, user_id);
            }
            let fields = changed_fields(&current, &updated);
            let updated = Arc::new(updated);
            directory.users.insert(user_id, updated.clone());
            if fields != 0 {
                directory.record(user_id, ChangeKind::Upserted, fields);
            }
            Ok(updated)
        })
    }

    /// Applies a JSON object of Graph property names (see `patch::apply_user_patch`).
    pub fn patch_user(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        patch: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Arc<User>, DirectoryError> {
        self.try_modify_user(tenant_id, user_id, |user| {
            super::patch::apply_user_patch(user, patch)
        })
    }

    pub fn set_account_enabled(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        enabled: bool,
    ) -> Result<Arc<User>, DirectoryError> {
        self.modify_user(tenant_id, user_id, |user| user.account_enabled = enabled)
    }

    /// Assigns or removes the licence; a licensed member gets a user mailbox,
    /// an unlicensed one loses it (resource mailboxes keep theirs).
    pub fn set_licensed(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        licensed: bool,
    ) -> Result<Arc<User>, DirectoryError> {
        self.modify_user(tenant_id, user_id, |user| {
            user.licensed = licensed;
            if licensed && user.mailbox == MailboxKind::None {
                user.mailbox = MailboxKind::User;
                if user.mail.is_none() {
                    user.mail = Some(user.user_principal_name.clone());
                }
            }
            if !licensed && user.mailbox == MailboxKind::User {
                user.mailbox = MailboxKind::None;
            }
        })
    }

    pub fn set_manager(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        manager_id: Option<Uuid>,
    ) -> Result<Arc<User>, DirectoryError> {
        if let Some(manager) = manager_id {
            if manager == user_id || self.user(tenant_id, manager).is_none() {
                return Err(DirectoryError::NoSuchUser(manager.to_string()));
            }
        }
        self.modify_user(tenant_id, user_id, |user| user.manager_id = manager_id)
    }

    /// Sets the profile photo. Photos are not user properties: delta does not report it.
    pub fn set_photo(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<Arc<User>, DirectoryError> {
        let photo = Arc::new(Photo::new(bytes, content_type));
        self.modify_user(tenant_id, user_id, |user| user.photo = Some(photo))
    }

    pub fn remove_photo(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
    ) -> Result<Arc<User>, DirectoryError> {
        self.modify_user(tenant_id, user_id, |user| user.photo = None)
    }

    /// Soft-deletes a user (restorable; delta: `@removed` reason `changed`).
    pub fn delete_user(&self, tenant_id: Uuid, user_id: Uuid) -> Result<(), DirectoryError> {
        self.write(tenant_id, |directory| {
            let Some(user) = directory.users.remove(&user_id) else {
                return Err(DirectoryError::NoSuchUser(user_id.to_string()));
            };
            directory
                .upn_index
                .remove(&user.user_principal_name.to_lowercase());
            let mut deleted = (*user).clone();
            deleted.deleted = Some(chrono::Utc::now());
            directory.deleted.insert(user_id, Arc::new(deleted));
            directory.record(user_id, ChangeKind::SoftDeleted, 0);
            Ok(())
        })
    }

    /// Restores a soft-deleted user; delta reports it as a full user again.
    pub fn restore_user(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
    ) -> Result<Arc<User>, DirectoryError> {
        self.write(tenant_id, |directory| {
            let Some(user) = directory.deleted.get(&user_id).cloned() else {
                return Err(DirectoryError::NoSuchDeletedUser(user_id.to_string()));
            };
            let upn_key = user.user_principal_name.to_lowercase();
            if directory.upn_index.contains_key(&upn_key) {
                return Err(DirectoryError::UpnTaken(user.user_principal_name.clone()));
            }
            directory.deleted.remove(&user_id);
            let mut restored = (*user).clone();
            restored.deleted = None;
            let restored = Arc::new(restored);
            directory.upn_index.insert(upn_key, user_id);
            directory.users.insert(user_id, restored.clone());
            directory.record(user_id, ChangeKind::Upserted, all_fields_mask());
            Ok(restored)
        })
    }

    /// Deletes a user for good, active or soft-deleted (delta: reason `deleted`).
    pub fn hard_delete_user(&self, tenant_id: Uuid, user_id: Uuid) -> Result<(), DirectoryError> {
        self.write(tenant_id, |directory| {
            let removed_active = directory.users.remove(&user_id);
            let removed_deleted = directory.deleted.remove(&user_id);
            let Some(user) = removed_active.or(removed_deleted) else {
                return Err(DirectoryError::NoSuchUser(user_id.to_string()));
            };
            let upn_key = user.user_principal_name.to_lowercase();
            if directory.upn_index.get(&upn_key) == Some(&user_id) {
                directory.upn_index.remove(&upn_key);
            }
            let member = MemberRef::User(user_id);
            let holding: Vec<Uuid> = directory
                .groups
                .values()
                .filter(|group| group.members.contains(&member))
                .map(|group| group.id)
                .collect();
            for group_id in holding {
                if let Some(group) = directory.groups.get_mut(&group_id) {
                    Arc::make_mut(group)
                        .members
                        .retain(|entry| *entry != member);
                }
            }
            directory.record(user_id, ChangeKind::HardDeleted, 0);
            Ok(())
        })
    }

    /// Adds a group as given (members included); returns its id.
    pub fn create_group(&self, tenant_id: Uuid, group: Group) -> Result<Uuid, DirectoryError> {
        self.write(tenant_id, |directory| {
            if directory.groups.contains_key(&group.id) {
                return Err(DirectoryError::IdTaken(group.id));
            }
            let id = group.id;
            directory.groups.insert(id, Arc::new(group));
            Ok(id)
        })
    }

    /// Adds a user or a group to a group (idempotent).
    pub fn add_group_member(
        &self,
        tenant_id: Uuid,
        group_id: Uuid,
        member: MemberRef,
    ) -> Result<(), DirectoryError> {
        self.write(tenant_id, |directory| {
            let exists = match member {
                MemberRef::User(id) => directory.users.contains_key(&id),
                MemberRef::Group(id) => directory.groups.contains_key(&id),
            };
            if !exists {
                return Err(match member {
                    MemberRef::User(id) => DirectoryError::NoSuchUser(id.to_string()),
                    MemberRef::Group(id) => DirectoryError::NoSuchGroup(id.to_string()),
                });
            }
            let Some(group) = directory.groups.get_mut(&group_id) else {
                return Err(DirectoryError::NoSuchGroup(group_id.to_string()));
            };
            if !group.members.contains(&member) {
                Arc::make_mut(group).members.push(member);
            }
            Ok(())
        })
    }

    pub fn remove_group_member(
        &self,
        tenant_id: Uuid,
        group_id: Uuid,
        member_id: Uuid,
    ) -> Result<(), DirectoryError> {
        self.write(tenant_id, |directory| {
            let Some(group) = directory.groups.get_mut(&group_id) else {
                return Err(DirectoryError::NoSuchGroup(group_id.to_string()));
            };
            let before = group.members.len();
            Arc::make_mut(group).members.retain(|member| match member {
                MemberRef::User(id) | MemberRef::Group(id) => *id != member_id,
            });
            if group.members.len() == before {
                return Err(DirectoryError::NoSuchUser(member_id.to_string()));
            }
            Ok(())
        })
    }

    /// Expires every delta token of the tenant: their next use gets `syncStateNotFound`.
    pub fn expire_delta_tokens(&self, tenant_id: Uuid) {
        self.write(tenant_id, |directory| directory.delta_generation += 1);
    }

    /// An active user by object id.
    pub fn user(&self, tenant_id: Uuid, user_id: Uuid) -> Option<Arc<User>> {
        self.read(tenant_id, |directory| {
            directory.users.get(&user_id).cloned()
        })
    }

    /// An active user by object id or UPN.
    pub fn find_user(&self, tenant_id: Uuid, id_or_upn: &str) -> Option<Arc<User>> {
        self.read(tenant_id, |directory| {
            directory.find_user(id_or_upn).cloned()
        })
    }

    /// Every active user (and soft-deleted ones when asked), in id order.
    pub fn list_users(&self, tenant_id: Uuid, include_deleted: bool) -> Vec<Arc<User>> {
        self.read(tenant_id, |directory| {
            let mut users: Vec<Arc<User>> = directory.users.values().cloned().collect();
            if include_deleted {
                users.extend(directory.deleted.values().cloned());
            }
            users
        })
    }

    pub fn list_groups(&self, tenant_id: Uuid) -> Vec<Arc<Group>> {
        self.read(tenant_id, |directory| {
            directory.groups.values().cloned().collect()
        })
    }

    /// Active users reachable from a group through nested groups.
    pub fn transitive_member_users(&self, tenant_id: Uuid, group_id: Uuid) -> Vec<Arc<User>> {
        self.read(tenant_id, |directory| {
            match directory.groups.get(&group_id) {
                Some(group) => directory.transitive_users(group),
                None => Vec::new(),
            }
        })
    }

    /// The current end of the tenant's change log.
    pub fn change_log_head(&self, tenant_id: Uuid) -> u64 {
        self.read(tenant_id, |directory| directory.head())
    }
}
