//! What users do to the galsync folder between syncs, and purge: a renamed
//! folder gets its name back, a deleted folder is rebuilt, a contact the user
//! edited or deleted is restored by the repair pass, and purge removes only
//! galsync's contacts.

mod common;

use common::{directory, no_limits, settings, Harness, FOLDER};
use galsync_proto::v1;
use serde_json::json;

fn policy() -> v1::WritePolicy {
    v1::WritePolicy::default()
}

/// A contact the user put into the galsync folder by hand (not galsync's).
fn add_plumber(harness: &Harness, mailbox: &str, folder_id: &str) {
    harness
        .emulator
        .state
        .mailboxes
        .user_create_contact(
            harness.tenant_id,
            mailbox,
            Some(folder_id),
            json!({"displayName": "Plumber"}),
        )
        .unwrap();
}

fn succeeded(report: &galsync_contact_writer::reconcile::Report) {
    assert_eq!(
        report.result.outcome,
        v1::MailboxOutcome::Succeeded as i32,
        "{:?}",
        report.result.errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_or_deleted_folder_is_restored_without_duplicates() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let entries = directory(30);
    succeeded(&harness.sync(&mailbox, &entries, policy()).await);
    let folder_id = harness.folder_ids(&mailbox).remove(0);

    // The user renames the folder on the phone.
    harness
        .emulator
        .state
        .mailboxes
        .user_rename_folder(harness.tenant_id, &mailbox, &folder_id, "My colleagues")
        .unwrap();
    succeeded(&harness.sync(&mailbox, &entries, policy()).await);
    assert_eq!(
        harness.folder_ids(&mailbox),
        vec![folder_id.clone()],
        "the same folder, named back"
    );
    let owned = harness.owned_by_source(&mailbox);
    assert_eq!(owned.len(), 30);
    assert!(owned.values().all(|contacts| contacts.len() == 1));

    // The user deletes the folder: the next sync rebuilds it whole.
    harness
        .emulator
        .state
        .mailboxes
        .user_delete_folder(harness.tenant_id, &mailbox, &folder_id)
        .unwrap();
    succeeded(&harness.sync(&mailbox, &entries, policy()).await);
    let folders = harness.folder_ids(&mailbox);
    assert_eq!(folders.len(), 1);
    let owned = harness.owned_by_source(&mailbox);
    assert_eq!(owned.len(), 30, "every contact is back");
    assert!(owned.values().all(|contacts| contacts.len() == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_lost_its_store_finds_its_contacts_without_duplicating_them() {
    let mut harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let entries = directory(30);
    succeeded(&harness.sync(&mailbox, &entries, policy()).await);
    assert_eq!(harness.single_contact_reads(), 0);

    // The writer's store is gone. The folder listing filters on the
    // ownership property (a collection is never expanded with it), and the
    // owned contacts the new store does not know are read once each.
    harness.restart_with_empty_store(settings()).await;
    let report = harness.sync(&mailbox, &entries, policy()).await;
    succeeded(&report);
    let counts = report.result.counts.unwrap_or_default();
    assert_eq!((counts.created, counts.unchanged), (0, 30), "{counts:?}");
    let owned = harness.owned_by_source(&mailbox);
    assert_eq!(owned.len(), 30);
    assert!(owned.values().all(|contacts| contacts.len() == 1));
    assert_eq!(harness.single_contact_reads(), 30);

    // The rebuilt store knows every contact again: a run that lists the
    // folder (a dry run does) reads none of them one by one.
    let mut dry_run = harness.job(&mailbox, policy());
    dry_run.dry_run = true;
    let photos = galsync_contact_writer::snapshot::PhotoMap::new();
    let plan =
        galsync_contact_writer::reconcile::reconcile(&harness.engine, &dry_run, &entries, &photos)
            .await
            .unwrap()
            .plan
            .unwrap();
    assert_eq!(plan.counts.unwrap_or_default().unchanged, 30);
    assert_eq!(harness.single_contact_reads(), 30);
}

/// HTTP requests one reconciliation sent (a `$batch` is one).
fn requests(report: &galsync_contact_writer::reconcile::Report) -> u64 {
    report.result.counts.unwrap_or_default().graph_requests
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repair_pass_restores_contacts_a_user_edited_or_deleted() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let entries = directory(450);
    let repair = v1::WritePolicy {
        repair: true,
        ..policy()
    };
    // First run: the folder is created, so it is known to be empty: no
    // listing, no delta, straight to creates. Folder look-up + folder create
    // + 24 chained batches of 18 or 19 creates (4 lanes of 6).
    let first = harness.sync(&mailbox, &entries, repair.clone()).await;
    succeeded(&first);
    assert_eq!(harness.contact_reads(), 0, "a new folder is not read back");
    assert_eq!(requests(&first), 2 + 24);

    let contacts = harness.folder_contacts(&mailbox);
    let edited_id = contacts[0]["id"].as_str().unwrap().to_owned();
    let edited_name = contacts[0]["displayName"].as_str().unwrap().to_owned();
    let deleted_id = contacts[1]["id"].as_str().unwrap().to_owned();
    harness
        .emulator
        .state
        .mailboxes
        .user_update_contact(
            harness.tenant_id,
            &mailbox,
            &edited_id,
            json!({"displayName": "Changed on my phone"}),
        )
        .unwrap();
    harness
        .emulator
        .state
        .mailboxes
        .user_delete_contact(harness.tenant_id, &mailbox, &deleted_id)
        .unwrap();

    // Repair run: folder check ($batch) + the folder's 449 contacts through
    // delta in pages of 200 (3 GETs, `$select` only, which the emulator
    // holds to contact-delta) + one $batch restoring the edit and the delete.
    harness.emulator.state.accounting.reset();
    let repaired = harness.sync(&mailbox, &entries, repair.clone()).await;
    succeeded(&repaired);
    let counts = repaired.result.counts.unwrap();
    assert_eq!((counts.updated, counts.created, counts.deleted), (1, 1, 0));
    assert_eq!(harness.delta_pages(200), 3, "449 contacts in pages of 200");
    assert_eq!(
        harness.delta_pages(400),
        0,
        "no query contact-delta refuses"
    );
    assert_eq!(requests(&repaired), 1 + 3 + 1);
    let owned = harness.owned_by_source(&mailbox);
    assert_eq!(owned.len(), 450, "the deleted contact is back");
    assert!(owned.values().all(|contacts| contacts.len() == 1));
    let restored = harness
        .folder_contacts(&mailbox)
        .into_iter()
        .find(|contact| contact["id"].as_str() == Some(edited_id.as_str()))
        .expect("the edited contact is still there");
    assert_eq!(
        restored["displayName"].as_str(),
        Some(edited_name.as_str()),
        "the edit is undone"
    );

    // Nothing changed since: folder check + one delta page (it holds the
    // two contacts the repair wrote after its round began), no writes.
    harness.emulator.state.accounting.reset();
    let quiet = harness.sync(&mailbox, &entries, repair).await;
    succeeded(&quiet);
    assert_eq!(harness.all_contact_writes(), 0);
    assert_eq!(harness.delta_pages(200), 1);
    assert_eq!(requests(&quiet), 2);

    // Without repair, a run where nothing changed is the folder check and,
    // in the same `$batch`, the count of galsync's contacts: one call.
    harness.emulator.state.accounting.reset();
    let no_op = harness.sync(&mailbox, &entries, policy()).await;
    succeeded(&no_op);
    assert_eq!(
        harness.contact_reads(),
        1,
        "the count probe, no folder listing"
    );
    assert_eq!(requests(&no_op), 1);
}

/// A purge (here one that names no profile) that removes profile-1's
/// contacts behind its back.
async fn purge_naming_no_profile(harness: &Harness, mailbox: &str) -> v1::MailboxSyncResult {
    harness.purge(mailbox, "").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_naming_no_profile_leaves_no_profile_trusting_its_rows() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let entries = directory(25);
    succeeded(&harness.sync(&mailbox, &entries, policy()).await);
    let folder_id = harness.folder_ids(&mailbox).remove(0);
    // The user's own contact keeps the folder (and its id) through the purge.
    add_plumber(&harness, &mailbox, &folder_id);
    let purged = purge_naming_no_profile(&harness, &mailbox).await;
    assert_eq!(purged.counts.unwrap_or_default().deleted, 25);
    assert_eq!(harness.folder_ids(&mailbox), vec![folder_id]);
    let profile_state = harness
        .engine
        .store
        .mailbox_state("profile-1", &mailbox)
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        !profile_state.state_valid,
        "profile-1 no longer trusts its rows"
    );

    let after = harness.sync(&mailbox, &entries, policy()).await;
    succeeded(&after);
    let counts = after.result.counts.unwrap_or_default();
    assert_eq!((counts.created, counts.unchanged), (25, 0), "{counts:?}");
    assert_eq!(harness.owned_by_source(&mailbox).len(), 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_deleted_behind_galsyncs_back_are_noticed_without_repair() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let entries = directory(25);
    succeeded(&harness.sync(&mailbox, &entries, policy()).await);
    let folder_id = harness.folder_ids(&mailbox).remove(0);
    // A contact of the user's own, then 7 of galsync's deleted by another
    // client: nothing tells this writer's store.
    add_plumber(&harness, &mailbox, &folder_id);
    let owned: Vec<String> = harness
        .owned_by_source(&mailbox)
        .values()
        .flatten()
        .filter_map(|contact| contact["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(owned.len(), 25);
    for contact_id in owned.iter().take(7) {
        harness
            .emulator
            .state
            .mailboxes
            .user_delete_contact(harness.tenant_id, &mailbox, contact_id)
            .unwrap();
    }

    let after = harness.sync(&mailbox, &entries, policy()).await;
    succeeded(&after);
    let counts = after.result.counts.unwrap_or_default();
    assert_eq!((counts.created, counts.unchanged), (7, 18), "{counts:?}");
    let restored = harness.owned_by_source(&mailbox);
    assert_eq!(restored.len(), 25);
    assert!(restored.values().all(|contacts| contacts.len() == 1));
    assert_eq!(
        harness.folder_contacts(&mailbox).len(),
        26,
        "the plumber stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_removes_only_galsync_contacts() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    succeeded(&harness.sync(&mailbox, &directory(15), policy()).await);
    let folder_id = harness.folder_ids(&mailbox).remove(0);
    // A contact the user put into the galsync folder by hand.
    add_plumber(&harness, &mailbox, &folder_id);

    let result = harness.purge(&mailbox, "profile-1").await;
    assert_eq!(result.counts.unwrap().deleted, 15);
    assert!(
        harness.owned_by_source(&mailbox).is_empty(),
        "no galsync contact left"
    );
    let left = harness.folder_contacts(&mailbox);
    assert_eq!(
        left.len(),
        1,
        "the user's own contact stays, and so does its folder"
    );
    assert_eq!(left[0]["displayName"].as_str(), Some("Plumber"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_are_written_once_and_again_only_when_they_change() {
    use galsync_contact_writer::snapshot::{PhotoBytes, PhotoMap};
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let mut entries = directory(3);
    entries[0].photo_hash = "photo-a".to_owned();
    let mut photos = PhotoMap::new();
    let first_photo = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
    photos.insert(
        "photo-a".to_owned(),
        PhotoBytes {
            content_type: "image/jpeg".to_owned(),
            data: first_photo.clone(),
        },
    );
    let job = harness.job(
        &mailbox,
        v1::WritePolicy {
            write_photos: true,
            ..policy()
        },
    );
    let photo_puts = || {
        harness
            .emulator
            .state
            .accounting
            .total(|key| key.method == "PUT" && key.endpoint.contains("/photo"))
    };
    let report =
        galsync_contact_writer::reconcile::reconcile(&harness.engine, &job, &entries, &photos)
            .await
            .unwrap();
    succeeded(&report);
    assert_eq!(photo_puts(), 1, "only the one person with a photo");

    let contact_id = harness
        .folder_contacts(&mailbox)
        .into_iter()
        .find(|contact| contact["displayName"].as_str() == Some(entries[0].display_name.as_str()))
        .and_then(|contact| contact["id"].as_str().map(str::to_owned))
        .unwrap();
    let token =
        harness
            .emulator
            .state
            .mint_token(harness.tenant_id, "photo-check", &["Contacts.Read"]);
    let stored = reqwest::Client::new()
        .get(format!(
            "{}/v1.0/users/{mailbox}/contacts/{contact_id}/photo/$value",
            harness.emulator.base_url()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);
    assert_eq!(stored.bytes().await.unwrap().to_vec(), first_photo);

    // Unchanged: no photo write. Changed: exactly one.
    galsync_contact_writer::reconcile::reconcile(&harness.engine, &job, &entries, &photos)
        .await
        .unwrap();
    assert_eq!(photo_puts(), 1);
    entries[0].photo_hash = "photo-b".to_owned();
    photos.insert(
        "photo-b".to_owned(),
        PhotoBytes {
            content_type: "image/jpeg".to_owned(),
            data: vec![0xFF, 0xD8, 0xFF, 0xE0, 9, 9],
        },
    );
    galsync_contact_writer::reconcile::reconcile(&harness.engine, &job, &entries, &photos)
        .await
        .unwrap();
    assert_eq!(photo_puts(), 2);

    // Removed at the source: Graph cannot delete a contact's photo, so the
    // contact is replaced by one without it, counted as one update.
    entries[0].photo_hash.clear();
    let report =
        galsync_contact_writer::reconcile::reconcile(&harness.engine, &job, &entries, &photos)
            .await
            .unwrap();
    succeeded(&report);
    let counts = report.result.counts.unwrap();
    assert_eq!((counts.created, counts.updated, counts.deleted), (0, 1, 0));
    let owned = harness.owned_by_source(&mailbox);
    let replaced = &owned[&entries[0].source_object_id];
    assert_eq!(replaced.len(), 1, "one contact for the person, not two");
    assert_eq!(replaced[0]["displayName"], entries[0].display_name.as_str());
    let replaced_id = replaced[0]["id"].as_str().unwrap();
    assert_ne!(replaced_id, contact_id);
    let photo = reqwest::Client::new()
        .get(format!(
            "{}/v1.0/users/{mailbox}/contacts/{replaced_id}/photo/$value",
            harness.emulator.base_url()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(photo.status(), 404, "the photo is gone");
    assert_eq!(photo_puts(), 2);
    let before = harness.all_contact_writes();
    let again =
        galsync_contact_writer::reconcile::reconcile(&harness.engine, &job, &entries, &photos)
            .await
            .unwrap();
    assert_eq!(again.result.counts.unwrap().unchanged, 3);
    assert_eq!(
        harness.all_contact_writes(),
        before,
        "and it stays replaced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adoption_claims_a_matching_contact_instead_of_duplicating_it() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let entries = directory(5);
    // Before galsync: a folder of the same name with a hand-made card of person 0.
    let folder = harness
        .emulator
        .state
        .mailboxes
        .user_create_folder(harness.tenant_id, &mailbox, None, FOLDER)
        .unwrap();
    harness
        .emulator
        .state
        .mailboxes
        .user_create_contact(
            harness.tenant_id,
            &mailbox,
            Some(&folder.id),
            json!({"displayName": "P. Zero", "emailAddresses": [{"address": entries[0].mail}]}),
        )
        .unwrap();
    let adopt = v1::WritePolicy {
        adopt_existing: true,
        ..policy()
    };
    succeeded(&harness.sync(&mailbox, &entries, adopt).await);
    let contacts = harness.folder_contacts(&mailbox);
    assert_eq!(
        contacts.len(),
        5,
        "the hand-made card was adopted, not duplicated"
    );
    let owned = harness.owned_by_source(&mailbox);
    assert_eq!(owned.len(), 5);
    let adopted = &owned[&entries[0].source_object_id][0];
    assert_eq!(
        adopted["displayName"].as_str(),
        Some(entries[0].display_name.as_str()),
        "now kept up to date"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_contact_the_user_deleted_is_recreated_when_its_person_changes() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let mut entries = directory(4);
    succeeded(&harness.sync(&mailbox, &entries, policy()).await);
    let gone = harness.owned_by_source(&mailbox)[&entries[2].source_object_id][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    harness
        .emulator
        .state
        .mailboxes
        .user_delete_contact(harness.tenant_id, &mailbox, &gone)
        .unwrap();
    // The stored state still knows the contact; the PATCH for the change hits 404.
    entries[2].job_title = "Principal Engineer".to_owned();
    succeeded(&harness.sync(&mailbox, &entries, policy()).await);
    let owned = harness.owned_by_source(&mailbox);
    assert_eq!(owned.len(), 4, "the person is back");
    let back = &owned[&entries[2].source_object_id];
    assert_eq!(back.len(), 1);
    assert_eq!(back[0]["jobTitle"].as_str(), Some("Principal Engineer"));
}

/// A reconciliation of `mailbox` for `profile_id`.
async fn sync_as(
    harness: &Harness,
    profile_id: &str,
    mailbox: &str,
    entries: &[v1::DirectoryEntry],
) -> galsync_contact_writer::reconcile::Report {
    let mut job = harness.job(mailbox, policy());
    job.profile_id = profile_id.to_owned();
    let photos = galsync_contact_writer::snapshot::PhotoMap::new();
    galsync_contact_writer::reconcile::reconcile(&harness.engine, &job, entries, &photos)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_profiles_writing_one_folder_never_delete_each_others_contacts() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let everyone = directory(40);
    let (first_half, second_half) = everyone.split_at(20);
    let sales = sync_as(&harness, "sales", &mailbox, first_half).await;
    succeeded(&sales);
    // Another profile writes the same folder with other people; its run
    // sees sales' contacts (they carry galsync's property) and must leave
    // them alone, whether its store knows them or not.
    let support = sync_as(&harness, "support", &mailbox, second_half).await;
    succeeded(&support);
    let counts = support.result.counts.unwrap_or_default();
    assert_eq!((counts.created, counts.deleted), (20, 0), "{counts:?}");
    assert_eq!(harness.owned_by_source(&mailbox).len(), 40);

    // sales' next run finds all of its 20, writes nothing.
    let again = sync_as(&harness, "sales", &mailbox, first_half).await;
    succeeded(&again);
    let counts = again.result.counts.unwrap_or_default();
    assert_eq!(
        (counts.created, counts.deleted, counts.unchanged),
        (0, 0, 20),
        "{counts:?}"
    );

    // Purging support from the mailbox takes only support's contacts.
    let purged = harness.purge(&mailbox, "support").await;
    assert_eq!(purged.counts.unwrap_or_default().deleted, 20);
    let left = harness.owned_by_source(&mailbox);
    assert_eq!(left.len(), 20);
    for entry in first_half {
        assert!(
            left.contains_key(&entry.source_object_id),
            "sales keeps {}",
            entry.source_object_id
        );
    }
    // And sales, its rows invalidated by the purge, still finds them all.
    let after_purge = sync_as(&harness, "sales", &mailbox, first_half).await;
    succeeded(&after_purge);
    let counts = after_purge.result.counts.unwrap_or_default();
    assert_eq!((counts.created, counts.unchanged), (0, 20), "{counts:?}");
}
