//! TestConnection names each application permission the `directory` purpose
//! lacks, says what galsync needs it for, and how to fix it.

use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1;
use galsync_testkit::{connect_tenant, TenantApp, TestBroker, GALSYNC_ROLES};

async fn directory_permission_check(requested_roles: Vec<String>) -> v1::ConnectionCheck {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;
    let app = TenantApp {
        requested_roles,
        ..TenantApp::default()
    };
    let tenant = connect_tenant(&emulator, &mut admin, app).await;
    let report = admin
        .test_connection(v1::TestConnectionRequest {
            tenant_id: tenant.tenant_id.to_string(),
            probe_mailbox: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    report
        .checks
        .into_iter()
        .find(|check| check.name == "permissions:directory")
        .expect("the directory purpose's permissions are checked")
}

#[tokio::test]
async fn without_mailbox_settings_read_test_connection_names_it_and_the_fix() {
    let without_settings: Vec<String> = GALSYNC_ROLES
        .iter()
        .filter(|role| **role != "MailboxSettings.Read")
        .map(|role| role.to_string())
        .collect();
    let check = directory_permission_check(without_settings).await;
    assert!(!check.ok, "{check:?}");
    assert!(check.detail.contains("MailboxSettings.Read"), "{check:?}");
    assert!(check.detail.contains("shared"), "says why: {check:?}");
    assert!(
        check.fix.contains("MailboxSettings.Read") && check.fix.contains("admin consent"),
        "{check:?}"
    );

    let all = GALSYNC_ROLES.iter().map(|role| role.to_string()).collect();
    let check = directory_permission_check(all).await;
    assert!(check.ok, "{check:?}");
}
