//! Repair on a schedule, through the real cluster and the CLI: a profile
//! with `--repair-interval` gets the repair pass on its first run, not again
//! until the interval has passed, and then puts back a contact a user
//! edited; `galsync runs show` says how many it restored.

mod common;

use std::time::Duration;

use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repair_pass_runs_at_the_profiles_interval_and_restores_edits() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let common::OnboardedCluster {
        cluster,
        tenant,
        mut scheduler,
        profile_id,
        data_dir: _data_dir,
    } = common::onboarded_cluster(&emulator, 40, 1, 13, true).await;
    let edited = common::galsync_against(
        &cluster,
        &["profile", "edit", &profile_id, "--repair-interval", "3s"],
    )
    .await;
    assert_eq!(edited.code, Some(0), "{edited:?}");
    assert!(edited.stdout.contains("every 3s"), "{}", edited.stdout);

    // Never repaired: the first run is due (its folder is new, so there is
    // nothing to restore yet).
    let first = common::run_to_end(&mut scheduler, &profile_id).await;
    assert_eq!(first.state, v1::RunState::Succeeded as i32, "{first:?}");
    assert!(first.repair, "{first:?}");

    // A user edits a galsync contact on the phone.
    let mailbox = tenant.targets[0].to_string();
    let folder = emulator.state.mailboxes.folders_named(
        tenant.tenant_id,
        &mailbox,
        galsync::demo::verify::FOLDER_NAME,
    )[0]
    .id
    .clone();
    let contacts = emulator
        .state
        .mailboxes
        .folder_contacts(tenant.tenant_id, &mailbox, &folder)
        .unwrap();
    let target = contacts[0]["id"].as_str().unwrap().to_owned();
    let original_title = contacts[0]["jobTitle"].clone();
    emulator
        .state
        .mailboxes
        .user_update_contact(
            tenant.tenant_id,
            &mailbox,
            &target,
            json!({"jobTitle": "Chief Everything"}),
        )
        .unwrap();
    let title_now = || {
        emulator
            .state
            .mailboxes
            .contact(tenant.tenant_id, &mailbox, &target)
            .unwrap()["jobTitle"]
            .clone()
    };

    // Within the interval: no repair pass, the edit stays.
    let second = common::run_to_end(&mut scheduler, &profile_id).await;
    assert_eq!(second.state, v1::RunState::Succeeded as i32, "{second:?}");
    assert!(!second.repair, "not due yet: {second:?}");
    assert_eq!(title_now(), json!("Chief Everything"));

    // After it: the repair pass puts the directory's value back.
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let third = common::run_to_end(&mut scheduler, &profile_id).await;
    assert_eq!(third.state, v1::RunState::Succeeded as i32, "{third:?}");
    assert!(third.repair, "due again: {third:?}");
    assert_eq!(third.counts.unwrap_or_default().restored, 1, "{third:?}");
    assert_eq!(title_now(), original_title);

    let shown = common::galsync_against(&cluster, &["runs", "show", &third.run_id]).await;
    assert_eq!(shown.code, Some(0), "{shown:?}");
    assert!(
        shown
            .stdout
            .contains("restored 1 contacts edited or deleted outside galsync"),
        "{}",
        shown.stdout
    );
    cluster.stop().await.unwrap();
}
