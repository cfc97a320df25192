//! Scenario 1 of the process-level suite: onboarding, the initial sync,
//! directory changes, an incremental sync, and a target removed — with every
//! service its own process.

use galsync_e2e::{spawn_cluster, ClusterSpec};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_initial_sync_changes_and_a_removed_target() {
    let cluster = spawn_cluster(ClusterSpec::default()).await;
    let tenant = cluster.onboard(60, 4, 7).await;
    let emulator = &cluster.emulator;
    let (kept, removed) = {
        let mut targets = tenant.targets.keys();
        (
            targets.next().cloned().unwrap(),
            targets.last().cloned().unwrap(),
        )
    };
    // A contact of the mailbox's own, which galsync must never touch.
    let own = emulator
        .post(
            &format!(
                "/_admin/tenants/{}/mailboxes/{kept}/contacts",
                tenant.tenant_id
            ),
            json!({"displayName": "Mum", "mobilePhone": "+44 7700 900123"}),
        )
        .await;

    let profile_id = cluster.create_profile(&tenant, &[]).await;
    let first = cluster.run_to_success(&profile_id).await;
    cluster.assert_mailboxes_match(&tenant).await;
    let expected =
        galsync::demo::verify::expected_contacts(&emulator.users(&tenant.tenant_id).await).len();
    assert_eq!(
        first["counts"]["created"].as_u64(),
        Some((expected * tenant.targets.len()) as u64),
        "{first:#}"
    );

    // The directory changes: three new titles, one user disabled.
    let users = emulator.users(&tenant.tenant_id).await;
    let synced: Vec<&serde_json::Value> = users
        .iter()
        .filter(|user| {
            user["accountEnabled"] == true
                && user["mail"].is_string()
                && user["userType"] == "Member"
                && !tenant
                    .targets
                    .contains_key(user["id"].as_str().unwrap_or_default())
        })
        .collect();
    for (index, user) in synced.iter().take(3).enumerate() {
        emulator
            .admin(
                reqwest::Method::PATCH,
                &format!(
                    "/_admin/tenants/{}/directory/users/{}",
                    tenant.tenant_id,
                    user["id"].as_str().unwrap()
                ),
                Some(json!({"jobTitle": format!("Head of Delta {index}")})),
            )
            .await;
    }
    emulator
        .post(
            &format!(
                "/_admin/tenants/{}/directory/users/{}/disable",
                tenant.tenant_id,
                synced[3]["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    let second = cluster.run_to_success(&profile_id).await;
    cluster.assert_mailboxes_match(&tenant).await;
    let per_mailbox = tenant.targets.len() as u64;
    assert_eq!(
        second["counts"]["updated"].as_u64(),
        Some(3 * per_mailbox),
        "{second:#}"
    );
    assert_eq!(
        second["counts"]["deleted"].as_u64(),
        Some(per_mailbox),
        "{second:#}"
    );
    assert_eq!(second["counts"]["created"].as_u64(), Some(0), "{second:#}");

    // One target leaves the profile: its galsync folder is purged.
    let mut args = vec!["profile", "edit", profile_id.as_str()];
    for (id, upn) in &tenant.targets {
        if *id != removed {
            args.extend(["--target-user", upn.as_str()]);
        }
    }
    cluster.galsync(&args).await.ok("profile edit");
    cluster.run_to_success(&profile_id).await;
    let remaining: Vec<String> = tenant
        .targets
        .keys()
        .filter(|id| **id != removed)
        .cloned()
        .collect();
    let report = cluster.verify(&tenant, &remaining).await;
    assert!(report.passed(), "{:#?}", report.problems);
    let left = emulator.folders(&tenant.tenant_id, &removed).await;
    let galsync_contacts: u64 = left
        .iter()
        .filter(|folder| folder["isDefault"] != true)
        .map(|folder| folder["contactCount"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        galsync_contacts, 0,
        "the removed target kept contacts: {left:#?}"
    );

    // The mailbox's own contact is exactly as it was.
    let own_now = emulator
        .get(&format!(
            "/_admin/tenants/{}/mailboxes/{kept}/contacts/{}",
            tenant.tenant_id,
            own["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(own_now["displayName"], "Mum");
    assert_eq!(own_now["mobilePhone"], "+44 7700 900123");
}
