//! ResolveTargets, photos (only changed ones fetched, served by hash),
//! streaming in chunks, retention, and the PostgreSQL store.

mod common;

use common::tenant::{build, sorted};
use common::{emulator_config, Harness, StoreKind};
use galsync_proto::v1;
use v1::attribute_rule::Operator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_resolve_users_groups_and_all_mailboxes_with_reasons_for_the_rest() {
    let harness = Harness::start().await;
    let people = build(&harness);
    let mut reader = harness.reader().await;
    let selector = v1::TargetSelector {
        users: vec![
            "AliceAdams@CONTOSO.onmicrosoft.com".to_owned(),
            people.bob.to_string(),
            "nobody@contoso.onmicrosoft.com".to_owned(),
            "grace@contoso.onmicrosoft.com".to_owned(),
            people.dave_disabled.to_string(),
        ],
        group_ids: vec![people.interns_group.to_string()],
        ..Default::default()
    };
    let targets = reader
        .resolve_targets(v1::ResolveTargetsRequest {
            tenant_id: harness.tenant_id.to_string(),
            selector: Some(selector),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        targets.mailbox_ids,
        sorted(&[people.alice, people.bob, people.carol])
    );
    assert_eq!(targets.unresolved.len(), 3, "{:?}", targets.unresolved);
    assert!(targets.unresolved[0].contains("nobody@contoso.onmicrosoft.com: not found"));
    assert!(targets.unresolved[1].contains("has no mailbox"));
    assert!(targets.unresolved[2].contains("account is disabled"));

    let every_mailbox_but_interns = v1::TargetSelector {
        all_mailboxes: true,
        rules: every_mailbox_but_interns_rules(),
        ..Default::default()
    };
    let targets = reader
        .resolve_targets(v1::ResolveTargetsRequest {
            tenant_id: harness.tenant_id.to_string(),
            selector: Some(every_mailbox_but_interns),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(targets.mailbox_ids, sorted(&[people.alice, people.bob]));
    let intern_rule = "exclude employeeType eq 'Intern'";
    assert_eq!(
        targets.rules,
        vec![v1::FilterRuleCount {
            rule: intern_rule.to_owned(),
            dropped: 1,
        }],
        "each targets' rule says how many mailboxes it dropped"
    );
    assert!(targets.unresolved.is_empty(), "{:?}", targets.unresolved);

    // A user the selector names, whom a rule drops, is said by name.
    let named_intern = v1::TargetSelector {
        users: vec![people.alice.to_string(), people.carol.to_string()],
        rules: every_mailbox_but_interns_rules(),
        ..Default::default()
    };
    let targets = reader
        .resolve_targets(v1::ResolveTargetsRequest {
            tenant_id: harness.tenant_id.to_string(),
            selector: Some(named_intern),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(targets.mailbox_ids, sorted(&[people.alice]));
    assert_eq!(
        targets.unresolved,
        vec![format!(
            "user {}: dropped by the targets' rule {intern_rule}",
            people.carol
        )]
    );
    assert_eq!(targets.rules[0].dropped, 1);
}

fn every_mailbox_but_interns_rules() -> Vec<v1::AttributeRule> {
    vec![v1::AttributeRule {
        attribute: "employeeType".to_owned(),
        operator: Operator::Equals as i32,
        values: vec!["Intern".to_owned()],
        exclude: true,
    }]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_are_fetched_only_when_they_change_and_served_by_hash() {
    let harness = Harness::start().await;
    let people = build(&harness);
    let directory = &harness.emulator.state.directory;
    let alice_photo = axum::body::Bytes::from_static(b"\xFF\xD8alice\xFF\xD9");
    directory
        .set_photo(
            harness.tenant_id,
            people.alice,
            alice_photo.clone(),
            "image/jpeg",
        )
        .unwrap();
    directory
        .set_photo(
            harness.tenant_id,
            people.bob,
            axum::body::Bytes::from_static(b"\xFF\xD8bob\xFF\xD9"),
            "image/jpeg",
        )
        .unwrap();

    let first = harness
        .take_request(v1::SourceFilter::default(), false, true)
        .await
        .unwrap();
    assert_eq!(first.read_stats.clone().unwrap().photos_fetched, 2);
    let value_endpoint = "/users/{id}/photo/$value";
    assert_eq!(harness.requests_to(value_endpoint), 2);
    let entries = harness.entries(&first.snapshot_id).await;
    let alice = entries
        .iter()
        .find(|entry| entry.source_object_id == people.alice.to_string())
        .unwrap();
    let carol = entries
        .iter()
        .find(|entry| entry.source_object_id == people.carol.to_string())
        .unwrap();
    assert_eq!(carol.photo_hash, "", "404 = no photo");
    let mut reader = harness.reader().await;
    let photo = reader
        .get_photo(v1::GetPhotoRequest {
            photo_hash: alice.photo_hash.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(photo.data, alice_photo.to_vec());
    assert_eq!(photo.content_type, "image/jpeg");

    let unchanged = harness
        .take_request(v1::SourceFilter::default(), false, true)
        .await
        .unwrap();
    assert_eq!(unchanged.snapshot_id, first.snapshot_id);
    assert_eq!(unchanged.read_stats.unwrap().photos_fetched, 0);
    assert_eq!(harness.requests_to(value_endpoint), 2);

    directory
        .set_photo(
            harness.tenant_id,
            people.bob,
            axum::body::Bytes::from_static(b"\xFF\xD8bob2\xFF\xD9"),
            "image/jpeg",
        )
        .unwrap();
    let changed = harness
        .take_request(v1::SourceFilter::default(), false, true)
        .await
        .unwrap();
    assert_eq!(changed.read_stats.unwrap().photos_fetched, 1);
    let diff = harness.diff(&first.snapshot_id, &changed.snapshot_id).await;
    assert_eq!(diff.changed_ids, [people.bob.to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_stream_in_chunks_and_retention_removes_the_oldest() {
    let harness = Harness::start_with(StoreKind::Sqlite, emulator_config(), |config| {
        config.snapshot_retention = 2
    })
    .await;
    let people = build(&harness);
    let first = harness.take(v1::SourceFilter::default()).await;
    let mut reader = harness.reader().await;
    let mut stream = reader
        .stream_snapshot(v1::StreamSnapshotRequest {
            snapshot_id: first.snapshot_id.clone(),
            chunk_size: 3,
        })
        .await
        .unwrap()
        .into_inner();
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.message().await.unwrap() {
        chunks.push((chunk.chunk_index, chunk.entries.len(), chunk.last));
    }
    assert_eq!(chunks, [(0, 3, false), (1, 1, true)]);

    let directory = &harness.emulator.state.directory;
    for title in ["Second", "Third"] {
        directory
            .modify_user(harness.tenant_id, people.alice, |user| {
                user.job_title = Some(title.into())
            })
            .unwrap();
        harness.take(v1::SourceFilter::default()).await;
    }
    let gone = reader
        .get_snapshot(v1::GetSnapshotRequest {
            snapshot_id: first.snapshot_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound);
    let malformed = reader
        .get_snapshot(v1::GetSnapshotRequest {
            snapshot_id: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), tonic::Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_keeps_scopes_snapshots_and_photos() {
    let Some(dsn) = galsync_testkit::harness::fresh_postgres_dsn(
        "the_postgres_store_keeps_scopes_snapshots_and_photos",
    )
    .await
    else {
        return;
    };
    let harness = Harness::start_with(StoreKind::Postgres(dsn), emulator_config(), |_| {}).await;
    let people = build(&harness);
    harness
        .emulator
        .state
        .directory
        .set_photo(
            harness.tenant_id,
            people.alice,
            axum::body::Bytes::from_static(b"photo"),
            "image/png",
        )
        .unwrap();
    let first = harness
        .take_request(v1::SourceFilter::default(), false, true)
        .await
        .unwrap();
    assert_eq!(first.entry_count, 4);
    let directory = &harness.emulator.state.directory;
    directory
        .delete_user(harness.tenant_id, people.bob)
        .unwrap();
    let second = harness
        .take_request(v1::SourceFilter::default(), false, true)
        .await
        .unwrap();
    assert_eq!(second.read_stats.clone().unwrap().mode, "delta");
    let diff = harness.diff(&first.snapshot_id, &second.snapshot_id).await;
    assert_eq!(diff.removed_ids, [people.bob.to_string()]);
    let alice = harness
        .entries(&second.snapshot_id)
        .await
        .into_iter()
        .find(|entry| entry.source_object_id == people.alice.to_string())
        .unwrap();
    let mut reader = harness.reader().await;
    let photo = reader
        .get_photo(v1::GetPhotoRequest {
            photo_hash: alice.photo_hash,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(photo.data, b"photo");
}
