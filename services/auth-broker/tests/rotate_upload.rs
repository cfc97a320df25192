//! Uploading rotated certificates when the upload cannot happen, over real
//! gRPC and HTTP against the emulator: a tenant connected by hand (`tenant
//! add`, the `.cer` uploaded by an administrator) lets the broker upload, but
//! the broker never learned the app's object id, which the proof of
//! possession names. The rotation still succeeds, the new certificate stays
//! pending registration with the fix named, nothing changes on the app, the
//! working certificate keeps issuing tokens, and the refusal is audited.

use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1;
use galsync_testkit::{connect_tenant, TenantApp, TestBroker};

#[tokio::test]
async fn a_failed_upload_leaves_the_new_certificate_pending_and_the_old_one_working() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;
    let tenant = connect_tenant(&emulator, &mut admin, TenantApp::default()).await;
    let tenant_id = tenant.tenant_id.to_string();
    let mut reader = broker.client_as("directory-reader").await;
    let token_request = v1::GetGraphTokenRequest {
        tenant_id: tenant_id.clone(),
        purpose: v1::TokenPurpose::Directory as i32,
    };
    reader.get_graph_token(token_request.clone()).await.unwrap();

    let updated = admin
        .update_tenant(v1::UpdateTenantRequest {
            tenant_id: tenant_id.clone(),
            upload_rotated_certificates: Some(true),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.changed_fields, vec!["upload_rotated_certificates"]);
    assert!(updated.tenant.unwrap().upload_rotated_certificates);

    let rotated = admin
        .rotate_certificate(v1::RotateCertificateRequest {
            tenant_id: tenant_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        rotated.state,
        v1::CertificateState::PendingRegistration as i32
    );
    for expected in [
        "not uploaded to app",
        "does not know the object id",
        "galsync tenant adopt",
        &format!("upload galsync-{}.cer", rotated.thumbprint_sha1),
        "the current certificate keeps signing",
    ] {
        assert!(
            rotated.registration.contains(expected),
            "{expected:?} in {:?}",
            rotated.registration
        );
    }
    let on_the_app = emulator.state.identity.apps_in_tenant(tenant.tenant_id)[0]
        .certificates
        .len();
    assert_eq!(on_the_app, 1, "nothing was added to the app registration");

    reader.get_graph_token(token_request).await.unwrap();
    let audit = admin
        .list_audit_events(v1::ListAuditEventsRequest {
            tenant_id: tenant_id.clone(),
            limit: 50,
            kind: "certificate.upload_failed".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(
        audit[0].detail.contains(&rotated.thumbprint_sha1),
        "{}",
        audit[0].detail
    );
}
