//! Scenarios 7 and 8 of the process-level suite: Graph misbehaving — 10 % of
//! requests throttled, failing or cut after they were applied — and a mass
//! disable in the directory held by the deletion guard until approved.

use std::time::Duration;

use galsync_e2e::{spawn_cluster, ClusterSpec};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_graph_faults_end_in_the_exact_state_without_early_retries() {
    let cluster = spawn_cluster(ClusterSpec {
        writers: 2,
        ..ClusterSpec::default()
    })
    .await;
    let tenant = cluster.onboard(80, 6, 21).await;
    let profile_id = cluster.create_profile(&tenant, &[]).await;
    // Onboarding is done; from here on one request in ten goes wrong.
    for rule in [
        json!({"path_contains": "/contacts", "status": 429, "retry_after": 0.3, "rate": 0.03}),
        json!({"path_contains": "/contacts", "status": 503, "rate": 0.02}),
        json!({"path_contains": "/contacts", "method": "POST", "status": 504, "html_body": true, "status_after_apply": true, "rate": 0.02}),
        json!({"path_contains": "/contacts", "method": "POST", "abort_after_apply": true, "rate": 0.02}),
        json!({"path_contains": "/users", "status": 503, "rate": 0.01}),
    ] {
        cluster.emulator.post("/_admin/faults", rule).await;
    }

    let run = cluster.run_to_success(&profile_id).await;
    cluster.assert_mailboxes_match(&tenant).await;
    let requests = cluster.emulator.get("/_admin/requests").await;
    assert_eq!(
        requests["early_retries"], 0,
        "retried before Retry-After: {:#}",
        requests["early_retry_delays"]
    );
    let faults = cluster.emulator.get("/_admin/faults").await;
    let fired: u64 = faults
        .as_array()
        .into_iter()
        .flatten()
        .map(|rule| rule["fired"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        fired >= 10,
        "only {fired} faults fired: the test proves little\n{faults:#}"
    );
    assert!(
        run["counts"]["retries"].as_u64().unwrap_or(0) > 0,
        "{run:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mass_disable_is_held_by_the_deletion_guard_until_approved() {
    let cluster = spawn_cluster(ClusterSpec::default()).await;
    let tenant = cluster.onboard(60, 3, 22).await;
    let profile_id = cluster
        .create_profile(
            &tenant,
            &[
                "--deletion-guard-percent",
                "10",
                "--deletion-guard-minimum",
                "5",
            ],
        )
        .await;
    cluster.run_to_success(&profile_id).await;
    let emulator = &cluster.emulator;
    let before = galsync::demo::verify::expected_contacts(&emulator.users(&tenant.tenant_id).await);

    // A third of the synced people disabled at once (not the target users).
    let disabled: Vec<String> = before
        .keys()
        .filter(|id| !tenant.targets.contains_key(*id))
        .take(before.len() / 3)
        .cloned()
        .collect();
    for id in &disabled {
        emulator
            .post(
                &format!(
                    "/_admin/tenants/{}/directory/users/{id}/disable",
                    tenant.tenant_id
                ),
                json!({}),
            )
            .await;
    }
    let run_id = cluster.start_run(&profile_id).await;
    let held = cluster
        .wait_run_end(&run_id, Duration::from_secs(120))
        .await;
    assert_eq!(held["state"], "awaiting-approval", "{held:#}");
    assert_eq!(
        held["counts"]["deletes_awaiting_approval"].as_u64(),
        Some((disabled.len() * tenant.targets.len()) as u64),
        "{held:#}"
    );
    assert_eq!(held["counts"]["deleted"].as_u64(), Some(0), "{held:#}");
    // Nothing was deleted: every mailbox still holds every contact.
    for mailbox in tenant.targets.keys() {
        let folders = emulator.folders(&tenant.tenant_id, mailbox).await;
        let folder = galsync::demo::verify::galsync_folder(&folders).expect("the galsync folder");
        let contacts = emulator.contacts(&tenant.tenant_id, mailbox, &folder).await;
        assert_eq!(
            contacts.len(),
            before.len(),
            "{mailbox} lost contacts before approval"
        );
    }

    let approved = cluster.galsync(&["approve", &run_id]).await.ok("approve");
    let run_id = approved["run_id"].as_str().unwrap_or(&run_id).to_owned();
    let run = cluster
        .wait_run_end(&run_id, Duration::from_secs(120))
        .await;
    assert_eq!(run["state"], "succeeded", "{run:#}");
    assert_eq!(
        run["counts"]["deleted"].as_u64(),
        Some((disabled.len() * tenant.targets.len()) as u64),
        "exactly the held deletes: {run:#}"
    );
    cluster.assert_mailboxes_match(&tenant).await;
}
