//! Integrators and MSPs: an API key over TLS without a certificate of
//! galsync's CA, `galsync api-key create|list|revoke`, and a key scoped to
//! one tenant that sees and changes nothing of another — driven through the
//! CLI as an integrator's machine would run it (only the CA file and a key).

use std::time::Duration;

use galsync_e2e::{spawn_cluster, Cluster, ClusterSpec, Tenant};
use galsync_proto::v1;
use serde_json::Value;

/// `galsync api-key create` as the administrator (mTLS); gives the key.
async fn create_key(cluster: &Cluster, name: &str, role: &str, tenant: Option<&Tenant>) -> Value {
    let mut args = vec!["api-key", "create", "--name", name, "--role", role];
    if let Some(tenant) = tenant {
        args.extend(["--tenant-id", tenant.tenant_id.as_str()]);
    }
    let key = cluster.galsync(&args).await.ok("api-key create");
    assert!(
        key["secret"]
            .as_str()
            .is_some_and(|secret| secret.starts_with("gsk_")),
        "{key:#}"
    );
    key
}

fn secret(key: &Value) -> &str {
    key["secret"].as_str().expect("a secret")
}

fn profile_ids(listed: &Value) -> Vec<String> {
    listed["profiles"]
        .as_array()
        .expect("profiles")
        .iter()
        .map(|profile| {
            profile["profile_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn run_ids(listed: &Value) -> Vec<String> {
    listed["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|run| run["run_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integrator_needs_only_an_api_key_and_a_tenant_scoped_key_sees_one_tenant() {
    let cluster = spawn_cluster(ClusterSpec::default()).await;
    let fabrikam = cluster.onboard(12, 2, 61).await;
    let contoso = cluster.onboard(10, 2, 62).await;
    let fabrikam_profile = cluster.create_profile(&fabrikam, &[]).await;
    let contoso_profile = cluster.create_profile(&contoso, &[]).await;
    let contoso_run = cluster.start_run(&contoso_profile).await;
    cluster
        .wait_run_end(&contoso_run, Duration::from_secs(120))
        .await;

    let dashboard = create_key(&cluster, "dashboard", "viewer", None).await;
    let portal = create_key(&cluster, "fabrikam-portal", "operator", Some(&fabrikam)).await;
    let fabrikam_admin = create_key(&cluster, "fabrikam-admin", "admin", Some(&fabrikam)).await;

    // An unscoped viewer key, over TLS without a client certificate, sees
    // both tenants and may not start a run.
    let listed = cluster
        .galsync_with_api_key(secret(&dashboard), &["profile", "list"])
        .await
        .ok("profile list with the viewer key");
    let mut seen = profile_ids(&listed);
    seen.sort();
    let mut both = vec![fabrikam_profile.clone(), contoso_profile.clone()];
    both.sort();
    assert_eq!(seen, both);
    let refused = cluster
        .galsync_with_api_key(secret(&dashboard), &["run", "start", &fabrikam_profile])
        .await;
    assert_eq!(refused.code, Some(4), "{}", refused.stderr);
    assert!(refused.stderr.contains("viewer"), "{}", refused.stderr);

    // The MSP's key for Fabrikam sees only Fabrikam: Contoso's profile and
    // run do not exist for it, and it cannot make a profile there.
    let portal_key = secret(&portal);
    let listed = cluster
        .galsync_with_api_key(portal_key, &["profile", "list"])
        .await
        .ok("profile list with the Fabrikam key");
    assert_eq!(profile_ids(&listed), vec![fabrikam_profile.clone()]);
    let listed = cluster
        .galsync_with_api_key(
            portal_key,
            &["profile", "list", "--tenant-id", &contoso.tenant_id],
        )
        .await
        .ok("profile list of Contoso with the Fabrikam key");
    assert_eq!(profile_ids(&listed), Vec::<String>::new());
    let runs = cluster
        .galsync_with_api_key(portal_key, &["runs", "list"])
        .await
        .ok("runs list with the Fabrikam key");
    assert!(!run_ids(&runs).contains(&contoso_run), "{runs:#}");
    for args in [
        vec!["runs", "show", contoso_run.as_str()],
        vec!["profile", "show", contoso_profile.as_str()],
        vec!["run", "start", contoso_profile.as_str()],
    ] {
        let outcome = cluster.galsync_with_api_key(portal_key, &args).await;
        assert_eq!(outcome.code, Some(5), "{args:?}: {}", outcome.stderr);
    }
    let outcome = cluster
        .galsync_with_api_key(
            secret(&fabrikam_admin),
            &["profile", "delete", &contoso_profile],
        )
        .await;
    assert_eq!(outcome.code, Some(5), "{}", outcome.stderr);
    let upn = contoso.targets.values().next().expect("a target");
    let outcome = cluster
        .galsync_with_api_key(
            secret(&fabrikam_admin),
            &[
                "profile",
                "create",
                "--name",
                "Sneaky",
                "--tenant-id",
                &contoso.tenant_id,
                "--on-demand",
                "--target-user",
                upn,
            ],
        )
        .await;
    assert_eq!(outcome.code, Some(4), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("scoped to tenant"),
        "{}",
        outcome.stderr
    );

    // …and runs its own tenant end to end.
    let run = cluster
        .galsync_with_api_key(portal_key, &["run", "start", &fabrikam_profile])
        .await
        .ok("run start with the Fabrikam key");
    let run_id = run["run_id"].as_str().expect("a run id");
    let ended = cluster.wait_run_end(run_id, Duration::from_secs(120)).await;
    assert_eq!(ended["state"], "succeeded", "{ended:#}");
    assert!(
        ended["trigger"]
            .as_str()
            .unwrap_or_default()
            .contains("fabrikam-portal"),
        "{ended:#}"
    );
    cluster.assert_mailboxes_match(&fabrikam).await;

    // A scoped administrator lists and makes keys of its tenant only.
    let admin_key = secret(&fabrikam_admin).to_owned();
    let listed = cluster
        .galsync_with_api_key(&admin_key, &["api-key", "list"])
        .await
        .ok("api-key list with the Fabrikam admin key");
    let mut names: Vec<&str> = listed["api_keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| key["name"].as_str().unwrap_or_default())
        .collect();
    names.sort();
    assert_eq!(names, ["fabrikam-admin", "fabrikam-portal"]);
    let outcome = cluster
        .galsync_with_api_key(
            &admin_key,
            &[
                "api-key",
                "create",
                "--name",
                "x",
                "--role",
                "viewer",
                "--tenant-id",
                &contoso.tenant_id,
            ],
        )
        .await;
    assert_eq!(outcome.code, Some(4), "{}", outcome.stderr);
    let dashboard_id = dashboard["key_id"].as_str().expect("a key id");
    let outcome = cluster
        .galsync_with_api_key(&admin_key, &["api-key", "revoke", dashboard_id])
        .await;
    assert_eq!(outcome.code, Some(5), "{}", outcome.stderr);

    // The administrator's list shows every key and no secret.
    let everything = cluster.galsync(&["api-key", "list"]).await;
    let listed = everything.json();
    assert_eq!(listed["api_keys"].as_array().map(Vec::len), Some(3));
    for key in [&dashboard, &portal, &fabrikam_admin] {
        assert!(!everything.stdout.contains(secret(key)));
    }

    // A revoked key is refused at its next call, and says so.
    let portal_id = portal["key_id"].as_str().expect("a key id");
    let revoked = cluster
        .galsync(&["api-key", "revoke", portal_id])
        .await
        .ok("api-key revoke");
    assert!(revoked["revoked_at"].is_string(), "{revoked:#}");
    let outcome = cluster
        .galsync_with_api_key(portal_key, &["profile", "list"])
        .await;
    assert_eq!(outcome.code, Some(4), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("revoked"), "{}", outcome.stderr);
}

/// Without a client certificate the scheduler takes an API key and nothing
/// else: no key is refused, and a key never opens the writers' work queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_client_certificate_only_an_api_key_is_taken_and_never_for_the_work_queue() {
    let cluster = spawn_cluster(ClusterSpec::default()).await;
    let key = create_key(&cluster, "monitoring", "admin", None).await;
    let ca = std::fs::read(cluster.pki_dir.join("ca.pem")).expect("the CA");
    let url = cluster.scheduler.url();
    let tls = galsync_platform::tls::server_only_client_config(
        &ca,
        &galsync_platform::tls::server_name(&url),
    );
    let channel = galsync_platform::tls::channel_with(&url, Some(tls)).expect("a channel");

    let mut api = v1::scheduler_client::SchedulerClient::new(channel.clone());
    let status = api
        .list_profiles(v1::ListProfilesRequest::default())
        .await
        .expect_err("a caller with neither certificate nor key was let in");
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");

    let mut queue = v1::work_queue_client::WorkQueueClient::new(channel);
    let mut lease = tonic::Request::new(v1::LeaseRequest::default());
    lease.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", secret(&key)).parse().expect("ASCII"),
    );
    let status = queue
        .lease(lease)
        .await
        .expect_err("an API key opened the work queue");
    assert!(
        matches!(
            status.code(),
            tonic::Code::PermissionDenied | tonic::Code::Unauthenticated
        ),
        "{status:?}"
    );
}
