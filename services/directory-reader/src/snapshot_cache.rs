//! The last snapshot taken for each (tenant, source filter), remembered so a
//! snapshot of an unchanged directory costs its delta round and not another
//! filter, normalise and hash of every user (about a second of CPU at 50,000
//! users). A snapshot is a function of the users read (their
//! `users_generation`), the filter, the members of the filter's groups and
//! the users' photo hashes; when all four are those of the last snapshot,
//! its id names the same content.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::filter::{CompiledFilter, FilterCounts, GroupMembers};

/// Filters remembered per tenant (a tenant has a few profiles); the
/// oldest goes first.
const FILTERS_PER_TENANT: usize = 16;

/// What the filter kept of one set of users.
#[derive(Debug, Clone)]
pub struct FilterResult {
    pub kept_ids: Arc<Vec<String>>,
    pub counts: FilterCounts,
}

/// A snapshot as it was built, and from what.
#[derive(Debug, Clone)]
struct LastSnapshot {
    filter: CompiledFilter,
    users_generation: u64,
    groups: GroupMembers,
    filtered: FilterResult,
    /// Set once the snapshot was built and stored.
    built: Option<BuiltFrom>,
}

impl LastSnapshot {
    fn new(
        filter: &CompiledFilter,
        users_generation: u64,
        groups: &GroupMembers,
        filtered: &FilterResult,
        built: Option<BuiltFrom>,
    ) -> Self {
        Self {
            filter: filter.clone(),
            users_generation,
            groups: groups.clone(),
            filtered: filtered.clone(),
            built,
        }
    }
}

#[derive(Debug, Clone)]
struct BuiltFrom {
    photo_hashes: Arc<HashMap<String, String>>,
    snapshot_id: String,
}

#[derive(Debug, Default)]
pub struct SnapshotCache {
    tenants: Mutex<HashMap<String, Vec<LastSnapshot>>>,
}

impl SnapshotCache {
    fn tenants(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<LastSnapshot>>> {
        self.tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What `filter` kept of these users with these group members, when it
    /// was worked out for the last snapshot of the filter.
    pub fn filtered(
        &self,
        tenant_id: &str,
        filter: &CompiledFilter,
        users_generation: u64,
        groups: &GroupMembers,
    ) -> Option<FilterResult> {
        let tenants = self.tenants();
        let last = tenants
            .get(tenant_id)?
            .iter()
            .find(|last| &last.filter == filter)?;
        let same_input = last.users_generation == users_generation && &last.groups == groups;
        same_input.then(|| last.filtered.clone())
    }

    /// Remembers what `filter` kept, for the next snapshot of the filter
    /// (a snapshot built from the same input stays remembered).
    pub fn remember_filtered(
        &self,
        tenant_id: &str,
        filter: &CompiledFilter,
        users_generation: u64,
        groups: &GroupMembers,
        filtered: &FilterResult,
    ) {
        if self
            .filtered(tenant_id, filter, users_generation, groups)
            .is_some()
        {
            return;
        }
        let last = LastSnapshot::new(filter, users_generation, groups, filtered, None);
        self.replace(tenant_id, last);
    }

    fn replace(&self, tenant_id: &str, last: LastSnapshot) {
        let mut tenants = self.tenants();
        let remembered = tenants.entry(tenant_id.to_owned()).or_default();
        remembered.retain(|other| other.filter != last.filter);
        if remembered.len() >= FILTERS_PER_TENANT {
            remembered.remove(0);
        }
        remembered.push(last);
    }

    /// The id of the snapshot built from exactly this input (what
    /// [`Self::filtered`] answered for, and these photo hashes).
    pub fn built(
        &self,
        tenant_id: &str,
        filter: &CompiledFilter,
        users_generation: u64,
        groups: &GroupMembers,
        photo_hashes: &HashMap<String, String>,
    ) -> Option<String> {
        let tenants = self.tenants();
        let last = tenants
            .get(tenant_id)?
            .iter()
            .find(|last| &last.filter == filter)?;
        let built = last.built.as_ref()?;
        let same_input = last.users_generation == users_generation
            && &last.groups == groups
            && *built.photo_hashes == *photo_hashes;
        same_input.then(|| built.snapshot_id.clone())
    }

    /// Remembers the snapshot `filter` made of these users, group members
    /// and photo hashes, for the next snapshot of the filter.
    #[allow(clippy::too_many_arguments)]
    pub fn remember_built(
        &self,
        tenant_id: &str,
        filter: &CompiledFilter,
        users_generation: u64,
        groups: &GroupMembers,
        filtered: &FilterResult,
        photo_hashes: Arc<HashMap<String, String>>,
        snapshot_id: &str,
    ) {
        let built = BuiltFrom {
            photo_hashes,
            snapshot_id: snapshot_id.to_owned(),
        };
        let last = LastSnapshot::new(filter, users_generation, groups, filtered, Some(built));
        self.replace(tenant_id, last);
    }

    /// Forgets a snapshot the store no longer holds.
    pub fn forget_built(&self, tenant_id: &str, snapshot_id: &str) {
        let mut tenants = self.tenants();
        let Some(remembered) = tenants.get_mut(tenant_id) else {
            return;
        };
        for last in remembered.iter_mut() {
            if last
                .built
                .as_ref()
                .is_some_and(|built| built.snapshot_id == snapshot_id)
            {
                last.built = None;
            }
        }
    }
}
