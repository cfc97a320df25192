//! The contact-writer's gRPC API over a real socket: SyncMailbox, PlanMailbox
//! and PurgeMailbox as a caller sees them, checked against the emulator's
//! mailboxes and request counts.

mod common;

use std::sync::Arc;

use common::{directory, no_limits, settings, Harness, FOLDER};
use galsync_contact_writer::engine::Engine;
use galsync_contact_writer::grpc::ContactWriterService;
use galsync_proto::v1;
use galsync_proto::v1::contact_writer_client::ContactWriterClient;
use galsync_proto::v1::contact_writer_server::ContactWriterServer;
use galsync_proto::v1::planned_change::Action;
use galsync_testkit::harness::serve_grpc;
use serde_json::json;
use tonic::transport::Channel;

const PROFILE: &str = "profile-1";

/// The scheduler's access as `galsync up --plaintext` gives it: callers on a
/// plaintext loopback connection are trusted.
fn plaintext_scheduler() -> galsync_platform::AllowedCallers {
    galsync_platform::AllowedCallers::new(["scheduler"], true)
}

/// Serves the writer on 127.0.0.1:0 and returns a client connected to it.
async fn serve(engine: Arc<Engine>) -> ContactWriterClient<Channel> {
    let service =
        ContactWriterServer::new(ContactWriterService::new(engine, plaintext_scheduler()));
    let addr = serve_grpc(tonic::service::Routes::new(service), None).await;
    ContactWriterClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

/// Makes `entries` available from the fake directory-reader as `snapshot_id`.
/// Snapshots are immutable (the writer caches them by id), so a changed
/// directory needs a new id.
fn publish(harness: &Harness, snapshot_id: &str, entries: Vec<v1::DirectoryEntry>) {
    harness
        .reader
        .snapshots
        .lock()
        .unwrap()
        .insert(snapshot_id.to_owned(), entries);
}

fn sync_request(harness: &Harness, mailbox_id: &str, snapshot_id: &str) -> v1::SyncMailboxRequest {
    v1::SyncMailboxRequest {
        tenant_id: harness.tenant_id.to_string(),
        mailbox_id: mailbox_id.to_owned(),
        snapshot_id: snapshot_id.to_owned(),
        policy: Some(v1::WritePolicy::default()),
        profile_id: PROFILE.to_owned(),
        purge: false,
    }
}

/// One fresh target mailbox, `entries` published as "snap-1", and a client
/// of the writer serving on a socket.
async fn start(
    entries: Vec<v1::DirectoryEntry>,
) -> (Harness, String, ContactWriterClient<Channel>) {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    publish(&harness, "snap-1", entries);
    let client = serve(Arc::clone(&harness.engine)).await;
    (harness, mailbox, client)
}

/// [`start`], then a successful SyncMailbox of "snap-1".
async fn synced(
    entries: Vec<v1::DirectoryEntry>,
) -> (Harness, String, ContactWriterClient<Channel>) {
    let (harness, mailbox, mut client) = start(entries).await;
    let result = client
        .sync_mailbox(sync_request(&harness, &mailbox, "snap-1"))
        .await
        .unwrap()
        .into_inner();
    assert_succeeded(&result);
    (harness, mailbox, client)
}

/// Every non-GET request the emulator saw against `mailbox_id` (contacts and
/// folders alike), whatever its status.
fn mailbox_writes(harness: &Harness, mailbox_id: &str) -> u64 {
    harness
        .emulator
        .state
        .accounting
        .total(|key| key.mailbox == mailbox_id && key.method != "GET")
}

fn assert_succeeded(result: &v1::MailboxSyncResult) {
    assert_eq!(
        result.outcome,
        v1::MailboxOutcome::Succeeded as i32,
        "{:?}",
        result.errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_mailbox_fills_a_fresh_mailbox_then_a_resync_writes_nothing() {
    let entries = directory(30);
    let (harness, mailbox, mut client) = start(entries.clone()).await;
    let first = client
        .sync_mailbox(sync_request(&harness, &mailbox, "snap-1"))
        .await
        .unwrap()
        .into_inner();
    assert_succeeded(&first);
    assert_eq!(first.mailbox_id, mailbox);
    let first_counts = first.counts.unwrap();
    assert_eq!(
        (
            first_counts.created,
            first_counts.updated,
            first_counts.deleted
        ),
        (30, 0, 0)
    );
    let owned = harness.owned_by_source(&mailbox);
    assert_eq!(owned.len(), 30);
    assert!(
        owned.values().all(|contacts| contacts.len() == 1),
        "no duplicates"
    );
    for entry in &entries {
        let contact = &owned[&entry.source_object_id][0];
        assert_eq!(contact["displayName"], entry.display_name.as_str());
    }
    assert_eq!(harness.folder_contacts(&mailbox).len(), 30);

    let writes_before = harness.all_contact_writes();
    let second = client
        .sync_mailbox(sync_request(&harness, &mailbox, "snap-1"))
        .await
        .unwrap()
        .into_inner();
    assert_succeeded(&second);
    let second_counts = second.counts.unwrap();
    assert_eq!(
        (
            second_counts.created,
            second_counts.updated,
            second_counts.deleted,
            second_counts.unchanged
        ),
        (0, 0, 0, 30)
    );
    assert_eq!(
        harness.all_contact_writes(),
        writes_before,
        "a no-op resync writes nothing"
    );
    assert_eq!(harness.owned_by_source(&mailbox).len(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_mailbox_names_each_change_and_writes_nothing() {
    let original = directory(30);
    let (harness, mailbox, mut client) = synced(original.clone()).await;

    // One phone changed, one user gone, one user joined.
    let mut changed = original.clone();
    changed[3].mobile_phone = "+1 206 555 9999".to_owned();
    let removed = changed.remove(5);
    let joined = directory(31).remove(30);
    changed.push(joined.clone());
    publish(&harness, "snap-2", changed);

    let contacts_before = harness.folder_contacts(&mailbox);
    let writes_before = mailbox_writes(&harness, &mailbox);
    assert!(writes_before >= 30, "the first sync's writes are counted");
    let plan = client
        .plan_mailbox(sync_request(&harness, &mailbox, "snap-2"))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(plan.mailbox_id, mailbox);
    let counts = plan.counts.unwrap();
    assert_eq!(
        (
            counts.created,
            counts.updated,
            counts.deleted,
            counts.unchanged
        ),
        (1, 1, 1, 28)
    );
    assert_eq!(plan.changes.len(), 3, "{:#?}", plan.changes);
    let of_action = |action: Action| -> Vec<&v1::PlannedChange> {
        plan.changes
            .iter()
            .filter(|change| change.action == action as i32)
            .collect()
    };

    let creates = of_action(Action::Create);
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0].source_object_id, joined.source_object_id);
    assert_eq!(creates[0].display_name, "Person 0030");
    let created_name = creates[0]
        .changes
        .iter()
        .find(|change| change.field == "displayName")
        .expect("a create lists the fields it sets");
    assert_eq!(
        (
            created_name.old_value.as_str(),
            created_name.new_value.as_str()
        ),
        ("", "Person 0030")
    );

    let updates = of_action(Action::Update);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].source_object_id, original[3].source_object_id);
    assert_eq!(updates[0].display_name, "Person 0003");
    assert_eq!(
        updates[0].changes,
        vec![v1::FieldChange {
            field: "mobilePhone".to_owned(),
            old_value: "+1 206 555 0003".to_owned(),
            new_value: "+1 206 555 9999".to_owned(),
        }],
        "only the changed field, old and new"
    );

    let deletes = of_action(Action::Delete);
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].source_object_id, removed.source_object_id);
    assert_eq!(deletes[0].display_name, "Person 0005");

    assert_eq!(
        mailbox_writes(&harness, &mailbox),
        writes_before,
        "a plan writes nothing"
    );
    assert_eq!(
        harness.folder_contacts(&mailbox),
        contacts_before,
        "the mailbox is unchanged"
    );

    // Syncing the same snapshot does what the plan said.
    let applied = client
        .sync_mailbox(sync_request(&harness, &mailbox, "snap-2"))
        .await
        .unwrap()
        .into_inner();
    assert_succeeded(&applied);
    let applied_counts = applied.counts.unwrap();
    assert_eq!(
        (
            applied_counts.created,
            applied_counts.updated,
            applied_counts.deleted,
            applied_counts.unchanged
        ),
        (1, 1, 1, 28)
    );
    let owned = harness.owned_by_source(&mailbox);
    assert_eq!(owned.len(), 30);
    assert!(owned.contains_key(&joined.source_object_id));
    assert!(!owned.contains_key(&removed.source_object_id));
    assert_eq!(
        owned[&original[3].source_object_id][0]["mobilePhone"],
        "+1 206 555 9999"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_mailbox_removes_galsync_contacts_and_folder_only() {
    let (harness, mailbox, mut client) = synced(directory(30)).await;
    assert_eq!(harness.owned_by_source(&mailbox).len(), 30);
    // A contact the user keeps by hand in the default Contacts folder.
    let mailboxes_state = &harness.emulator.state.mailboxes;
    let own_default = mailboxes_state
        .user_create_contact(
            harness.tenant_id,
            &mailbox,
            None,
            json!({"displayName": "Mum", "mobilePhone": "+1 555 0100"}),
        )
        .unwrap();
    let default_folder_id = mailboxes_state.default_folder_id(harness.tenant_id, &mailbox);

    let deletes_before = harness.contact_writes("DELETE");
    let purged = client
        .purge_mailbox(v1::PurgeMailboxRequest {
            tenant_id: harness.tenant_id.to_string(),
            mailbox_id: mailbox.clone(),
            folder_name: FOLDER.to_owned(),
            profile_id: PROFILE.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();

    assert_succeeded(&purged);
    assert_eq!(purged.mailbox_id, mailbox);
    let counts = purged.counts.unwrap();
    assert_eq!((counts.deleted, counts.failed), (30, 0));
    assert_eq!(harness.contact_writes("DELETE") - deletes_before, 30);
    assert!(
        harness.folder_ids(&mailbox).is_empty(),
        "the galsync folder is gone"
    );
    let mum = mailboxes_state
        .contact(
            harness.tenant_id,
            &mailbox,
            own_default["id"].as_str().unwrap(),
        )
        .unwrap();
    assert_eq!(mum["changeKey"], own_default["changeKey"]);
    assert_eq!(mum["displayName"], "Mum");
    assert_eq!(
        mailboxes_state.contact_count(harness.tenant_id, &mailbox, &default_folder_id),
        1,
        "the default folder holds only the user's own contact"
    );

    // The writer forgot the mailbox: a later sync starts from scratch.
    let again = client
        .sync_mailbox(sync_request(&harness, &mailbox, "snap-1"))
        .await
        .unwrap()
        .into_inner();
    assert_succeeded(&again);
    assert_eq!(again.counts.unwrap().created, 30);
    assert_eq!(harness.owned_by_source(&mailbox).len(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_status_a_caller_can_act_on() {
    let (harness, mailbox, mut client) = start(directory(5)).await;

    let no_mailbox = client
        .sync_mailbox(sync_request(&harness, "", "snap-1"))
        .await
        .unwrap_err();
    assert_eq!(no_mailbox.code(), tonic::Code::InvalidArgument);
    assert!(
        no_mailbox.message().contains("mailbox_id"),
        "{}",
        no_mailbox.message()
    );

    let no_mailbox_plan = client
        .plan_mailbox(sync_request(&harness, "", "snap-1"))
        .await
        .unwrap_err();
    assert_eq!(no_mailbox_plan.code(), tonic::Code::InvalidArgument);
    assert!(no_mailbox_plan.message().contains("mailbox_id"));

    let no_mailbox_purge = client
        .purge_mailbox(v1::PurgeMailboxRequest {
            tenant_id: harness.tenant_id.to_string(),
            mailbox_id: String::new(),
            folder_name: FOLDER.to_owned(),
            profile_id: PROFILE.to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(no_mailbox_purge.code(), tonic::Code::InvalidArgument);
    assert!(no_mailbox_purge.message().contains("mailbox_id"));

    // Ids that would make Graph see another request never reach it.
    for hostile in [
        "x?$top=1",
        "../../users/other",
        "alice@contoso.example/contactFolders",
    ] {
        let sync = client
            .sync_mailbox(sync_request(&harness, hostile, "snap-1"))
            .await
            .unwrap_err();
        assert_eq!(sync.code(), tonic::Code::InvalidArgument, "{hostile}");
        assert!(
            sync.message().contains("invalid mailbox_id"),
            "{}",
            sync.message()
        );
        let purge = client
            .purge_mailbox(v1::PurgeMailboxRequest {
                tenant_id: harness.tenant_id.to_string(),
                mailbox_id: hostile.to_owned(),
                folder_name: FOLDER.to_owned(),
                profile_id: PROFILE.to_owned(),
            })
            .await
            .unwrap_err();
        assert_eq!(purge.code(), tonic::Code::InvalidArgument, "{hostile}");
    }
    assert_eq!(
        harness
            .emulator
            .state
            .accounting
            .total(|key| key.endpoint.starts_with("/users/")),
        0,
        "no hostile id reached graph"
    );

    let unknown_snapshot = client
        .sync_mailbox(sync_request(&harness, &mailbox, "snap-missing"))
        .await
        .unwrap_err();
    assert_eq!(unknown_snapshot.code(), tonic::Code::NotFound);
    assert!(
        unknown_snapshot.message().contains("snap-missing"),
        "{}",
        unknown_snapshot.message()
    );

    assert_eq!(
        mailbox_writes(&harness, &mailbox),
        0,
        "a rejected request touches no mailbox"
    );
    assert!(harness.folder_ids(&mailbox).is_empty());
}
