//! Bad input to the broker: clear INVALID_ARGUMENT / NOT_FOUND naming the
//! field, never a panic; and access control on administration.

mod common;

use common::stranger_channel;
use galsync_proto::v1;
use galsync_testkit::TestBroker;
use tonic::Code;

const TENANT: &str = "6f1d2f8c-4f7a-4c36-9a53-0d7d3b0c2a11";
const APP: &str = "0b8f6a2e-1c5d-4d7e-8f90-a1b2c3d4e5f6";

fn register_request(tenant_id: &str) -> v1::RegisterTenantRequest {
    v1::RegisterTenantRequest {
        tenant_id: tenant_id.to_owned(),
        display_name: "Contoso".to_owned(),
        login_base_url: "http://127.0.0.1:9".to_owned(),
        graph_base_url: "http://127.0.0.1:9".to_owned(),
        apps: vec![v1::AppRegistration {
            client_id: APP.to_owned(),
            auth_mode: v1::AuthMode::Certificate as i32,
            purposes: vec![
                v1::TokenPurpose::Directory as i32,
                v1::TokenPurpose::Contacts as i32,
            ],
            ..Default::default()
        }],
    }
}

#[tokio::test]
async fn bad_input_names_the_field_and_nothing_panics() {
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;

    let status = admin
        .register_tenant(register_request("contoso.onmicrosoft.com"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("invalid tenant_id:"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("Tenant ID"),
        "the message should say where to find it: {}",
        status.message()
    );

    let status = admin
        .get_tenant(v1::GetTenantRequest {
            tenant_id: TENANT.to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    admin
        .register_tenant(register_request(TENANT))
        .await
        .unwrap();
    let status = admin
        .register_tenant(register_request(TENANT))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);

    let status = admin
        .generate_certificate(v1::GenerateCertificateRequest {
            tenant_id: TENANT.to_owned(),
            key_bits: 1024,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("key_bits"),
        "{}",
        status.message()
    );

    let status = admin
        .import_certificate(v1::ImportCertificateRequest {
            tenant_id: TENANT.to_owned(),
            client_id: String::new(),
            material: Some(v1::import_certificate_request::Material::Pkcs12(
                v1::Pkcs12Bundle {
                    der: b"this is not a pfx".to_vec(),
                    password: "x".to_owned(),
                },
            )),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("pkcs12"), "{}", status.message());

    let status = admin
        .export_certificate(v1::ExportCertificateRequest {
            certificate_id: "no-such-certificate".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    let status = admin
        .get_graph_token(v1::GetGraphTokenRequest {
            tenant_id: TENANT.to_owned(),
            purpose: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("purpose"), "{}", status.message());
}

#[tokio::test]
async fn pkcs12_imports_with_its_password_and_a_wrong_password_is_named() {
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;
    admin
        .register_tenant(register_request(TENANT))
        .await
        .unwrap();

    let material =
        galsync_auth_broker::certificates::generate(TENANT, 2048, 365, chrono::Utc::now()).unwrap();
    let key = p12_keystore::PrivateKey::from_der(&material.private_key_pkcs8).unwrap();
    let certificate = p12_keystore::Certificate::from_der(&material.der).unwrap();
    let chain = p12_keystore::PrivateKeyChain::new(vec![1u8, 2, 3], key, vec![certificate]);
    let mut keystore = p12_keystore::KeyStore::new();
    keystore.add_entry(
        "galsync",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
    );
    let pfx = keystore.writer("correct horse").write().unwrap();

    let status = admin
        .import_certificate(v1::ImportCertificateRequest {
            tenant_id: TENANT.to_owned(),
            client_id: APP.to_owned(),
            material: Some(v1::import_certificate_request::Material::Pkcs12(
                v1::Pkcs12Bundle {
                    der: pfx.clone(),
                    password: "wrong".to_owned(),
                },
            )),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("wrong password"),
        "{}",
        status.message()
    );

    let imported = admin
        .import_certificate(v1::ImportCertificateRequest {
            tenant_id: TENANT.to_owned(),
            client_id: APP.to_owned(),
            material: Some(v1::import_certificate_request::Material::Pkcs12(
                v1::Pkcs12Bundle {
                    der: pfx,
                    password: "correct horse".to_owned(),
                },
            )),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(imported.thumbprint_sha1, material.thumbprint_sha1);
    assert_eq!(
        imported.state,
        v1::CertificateState::PendingRegistration as i32
    );
}

#[tokio::test]
async fn only_admin_identities_manage_and_strangers_are_refused() {
    let broker = TestBroker::start().await;
    let mut reader = broker.client_as("directory-reader").await;
    let status = reader
        .register_tenant(register_request(TENANT))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    let refused = match stranger_channel(&broker).await {
        Err(_) => true,
        Ok(channel) => v1::auth_broker_client::AuthBrokerClient::new(channel)
            .list_tenants(v1::ListTenantsRequest {})
            .await
            .is_err(),
    };
    assert!(
        refused,
        "a certificate from an unknown CA reached the broker"
    );
}
