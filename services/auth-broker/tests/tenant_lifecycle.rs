//! A registered tenant changed (UpdateTenant) and removed (RemoveTenant) over
//! real gRPC: only the fields given change, a removed tenant leaves no row of
//! its credentials in the store (looked at directly), its neighbours keep
//! theirs, both are for admins only and both are audited without secrets.

use std::collections::BTreeMap;

use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1;
use galsync_testkit::{
    connect_tenant, create_emulated_app, BrokerStore, Step, TenantApp, TestBroker,
};
use tonic::Code;
use uuid::Uuid;

const READ_APP: &str = "0b8f6a2e-1c5d-4d7e-8f90-a1b2c3d4e5f6";
const WRITE_APP: &str = "9d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a09";
const NEW_WRITE_APP: &str = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d";
const NEW_READ_APP: &str = "7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b";
const CLIENT_SECRET: &str = "s3cret-Value~never-in-the-audit-log";

/// Tables that hold a tenant's rows; each has a `tenant_id` column.
const TENANT_TABLES: [&str; 5] = [
    "tenants",
    "apps",
    "certificates",
    "consent_states",
    "consent_outcomes",
];

/// Where a test reads the broker's store directly, beside the broker.
enum StoreReader {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl StoreReader {
    fn for_broker(broker: &TestBroker, postgres_dsn: Option<&str>) -> StoreReader {
        match postgres_dsn {
            Some(dsn) => StoreReader::Postgres(dsn.to_owned()),
            None => StoreReader::Sqlite(broker.data_dir().join("auth-broker.db")),
        }
    }

    /// The tenant's rows per table, and its apps' sealed secrets, read from
    /// the store directly rather than through the broker.
    async fn rows_of(&self, tenant_id: &str) -> BTreeMap<String, i64> {
        let mut queries = Vec::new();
        for table in TENANT_TABLES {
            queries.push((
                table.to_owned(),
                format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = $1"),
            ));
        }
        queries.push((
            "apps.sealed_client_secret".to_owned(),
            "SELECT COUNT(*) FROM apps WHERE tenant_id = $1 AND sealed_client_secret IS NOT NULL"
                .to_owned(),
        ));
        let mut rows = BTreeMap::new();
        match self {
            StoreReader::Sqlite(path) => {
                let url = format!("sqlite://{}?mode=ro", path.display());
                let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
                for (name, query) in queries {
                    let (count,): (i64,) = sqlx::query_as(&query)
                        .bind(tenant_id)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    rows.insert(name, count);
                }
                pool.close().await;
            }
            StoreReader::Postgres(dsn) => {
                let pool = sqlx::PgPool::connect(dsn).await.unwrap();
                for (name, query) in queries {
                    let (count,): (i64,) = sqlx::query_as(&query)
                        .bind(tenant_id)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    rows.insert(name, count);
                }
                pool.close().await;
            }
        }
        rows
    }
}

/// The tenant's rows in a SQLite broker's store.
async fn stored_rows(broker: &TestBroker, tenant_id: &str) -> BTreeMap<String, i64> {
    StoreReader::for_broker(broker, None)
        .rows_of(tenant_id)
        .await
}

fn app(client_id: &str, mode: v1::AuthMode, purpose: v1::TokenPurpose) -> v1::AppRegistration {
    v1::AppRegistration {
        client_id: client_id.to_owned(),
        auth_mode: mode as i32,
        purposes: vec![purpose as i32],
        ..Default::default()
    }
}

async fn audit_events(broker: &TestBroker, tenant_id: &str, kind: &str) -> Vec<v1::AuditEvent> {
    broker
        .admin_client()
        .await
        .list_audit_events(v1::ListAuditEventsRequest {
            tenant_id: tenant_id.to_owned(),
            limit: 0,
            kind: kind.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .events
}

#[tokio::test]
async fn removing_a_tenant_deletes_every_secret_of_it_and_nothing_of_its_neighbour() {
    removal_deletes_every_secret_of_the_tenant_only(BrokerStore::Sqlite, None).await;
}

#[tokio::test]
async fn removing_a_tenant_from_postgres_deletes_every_secret_of_it_and_nothing_of_its_neighbour() {
    let Some(dsn) = galsync_testkit::harness::fresh_postgres_dsn(
        "removing_a_tenant_from_postgres_deletes_every_secret_of_it_and_nothing_of_its_neighbour",
    )
    .await
    else {
        return;
    };
    removal_deletes_every_secret_of_the_tenant_only(BrokerStore::Postgres(dsn.clone()), Some(dsn))
        .await;
}

async fn removal_deletes_every_secret_of_the_tenant_only(
    store: BrokerStore,
    postgres_dsn: Option<String>,
) {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start_with(store, |_| {}).await;
    let reader_of_store = StoreReader::for_broker(&broker, postgres_dsn.as_deref());
    let mut admin = broker.admin_client().await;

    // The tenant to remove: a certificate app that reads (its certificate
    // uploaded and consented, so a token is cached) and a client-secret app
    // that writes, with a consent link handed out.
    let emulated = create_emulated_app(&emulator, Uuid::new_v4(), &TenantApp::default());
    let tenant_id = emulated.tenant_id.to_string();
    admin
        .register_tenant(v1::RegisterTenantRequest {
            tenant_id: tenant_id.clone(),
            display_name: "Contoso".to_owned(),
            login_base_url: emulator.base_url(),
            graph_base_url: emulator.base_url(),
            apps: vec![
                app(
                    &emulated.client_id,
                    v1::AuthMode::Certificate,
                    v1::TokenPurpose::Directory,
                ),
                app(
                    WRITE_APP,
                    v1::AuthMode::ClientSecret,
                    v1::TokenPurpose::Contacts,
                ),
            ],
        })
        .await
        .unwrap();
    let certificate = admin
        .generate_certificate(v1::GenerateCertificateRequest {
            tenant_id: tenant_id.clone(),
            client_id: emulated.client_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let exported = admin
        .export_certificate(v1::ExportCertificateRequest {
            certificate_id: certificate.certificate_id,
        })
        .await
        .unwrap()
        .into_inner();
    let identity = &emulator.state.identity;
    identity
        .upload_certificate(&emulated.client_id, &exported.cer_der)
        .unwrap();
    galsync_testkit::grant_admin_consent(&emulator, emulated.tenant_id, &emulated.client_id);
    admin
        .set_client_secret(v1::SetClientSecretRequest {
            tenant_id: tenant_id.clone(),
            client_id: WRITE_APP.to_owned(),
            secret: CLIENT_SECRET.to_owned(),
            expires_at: None,
        })
        .await
        .unwrap();
    admin
        .get_admin_consent_url(v1::GetAdminConsentUrlRequest {
            tenant_id: tenant_id.clone(),
            client_id: WRITE_APP.to_owned(),
            redirect_uri: String::new(),
        })
        .await
        .unwrap();
    let mut reader = broker.client_as("directory-reader").await;
    let token_request = v1::GetGraphTokenRequest {
        tenant_id: tenant_id.clone(),
        purpose: v1::TokenPurpose::Directory as i32,
    };
    reader
        .get_graph_token(token_request.clone())
        .await
        .expect("a token (now cached) before the removal");

    let neighbour = connect_tenant(
        &emulator,
        &mut admin,
        TenantApp {
            last_step: Step::ExportCertificate,
            ..TenantApp::default()
        },
    )
    .await
    .tenant_id
    .to_string();
    let neighbour_before = reader_of_store.rows_of(&neighbour).await;
    let before = reader_of_store.rows_of(&tenant_id).await;
    for (what, expected) in [
        ("tenants", 1),
        ("apps", 2),
        ("certificates", 1),
        ("consent_states", 1),
        ("apps.sealed_client_secret", 1),
    ] {
        assert_eq!(
            before[what], expected,
            "{what} before the removal: {before:?}"
        );
    }

    let mut writer = broker.client_as("contact-writer").await;
    let refused = writer
        .remove_tenant(v1::RemoveTenantRequest {
            tenant_id: tenant_id.clone(),
        })
        .await
        .expect_err("only admins remove tenants");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(reader_of_store.rows_of(&tenant_id).await, before);

    let removed = admin
        .remove_tenant(v1::RemoveTenantRequest {
            tenant_id: tenant_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            removed.apps,
            removed.certificate_keys,
            removed.client_secrets,
        ),
        (2, 1, 1),
        "{removed:?}"
    );
    assert_eq!(
        removed.tenant.map(|tenant| tenant.display_name).as_deref(),
        Some("Contoso")
    );

    let after = reader_of_store.rows_of(&tenant_id).await;
    assert!(
        after.values().all(|count| *count == 0),
        "the store still holds rows of the removed tenant: {after:?}"
    );
    assert_eq!(
        reader_of_store.rows_of(&neighbour).await,
        neighbour_before,
        "the neighbour's rows are untouched"
    );

    let unknown = reader
        .get_graph_token(token_request)
        .await
        .expect_err("no token for a removed tenant, cached or not");
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    assert!(
        unknown.message().contains(&tenant_id) && unknown.message().contains("is not registered"),
        "{}",
        unknown.message()
    );

    let events = audit_events(&broker, &tenant_id, "tenant.removed").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].caller, "urn:galsync:service:cli");
    assert!(
        events[0]
            .detail
            .contains("1 certificate keys, 1 client secrets"),
        "{}",
        events[0].detail
    );
    let every_event = audit_events(&broker, "", "").await;
    assert!(
        every_event
            .iter()
            .all(|event| !event.detail.contains(CLIENT_SECRET)),
        "no audit event carries the secret"
    );

    let again = admin
        .remove_tenant(v1::RemoveTenantRequest {
            tenant_id: tenant_id.clone(),
        })
        .await
        .expect_err("removed already");
    assert_eq!(again.code(), Code::NotFound, "{again:?}");
}

#[tokio::test]
async fn update_changes_only_the_fields_given_and_audits_their_names() {
    let broker = TestBroker::start().await;
    let mut admin = broker.admin_client().await;
    let tenant_id = Uuid::new_v4().to_string();
    admin
        .register_tenant(v1::RegisterTenantRequest {
            tenant_id: tenant_id.clone(),
            display_name: "Contoso".to_owned(),
            login_base_url: "http://127.0.0.1:9".to_owned(),
            graph_base_url: "http://127.0.0.1:9".to_owned(),
            apps: vec![
                app(
                    READ_APP,
                    v1::AuthMode::Certificate,
                    v1::TokenPurpose::Directory,
                ),
                app(
                    WRITE_APP,
                    v1::AuthMode::ClientSecret,
                    v1::TokenPurpose::Contacts,
                ),
            ],
        })
        .await
        .unwrap();
    admin
        .generate_certificate(v1::GenerateCertificateRequest {
            tenant_id: tenant_id.clone(),
            client_id: READ_APP.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap();
    admin
        .set_client_secret(v1::SetClientSecretRequest {
            tenant_id: tenant_id.clone(),
            client_id: WRITE_APP.to_owned(),
            secret: CLIENT_SECRET.to_owned(),
            expires_at: None,
        })
        .await
        .unwrap();
    let update = |change: v1::UpdateTenantRequest| v1::UpdateTenantRequest {
        tenant_id: tenant_id.clone(),
        ..change
    };

    let renamed = admin
        .update_tenant(update(v1::UpdateTenantRequest {
            display_name: Some("Fabrikam".to_owned()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.changed_fields, ["display_name"]);
    let tenant = renamed.tenant.unwrap();
    assert_eq!(tenant.display_name, "Fabrikam");
    assert_eq!(tenant.login_base_url, "http://127.0.0.1:9");
    assert_eq!(tenant.graph_base_url, "http://127.0.0.1:9");
    assert_eq!(tenant.apps.len(), 2);
    assert!(tenant.apps[1].has_client_secret, "{tenant:?}");

    let same = admin
        .update_tenant(update(v1::UpdateTenantRequest {
            display_name: Some("Fabrikam".to_owned()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(same.changed_fields.is_empty(), "{same:?}");

    let public_cloud = admin
        .update_tenant(update(v1::UpdateTenantRequest {
            login_base_url: Some(String::new()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(public_cloud.changed_fields, ["login_base_url"]);
    assert_eq!(
        public_cloud.tenant.unwrap().login_base_url,
        "https://login.microsoftonline.com"
    );

    for (bad, field) in [
        (
            v1::UpdateTenantRequest {
                client_id_changes: vec![v1::ClientIdChange {
                    client_id: WRITE_APP.to_owned(),
                    new_client_id: "contoso.onmicrosoft.com".to_owned(),
                }],
                ..Default::default()
            },
            "client_id_changes.new_client_id",
        ),
        (
            v1::UpdateTenantRequest {
                graph_base_url: Some("ftp://graph.example".to_owned()),
                ..Default::default()
            },
            "graph_base_url",
        ),
        (v1::UpdateTenantRequest::default(), "update"),
    ] {
        let status = admin.update_tenant(update(bad)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().starts_with(&format!("invalid {field}:")),
            "{}",
            status.message()
        );
    }
    let unknown = admin
        .update_tenant(v1::UpdateTenantRequest {
            tenant_id: Uuid::new_v4().to_string(),
            display_name: Some("Nobody".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");

    // Another app registration for writing: the old one's secret goes with it.
    let moved = admin
        .update_tenant(update(v1::UpdateTenantRequest {
            client_id_changes: vec![v1::ClientIdChange {
                client_id: WRITE_APP.to_owned(),
                new_client_id: NEW_WRITE_APP.to_uppercase(),
            }],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.changed_fields, ["apps.client_id"]);
    let apps = moved.tenant.unwrap().apps;
    let writer_app = apps
        .iter()
        .find(|app| app.client_id == NEW_WRITE_APP)
        .unwrap_or_else(|| panic!("the new client id, lowercase: {apps:?}"));
    assert_eq!(writer_app.auth_mode, v1::AuthMode::ClientSecret as i32);
    assert_eq!(writer_app.purposes, [v1::TokenPurpose::Contacts as i32]);
    assert!(!writer_app.has_client_secret, "{writer_app:?}");
    assert!(apps.iter().all(|app| app.client_id != WRITE_APP));
    let rows = stored_rows(&broker, &tenant_id).await;
    assert_eq!(
        rows["certificates"], 1,
        "the read app keeps its certificate"
    );
    assert_eq!(rows["apps.sealed_client_secret"], 0);

    // Another app registration for reading: the certificate galsync made
    // goes with it, awaiting the upload of its .cer (the manual
    // provisioning script uploads this same certificate to the new app).
    admin
        .update_tenant(update(v1::UpdateTenantRequest {
            client_id_changes: vec![v1::ClientIdChange {
                client_id: READ_APP.to_owned(),
                new_client_id: NEW_READ_APP.to_owned(),
            }],
            ..Default::default()
        }))
        .await
        .unwrap();
    let certificates = admin
        .list_certificates(v1::ListCertificatesRequest {
            tenant_id: tenant_id.clone(),
            client_id: NEW_READ_APP.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .certificates;
    assert_eq!(certificates.len(), 1, "{certificates:?}");
    assert_eq!(
        certificates[0].state,
        v1::CertificateState::PendingRegistration as i32
    );
    assert_eq!(stored_rows(&broker, &tenant_id).await["certificates"], 1);

    let mut writer = broker.client_as("contact-writer").await;
    let refused = writer
        .update_tenant(update(v1::UpdateTenantRequest {
            display_name: Some("Mine".to_owned()),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let denied = audit_events(&broker, "", "access.denied").await;
    assert!(
        denied
            .iter()
            .any(|event| event.detail == "galsync.v1.AuthBroker/UpdateTenant"),
        "{denied:?}"
    );

    let updates = audit_events(&broker, &tenant_id, "tenant.updated").await;
    let details: Vec<&str> = updates.iter().map(|event| event.detail.as_str()).collect();
    assert_eq!(
        details.len(),
        4,
        "an update that changed nothing is not audited: {details:?}"
    );
    assert_eq!(
        details[0],
        format!("changed apps.client_id; app {READ_APP} is now {NEW_READ_APP}"),
        "the certificate moved, nothing was deleted: {details:?}"
    );
    assert!(
        details[1].starts_with("changed apps.client_id; app "),
        "{details:?}"
    );
    assert!(details[1].contains("1 client secrets"), "{details:?}");
    assert_eq!(details[2], "changed login_base_url");
    assert_eq!(details[3], "changed display_name");
    assert!(updates
        .iter()
        .all(|event| event.caller == "urn:galsync:service:cli"
            && !event.detail.contains(CLIENT_SECRET)));
}
