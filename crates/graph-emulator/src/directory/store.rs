//! Per-tenant directory state: users ordered by object id (pages are ranges of
//! that order), a UPN index, soft-deleted users, groups, and the change log
//! delta tokens point into.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use super::filter_eval::{FieldValue, FilterSubject};
use super::model::{Group, MemberRef, User};
use super::properties::UserField;
use super::query::TokenSeal;
use crate::throttle::directory::DirectoryThrottle;

/// Why a directory mutation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("no user {0} in the tenant")]
    NoSuchUser(String),
    #[error("no group {0} in the tenant")]
    NoSuchGroup(String),
    #[error("no deleted user {0} in the tenant")]
    NoSuchDeletedUser(String),
    #[error("user principal name {0} is already in use")]
    UpnTaken(String),
    #[error("object id {0} is already in use")]
    IdTaken(Uuid),
    #[error("invalid value: {0}")]
    InvalidValue(String),
}

/// What happened to a user at one change-log position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Created, updated, enabled/disabled or restored; `fields` says which properties.
    Upserted,
    /// Moved to deleted items (restorable): delta reports `@removed` reason `changed`.
    SoftDeleted,
    /// Gone for good: delta reports `@removed` reason `deleted`.
    HardDeleted,
}

#[derive(Debug, Clone)]
pub struct Change {
    pub user: Uuid,
    pub kind: ChangeKind,
    /// Bits of the changed properties (see `UserField::bit`).
    pub fields: u64,
}

/// One user's net change over a stretch of the log.
#[derive(Debug, Clone)]
pub struct NetChange {
    pub user: Uuid,
    pub last_kind: ChangeKind,
    pub fields: u64,
}

#[derive(Debug, Default)]
pub struct TenantDirectory {
    pub users: BTreeMap<Uuid, Arc<User>>,
    pub upn_index: HashMap<String, Uuid>,
    pub deleted: BTreeMap<Uuid, Arc<User>>,
    pub groups: BTreeMap<Uuid, Arc<Group>>,
    /// Change log; the position after entry `i` is `i + 1`, position 0 is the beginning.
    pub changes: Vec<Change>,
    /// Bumped to expire every delta token of the tenant.
    pub delta_generation: u64,
    /// Delta rounds still to open with an empty page (admin-armed).
    pub delta_empty_openings: u32,
    /// DeltaLink requests still to answer `410 Gone` (admin-armed).
    pub delta_gone: u32,
}

/// An occasional `/users/delta` event Graph documents, armed by the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaEvent {
    /// The round's first page is empty and carries a nextLink.
    EmptyOpening,
    /// The deltaLink is answered `410 Gone` with a `Location` to restart from.
    Gone,
}

impl TenantDirectory {
    pub fn head(&self) -> u64 {
        self.changes.len() as u64
    }

    pub fn record(&mut self, user: Uuid, kind: ChangeKind, fields: u64) {
        self.changes.push(Change { user, kind, fields });
    }

    /// An active user by object id or UPN (case-insensitive).
    pub fn find_user(&self, id_or_upn: &str) -> Option<&Arc<User>> {
        if let Ok(id) = id_or_upn.parse::<Uuid>() {
            return self.users.get(&id);
        }
        let id = self.upn_index.get(&id_or_upn.to_lowercase())?;
        self.users.get(id)
    }

    pub fn find_group(&self, id: &str) -> Option<&Arc<Group>> {
        let id = id.parse::<Uuid>().ok()?;
        self.groups.get(&id)
    }

    /// Net changes per user between two log positions, ordered by each user's last change.
    pub fn net_changes(&self, from: u64, to: u64) -> Vec<NetChange> {
        let start = (from as usize).min(self.changes.len());
        let end = (to as usize).min(self.changes.len()).max(start);
        let mut by_user: HashMap<Uuid, (usize, NetChange)> = HashMap::new();
        for (offset, change) in self.changes[start..end].iter().enumerate() {
            let entry = by_user.entry(change.user).or_insert_with(|| {
                (
                    offset,
                    NetChange {
                        user: change.user,
                        last_kind: change.kind,
                        fields: 0,
                    },
                )
            });
            entry.0 = offset;
            entry.1.last_kind = change.kind;
            entry.1.fields |= change.fields;
        }
        let mut list: Vec<(usize, NetChange)> = by_user.into_values().collect();
        list.sort_by_key(|(position, _)| *position);
        list.into_iter().map(|(_, change)| change).collect()
    }

    /// Active users reachable from a group through nested groups, each once,
    /// in breadth-first order; cycles are harmless.
    pub fn transitive_users(&self, group: &Group) -> Vec<Arc<User>> {
        let mut seen_groups: HashSet<Uuid> = HashSet::new();
        let mut seen_users: HashSet<Uuid> = HashSet::new();
        let mut queue = std::collections::VecDeque::new();
        let mut users = Vec::new();
        seen_groups.insert(group.id);
        queue.push_back(group.id);
        while let Some(group_id) = queue.pop_front() {
            let Some(current) = self.groups.get(&group_id) else {
                continue;
            };
            for member in &current.members {
                match member {
                    MemberRef::User(user_id) => {
                        if !seen_users.insert(*user_id) {
                            continue;
                        }
                        if let Some(user) = self.users.get(user_id) {
                            users.push(user.clone());
                        }
                    }
                    MemberRef::Group(nested) => {
                        if seen_groups.insert(*nested) {
                            queue.push_back(*nested);
                        }
                    }
                }
            }
        }
        users
    }

    /// Nested groups reachable from a group (excluding itself), each once.
    pub fn transitive_groups(&self, group: &Group) -> Vec<Arc<Group>> {
        let mut seen: HashSet<Uuid> = HashSet::new();
        let mut queue = std::collections::VecDeque::new();
        let mut groups = Vec::new();
        seen.insert(group.id);
        queue.push_back(group.id);
        while let Some(group_id) = queue.pop_front() {
            let Some(current) = self.groups.get(&group_id) else {
                continue;
            };
            for member in &current.members {
                if let MemberRef::Group(nested) = member {
                    if seen.insert(*nested) {
                        if let Some(nested_group) = self.groups.get(nested) {
                            groups.push(nested_group.clone());
                        }
                        queue.push_back(*nested);
                    }
                }
            }
        }
        groups
    }
}

/// A field a user filter can reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserFilterField {
    Field(UserField),
    /// `onPremisesExtensionAttributes/extensionAttributeN`, zero-based.
    ExtensionAttribute(usize),
}

fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref()
}

impl FilterSubject<UserFilterField> for User {
    fn field_value(&self, field: &UserFilterField) -> FieldValue<'_> {
        match field {
            UserFilterField::ExtensionAttribute(index) => FieldValue::Text(
                self.extension_attributes
                    .get(*index)
                    .and_then(|value| value.as_deref()),
            ),
            UserFilterField::Field(field) => match field {
                UserField::AccountEnabled => FieldValue::Bool(self.account_enabled),
                UserField::Id => FieldValue::Id(self.id),
                UserField::DisplayName => FieldValue::Text(Some(&self.display_name)),
                UserField::GivenName => FieldValue::Text(text(&self.given_name)),
                UserField::Surname => FieldValue::Text(text(&self.surname)),
                UserField::Mail => FieldValue::Text(text(&self.mail)),
                UserField::UserPrincipalName => FieldValue::Text(Some(&self.user_principal_name)),
                UserField::MailNickname => FieldValue::Text(Some(&self.mail_nickname)),
                UserField::MobilePhone => FieldValue::Text(text(&self.mobile_phone)),
                UserField::JobTitle => FieldValue::Text(text(&self.job_title)),
                UserField::Department => FieldValue::Text(text(&self.department)),
                UserField::CompanyName => FieldValue::Text(text(&self.company_name)),
                UserField::OfficeLocation => FieldValue::Text(text(&self.office_location)),
                UserField::StreetAddress => FieldValue::Text(text(&self.street_address)),
                UserField::City => FieldValue::Text(text(&self.city)),
                UserField::State => FieldValue::Text(text(&self.state)),
                UserField::PostalCode => FieldValue::Text(text(&self.postal_code)),
                UserField::Country => FieldValue::Text(text(&self.country)),
                UserField::UsageLocation => FieldValue::Text(text(&self.usage_location)),
                UserField::PreferredLanguage => FieldValue::Text(text(&self.preferred_language)),
                UserField::EmployeeId => FieldValue::Text(text(&self.employee_id)),
                UserField::EmployeeType => FieldValue::Text(text(&self.employee_type)),
                UserField::UserType => FieldValue::Text(Some(self.user_type.as_str())),
                _ => FieldValue::Text(None),
            },
        }
    }
}

/// The whole directory of every tenant, plus the directory's throttle and token seal.
#[derive(Debug, Default)]
pub struct DirectoryStore {
    tenants: RwLock<HashMap<Uuid, Arc<RwLock<TenantDirectory>>>>,
    pub(crate) seal: TokenSeal,
    pub(crate) throttle: DirectoryThrottle,
}

impl DirectoryStore {
    fn tenant(&self, tenant_id: Uuid) -> Arc<RwLock<TenantDirectory>> {
        let existing = self
            .tenants
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&tenant_id)
            .cloned();
        if let Some(tenant) = existing {
            return tenant;
        }
        self.tenants
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(tenant_id)
            .or_default()
            .clone()
    }

    /// Runs `reader` under the tenant's read lock (keep it short).
    pub fn read<R>(&self, tenant_id: Uuid, reader: impl FnOnce(&TenantDirectory) -> R) -> R {
        let tenant = self.tenant(tenant_id);
        let guard = tenant
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        reader(&guard)
    }

    /// Arms `count` more occurrences of a delta event for the tenant.
    pub fn arm_delta_event(&self, tenant_id: Uuid, event: DeltaEvent, count: u32) {
        self.write(tenant_id, |directory| match event {
            DeltaEvent::EmptyOpening => directory.delta_empty_openings += count,
            DeltaEvent::Gone => directory.delta_gone += count,
        });
    }

    /// Whether an armed event fires now (using it up).
    pub fn take_delta_event(&self, tenant_id: Uuid, event: DeltaEvent) -> bool {
        self.write(tenant_id, |directory| {
            let pending = match event {
                DeltaEvent::EmptyOpening => &mut directory.delta_empty_openings,
                DeltaEvent::Gone => &mut directory.delta_gone,
            };
            if *pending == 0 {
                return false;
            }
            *pending -= 1;
            true
        })
    }

    /// Runs `writer` under the tenant's write lock.
    pub fn write<R>(&self, tenant_id: Uuid, writer: impl FnOnce(&mut TenantDirectory) -> R) -> R {
        let tenant = self.tenant(tenant_id);
        let mut guard = tenant
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        writer(&mut guard)
    }
}
