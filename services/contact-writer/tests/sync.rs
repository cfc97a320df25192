//! Done-when tests of the writer against the emulator, with real tokens.

mod common;

use common::{directory, no_limits, settings, Harness, FOLDER};
use galsync_graph_emulator::FaultRule;
use galsync_proto::v1;
use serde_json::json;

fn policy() -> v1::WritePolicy {
    v1::WritePolicy::default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_users_into_twenty_mailboxes_then_only_what_changed() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailboxes = harness.add_mailboxes(20);
    let mut entries = directory(500);
    let first = &mailboxes[0];
    // A contact the user keeps by hand in the default Contacts folder.
    let own_default = harness
        .emulator
        .state
        .mailboxes
        .user_create_contact(
            harness.tenant_id,
            first,
            None,
            json!({"displayName": "Mum", "mobilePhone": "+1 555 0100"}),
        )
        .unwrap();

    let mut syncs = Vec::new();
    for mailbox in &mailboxes {
        syncs.push(harness.sync(mailbox, &entries, policy()));
    }
    for report in futures::future::join_all(syncs).await {
        let counts = report.result.counts.unwrap();
        assert_eq!(
            report.result.outcome,
            v1::MailboxOutcome::Succeeded as i32,
            "{:?}",
            report.result.errors
        );
        assert_eq!(counts.created, 500);
    }
    let creates = harness.emulator.state.accounting.total(|key| {
        key.method == "POST"
            && key.endpoint.ends_with("/contacts")
            && key.batched
            && key.status == 201
    });
    assert_eq!(creates, 500 * 20, "creates counted by the emulator");
    for mailbox in &mailboxes {
        let owned = harness.owned_by_source(mailbox);
        assert_eq!(owned.len(), 500);
        assert!(
            owned.values().all(|contacts| contacts.len() == 1),
            "no duplicates"
        );
    }
    let sample = &harness.owned_by_source(first)[&entries[7].source_object_id][0];
    assert_eq!(sample["displayName"], "Person 0007");
    assert_eq!(sample["givenName"], "Person");
    assert_eq!(sample["surname"], "0007");
    assert_eq!(
        sample["emailAddresses"][0]["address"],
        "person7@contoso.example"
    );
    assert_eq!(sample["businessPhones"], json!(["+1 425 555 0007"]));
    assert_eq!(sample["mobilePhone"], "+1 206 555 0007");
    assert_eq!(sample["jobTitle"], "Engineer");
    assert_eq!(sample["department"], "Dept 0");
    assert_eq!(sample["companyName"], "Contoso");
    assert_eq!(sample["officeLocation"], "Building 1");
    assert_eq!(sample["manager"], "Boss");
    assert_eq!(sample["businessAddress"]["city"], "Redmond");
    assert_eq!(sample["businessAddress"]["postalCode"], "98052");

    // A contact the user adds by hand in the galsync folder.
    let folder_id = harness.folder_ids(first)[0].clone();
    let by_hand = harness
        .emulator
        .state
        .mailboxes
        .user_create_contact(
            harness.tenant_id,
            first,
            Some(&folder_id),
            json!({"displayName": "Plumber", "businessPhones": ["+1 555 0199"]}),
        )
        .unwrap();

    // Re-run with no changes: zero writes.
    let writes_before = harness.all_contact_writes();
    for mailbox in &mailboxes {
        let report = harness.sync(mailbox, &entries, policy()).await;
        assert_eq!(report.result.counts.unwrap().unchanged, 500);
    }
    assert_eq!(
        harness.all_contact_writes(),
        writes_before,
        "a no-op resync writes nothing"
    );

    // One phone changed: exactly one PATCH per mailbox.
    entries[3].mobile_phone = "+1 206 555 9999".to_owned();
    let patches_before = harness.contact_writes("PATCH");
    for mailbox in &mailboxes {
        let counts = harness
            .sync(mailbox, &entries, policy())
            .await
            .result
            .counts
            .unwrap();
        assert_eq!((counts.updated, counts.created, counts.deleted), (1, 0, 0));
    }
    assert_eq!(harness.contact_writes("PATCH") - patches_before, 20);
    assert_eq!(
        harness.owned_by_source(first)[&entries[3].source_object_id][0]["mobilePhone"],
        "+1 206 555 9999"
    );

    // A field emptied in the source: cleared in the contact.
    entries[4].job_title.clear();
    entries[4].business_phones.clear();
    harness.sync(first, &entries, policy()).await;
    let cleared = &harness.owned_by_source(first)[&entries[4].source_object_id][0];
    assert!(cleared["jobTitle"].is_null(), "{cleared}");
    assert_eq!(cleared["businessPhones"], json!([]));
    assert_eq!(cleared["displayName"], "Person 0004");

    // A user deleted: one DELETE per mailbox.
    let removed = entries.remove(10);
    let deletes_before = harness.contact_writes("DELETE");
    for mailbox in &mailboxes {
        let counts = harness
            .sync(mailbox, &entries, policy())
            .await
            .result
            .counts
            .unwrap();
        assert_eq!(counts.deleted, 1);
    }
    assert_eq!(harness.contact_writes("DELETE") - deletes_before, 20);
    assert!(!harness
        .owned_by_source(first)
        .contains_key(&removed.source_object_id));

    // Hand-made contacts untouched, in the folder and in the default folder.
    let mailboxes_state = &harness.emulator.state.mailboxes;
    let plumber = mailboxes_state
        .contact(harness.tenant_id, first, by_hand["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(plumber["changeKey"], by_hand["changeKey"]);
    let mum = mailboxes_state
        .contact(
            harness.tenant_id,
            first,
            own_default["id"].as_str().unwrap(),
        )
        .unwrap();
    assert_eq!(mum["changeKey"], own_default["changeKey"]);
    assert_eq!(harness.folder_contacts(first).len(), 499 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_applied_before_the_connection_dropped_is_not_duplicated() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let entries = directory(45);
    harness.emulator.state.faults.add(FaultRule {
        path_contains: Some("/contacts".to_owned()),
        method: Some("POST".to_owned()),
        nth: Some(25),
        abort_after_apply: true,
        ..Default::default()
    });
    let report = harness.sync(&mailbox, &entries, policy()).await;
    assert_eq!(
        report.result.outcome,
        v1::MailboxOutcome::Succeeded as i32,
        "{:?}",
        report.result.errors
    );
    let owned = harness.owned_by_source(&mailbox);
    assert_eq!(owned.len(), 45);
    assert!(
        owned.values().all(|contacts| contacts.len() == 1),
        "a duplicate was created"
    );
    let fired: u64 = harness
        .emulator
        .state
        .faults
        .list()
        .iter()
        .map(|rule| rule.fired)
        .sum();
    assert_eq!(fired, 1, "the fault fired");

    // A writer that died mid-run (state uncertain) rebuilds before writing.
    let mut restarted = harness;
    restarted.restart_engine(settings()).await;
    restarted
        .engine
        .store
        .mark_uncertain("profile-1", &mailbox, &restarted.folder_ids(&mailbox)[0])
        .await
        .unwrap();
    let writes_before = restarted.all_contact_writes();
    let report = restarted.sync(&mailbox, &entries, policy()).await;
    assert_eq!(report.result.counts.unwrap().unchanged, 45);
    assert_eq!(restarted.all_contact_writes(), writes_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_up_graph_refuses_for_good_fails_the_mailbox_for_good() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let entries = directory(45);
    // A create whose answer is lost must be looked up before it is made
    // again; Graph refuses the look-up as malformed.
    harness.emulator.state.faults.add(FaultRule {
        path_contains: Some("/contacts".to_owned()),
        method: Some("POST".to_owned()),
        nth: Some(25),
        abort_after_apply: true,
        ..Default::default()
    });
    harness.emulator.state.faults.add(FaultRule {
        path_contains: Some("/contacts".to_owned()),
        method: Some("GET".to_owned()),
        status: Some(400),
        ..Default::default()
    });
    let job = harness.job(&mailbox, policy());
    let error = galsync_contact_writer::reconcile::reconcile(
        &harness.engine,
        &job,
        &entries,
        &galsync_contact_writer::snapshot::PhotoMap::new(),
    )
    .await
    .expect_err("the look-up is refused");
    assert!(!error.is_retryable(), "{error}");
    let reason = error.plain_words();
    assert!(
        reason.contains("400 invalidRequest") && reason.contains("retrying cannot fix this"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_thirty_percent_holds_the_deletes_for_approval() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let entries = directory(300);
    harness.sync(&mailbox, &entries, policy()).await;
    let remaining = &entries[90..];
    let report = harness.sync(&mailbox, remaining, policy()).await;
    assert_eq!(
        report.result.outcome,
        v1::MailboxOutcome::AwaitingApproval as i32
    );
    assert_eq!(report.result.counts.unwrap().deletes_awaiting_approval, 90);
    // The held contacts are reported, so whoever approves sees which.
    let held = report.plan.as_ref().expect("the held deletes are listed");
    assert!(held.held_deletes_only);
    assert_eq!(held.changes.len(), 90);
    let disabled: std::collections::BTreeSet<&str> = entries[..90]
        .iter()
        .map(|entry| entry.source_object_id.as_str())
        .collect();
    let listed: std::collections::BTreeSet<&str> = held
        .changes
        .iter()
        .map(|change| change.source_object_id.as_str())
        .collect();
    assert_eq!(listed, disabled);
    assert!(held
        .changes
        .iter()
        .all(|change| change.action == v1::planned_change::Action::Delete as i32));
    assert_eq!(
        harness.owned_by_source(&mailbox).len(),
        300,
        "contacts stay in place"
    );

    let approved = v1::WritePolicy {
        deletions_approved: true,
        ..policy()
    };
    let report = harness.sync(&mailbox, remaining, approved).await;
    assert_eq!(report.result.counts.unwrap().deleted, 90);
    assert_eq!(harness.owned_by_source(&mailbox).len(), 210);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_behind_an_access_policy_fails_alone() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailboxes = harness.add_mailboxes(2);
    harness
        .emulator
        .state
        .identity
        .set_exchange_scope(
            harness.tenant_id,
            &harness.client_id,
            Some(vec![mailboxes[1].clone()]),
        )
        .unwrap();
    let request = |mailbox: &str| v1::SyncMailboxRequest {
        tenant_id: harness.tenant_id.to_string(),
        mailbox_id: mailbox.to_owned(),
        snapshot_id: "snap-1".to_owned(),
        policy: Some(policy()),
        profile_id: "profile-1".to_owned(),
        purge: false,
    };
    harness
        .reader
        .snapshots
        .lock()
        .unwrap()
        .insert("snap-1".to_owned(), directory(30));
    let blocked =
        galsync_contact_writer::sync::run_request(&harness.engine, &request(&mailboxes[0]), false)
            .await
            .unwrap();
    assert_eq!(blocked.result.outcome, v1::MailboxOutcome::Failed as i32);
    assert_eq!(blocked.result.errors.len(), 1);
    let reason = &blocked.result.errors[0];
    assert!(
        reason.starts_with("blocked by an Exchange application access policy")
            && reason.contains("add the mailbox to the app's scope"),
        "the reason and its fix: {reason}"
    );
    let blocked_requests = harness
        .emulator
        .state
        .accounting
        .total(|key| key.mailbox == mailboxes[0]);
    assert_eq!(
        blocked_requests, 1,
        "a fresh token cannot help: one request"
    );
    let allowed =
        galsync_contact_writer::sync::run_request(&harness.engine, &request(&mailboxes[1]), false)
            .await
            .unwrap();
    assert_eq!(allowed.result.outcome, v1::MailboxOutcome::Succeeded as i32);
    assert_eq!(harness.owned_by_source(&mailboxes[1]).len(), 30);
    assert_eq!(
        *harness.reader.streams.lock().unwrap(),
        1,
        "the snapshot is fetched once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reports_field_changes_and_writes_nothing() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let mut entries = directory(20);
    let mut job = harness.job(&mailbox, policy());
    job.dry_run = true;
    let photos = galsync_contact_writer::snapshot::PhotoMap::new();
    let plan =
        galsync_contact_writer::reconcile::reconcile(&harness.engine, &job, &entries, &photos)
            .await
            .unwrap()
            .plan
            .unwrap();
    assert_eq!(plan.counts.unwrap().created, 20);
    assert!(
        harness.folder_ids(&mailbox).is_empty(),
        "a dry run creates no folder"
    );

    harness.sync(&mailbox, &entries, policy()).await;
    entries[2].department = "Research".to_owned();
    let writes_before = harness.all_contact_writes();
    let plan =
        galsync_contact_writer::reconcile::reconcile(&harness.engine, &job, &entries, &photos)
            .await
            .unwrap()
            .plan
            .unwrap();
    assert_eq!(harness.all_contact_writes(), writes_before);
    assert_eq!(plan.changes.len(), 1);
    let change = &plan.changes[0].changes[0];
    assert_eq!(
        (
            change.field.as_str(),
            change.old_value.as_str(),
            change.new_value.as_str()
        ),
        ("department", "Dept 2", "Research")
    );
    let _ = FOLDER;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_keeps_state_across_runs() {
    let Some(dsn) =
        galsync_testkit::harness::fresh_postgres_dsn("the_postgres_store_keeps_state_across_runs")
            .await
    else {
        return;
    };
    let harness = Harness::start_with_store(no_limits(), settings(), Some(dsn)).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let mut entries = directory(40);
    assert_eq!(
        harness
            .sync(&mailbox, &entries, policy())
            .await
            .result
            .counts
            .unwrap()
            .created,
        40
    );
    entries[0].mobile_phone = "+1 206 555 1234".to_owned();
    let writes_before = harness.all_contact_writes();
    let counts = harness
        .sync(&mailbox, &entries, policy())
        .await
        .result
        .counts
        .unwrap();
    assert_eq!((counts.updated, counts.unchanged), (1, 39));
    assert_eq!(harness.all_contact_writes() - writes_before, 1);
}
