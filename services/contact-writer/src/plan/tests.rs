use super::*;

use crate::mapping::desired;

fn entries(count: usize) -> Vec<Desired> {
    (0..count)
        .map(|index| {
            let entry = v1::DirectoryEntry {
                source_object_id: format!("u{index:03}"),
                display_name: format!("User {index}"),
                ..Default::default()
            };
            desired(&entry, &FieldRules::default())
        })
        .collect()
}

fn known_for(entries: &[Desired]) -> HashMap<String, Known> {
    entries
        .iter()
        .map(|entry| {
            (
                entry.source_id.clone(),
                Known {
                    contact_id: format!("c-{}", entry.source_id),
                    content_hash: entry.content_hash.clone(),
                    photo_hash: String::new(),
                    current: None,
                    claim: false,
                    display_name: entry.display_name.clone(),
                },
            )
        })
        .collect()
}

fn policy(mode: v1::DeletionMode, approved: bool) -> DeletionPolicy {
    DeletionPolicy::from_proto(&v1::WritePolicy {
        deletion_mode: mode as i32,
        deletions_approved: approved,
        ..Default::default()
    })
}

#[test]
fn unchanged_entries_cost_nothing_and_new_or_changed_ones_are_written() {
    let all = entries(10);
    let mut known = known_for(&all[..9]);
    if let Some(entry) = known.get_mut("u000") {
        entry.content_hash = "stale".to_owned();
    }
    let plan = build(
        &all,
        &known,
        &[],
        &FieldRules::default(),
        &policy(v1::DeletionMode::RemovedFromSource, false),
        false,
    );
    assert_eq!(plan.unchanged, 8);
    assert_eq!(plan.updates.len(), 1);
    assert_eq!(plan.updates[0].contact_id, "c-u000");
    assert_eq!(plan.creates.len(), 1);
    assert_eq!(plan.creates[0].source_id, "u009");
    assert!(plan.deletes.is_empty());
}

#[test]
fn the_guard_holds_mass_deletes_until_approved() {
    let all = entries(200);
    let known = known_for(&all);
    let remaining = &all[..140];
    let held = build(
        remaining,
        &known,
        &[],
        &FieldRules::default(),
        &policy(v1::DeletionMode::RemovedFromSource, false),
        false,
    );
    assert!(held.deletes.is_empty());
    assert_eq!(held.held_deletes.len(), 60);
    let approved = build(
        remaining,
        &known,
        &[],
        &FieldRules::default(),
        &policy(v1::DeletionMode::RemovedFromSource, true),
        false,
    );
    assert_eq!(approved.deletes.len(), 60);
    // Few deletes pass even when they are a large share.
    let small = build(
        &all[..150],
        &known,
        &[],
        &FieldRules::default(),
        &policy(v1::DeletionMode::RemovedFromSource, false),
        false,
    );
    assert_eq!(small.deletes.len(), 50);
}

#[test]
fn never_keeps_everything_and_only_mirror_removes_duplicates() {
    let all = entries(5);
    let known = known_for(&all);
    let duplicate = PlannedDelete {
        source_id: "u001".to_owned(),
        contact_id: "c-dup".to_owned(),
        display_name: "User 1".to_owned(),
    };
    let never = build(
        &all[..3],
        &known,
        std::slice::from_ref(&duplicate),
        &FieldRules::default(),
        &policy(v1::DeletionMode::Never, false),
        false,
    );
    assert!(never.deletes.is_empty() && never.held_deletes.is_empty());
    let removed = build(
        &all,
        &known,
        std::slice::from_ref(&duplicate),
        &FieldRules::default(),
        &policy(v1::DeletionMode::RemovedFromSource, false),
        false,
    );
    assert!(removed.deletes.is_empty());
    let mirror = build(
        &all,
        &known,
        std::slice::from_ref(&duplicate),
        &FieldRules::default(),
        &policy(v1::DeletionMode::Mirror, false),
        false,
    );
    assert_eq!(mirror.deletes, vec![duplicate]);
}

#[test]
fn a_photo_removed_at_the_source_replaces_the_contact_when_photos_are_managed() {
    let all = entries(3);
    let mut known = known_for(&all);
    if let Some(entry) = known.get_mut("u001") {
        entry.photo_hash = "photo-1".to_owned();
    }
    let removed_from_source = policy(v1::DeletionMode::RemovedFromSource, false);
    let rules = FieldRules::default();
    let plan = build(&all, &known, &[], &rules, &removed_from_source, true);
    assert_eq!(plan.replaces.len(), 1);
    assert_eq!(plan.replaces[0].contact_id, "c-u001");
    assert_eq!(plan.unchanged, 2);
    assert!(plan.deletes.is_empty() && plan.creates.is_empty());
    let reported = to_proto(&plan, &rules);
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0].changes[0].field, "photo");

    let unmanaged = build(&all, &known, &[], &rules, &removed_from_source, false);
    assert!(
        unmanaged.replaces.is_empty(),
        "photos off: photos are left alone"
    );
    assert_eq!(unmanaged.unchanged, 3);
}
