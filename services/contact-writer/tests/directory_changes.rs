//! The writer's half of issue 11 points 1 and 2: the directory-reader turns a
//! new manager, or one changed property of ten users, into entries that
//! differ in exactly that field (services/directory-reader/tests/delta_contract.rs);
//! here such entries become exactly one PATCH per changed contact per mailbox,
//! touching that field only, and no delete.

mod common;

use common::{directory, no_limits, settings, Harness};
use galsync_proto::v1;

const MAILBOXES: usize = 4;

async fn sync_all(
    harness: &Harness,
    mailboxes: &[String],
    entries: &[v1::DirectoryEntry],
) -> Vec<v1::SyncCounts> {
    let mut all_counts = Vec::new();
    for mailbox in mailboxes {
        let report = harness
            .sync(mailbox, entries, v1::WritePolicy::default())
            .await;
        assert_eq!(
            report.result.outcome,
            v1::MailboxOutcome::Succeeded as i32,
            "{:?}",
            report.result.errors
        );
        all_counts.push(report.result.counts.expect("counts"));
    }
    all_counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_manager_patches_that_contacts_manager_in_every_mailbox_only() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailboxes = harness.add_mailboxes(MAILBOXES);
    let mut entries = directory(40);
    sync_all(&harness, &mailboxes, &entries).await;
    let before: Vec<_> = mailboxes
        .iter()
        .map(|mailbox| harness.owned_by_source(mailbox))
        .collect();

    entries[5].manager_display_name = "Nora Newboss".to_owned();
    let patches_before = harness.contact_writes("PATCH");
    let writes_before = harness.all_contact_writes();
    for counts in sync_all(&harness, &mailboxes, &entries).await {
        assert_eq!((counts.updated, counts.created, counts.deleted), (1, 0, 0));
    }
    assert_eq!(
        harness.contact_writes("PATCH") - patches_before,
        MAILBOXES as u64
    );
    assert_eq!(
        harness.all_contact_writes() - writes_before,
        MAILBOXES as u64
    );
    let changed_id = &entries[5].source_object_id;
    for (mailbox, old) in mailboxes.iter().zip(&before) {
        let now = harness.owned_by_source(mailbox);
        for (source_id, contacts) in &now {
            let mut expected = old[source_id][0].clone();
            if source_id == changed_id {
                assert_eq!(contacts[0]["manager"], "Nora Newboss");
                expected["manager"] = contacts[0]["manager"].clone();
            }
            for field in [
                "displayName",
                "manager",
                "mobilePhone",
                "jobTitle",
                "emailAddresses",
            ] {
                assert_eq!(contacts[0][field], expected[field], "{source_id} {field}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_changed_field_of_ten_users_is_ten_patches_per_mailbox_and_no_delete() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailboxes = harness.add_mailboxes(MAILBOXES);
    let mut entries = directory(40);
    sync_all(&harness, &mailboxes, &entries).await;
    for entry in entries.iter_mut().take(10) {
        entry.mobile_phone = "+47 400 00 000".to_owned();
    }
    let patches_before = harness.contact_writes("PATCH");
    let deletes_before = harness.contact_writes("DELETE");
    for counts in sync_all(&harness, &mailboxes, &entries).await {
        assert_eq!((counts.updated, counts.created, counts.deleted), (10, 0, 0));
        assert_eq!(counts.unchanged, 30);
    }
    assert_eq!(
        harness.contact_writes("PATCH") - patches_before,
        10 * MAILBOXES as u64
    );
    assert_eq!(harness.contact_writes("DELETE") - deletes_before, 0);
    for mailbox in &mailboxes {
        let contacts = harness.owned_by_source(mailbox);
        for entry in &entries {
            let contact = &contacts[&entry.source_object_id][0];
            assert_eq!(contact["mobilePhone"], entry.mobile_phone.as_str());
            assert_eq!(contact["displayName"], entry.display_name.as_str());
        }
    }
}
