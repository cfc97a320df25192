//! Cancelling a run mid-way leaves every mailbox consistent (no duplicate, no
//! stray contact), reports the writes that happened with the mailboxes it
//! stopped shown as cancelled, and the next run completes what the cancelled
//! one left.

mod common;

use std::time::{Duration, Instant};

use galsync::demo::{self, tenant, verify};
use galsync_graph_emulator::FaultRule;
use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1;

fn source_ids_in_galsync_folder(
    emulator: &Emulator,
    tenant: &tenant::DemoTenant,
    mailbox: uuid::Uuid,
) -> Vec<String> {
    let user = mailbox.to_string();
    let folders =
        emulator
            .state
            .mailboxes
            .folders_named(tenant.tenant_id, &user, verify::FOLDER_NAME);
    assert!(folders.len() <= 1, "duplicate galsync folders in {user}");
    let Some(folder) = folders.first() else {
        return Vec::new();
    };
    let contacts = emulator
        .state
        .mailboxes
        .folder_contacts(tenant.tenant_id, &user, &folder.id)
        .unwrap();
    let mut ids = Vec::new();
    for contact in contacts {
        let properties = contact["singleValueExtendedProperties"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let id = properties
            .iter()
            .find(|property| {
                property["id"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with("Name SourceObjectId")
            })
            .and_then(|property| property["value"].as_str())
            .and_then(galsync_contact_writer::mapping::Owner::parse)
            .expect("every contact in the galsync folder is galsync's")
            .source_id;
        ids.push(id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_run_leaves_mailboxes_consistent_and_the_next_run_completes_them() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let common::OnboardedCluster {
        cluster,
        tenant,
        mut scheduler,
        profile_id,
        data_dir: _data_dir,
    } = common::onboarded_cluster(&emulator, 300, 6, 3, true).await;

    // Slow Graph down so the run is still writing when it is cancelled.
    emulator.state.faults.add(FaultRule {
        path_contains: Some("$batch".to_owned()),
        latency_ms: Some(60),
        ..FaultRule::default()
    });
    let run_id = scheduler
        .run_profile(v1::RunProfileRequest {
            profile_id: profile_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .run_id;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run = scheduler
            .get_run(v1::GetRunRequest {
                run_id: run_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        if run.counts.map(|counts| counts.created).unwrap_or(0) > 0 || run.mailboxes_done > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run wrote nothing in 60 s: {run:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    scheduler
        .cancel_run(v1::CancelRunRequest {
            run_id: run_id.clone(),
        })
        .await
        .unwrap();
    let cancelled = loop {
        let run = scheduler
            .get_run(v1::GetRunRequest {
                run_id: run_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        if run.state == v1::RunState::Cancelled as i32 {
            break run;
        }
        assert!(
            Instant::now() < deadline,
            "the run was not cancelled: {run:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(cancelled.mailboxes_done < 6 || cancelled.mailboxes_total == 6);

    // Whatever the cancelled run wrote is consistent: one contact per person
    // at most. The mailboxes were empty, so every contact is a create of this run.
    let mut contacts_in_graph = 0;
    for mailbox in &tenant.targets {
        let ids = source_ids_in_galsync_folder(&emulator, &tenant, *mailbox);
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "duplicate contacts in {mailbox} after cancel"
        );
        contacts_in_graph += ids.len() as u64;
        let reported = cancelled
            .mailboxes
            .iter()
            .find(|result| result.mailbox_id == mailbox.to_string())
            .unwrap_or_else(|| panic!("the cancelled run does not list {mailbox}: {cancelled:?}"));
        let created = reported.counts.map(|counts| counts.created).unwrap_or(0);
        assert_eq!(
            created,
            ids.len() as u64,
            "{mailbox} ({}) holds {} contacts, the run reports {created} created",
            galsync::run::outcome_name(reported.outcome),
            ids.len()
        );
    }

    // The run's totals are the writes that happened, and the mailboxes it
    // stopped (or never started) are counted as cancelled, not as done.
    let counts = cancelled.counts.unwrap_or_default();
    assert!(
        contacts_in_graph > 0,
        "the run wrote nothing before the cancel"
    );
    assert_eq!(
        counts.created, contacts_in_graph,
        "the cancelled run reports {} created, Graph holds {contacts_in_graph}",
        counts.created
    );
    let shown_cancelled = cancelled
        .mailboxes
        .iter()
        .filter(|result| result.outcome == v1::MailboxOutcome::Cancelled as i32)
        .count() as u32;
    assert!(
        cancelled.mailboxes_cancelled > 0,
        "no mailbox counted as cancelled: {cancelled:?}"
    );
    assert_eq!(shown_cancelled, cancelled.mailboxes_cancelled);
    assert_eq!(
        cancelled.mailboxes_succeeded + cancelled.mailboxes_failed + cancelled.mailboxes_cancelled,
        6,
        "every mailbox ended one way: {cancelled:?}"
    );

    // The CLI shows the same: `mailboxes: 6 (S succeeded, 0 failed, C cancelled)`.
    let shown = common::galsync_against(&cluster, &["runs", "show", &run_id]).await;
    assert_eq!(shown.code, Some(0), "{shown:?}");
    let expected_line = format!(
        "6 ({} succeeded, 0 failed, {} cancelled)",
        cancelled.mailboxes_succeeded, cancelled.mailboxes_cancelled
    );
    assert!(
        shown.stdout.contains(&expected_line),
        "`runs show` lacks `{expected_line}`:\n{}",
        shown.stdout
    );
    assert!(
        shown
            .stdout
            .contains(&format!("created {contacts_in_graph},")),
        "`runs show` does not report {contacts_in_graph} created:\n{}",
        shown.stdout
    );

    // The next run completes every mailbox.
    emulator.state.faults.clear();
    demo::sync(&mut scheduler, &profile_id).await.unwrap();
    let check = verify::verify(&emulator, &tenant);
    assert!(check.passed(), "{:?}", check.problems);
    cluster.stop().await.unwrap();
}
