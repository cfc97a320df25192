//! A dry run through the real cluster keeps its plan, and `galsync runs plan`
//! shows it field by field: the contact to update with `field: old → new`,
//! nothing written to any mailbox. The API pages the changes.

mod common;

use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_each_planned_change_field_by_field() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let common::OnboardedCluster {
        cluster,
        tenant,
        mut scheduler,
        profile_id,
        data_dir: _data_dir,
    } = common::onboarded_cluster(&emulator, 40, 2, 17, true).await;
    let synced = common::run_to_end(&mut scheduler, &profile_id).await;
    assert_eq!(synced.state, v1::RunState::Succeeded as i32, "{synced:?}");

    // One person changes title in the directory.
    let person = emulator
        .state
        .directory
        .list_users(tenant.tenant_id, false)
        .into_iter()
        .find(|user| {
            user.account_enabled
                && user.mail.is_some()
                && user.job_title.is_some()
                && !tenant.targets.contains(&user.id)
        })
        .expect("a person with a title");
    let old_title = person.job_title.clone().unwrap();
    emulator
        .state
        .directory
        .modify_user(tenant.tenant_id, person.id, |user| {
            user.job_title = Some("Head of Dry Runs".to_owned())
        })
        .unwrap();

    let writes_before = emulator
        .state
        .accounting
        .total(|key| key.method != "GET" && key.endpoint.contains("/contacts"));
    let dry = common::start_and_wait(
        &mut scheduler,
        v1::RunProfileRequest {
            profile_id: profile_id.clone(),
            dry_run: true,
            ..Default::default()
        },
    )
    .await;
    let run_id = dry.run_id.clone();
    assert_eq!(dry.state, v1::RunState::Succeeded as i32, "{dry:?}");
    assert_eq!(
        emulator
            .state
            .accounting
            .total(|key| key.method != "GET" && key.endpoint.contains("/contacts")),
        writes_before,
        "a dry run writes nothing"
    );

    // The API: one update per mailbox, in pages of one.
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = scheduler
            .list_planned_changes(v1::ListPlannedChangesRequest {
                run_id: run_id.clone(),
                page_size: 1,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.changes);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(
        seen.len(),
        2,
        "one change in each of the two mailboxes: {seen:?}"
    );
    let mut mailboxes: Vec<String> = seen.iter().map(|entry| entry.mailbox_id.clone()).collect();
    mailboxes.sort();
    let mut targets: Vec<String> = tenant.targets.iter().map(ToString::to_string).collect();
    targets.sort();
    assert_eq!(mailboxes, targets);
    for entry in &seen {
        let change = entry.change.as_ref().unwrap();
        assert_eq!(change.action, v1::planned_change::Action::Update as i32);
        assert_eq!(change.source_object_id, person.id.to_string());
        let title = change
            .changes
            .iter()
            .find(|field| field.field == "jobTitle")
            .expect("the title change");
        assert_eq!(
            (title.old_value.as_str(), title.new_value.as_str()),
            (old_title.as_str(), "Head of Dry Runs")
        );
    }

    // The CLI, as an administrator reads it.
    let shown = common::galsync_against(&cluster, &["runs", "plan", &run_id]).await;
    assert_eq!(shown.code, Some(0), "{shown:?}");
    let expected = format!("jobTitle: \"{old_title}\" → \"Head of Dry Runs\"");
    assert_eq!(
        shown.stdout.matches(&expected).count(),
        2,
        "`runs plan` lacks `{expected}` per mailbox:\n{}",
        shown.stdout
    );
    cluster.stop().await.unwrap();
}
