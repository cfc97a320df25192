//! A profile for a tenant the auth-broker does not know could never run: the
//! scheduler's public API refuses it when it is created, naming the field and
//! the fix, and says so plainly when it cannot ask the broker.

use galsync_e2e::{spawn_cluster, ClusterSpec};
use galsync_proto::v1;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use tonic::Code;

fn spec_for(tenant_id: &str) -> v1::ProfileSpec {
    v1::ProfileSpec {
        name: "All staff".to_owned(),
        tenant_id: tenant_id.to_owned(),
        targets: Some(v1::TargetSelector {
            all_mailboxes: true,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_for_an_unregistered_tenant_is_refused_by_the_api() {
    let mut cluster = spawn_cluster(ClusterSpec::default()).await;
    let tenant = cluster.onboard(10, 1, 21).await;
    let channel = cluster.channel_as(&cluster.scheduler, &cluster.pki_dir, "cli");
    let mut scheduler = SchedulerClient::new(channel);

    let unknown = uuid::Uuid::new_v4().to_string();
    let refused = scheduler
        .create_profile(v1::CreateProfileRequest {
            spec: Some(spec_for(&unknown)),
        })
        .await
        .expect_err("a profile for a tenant nobody registered");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused.message().contains("spec.tenant_id")
            && refused.message().contains(&unknown)
            && refused.message().contains("galsync tenant add"),
        "the refusal names the field, the tenant and the fix: {}",
        refused.message()
    );

    let created = scheduler
        .create_profile(v1::CreateProfileRequest {
            spec: Some(spec_for(&tenant.tenant_id)),
        })
        .await
        .expect("a profile for the registered tenant");
    let profile = created.into_inner();

    // Moving the profile to an unknown tenant is refused the same way.
    let moved = scheduler
        .update_profile(v1::UpdateProfileRequest {
            profile_id: profile.profile_id.clone(),
            spec: Some(spec_for(&unknown)),
            expected_version: profile.version,
        })
        .await
        .expect_err("moving the profile to an unregistered tenant");
    assert_eq!(moved.code(), Code::InvalidArgument, "{moved:?}");

    // With the broker down the scheduler cannot tell, and says so.
    cluster.broker.process.kill();
    let unsure = scheduler
        .create_profile(v1::CreateProfileRequest {
            spec: Some(v1::ProfileSpec {
                name: "Second".to_owned(),
                ..spec_for(&unknown)
            }),
        })
        .await
        .expect_err("nothing is created unchecked");
    assert_eq!(unsure.code(), Code::Unavailable, "{unsure:?}");
    assert!(
        unsure.message().contains("--broker-url"),
        "{}",
        unsure.message()
    );
    let listed = scheduler
        .list_profiles(v1::ListProfilesRequest::default())
        .await
        .expect("profiles listed")
        .into_inner();
    assert_eq!(listed.profiles.len(), 1, "only the checked profile exists");
}
