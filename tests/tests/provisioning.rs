//! Issue 17's promise end to end: from a tenant with no app registration,
//! `galsync tenant provision` (an administrator approving the device code)
//! leaves galsync able to sync — the app(s) it created read the directory
//! and write every target mailbox, with one app and with two; the two-app
//! tenant then has its write app fenced to the targets the way
//! galsync-exchange.ps1 does it (Exchange RBAC for Applications over the
//! targets, the tenant-wide Contacts.ReadWrite removed) and still syncs.

use std::time::Duration;

use galsync_e2e::{spawn_cluster, Cluster, ClusterSpec, Tenant};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioned_tenant_syncs_with_one_app_and_with_two() {
    let cluster = spawn_cluster(ClusterSpec {
        emulator_args: ["--replication-delay-secs", "1"]
            .map(str::to_owned)
            .to_vec(),
        ..ClusterSpec::default()
    })
    .await;
    for (seed, extra) in [(71, &[][..]), (72, &["--two-apps"][..])] {
        let (tenant, provisioned) = cluster.provisioned(25, 2, seed, extra).await;
        assert_eq!(
            provisioned["test_connection"]["ok"], true,
            "{provisioned:#}"
        );
        let apps = provisioned["apps"].as_array().map(Vec::len);
        assert_eq!(apps, Some(extra.len() + 1), "{provisioned:#}");

        if !extra.is_empty() {
            fence_the_write_app(&cluster, &tenant, &provisioned).await;
        }

        let profile = cluster.create_profile(&tenant, &[]).await;
        let run_id = cluster.start_run(&profile).await;
        let run = cluster
            .wait_run_end(&run_id, Duration::from_secs(120))
            .await;
        assert_eq!(run["state"], "succeeded", "{extra:?}: {run:#}");
        cluster.assert_mailboxes_match(&tenant).await;
    }
}

/// What galsync-exchange.ps1 does, through the emulator's stand-ins: the
/// contacts app gets the Exchange role "Application Contacts.ReadWrite" over
/// the target mailboxes and loses its tenant-wide Graph grant. Test
/// Connection on a target then passes without the role in the token.
async fn fence_the_write_app(cluster: &Cluster, tenant: &Tenant, provisioned: &Value) {
    let write_app = provisioned["apps"]
        .as_array()
        .and_then(|apps| {
            apps.iter()
                .find(|app| app["purposes"] == json!(["contacts"]))
        })
        .and_then(|app| app["client_id"].as_str())
        .unwrap_or_else(|| panic!("a contacts-only app: {provisioned:#}"));
    let app = format!("/_admin/tenants/{}/apps/{write_app}", tenant.tenant_id);
    let targets: Vec<&String> = tenant.targets.keys().collect();
    cluster
        .emulator
        .admin(
            reqwest::Method::PUT,
            &format!("{app}/exchange-role-assignments/Application Contacts.ReadWrite"),
            Some(json!({ "user_ids": targets })),
        )
        .await;
    cluster
        .emulator
        .admin(
            reqwest::Method::DELETE,
            &format!("{app}/consent/roles/Contacts.ReadWrite"),
            None,
        )
        .await;
    let target = tenant.targets.values().next().expect("a target");
    let tested = cluster
        .galsync(&[
            "test-connection",
            "--tenant-id",
            &tenant.tenant_id,
            "--mailbox",
            target,
            "--output",
            "json",
        ])
        .await
        .ok("test-connection on a fenced target");
    let permission = tested["checks"]
        .as_array()
        .and_then(|checks| {
            checks
                .iter()
                .find(|check| check["name"] == "permissions:contacts")
        })
        .cloned()
        .unwrap_or_default();
    assert!(
        permission["ok"] == true
            && permission["detail"]
                .as_str()
                .is_some_and(|detail| detail.contains("not in the token")),
        "{tested:#}"
    );
}
