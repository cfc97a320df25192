//! The auth-broker against the Entra + Graph emulator, over real gRPC (mTLS)
//! and HTTP: the full certificate journey, purpose policy, single-flight
//! caching, permission changes taking effect at once, certificate renewal, and
//! no plaintext secret in the store.

mod common;

use common::{bytes_under, contains};
use galsync_graph_emulator::registration::AppRegistrationRequest;
use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1;
use galsync_testkit::{
    connect_tenant, create_emulated_app, BrokerStore, EmulatedTenant, Step, TenantApp, TestBroker,
    DIRECTORY_ROLES,
};
use tonic::Code;
use uuid::Uuid;

/// The galsync app of an emulated tenant: every role galsync needs, with the
/// broker's consent callback allowed as a redirect URI.
fn galsync_app(broker: &TestBroker) -> TenantApp {
    TenantApp {
        redirect_uris: vec![format!("http://{}/consent/callback", broker.consent_addr())],
        ..TenantApp::default()
    }
}

fn app(client_id: &str, purposes: &[v1::TokenPurpose]) -> v1::AppRegistration {
    v1::AppRegistration {
        client_id: client_id.to_owned(),
        auth_mode: v1::AuthMode::Certificate as i32,
        purposes: purposes.iter().map(|purpose| *purpose as i32).collect(),
        ..Default::default()
    }
}

fn token_requests(emulator: &Emulator) -> u64 {
    emulator
        .state
        .accounting
        .total(|key| key.endpoint == "/{tenant}/oauth2/v2.0/token")
}

/// Connects the tenant through at least the upload of the broker's
/// certificate (the broker as `cli`) and checks that the export is PEM and
/// that the emulated app registered the thumbprint the broker made.
async fn connect_with_certificate(
    broker: &TestBroker,
    emulator: &Emulator,
    app: TenantApp,
) -> EmulatedTenant {
    let mut admin = broker.client_as("cli").await;
    let tenant = connect_tenant(emulator, &mut admin, app).await;
    let certificate = tenant
        .certificate
        .as_ref()
        .expect("the broker exported the certificate");
    let uploaded = tenant
        .uploaded
        .as_ref()
        .expect("the certificate was uploaded");
    assert!(certificate.pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(uploaded.thumbprint_sha1, certificate.thumbprint_sha1);
    tenant
}

/// The id of the broker's certificate for the tenant's app.
fn broker_certificate_id(tenant: &EmulatedTenant) -> String {
    tenant
        .certificate
        .as_ref()
        .expect("the broker exported the certificate")
        .certificate_id
        .clone()
}

/// Opens the broker's admin-consent link at the emulator (the admin approves)
/// and follows the redirect to the broker's callback.
async fn consent_through_the_browser(
    broker: &TestBroker,
    emulator: &Emulator,
    tenant: &EmulatedTenant,
) {
    let mut admin = broker.client_as("cli").await;
    let link = admin
        .get_admin_consent_url(v1::GetAdminConsentUrlRequest {
            tenant_id: tenant.tenant_id.to_string(),
            client_id: tenant.client_id.clone(),
            redirect_uri: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    galsync_testkit::approve_consent_in_browser(
        emulator,
        tenant.tenant_id,
        &tenant.client_id,
        &link.url,
    )
    .await;
    let status = admin
        .get_consent_status(v1::GetConsentStatusRequest {
            tenant_id: tenant.tenant_id.to_string(),
            client_id: tenant.client_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(status.granted, "{status:?}");
}

#[tokio::test]
async fn full_certificate_journey_ends_with_a_token_graph_accepts() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start().await;
    let connect = TenantApp {
        validity_days: 730,
        last_step: Step::UploadCertificate,
        ..galsync_app(&broker)
    };
    let tenant = connect_with_certificate(&broker, &emulator, connect).await;
    let mailbox = emulator.state.directory.add_mailbox_user(
        tenant.tenant_id,
        "Adele Vance",
        "adele@contoso.example",
        true,
    );
    consent_through_the_browser(&broker, &emulator, &tenant).await;

    let mut admin = broker.client_as("cli").await;
    let report = admin
        .test_connection(v1::TestConnectionRequest {
            tenant_id: tenant.tenant_id.to_string(),
            probe_mailbox: mailbox.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(report.ok, "{:#?}", report.checks);
    let names: Vec<&str> = report
        .checks
        .iter()
        .map(|check| check.name.as_str())
        .collect();
    assert!(
        names.contains(&"graph:users") && names.contains(&"graph:mailbox"),
        "{names:?}"
    );

    let mut reader = broker.client_as("directory-reader").await;
    let token = reader
        .get_graph_token(v1::GetGraphTokenRequest {
            tenant_id: tenant.tenant_id.to_string(),
            purpose: v1::TokenPurpose::Directory as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        token.roles.contains(&"User.Read.All".to_owned()),
        "{:?}",
        token.roles
    );
    let users = reqwest::Client::new()
        .get(format!("{}/users?$top=1", token.graph_base_url))
        .bearer_auth(&token.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 200);

    // The certificate is now the active one, and the journey is audited.
    let certificates = admin
        .list_certificates(v1::ListCertificatesRequest {
            tenant_id: tenant.tenant_id.to_string(),
            client_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .certificates;
    assert_eq!(certificates[0].state, v1::CertificateState::Active as i32);
    let audit = admin
        .list_audit_events(v1::ListAuditEventsRequest {
            tenant_id: tenant.tenant_id.to_string(),
            limit: 100,
            kind: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let kinds: Vec<&str> = audit.iter().map(|event| event.kind.as_str()).collect();
    for expected in [
        "tenant.registered",
        "certificate.generated",
        "consent.granted",
        "certificate.activated",
        "token.issued",
    ] {
        assert!(
            kinds.contains(&expected),
            "audit lacks {expected}: {kinds:?}"
        );
    }
    let issued = audit
        .iter()
        .find(|event| event.kind == "token.issued")
        .unwrap();
    assert_eq!(issued.caller, "urn:galsync:service:directory-reader");
    assert!(issued.token_expires_at.is_some());
    assert!(audit
        .iter()
        .all(|event| !event.detail.contains(&token.access_token)));
}

#[tokio::test]
async fn callers_get_only_their_purpose_and_refusals_are_audited() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start().await;
    // Least privilege: a read app and a write app.
    let read_app = TenantApp {
        requested_roles: DIRECTORY_ROLES
            .iter()
            .map(|role| role.to_string())
            .collect(),
        ..galsync_app(&broker)
    };
    let read_tenant = create_emulated_app(&emulator, Uuid::new_v4(), &read_app);
    let write_app = emulator
        .state
        .identity
        .register_app(
            read_tenant.tenant_id,
            AppRegistrationRequest {
                client_id: None,
                display_name: "galsync writer".to_owned(),
                requested_roles: vec!["Contacts.ReadWrite".to_owned()],
                requested_scopes: Vec::new(),
                redirect_uris: Vec::new(),
                multi_tenant: false,
                public_client: false,
            },
        )
        .unwrap();
    let mut admin = broker.client_as("cli").await;
    admin
        .register_tenant(v1::RegisterTenantRequest {
            tenant_id: read_tenant.tenant_id.to_string(),
            display_name: "Contoso".to_owned(),
            login_base_url: emulator.base_url(),
            graph_base_url: emulator.base_url(),
            apps: vec![
                app(&read_tenant.client_id, &[v1::TokenPurpose::Directory]),
                app(&write_app.client_id, &[v1::TokenPurpose::Contacts]),
            ],
        })
        .await
        .unwrap();

    let mut writer = broker.client_as("contact-writer").await;
    let status = writer
        .get_graph_token(v1::GetGraphTokenRequest {
            tenant_id: read_tenant.tenant_id.to_string(),
            purpose: v1::TokenPurpose::Directory as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let mut scheduler = broker.client_as("scheduler").await;
    let status = scheduler
        .get_graph_token(v1::GetGraphTokenRequest {
            tenant_id: read_tenant.tenant_id.to_string(),
            purpose: v1::TokenPurpose::Contacts as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    let denied = admin
        .list_audit_events(v1::ListAuditEventsRequest {
            tenant_id: read_tenant.tenant_id.to_string(),
            limit: 10,
            kind: "token.denied".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let callers: Vec<&str> = denied.iter().map(|event| event.caller.as_str()).collect();
    assert!(
        callers.contains(&"urn:galsync:service:contact-writer"),
        "{callers:?}"
    );
    assert!(
        callers.contains(&"urn:galsync:service:scheduler"),
        "{callers:?}"
    );
    assert_eq!(
        token_requests(&emulator),
        0,
        "a refused caller must not cause a token request"
    );
}

#[tokio::test]
async fn two_hundred_concurrent_callers_cause_one_token_request() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start().await;
    let connect = TenantApp {
        validity_days: 730,
        ..galsync_app(&broker)
    };
    let tenant = connect_with_certificate(&broker, &emulator, connect).await;

    let reader = broker.client_as("directory-reader").await;
    let mut calls = Vec::new();
    for _ in 0..200 {
        let mut client = reader.clone();
        let tenant_id = tenant.tenant_id.to_string();
        calls.push(tokio::spawn(async move {
            client
                .get_graph_token(v1::GetGraphTokenRequest {
                    tenant_id,
                    purpose: v1::TokenPurpose::Directory as i32,
                })
                .await
                .map(|response| response.into_inner().access_token)
        }));
    }
    let mut tokens = std::collections::HashSet::new();
    for call in calls {
        tokens.insert(call.await.unwrap().unwrap());
    }
    assert_eq!(tokens.len(), 1, "every caller gets the one cached token");
    assert_eq!(token_requests(&emulator), 1);
}

#[tokio::test]
async fn a_revoked_permission_takes_effect_after_invalidate_and_test_connection_names_it() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start().await;
    let connect = TenantApp {
        validity_days: 730,
        ..galsync_app(&broker)
    };
    let tenant = connect_with_certificate(&broker, &emulator, connect).await;

    let mut writer = broker.client_as("contact-writer").await;
    let request = v1::GetGraphTokenRequest {
        tenant_id: tenant.tenant_id.to_string(),
        purpose: v1::TokenPurpose::Contacts as i32,
    };
    let before = writer
        .get_graph_token(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(before.roles.contains(&"Contacts.ReadWrite".to_owned()));

    emulator
        .state
        .identity
        .revoke_role(tenant.tenant_id, &tenant.client_id, "Contacts.ReadWrite")
        .unwrap();
    let invalidated = writer
        .invalidate_token(v1::InvalidateTokenRequest {
            tenant_id: tenant.tenant_id.to_string(),
            purpose: v1::TokenPurpose::Contacts as i32,
            reason: "graph answered 403 ErrorAccessDenied".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(invalidated.invalidated);
    let after = writer.get_graph_token(request).await.unwrap().into_inner();
    assert_ne!(after.access_token, before.access_token);
    assert!(
        !after.roles.contains(&"Contacts.ReadWrite".to_owned()),
        "{:?}",
        after.roles
    );

    let mut admin = broker.client_as("cli").await;
    let report = admin
        .test_connection(v1::TestConnectionRequest {
            tenant_id: tenant.tenant_id.to_string(),
            probe_mailbox: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!report.ok);
    let failed = report
        .checks
        .iter()
        .find(|check| check.name == "permissions:contacts")
        .unwrap();
    assert!(!failed.ok);
    assert!(failed.detail.contains("Contacts.ReadWrite"), "{failed:?}");
    assert!(failed.fix.contains("admin consent"), "{failed:?}");
}

#[tokio::test]
async fn an_unregistered_certificate_is_named_with_its_thumbprint() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;
    let registered_only = TenantApp {
        last_step: Step::RegisterTenant,
        ..galsync_app(&broker)
    };
    let tenant = connect_tenant(&emulator, &mut admin, registered_only).await;
    let certificate = admin
        .generate_certificate(v1::GenerateCertificateRequest {
            tenant_id: tenant.tenant_id.to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let report = admin
        .test_connection(v1::TestConnectionRequest {
            tenant_id: tenant.tenant_id.to_string(),
            probe_mailbox: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let token_check = report
        .checks
        .iter()
        .find(|check| check.name.starts_with("token:"))
        .unwrap();
    assert!(!token_check.ok);
    assert_eq!(token_check.error_code, "AADSTS700027");
    assert!(
        token_check.fix.contains("upload the .cer"),
        "{token_check:?}"
    );
    let certificate_check = report
        .checks
        .iter()
        .find(|check| check.name.contains(&certificate.thumbprint_sha1))
        .unwrap();
    assert!(certificate_check.fix.contains(&certificate.thumbprint_sha1));
}

#[tokio::test]
async fn renewal_switches_certificates_only_once_entra_accepts_the_new_one() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start().await;
    // 29 days of validity: inside the 30-day renewal window from the start.
    let connect = TenantApp {
        validity_days: 29,
        ..galsync_app(&broker)
    };
    let tenant = connect_with_certificate(&broker, &emulator, connect).await;
    let first_certificate = broker_certificate_id(&tenant);
    let mut reader = broker.client_as("directory-reader").await;
    let request = v1::GetGraphTokenRequest {
        tenant_id: tenant.tenant_id.to_string(),
        purpose: v1::TokenPurpose::Directory as i32,
    };
    let invalidate = v1::InvalidateTokenRequest {
        tenant_id: tenant.tenant_id.to_string(),
        purpose: v1::TokenPurpose::Directory as i32,
        reason: "test".to_owned(),
    };
    reader.get_graph_token(request.clone()).await.unwrap();
    let mut admin = broker.client_as("cli").await;
    let listed = admin
        .list_certificates(v1::ListCertificatesRequest {
            tenant_id: tenant.tenant_id.to_string(),
            client_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .certificates;
    assert!(
        listed[0].expiring_soon,
        "a 29-day certificate is inside the renewal window"
    );

    let created = broker.broker().renew_due_certificates().await.unwrap();
    assert_eq!(created.len(), 1);
    let replacement = created[0].clone();
    assert!(
        broker
            .broker()
            .renew_due_certificates()
            .await
            .unwrap()
            .is_empty(),
        "one replacement only"
    );

    // Not uploaded yet: every token request still succeeds with the old one.
    for _ in 0..3 {
        reader.invalidate_token(invalidate.clone()).await.unwrap();
        reader.get_graph_token(request.clone()).await.unwrap();
        broker
            .broker()
            .clock()
            .advance(chrono::Duration::minutes(11));
    }
    let states = |certificates: &[galsync_auth_broker::store::CertificateRow]| {
        certificates
            .iter()
            .map(|row| (row.certificate_id.clone(), row.state.clone()))
            .collect::<std::collections::HashMap<_, _>>()
    };
    let rows = broker
        .broker()
        .certificates(&tenant.tenant_id.to_string(), "")
        .await
        .unwrap();
    assert_eq!(states(&rows)[&first_certificate], "active");
    assert_eq!(
        states(&rows)[&replacement.certificate_id],
        "pending-registration"
    );

    let health = broker.broker().credential_health().await.unwrap();
    assert_eq!(health.certificates_pending_registration, 1);
    assert_eq!(health.certificates_expiring_soon, 1);
    assert!(health.certificate_days_to_expiry_min >= 0, "{health:?}");
    let metrics = broker.broker().metrics().render();
    assert!(
        metrics.contains(&format!(
            "galsync_broker_certificate_days_to_expiry_min {}\n",
            health.certificate_days_to_expiry_min
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("galsync_broker_certificates_pending_registration 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("galsync_broker_tokens_issued_total"),
        "{metrics}"
    );

    // The admin uploads it: the next token comes from the new certificate.
    emulator
        .state
        .identity
        .upload_certificate(&tenant.client_id, &replacement.der)
        .unwrap();
    reader.invalidate_token(invalidate.clone()).await.unwrap();
    reader.get_graph_token(request.clone()).await.unwrap();
    let rows = broker
        .broker()
        .certificates(&tenant.tenant_id.to_string(), "")
        .await
        .unwrap();
    assert_eq!(states(&rows)[&replacement.certificate_id], "active");
    assert_eq!(states(&rows)[&first_certificate], "retired");
}

async fn secrets_never_reach_the_store(store: BrokerStore, postgres_dsn: Option<String>) {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start_with(store, |_| {}).await;
    let connect = TenantApp {
        validity_days: 730,
        ..galsync_app(&broker)
    };
    let tenant = connect_with_certificate(&broker, &emulator, connect).await;
    let certificate_id = broker_certificate_id(&tenant);
    let secret_value = "Sup3r~Secret.Value_for-galsync";
    let mut admin = broker.client_as("cli").await;
    admin
        .set_client_secret(v1::SetClientSecretRequest {
            tenant_id: tenant.tenant_id.to_string(),
            client_id: tenant.client_id.clone(),
            secret: secret_value.to_owned(),
            expires_at: None,
        })
        .await
        .unwrap();
    let mut reader = broker.client_as("directory-reader").await;
    let token = reader
        .get_graph_token(v1::GetGraphTokenRequest {
            tenant_id: tenant.tenant_id.to_string(),
            purpose: v1::TokenPurpose::Directory as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let certificate = broker.broker().certificate(&certificate_id).await.unwrap();
    assert!(certificate.sealed_private_key.starts_with("v1."));

    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("PEM private key", b"PRIVATE KEY".to_vec()),
        ("client secret", secret_value.as_bytes().to_vec()),
        ("access token", token.as_bytes().to_vec()),
        (
            "token payload",
            token.split('.').nth(1).unwrap().as_bytes().to_vec(),
        ),
    ];
    let stored = match postgres_dsn {
        None => bytes_under(broker.data_dir()),
        Some(dsn) => {
            let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&dsn)
                .await
                .unwrap();
            let mut all = Vec::new();
            for table in [
                "tenants",
                "apps",
                "certificates",
                "consent_states",
                "consent_outcomes",
                "audit_events",
            ] {
                let rows: Vec<(String,)> =
                    sqlx::query_as(&format!("SELECT row_to_json(t)::text FROM {table} t"))
                        .fetch_all(&mut connection)
                        .await
                        .unwrap();
                for (row,) in rows {
                    all.extend(row.into_bytes());
                }
            }
            assert!(
                contains(&all, tenant.client_id.as_bytes()),
                "the dump should hold the app rows"
            );
            all
        }
    };
    for (what, needle) in needles {
        assert!(
            !contains(&stored, &needle),
            "the store holds a plaintext {what}"
        );
    }
}

#[tokio::test]
async fn sqlite_store_holds_no_plaintext_secret() {
    secrets_never_reach_the_store(BrokerStore::Sqlite, None).await;
}

#[tokio::test]
async fn postgres_store_holds_no_plaintext_secret() {
    let Some(dsn) =
        galsync_testkit::harness::fresh_postgres_dsn("postgres_store_holds_no_plaintext_secret")
            .await
    else {
        return;
    };
    secrets_never_reach_the_store(BrokerStore::Postgres(dsn.clone()), Some(dsn)).await;
}

/// Client-secret mode end to end: the broker gets a token with a secret
/// Entra issued, Graph accepts it; a secret inside the renewal window is
/// reported like a certificate (health gauge and warning, Test Connection with
/// the date and the fix), and an expired one fails with Entra's 7000222.
#[tokio::test]
async fn client_secret_mode_gets_a_token_and_reports_the_secrets_expiry() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;
    let app = TenantApp {
        auth_mode: v1::AuthMode::ClientSecret,
        last_step: Step::RegisterTenant,
        ..galsync_app(&broker)
    };
    let emulated = create_emulated_app(&emulator, Uuid::new_v4(), &app);
    galsync_testkit::register_with_broker(&mut admin, &emulator.base_url(), &emulated, &app).await;
    galsync_testkit::grant_admin_consent(&emulator, emulated.tenant_id, &emulated.client_id);
    let secret_admin = admin.clone();
    let store_secret = |secret: String, expires_at: chrono::DateTime<chrono::Utc>| {
        let mut admin = secret_admin.clone();
        let tenant_id = emulated.tenant_id.to_string();
        let client_id = emulated.client_id.clone();
        async move {
            admin
                .set_client_secret(v1::SetClientSecretRequest {
                    tenant_id,
                    client_id,
                    secret,
                    expires_at: Some(prost_types::Timestamp {
                        seconds: expires_at.timestamp(),
                        nanos: 0,
                    }),
                })
                .await
                .unwrap()
                .into_inner()
        }
    };

    // A secret valid for 20 more days: inside the 30-day window.
    let soon = chrono::Utc::now() + chrono::Duration::days(20);
    let issued = emulator
        .state
        .identity
        .add_client_secret(&emulated.client_id, None, soon)
        .unwrap();
    let stored = store_secret(issued.secret_text.clone(), soon).await;
    assert!(stored.has_client_secret);
    assert_eq!(
        stored.client_secret_expires_at.map(|at| at.seconds),
        Some(soon.timestamp())
    );

    let mut reader = broker.client_as("directory-reader").await;
    let token = reader
        .get_graph_token(v1::GetGraphTokenRequest {
            tenant_id: emulated.tenant_id.to_string(),
            purpose: v1::TokenPurpose::Directory as i32,
        })
        .await
        .unwrap()
        .into_inner();
    let users = reqwest::Client::new()
        .get(format!("{}/users?$top=1", token.graph_base_url))
        .bearer_auth(&token.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 200, "graph accepts the secret's token");

    let health = broker.broker().credential_health().await.unwrap();
    assert_eq!(health.client_secrets_expiring_soon, 1, "{health:?}");
    assert_eq!(health.client_secrets_expired, 0);
    let report = admin
        .test_connection(v1::TestConnectionRequest {
            tenant_id: emulated.tenant_id.to_string(),
            probe_mailbox: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let secret_check = report
        .checks
        .iter()
        .find(|check| check.name.starts_with("secret:"))
        .unwrap_or_else(|| panic!("no secret check: {:#?}", report.checks));
    assert!(!secret_check.ok, "{secret_check:?}");
    assert!(
        secret_check
            .detail
            .contains(&soon.format("%Y-%m-%d").to_string())
            && secret_check.fix.contains("galsync secret set"),
        "{secret_check:?}"
    );

    // Entra expires a secret the broker still holds: 7000222, named.
    let past = chrono::Utc::now() - chrono::Duration::days(1);
    let expired = emulator
        .state
        .identity
        .add_client_secret(&emulated.client_id, None, past)
        .unwrap();
    store_secret(expired.secret_text, past).await;
    let report = admin
        .test_connection(v1::TestConnectionRequest {
            tenant_id: emulated.tenant_id.to_string(),
            probe_mailbox: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!report.ok);
    assert!(
        report
            .checks
            .iter()
            .any(|check| check.error_code.contains("7000222")),
        "{:#?}",
        report.checks
    );
    let health = broker.broker().credential_health().await.unwrap();
    assert_eq!(health.client_secrets_expired, 1, "{health:?}");
}
