//! Nobody but the scheduler and the writers reads the directory: a
//! `monitoring` certificate of the same internal CA (and the `cli` admin's)
//! gets PERMISSION_DENIED, naming it and the RPC, instead of a snapshot's
//! entries; a writer reads snapshots but cannot make the reader read Graph.

mod common;

use common::Harness;
use galsync_graph_emulator::seeding::SeedOptions;
use galsync_proto::v1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_scheduler_and_writers_read_snapshots() {
    let harness = Harness::start().await;
    harness.seed(SeedOptions {
        users: 120,
        groups: false,
        ..SeedOptions::default()
    });
    let snapshot = harness.take(v1::SourceFilter::default()).await;
    assert!(snapshot.entry_count > 100, "{snapshot:?}");
    let stream_request = || v1::StreamSnapshotRequest {
        snapshot_id: snapshot.snapshot_id.clone(),
        chunk_size: 0,
    };

    for identity in ["monitoring", "cli", "auth-broker"] {
        let refused = harness
            .reader_as(identity)
            .await
            .stream_snapshot(stream_request())
            .await
            .map(|_| ())
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert_eq!(
            refused.message(),
            format!(
                "urn:galsync:service:{identity} may not call galsync.v1.DirectoryReader/StreamSnapshot; \
                 only contact-writer, scheduler may"
            )
        );
    }

    // A writer fetches the whole snapshot...
    let mut writer = harness.reader_as("contact-writer").await;
    let mut stream = writer
        .stream_snapshot(stream_request())
        .await
        .unwrap()
        .into_inner();
    let mut entries = 0;
    while let Some(chunk) = stream.message().await.unwrap() {
        entries += chunk.entries.len() as u64;
    }
    assert_eq!(entries, snapshot.entry_count);

    // ...but cannot make the reader read Graph or list target mailboxes.
    let list_requests_before = harness.requests_to("/users");
    let refused = writer
        .take_snapshot(v1::TakeSnapshotRequest {
            tenant_id: harness.tenant_id.to_string(),
            force_full_read: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert!(
        refused
            .message()
            .contains("galsync.v1.DirectoryReader/TakeSnapshot; only scheduler may"),
        "{}",
        refused.message()
    );
    assert_eq!(harness.requests_to("/users"), list_requests_before);
}
