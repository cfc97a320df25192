//! The in-process auth-broker of the test kit: where it keeps its files, who
//! may administer it, that a configuration tweak takes effect, and that
//! shutting it down stops serving and leaves nothing behind.

use galsync_proto::v1;
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use galsync_testkit::{
    register_with_broker, BrokerStore, EmulatedApp, Step, TenantApp, TestBroker,
};
use tonic::transport::Channel;
use tonic::Code;
use uuid::Uuid;

/// Registers a new tenant and its app as `client`, with no certificate;
/// nothing is called at the (unreachable) login and Graph hosts.
async fn register_tenant(client: &mut AuthBrokerClient<Channel>) -> Uuid {
    let emulated = EmulatedApp {
        tenant_id: Uuid::new_v4(),
        client_id: Uuid::new_v4().to_string(),
    };
    let app = TenantApp {
        last_step: Step::RegisterTenant,
        ..TenantApp::default()
    };
    register_with_broker(client, "http://127.0.0.1:9", &emulated, &app).await;
    emulated.tenant_id
}

/// The code of an empty registration as `client`: the broker checks who
/// calls before what is asked, so it says whether `client` may administer.
async fn refused_registration(client: &mut AuthBrokerClient<Channel>) -> Code {
    client
        .register_tenant(v1::RegisterTenantRequest::default())
        .await
        .unwrap_err()
        .code()
}

async fn tenant_count(client: &mut AuthBrokerClient<Channel>) -> usize {
    client
        .list_tenants(v1::ListTenantsRequest {})
        .await
        .unwrap()
        .into_inner()
        .tenants
        .len()
}

#[tokio::test]
async fn the_store_master_key_and_pki_live_in_the_data_dir() {
    let broker = TestBroker::start().await;
    let data_dir = broker.data_dir();

    assert_eq!(broker.pki_dir(), data_dir.join("pki"));
    assert!(broker.pki_dir().join("ca.pem").is_file());
    for identity in ["auth-broker", "cli", "directory-reader", "contact-writer"] {
        assert!(
            broker.pki_dir().join(format!("{identity}.pem")).is_file(),
            "{identity}"
        );
    }
    assert!(data_dir.join("auth-broker.db").is_file());
    assert!(data_dir.join("master.key").is_file());
    assert_eq!(broker.url(), format!("https://{}", broker.addr()));
}

#[tokio::test]
async fn the_admin_client_registers_and_a_service_identity_may_not() {
    let broker = TestBroker::start().await;
    let mut reader = AuthBrokerClient::new(broker.channel_as("directory-reader"));
    assert_eq!(
        refused_registration(&mut reader).await,
        Code::PermissionDenied
    );

    let mut admin = broker.admin_client().await;
    let tenant_id = register_tenant(&mut admin).await;
    assert_eq!(tenant_count(&mut admin).await, 1);
    let stored = broker.broker().apps(&tenant_id.to_string()).await.unwrap();
    assert_eq!(stored.len(), 1);
}

#[tokio::test]
async fn configure_changes_who_administers() {
    let broker = TestBroker::start_with(BrokerStore::Sqlite, |config| {
        config.admin_identity = vec!["scheduler".to_owned()];
    })
    .await;
    let mut cli = broker.client_as("cli").await;
    assert_eq!(refused_registration(&mut cli).await, Code::PermissionDenied);

    let mut scheduler = broker.client_as("scheduler").await;
    register_tenant(&mut scheduler).await;
    assert_eq!(tenant_count(&mut scheduler).await, 1);
}

#[tokio::test]
async fn the_consent_callback_listens_where_the_broker_says() {
    let broker = TestBroker::start().await;
    let mut connected = false;
    // The callback is bound once the broker task runs, just after start.
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(broker.consent_addr())
            .await
            .is_ok()
        {
            connected = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(connected, "nothing listens on {}", broker.consent_addr());
}

#[tokio::test]
async fn shutdown_stops_serving_and_removes_the_data_dir() {
    let broker = TestBroker::start().await;
    let mut admin = broker.admin_client().await;
    assert_eq!(tenant_count(&mut admin).await, 0);
    let data_dir = broker.data_dir().to_owned();
    let mut not_yet_connected = AuthBrokerClient::new(broker.channel_as("cli"));

    broker.shutdown().await;

    let refused = not_yet_connected
        .list_tenants(v1::ListTenantsRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(!data_dir.exists(), "{} is left behind", data_dir.display());
}
