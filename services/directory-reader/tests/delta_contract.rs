//! The reader against `/users/delta` as Microsoft documents it: the manager
//! tracked through `$select=…,manager`, updated users carrying only their
//! changed properties, users repeated and replayed, rounds opening with an
//! empty page, 410 Gone, 7-day token expiry — and a run (snapshot + target
//! list) costing one delta request when nothing changed.

mod common;

use common::{member, Harness};
use galsync_graph_emulator::seeding::{DeltaEvent, SeedOptions};
use galsync_proto::v1;

async fn resolve_all_mailboxes(harness: &Harness) -> v1::TargetList {
    let mut reader = harness.reader().await;
    reader
        .resolve_targets(v1::ResolveTargetsRequest {
            tenant_id: harness.tenant_id.to_string(),
            selector: Some(v1::TargetSelector {
                all_mailboxes: true,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
}

fn seed_small(harness: &Harness) {
    harness.seed(SeedOptions {
        users: 300,
        groups: false,
        ..SeedOptions::default()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_manager_changes_exactly_that_entry_with_one_delta_request() {
    let harness = Harness::start().await;
    let boss = harness.add_user(member("Beatrix Boss"));
    let new_boss = harness.add_user(member("Nora Newboss"));
    let mut worker_user = member("Walter Worker");
    worker_user.manager_id = Some(boss);
    let worker = harness.add_user(worker_user);
    seed_small(&harness);
    let first = harness.take(v1::SourceFilter::default()).await;
    let entries = harness.entries(&first.snapshot_id).await;
    let before = entries
        .iter()
        .find(|entry| entry.source_object_id == worker.to_string())
        .expect("the worker's entry")
        .clone();
    assert_eq!(before.manager_display_name, "Beatrix Boss");

    let directory = &harness.emulator.state.directory;
    directory
        .set_manager(harness.tenant_id, worker, Some(new_boss))
        .unwrap();
    let delta_before = harness.requests_to("/users/delta");
    let purpose_before = harness.requests_to("/users/{id}/mailboxSettings/userPurpose");
    let graph_before = harness.graph_requests();
    let second = harness.take(v1::SourceFilter::default()).await;
    assert_eq!(second.read_stats.clone().unwrap().mode, "delta");
    assert_eq!(harness.requests_to("/users/delta") - delta_before, 1);
    // A changed user's mailbox purpose is read again: one $batch holding one GET.
    assert_eq!(
        harness.requests_to("/users/{id}/mailboxSettings/userPurpose") - purpose_before,
        1
    );
    assert_eq!(
        harness.graph_requests() - graph_before,
        3,
        "the delta request and the purpose re-read, no manager lookup: the name comes from the users held"
    );
    let diff = harness.diff(&first.snapshot_id, &second.snapshot_id).await;
    assert_eq!(diff.changed_ids, [worker.to_string()]);
    assert!(diff.added_ids.is_empty() && diff.removed_ids.is_empty());
    let after = harness
        .entries(&second.snapshot_id)
        .await
        .into_iter()
        .find(|entry| entry.source_object_id == worker.to_string())
        .expect("the worker's entry");
    assert_eq!(after.manager_display_name, "Nora Newboss");
    let mut expected = before;
    expected.manager_display_name = "Nora Newboss".to_owned();
    assert_eq!(after, expected, "only the manager changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_changed_field_of_ten_users_changes_ten_entries_and_nothing_else() {
    let harness = Harness::start().await;
    seed_small(&harness);
    let first = harness.take(v1::SourceFilter::default()).await;
    let before = harness.entries(&first.snapshot_id).await;
    let picked: Vec<String> = before
        .iter()
        .take(10)
        .map(|entry| entry.source_object_id.clone())
        .collect();
    let directory = &harness.emulator.state.directory;
    for user_id in &picked {
        directory
            .modify_user(harness.tenant_id, user_id.parse().unwrap(), |user| {
                user.mobile_phone = Some("+47 400 00 000".to_owned());
            })
            .unwrap();
    }
    let second = harness.take(v1::SourceFilter::default()).await;
    let diff = harness.diff(&first.snapshot_id, &second.snapshot_id).await;
    let mut expected = picked.clone();
    expected.sort();
    assert_eq!(diff.changed_ids, expected);
    assert!(diff.removed_ids.is_empty(), "{:?}", diff.removed_ids);
    assert!(diff.added_ids.is_empty());
    let after = harness.entries(&second.snapshot_id).await;
    for entry in &after {
        let old = before
            .iter()
            .find(|old| old.source_object_id == entry.source_object_id)
            .expect("every user is still there");
        let mut expected_entry = old.clone();
        if picked.contains(&entry.source_object_id) {
            expected_entry.mobile_phone = "+47 400 00 000".to_owned();
        }
        assert_eq!(entry, &expected_entry, "every other field intact");
    }
    // The next round replays those ten users: nothing changes.
    let third = harness.take(v1::SourceFilter::default()).await;
    assert_eq!(third.snapshot_id, second.snapshot_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_opening_page_and_410_gone_leave_the_snapshot_unchanged() {
    let harness = Harness::start().await;
    seed_small(&harness);
    let first = harness.take(v1::SourceFilter::default()).await;
    let directory = &harness.emulator.state.directory;
    let tenant = harness.tenant_id;

    directory.arm_delta_event(tenant, DeltaEvent::EmptyOpening, 1);
    let after_empty_opening = harness.take(v1::SourceFilter::default()).await;
    assert_eq!(after_empty_opening.snapshot_id, first.snapshot_id);
    assert_eq!(after_empty_opening.read_stats.unwrap().graph_requests, 2);

    directory.arm_delta_event(tenant, DeltaEvent::Gone, 1);
    let after_gone = harness.take(v1::SourceFilter::default()).await;
    assert_eq!(after_gone.snapshot_id, first.snapshot_id);
    assert_eq!(after_gone.read_stats.unwrap().mode, "full");

    // A token past its 7 days answers syncStateNotFound (the emulator's
    // directory_delta test); the reader's answer to it is the full read of
    // resilience.rs' an_expired_delta_token_leads_to_a_full_read_with_the_same_content
    // (the emulator's clock cannot move here: the broker's assertions follow real time).
}

/// With an OData pre-filter the run still reads the delta once: the
/// pre-filtered scope follows the whole directory's round, which the target
/// list reuses; a quiet run asks Graph nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_filtered_run_with_nothing_changed_costs_one_delta_request() {
    let harness = Harness::start().await;
    seed_small(&harness);
    let prefiltered = v1::SourceFilter {
        odata_prefilter: "accountEnabled eq true".to_owned(),
        ..Default::default()
    };
    let first = harness.take(prefiltered.clone()).await;
    assert!(first.entry_count > 0);
    resolve_all_mailboxes(&harness).await;
    let delta_before = harness.requests_to("/users/delta");
    let graph_before = harness.graph_requests();
    let snapshot = harness.take(prefiltered.clone()).await;
    resolve_all_mailboxes(&harness).await;
    assert_eq!(snapshot.read_stats.unwrap().mode, "delta");
    assert_eq!(
        snapshot.snapshot_id, first.snapshot_id,
        "the same directory"
    );
    assert_eq!(harness.requests_to("/users/delta") - delta_before, 1);
    assert_eq!(
        harness.graph_requests() - graph_before,
        1,
        "and nothing else"
    );
}

/// The pre-filtered scope follows every round it missed (here the whole
/// directory moved on twice without it), and a full read of the whole
/// directory in between makes it read again in full — both exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_filtered_scope_catches_up_on_missed_rounds_and_after_a_full_read() {
    let harness = Harness::start().await;
    let inside = harness.add_user(member("Ian Inside"));
    let leaving = harness.add_user(member("Lena Leaving"));
    let removed = harness.add_user(member("Rita Removed"));
    let mut outside_user = member("Otto Outside");
    outside_user.department = Some("Warehouse".into());
    let entering = harness.add_user(outside_user);
    let prefiltered = v1::SourceFilter {
        odata_prefilter: "department ne 'Warehouse'".to_owned(),
        ..Default::default()
    };
    let ids = |snapshot_entries: Vec<v1::DirectoryEntry>| -> Vec<String> {
        let mut ids: Vec<String> = snapshot_entries
            .into_iter()
            .map(|entry| entry.source_object_id)
            .collect();
        ids.sort();
        ids
    };
    let first = harness.take(prefiltered.clone()).await;
    assert_eq!(
        ids(harness.entries(&first.snapshot_id).await),
        common::tenant::sorted(&[inside, leaving, removed])
    );

    // Two rounds of the whole directory the pre-filtered scope does not see.
    let directory = &harness.emulator.state.directory;
    directory
        .modify_user(harness.tenant_id, inside, |user| {
            user.mobile_phone = Some("+44 7700 900001".into())
        })
        .unwrap();
    harness.take(v1::SourceFilter::default()).await;
    directory
        .modify_user(harness.tenant_id, leaving, |user| {
            user.department = Some("Warehouse".into())
        })
        .unwrap();
    directory
        .modify_user(harness.tenant_id, entering, |user| {
            user.department = Some("Sales".into())
        })
        .unwrap();
    directory.delete_user(harness.tenant_id, removed).unwrap();
    harness.take(v1::SourceFilter::default()).await;

    let recheck_before = harness.requests_to("/users");
    let caught_up = harness.take(prefiltered.clone()).await;
    assert_eq!(caught_up.read_stats.clone().unwrap().mode, "delta");
    let entries = harness.entries(&caught_up.snapshot_id).await;
    let inside_entry = entries
        .iter()
        .find(|entry| entry.source_object_id == inside.to_string())
        .expect("ian stays");
    assert_eq!(inside_entry.mobile_phone, "+44 7700 900001");
    assert_eq!(ids(entries), common::tenant::sorted(&[inside, entering]));
    assert_eq!(
        harness.requests_to("/users") - recheck_before,
        1,
        "the three changed users still in the directory, re-checked in one request"
    );

    // A full read of the whole directory: the pre-filtered scope reads again
    // in full, with the same result.
    harness
        .take_request(v1::SourceFilter::default(), true, false)
        .await
        .unwrap();
    let after_full = harness.take(prefiltered).await;
    assert_eq!(after_full.read_stats.unwrap().mode, "full");
    assert_eq!(after_full.snapshot_id, caught_up.snapshot_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_nothing_changed_costs_one_delta_request() {
    let harness = Harness::start().await;
    seed_small(&harness);
    // The first run reads in full; the second is the no-op run.
    harness.take(v1::SourceFilter::default()).await;
    let first_targets = resolve_all_mailboxes(&harness).await;
    let delta_before = harness.requests_to("/users/delta");
    let graph_before = harness.graph_requests();
    let snapshot = harness.take(v1::SourceFilter::default()).await;
    let targets = resolve_all_mailboxes(&harness).await;
    assert_eq!(snapshot.read_stats.unwrap().mode, "delta");
    assert_eq!(targets.mailbox_ids, first_targets.mailbox_ids);
    assert!(!targets.mailbox_ids.is_empty());
    assert_eq!(harness.requests_to("/users/delta") - delta_before, 1);
    assert_eq!(harness.graph_requests() - graph_before, 1);
}
