//! Two tenants synced side by side in one deployment (an MSP's case): each
//! tenant's runs write only its own mailboxes, with its own directory, at
//! the same time. And a tenant's life after onboarding, through the CLI:
//! changed, kept while a profile uses it, removed with its credentials once
//! none does.

use std::time::Duration;

use galsync_e2e::{spawn_cluster, ClusterSpec};
use galsync_proto::v1;
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use serde_json::json;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_sync_side_by_side_without_touching_each_other() {
    let cluster = spawn_cluster(ClusterSpec {
        writers: 2,
        ..ClusterSpec::default()
    })
    .await;
    let fabrikam = cluster.onboard(30, 3, 51).await;
    let contoso = cluster.onboard(25, 2, 52).await;
    assert_ne!(fabrikam.tenant_id, contoso.tenant_id);

    let fabrikam_profile = cluster.create_profile(&fabrikam, &[]).await;
    let contoso_profile = cluster.create_profile(&contoso, &[]).await;
    let fabrikam_run = cluster.start_run(&fabrikam_profile).await;
    let contoso_run = cluster.start_run(&contoso_profile).await;
    let (fabrikam_end, contoso_end) = tokio::join!(
        cluster.wait_run_end(&fabrikam_run, Duration::from_secs(120)),
        cluster.wait_run_end(&contoso_run, Duration::from_secs(120)),
    );
    for (run, tenant) in [(&fabrikam_end, &fabrikam), (&contoso_end, &contoso)] {
        assert_eq!(run["state"], "succeeded", "{run:#}");
        assert_eq!(
            run["mailboxes_succeeded"].as_u64(),
            Some(tenant.targets.len() as u64),
            "{run:#}"
        );
    }
    // Each tenant's mailboxes hold exactly its own directory: a contact of
    // the other tenant would be a foreign one.
    cluster.assert_mailboxes_match(&fabrikam).await;
    cluster.assert_mailboxes_match(&contoso).await;
    for (run, tenant) in [(&fabrikam_end, &fabrikam), (&contoso_end, &contoso)] {
        let report = cluster.verify(tenant, tenant.targets.keys()).await;
        assert_eq!(
            run["counts"]["created"].as_u64(),
            Some((report.expected_contacts * tenant.targets.len()) as u64),
            "each run created its own tenant's contacts only: {run:#}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_is_updated_and_removed_only_once_no_profile_uses_it() {
    let cluster = spawn_cluster(ClusterSpec::default()).await;
    let tenant = cluster.onboard(10, 1, 61).await;
    let tenant_id = tenant.tenant_id.as_str();

    let updated = cluster
        .galsync(&[
            "tenant",
            "update",
            "--tenant-id",
            tenant_id,
            "--name",
            "Fabrikam",
        ])
        .await
        .ok("tenant update");
    assert_eq!(updated["changed_fields"], json!(["display_name"]));
    let shown = cluster
        .galsync(&["tenant", "show", "--tenant-id", tenant_id])
        .await
        .ok("tenant show");
    assert_eq!(shown["display_name"], "Fabrikam");
    assert_eq!(shown["apps"][0]["client_id"], tenant.client_id.as_str());
    assert_eq!(shown["apps"][0]["consent"]["granted"], true, "{shown:#}");

    let bad_guid = cluster
        .galsync(&[
            "tenant",
            "update",
            "--tenant-id",
            tenant_id,
            "--client-id",
            "contoso.onmicrosoft.com",
        ])
        .await;
    assert_eq!(bad_guid.code, Some(2), "{bad_guid:?}");
    assert!(
        bad_guid.stderr.contains("invalid --client-id:"),
        "{}",
        bad_guid.stderr
    );

    let profile_id = cluster.create_profile(&tenant, &[]).await;
    let refused = cluster
        .galsync(&["tenant", "remove", "--tenant-id", tenant_id])
        .await;
    assert_eq!(refused.code, Some(1), "{refused:?}");
    for expected in [
        "nothing was removed",
        &format!("\"Company phones\" ({profile_id})"),
        "galsync profile delete PROFILE_ID",
    ] {
        assert!(
            refused.stderr.contains(expected),
            "{expected}: {}",
            refused.stderr
        );
    }
    cluster
        .galsync(&["tenant", "show", "--tenant-id", tenant_id])
        .await
        .ok("the refused tenant stays");

    cluster
        .galsync(&["profile", "delete", &profile_id])
        .await
        .ok("profile delete");
    let removed = cluster
        .galsync(&["tenant", "remove", "--tenant-id", tenant_id])
        .await
        .ok("tenant remove");
    assert_eq!(removed["display_name"], "Fabrikam");
    assert_eq!(removed["deleted"]["apps"], 1, "{removed:#}");
    assert_eq!(removed["deleted"]["certificate_keys"], 1, "{removed:#}");

    let gone = cluster
        .galsync(&["tenant", "show", "--tenant-id", tenant_id])
        .await;
    assert_eq!(gone.code, Some(5), "{gone:?}");
    let audit = cluster
        .galsync(&[
            "audit",
            "--tenant-id",
            tenant_id,
            "--kind",
            "tenant.removed",
        ])
        .await
        .ok("audit");
    let events = audit["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 1, "{audit:#}");
    assert_eq!(events[0]["caller"], "urn:galsync:service:cli");

    // The reader's next token request meets the broker's plain answer.
    let channel = cluster.channel_as(&cluster.broker, &cluster.pki_dir, "directory-reader");
    let unknown = AuthBrokerClient::new(channel)
        .get_graph_token(v1::GetGraphTokenRequest {
            tenant_id: tenant_id.to_owned(),
            purpose: v1::TokenPurpose::Directory as i32,
        })
        .await
        .expect_err("no token for a removed tenant");
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    assert!(
        unknown.message().contains("is not registered"),
        "{}",
        unknown.message()
    );
}
