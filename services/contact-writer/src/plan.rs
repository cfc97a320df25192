//! The plan of one mailbox: which contacts to create, update and delete, with
//! field-level differences where the contact's current values are known, and
//! the deletion guard.

use std::collections::{HashMap, HashSet};

use galsync_proto::v1;

use crate::mapping::{self, Desired, FieldRules, Fields};

/// A contact galsync owns (or adopts) in the mailbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub contact_id: String,
    /// Hash of the enforced fields as last written or as read back.
    pub content_hash: String,
    pub photo_hash: String,
    /// The contact's values, when they were read from the mailbox this run.
    pub current: Option<Fields>,
    /// An adopted contact that still lacks the ownership property.
    pub claim: bool,
    pub display_name: String,
}

#[derive(Debug, Clone)]
pub struct PlannedUpdate<'a> {
    pub desired: &'a Desired,
    pub contact_id: String,
    pub changes: Vec<v1::FieldChange>,
    pub claim: bool,
    pub current: Option<&'a Fields>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedDelete {
    pub source_id: String,
    pub contact_id: String,
    pub display_name: String,
}

/// A contact whose photo was removed at the source. Graph cannot delete a
/// contact's photo, so the contact is replaced by a fresh one without it
/// (delete, then create).
#[derive(Debug, Clone)]
pub struct PlannedReplace<'a> {
    pub desired: &'a Desired,
    pub contact_id: String,
}

/// What to write, borrowing the desired contacts and what is known.
#[derive(Debug, Clone, Default)]
pub struct Plan<'a> {
    pub creates: Vec<&'a Desired>,
    pub updates: Vec<PlannedUpdate<'a>>,
    pub replaces: Vec<PlannedReplace<'a>>,
    pub deletes: Vec<PlannedDelete>,
    pub unchanged: u64,
    /// Deletes the guard held back (not in `deletes`).
    pub held_deletes: Vec<PlannedDelete>,
}

/// Deletion settings of a profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeletionPolicy {
    pub mode: v1::DeletionMode,
    /// Share of managed contacts (percent) above which deletes are held.
    pub guard_percent: f64,
    /// Count above which deletes are held (both must be exceeded).
    pub guard_minimum: u64,
    pub approved: bool,
}

impl DeletionPolicy {
    pub fn from_proto(policy: &v1::WritePolicy) -> Self {
        let mode = match v1::DeletionMode::try_from(policy.deletion_mode) {
            Ok(v1::DeletionMode::Unspecified) | Err(_) => v1::DeletionMode::RemovedFromSource,
            Ok(mode) => mode,
        };
        Self {
            mode,
            guard_percent: if policy.deletion_guard_percent > 0.0 {
                policy.deletion_guard_percent
            } else {
                10.0
            },
            guard_minimum: if policy.deletion_guard_minimum > 0 {
                u64::from(policy.deletion_guard_minimum)
            } else {
                50
            },
            approved: policy.deletions_approved,
        }
    }

    /// True when `deletes` out of `managed` contacts must wait for approval.
    pub fn holds(&self, deletes: usize, managed: usize) -> bool {
        if self.approved {
            return false;
        }
        let deletes = deletes as f64;
        deletes > managed as f64 * self.guard_percent / 100.0 && deletes > self.guard_minimum as f64
    }
}

/// Plans one mailbox. `duplicates` are further contacts owned for a source
/// id that already has one in `known` (only mirror mode removes them).
/// `photos`: galsync manages photos, so a photo removed at the source is
/// removed from the contact.
pub fn build<'a>(
    desired: &'a [Desired],
    known: &'a HashMap<String, Known>,
    duplicates: &[PlannedDelete],
    rules: &FieldRules,
    deletion: &DeletionPolicy,
    photos: bool,
) -> Plan<'a> {
    let mut plan = Plan::default();
    let mut wanted: HashSet<&str> = HashSet::with_capacity(desired.len());
    for entry in desired {
        wanted.insert(entry.source_id.as_str());
        let Some(existing) = known.get(&entry.source_id) else {
            plan.creates.push(entry);
            continue;
        };
        if photos && entry.photo_hash.is_empty() && !existing.photo_hash.is_empty() {
            plan.replaces.push(PlannedReplace {
                desired: entry,
                contact_id: existing.contact_id.clone(),
            });
            continue;
        }
        let fills_empty_field = existing.current.as_ref().is_some_and(|current| {
            entry
                .only_if_empty
                .keys()
                .any(|name| !current.contains_key(name))
        });
        if existing.content_hash == entry.content_hash && !fills_empty_field && !existing.claim {
            plan.unchanged += 1;
            continue;
        }
        let changes = match &existing.current {
            Some(current) => mapping::diff(entry, rules, current),
            None => Vec::new(),
        };
        plan.updates.push(PlannedUpdate {
            desired: entry,
            contact_id: existing.contact_id.clone(),
            changes,
            claim: existing.claim,
            current: existing.current.as_ref(),
        });
    }
    let mut deletes = Vec::new();
    if deletion.mode != v1::DeletionMode::Never {
        for (source_id, existing) in known {
            if wanted.contains(source_id.as_str()) || existing.claim {
                continue;
            }
            deletes.push(PlannedDelete {
                source_id: source_id.clone(),
                contact_id: existing.contact_id.clone(),
                display_name: existing.display_name.clone(),
            });
        }
        deletes.sort_by(|left, right| left.source_id.cmp(&right.source_id));
    }
    if deletion.mode == v1::DeletionMode::Mirror {
        deletes.extend(duplicates.iter().cloned());
    }
    let managed = known.len() + duplicates.len();
    if deletion.holds(deletes.len(), managed) {
        plan.held_deletes = deletes;
    } else {
        plan.deletes = deletes;
    }
    plan
}

/// The plan as the API reports it.
pub fn to_proto(plan: &Plan, rules: &FieldRules) -> Vec<v1::PlannedChange> {
    let mut changes = Vec::new();
    for create in &plan.creates {
        let empty = Fields::new();
        changes.push(v1::PlannedChange {
            action: v1::planned_change::Action::Create as i32,
            source_object_id: create.source_id.clone(),
            display_name: create.display_name.clone(),
            changes: mapping::diff(create, rules, &empty),
        });
    }
    for update in &plan.updates {
        changes.push(v1::PlannedChange {
            action: v1::planned_change::Action::Update as i32,
            source_object_id: update.desired.source_id.clone(),
            display_name: update.desired.display_name.clone(),
            changes: update.changes.clone(),
        });
    }
    for replace in &plan.replaces {
        changes.push(v1::PlannedChange {
            action: v1::planned_change::Action::Update as i32,
            source_object_id: replace.desired.source_id.clone(),
            display_name: replace.desired.display_name.clone(),
            changes: vec![v1::FieldChange {
                field: "photo".to_owned(),
                old_value: "(photo)".to_owned(),
                new_value: String::new(),
            }],
        });
    }
    changes.extend(
        plan.deletes
            .iter()
            .chain(plan.held_deletes.iter())
            .map(delete_to_proto),
    );
    changes
}

/// The deletes the guard held, as planned changes.
pub fn held_deletes_to_proto(plan: &Plan) -> Vec<v1::PlannedChange> {
    plan.held_deletes.iter().map(delete_to_proto).collect()
}

fn delete_to_proto(delete: &PlannedDelete) -> v1::PlannedChange {
    v1::PlannedChange {
        action: v1::planned_change::Action::Delete as i32,
        source_object_id: delete.source_id.clone(),
        display_name: delete.display_name.clone(),
        changes: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
