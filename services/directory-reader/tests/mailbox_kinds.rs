//! Shared, room and equipment mailboxes are what `mailboxSettings.userPurpose`
//! says, read in `$batch` calls for new and changed users only; a target
//! needs an enabled Exchange Online plan, not just any licence.

mod common;

use common::tenant::sorted;
use common::{member, Harness};
use galsync_graph_emulator::seeding::{LicenseSku, MailboxKind, SeedOptions, User};
use galsync_graph_emulator::FaultRule;
use galsync_proto::v1;

const PURPOSE_ENDPOINT: &str = "/users/{id}/mailboxSettings/userPurpose";

struct Kinds {
    alice: uuid::Uuid,
    /// Enabled, mail, Power BI Pro only: no Exchange plan, no mailbox.
    paula_power_bi: uuid::Uuid,
    /// A shared mailbox whose account is enabled and holds Exchange Plan 2.
    sales_shared: uuid::Uuid,
    /// Mailbox kept while the E3 was swapped for Power BI Pro.
    victor_retained: uuid::Uuid,
    /// Disabled, unlicensed, with mail: a former employee, not a resource.
    dora_disabled: uuid::Uuid,
}

fn build(harness: &Harness) -> Kinds {
    let mut paula = User::new("Paula PowerBI", "paula@contoso.onmicrosoft.com");
    paula.mail = Some(paula.user_principal_name.clone());
    paula.other_licenses = vec![LicenseSku::PowerBiPro];
    let mut shared = User::new("Sales Inbox", "sales@contoso.onmicrosoft.com");
    shared.mail = Some(shared.user_principal_name.clone());
    shared.mailbox = MailboxKind::Shared;
    shared.other_licenses = vec![LicenseSku::ExchangeOnlinePlan2];
    let mut victor = member("Victor Retained");
    victor.licensed = false;
    victor.other_licenses = vec![LicenseSku::PowerBiPro];
    let mut dora = User::new("Dora Departed", "dora@contoso.onmicrosoft.com");
    dora.mail = Some(dora.user_principal_name.clone());
    dora.account_enabled = false;
    Kinds {
        alice: harness.add_user(member("Alice Adams")),
        paula_power_bi: harness.add_user(paula),
        sales_shared: harness.add_user(shared),
        victor_retained: harness.add_user(victor),
        dora_disabled: harness.add_user(dora),
    }
}

async fn targets(harness: &Harness, selector: v1::TargetSelector) -> v1::TargetList {
    let mut reader = harness.reader().await;
    reader
        .resolve_targets(v1::ResolveTargetsRequest {
            tenant_id: harness.tenant_id.to_string(),
            selector: Some(selector),
        })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_mailbox_is_no_contact_but_a_target_when_named_and_power_bi_alone_makes_no_target()
{
    let harness = Harness::start().await;
    let kinds = build(&harness);

    let snapshot = harness.take(v1::SourceFilter::default()).await;
    let kept: Vec<String> = harness
        .entries(&snapshot.snapshot_id)
        .await
        .into_iter()
        .map(|entry| entry.source_object_id)
        .collect();
    assert_eq!(
        kept,
        sorted(&[kinds.alice, kinds.paula_power_bi, kinds.victor_retained]),
        "the shared mailbox is left out although its account is enabled and licensed"
    );

    let every_mailbox = targets(
        &harness,
        v1::TargetSelector {
            all_mailboxes: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        every_mailbox.mailbox_ids,
        sorted(&[kinds.alice]),
        "every mailbox means the personal ones"
    );

    let named = targets(
        &harness,
        v1::TargetSelector {
            users: vec![
                kinds.paula_power_bi.to_string(),
                kinds.sales_shared.to_string(),
                kinds.victor_retained.to_string(),
            ],
            ..Default::default()
        },
    )
    .await;
    // A shared mailbox named in the selector receives the directory.
    assert_eq!(named.mailbox_ids, sorted(&[kinds.sales_shared]));
    let reasons = named.unresolved.join("\n");
    assert_eq!(
        reasons.matches("no enabled Exchange Online plan").count(),
        2,
        "paula and victor hold Power BI Pro only: {reasons}"
    );

    let explanation = harness
        .reader()
        .await
        .explain_filter(v1::ExplainFilterRequest {
            tenant_id: harness.tenant_id.to_string(),
            filter: Some(v1::SourceFilter::default()),
        })
        .await
        .unwrap()
        .into_inner();
    let dropped: Vec<(String, u64)> = explanation
        .rules
        .into_iter()
        .map(|count| (count.rule, count.dropped))
        .collect();
    assert!(
        dropped.contains(&("exclude shared/room/equipment mailboxes".to_owned(), 1)),
        "only the shared mailbox, not dora's disabled account: {dropped:?}"
    );
    assert!(dropped.contains(&("exclude disabled accounts".to_owned(), 1)));
    let _ = kinds.dora_disabled;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeded_resource_mailboxes_are_exactly_the_seeded_truth() {
    let harness = Harness::start().await;
    // The demo's defaults: 2,000 users, seed 7.
    let summary = harness.seed(SeedOptions {
        users: 2_000,
        seed: 7,
        ..SeedOptions::default()
    });
    let explanation = harness
        .reader()
        .await
        .explain_filter(v1::ExplainFilterRequest {
            tenant_id: harness.tenant_id.to_string(),
            filter: Some(v1::SourceFilter::default()),
        })
        .await
        .unwrap()
        .into_inner();
    let resources = explanation
        .rules
        .iter()
        .find(|count| count.rule == "exclude shared/room/equipment mailboxes")
        .expect("the default filter excludes resource mailboxes");
    let seeded = summary.shared + summary.rooms + summary.equipment;
    assert_eq!(seeded, 24, "the seed's truth for 2,000 users");
    assert_eq!(resources.dropped, seeded as u64);
    assert!(
        summary.disabled > 0,
        "disabled members exist and are not counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purpose_is_read_once_in_batches_and_again_only_for_changed_users() {
    let harness = Harness::start().await;
    let summary = harness.seed(SeedOptions {
        users: 130,
        groups: false,
        ..SeedOptions::default()
    });
    let users = summary.users as u64;
    let first = harness.take(v1::SourceFilter::default()).await;
    assert_eq!(harness.requests_to(PURPOSE_ENDPOINT), users);
    assert_eq!(harness.requests_to("/$batch"), users.div_ceil(20));

    // Nothing changed: one delta request, no purpose read.
    let before = harness.graph_requests();
    let again = harness.take(v1::SourceFilter::default()).await;
    assert_eq!(again.snapshot_id, first.snapshot_id);
    assert_eq!(harness.graph_requests() - before, 1);
    assert_eq!(harness.requests_to(PURPOSE_ENDPOINT), users);

    // An admin converts alice's mailbox to shared and disables her sign-in:
    // the delta round names her, her purpose is read again, she leaves.
    let alice = summary.licensed_user_ids[0];
    let directory = &harness.emulator.state.directory;
    directory
        .modify_user(harness.tenant_id, alice, |user| {
            user.mailbox = MailboxKind::Shared;
            user.account_enabled = false;
        })
        .unwrap();
    let bob = summary.licensed_user_ids[1];
    directory
        .modify_user(harness.tenant_id, bob, |user| {
            user.mobile_phone = Some("+1 425 555 0142".into())
        })
        .unwrap();
    let changed = harness
        .take(v1::SourceFilter {
            include_disabled: true,
            ..Default::default()
        })
        .await;
    assert_eq!(harness.requests_to(PURPOSE_ENDPOINT), users + 2);
    let entries = harness.entries(&changed.snapshot_id).await;
    assert!(entries
        .iter()
        .all(|entry| entry.source_object_id != alice.to_string()));
    assert!(entries
        .iter()
        .any(|entry| entry.source_object_id == bob.to_string()));

    // A forced full read keeps the purposes of unchanged users.
    harness
        .take_request(v1::SourceFilter::default(), true, false)
        .await
        .unwrap();
    assert_eq!(harness.requests_to(PURPOSE_ENDPOINT), users + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_mailbox_settings_read_the_snapshot_fails_naming_the_permission() {
    let harness = Harness::start().await;
    build(&harness);
    harness
        .emulator
        .state
        .identity
        .revoke_role(
            harness.tenant_id,
            &harness.client_id,
            "MailboxSettings.Read",
        )
        .unwrap();
    let error = harness
        .take_request(v1::SourceFilter::default(), false, false)
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::PermissionDenied, "{error:?}");
    assert!(
        error.message().contains("MailboxSettings.Read"),
        "{}",
        error.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_purpose_reads_are_retried_after_retry_after_to_the_same_snapshot() {
    let clean_harness = Harness::start().await;
    let options = SeedOptions {
        users: 200,
        groups: false,
        ..SeedOptions::default()
    };
    clean_harness.seed(options.clone());
    let clean = clean_harness.take(v1::SourceFilter::default()).await;

    let harness = Harness::start().await;
    harness.seed(options);
    let faults = &harness.emulator.state.faults;
    faults.reseed(11);
    faults.add(FaultRule {
        path_contains: Some("/mailboxSettings/userPurpose".into()),
        status: Some(429),
        retry_after: Some(0.2),
        rate: Some(0.2),
        ..FaultRule::default()
    });
    let throttled = harness.take(v1::SourceFilter::default()).await;
    let fired: u64 = faults.list().iter().map(|rule| rule.fired).sum();
    assert!(fired > 0, "no fault fired; the test proves nothing");
    assert_eq!(throttled.snapshot_id, clean.snapshot_id);
    assert_eq!(throttled.read_stats.unwrap().retries, fired);
    assert_eq!(harness.emulator.state.accounting.early_retry_total(), 0);
}
