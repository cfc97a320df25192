//! Consent-token mode was removed. A store from before the removal, holding
//! an app in that mode with its sealed refresh token and a pending device
//! sign-in, is opened by today's broker: the migration deletes the mode's
//! credentials, the broker starts, and a token request or Test Connection for
//! the app is refused with the reason and the commands that fix it. A client
//! that still asks for the mode is told it is gone.

mod common;

use common::{bytes_under, contains};
use galsync_proto::v1;
use galsync_testkit::{BrokerStore, TestBroker};
use tonic::Code;

const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
/// What the old broker stored, sealed; the migration must delete it.
const SEALED_REFRESH_TOKEN: &str = "v1.sealed-refresh-token-of-the-removed-mode";
const SEALED_DEVICE_CODE: &str = "v1.sealed-device-code-of-the-removed-mode";

/// The command a refusal names to register the app again.
fn tenant_add_command() -> String {
    format!(
        "`galsync tenant add --tenant-id {TENANT_ID} --name \"Contoso\" --client-id {CLIENT_ID} \
         --auth certificate`"
    )
}

/// The rows the broker wrote for a consent-token app before the removal:
/// a signed-in app, and a second sign-in left pending.
fn rows_from_before() -> Vec<String> {
    vec![
        format!(
            "INSERT INTO tenants (tenant_id, display_name, login_base_url, graph_base_url, created_at) \
             VALUES ('{TENANT_ID}', 'Contoso', 'https://login.microsoftonline.com', \
             'https://graph.microsoft.com', 1700000000000)"
        ),
        format!(
            "INSERT INTO apps (tenant_id, client_id, auth_mode, purposes, sealed_client_secret, \
             client_secret_expires_at, sealed_refresh_token, refresh_token_used_at) \
             VALUES ('{TENANT_ID}', '{CLIENT_ID}', 'consent-token', 'directory,contacts', NULL, NULL, \
             '{SEALED_REFRESH_TOKEN}', 1700000000000)"
        ),
        format!(
            "INSERT INTO device_sign_ins (sign_in_id, tenant_id, client_id, sealed_device_code, \
             user_code, verification_uri, message, expires_at, interval_seconds, state, error_description) \
             VALUES ('4d3c2b1a-0000-4000-8000-000000000001', '{TENANT_ID}', '{CLIENT_ID}', \
             '{SEALED_DEVICE_CODE}', 'ABCD-EFGH', 'https://microsoft.com/devicelogin', \
             'To sign in, enter the code ABCD-EFGH', 1700000900000, 5, 'pending', '')"
        ),
    ]
}

/// The broker's migrations as they were before the removal (0001 and 0002),
/// copied from the crate: the files that shipped, byte for byte.
async fn migrator_before_the_removal(
    backend: &str,
) -> (tempfile::TempDir, sqlx::migrate::Migrator) {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let old = tempfile::tempdir().unwrap();
    for name in ["0001_broker.sql", "0002_master_key_check.sql"] {
        std::fs::copy(shipped.join(name), old.path().join(name)).unwrap();
    }
    let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
    (old, migrator)
}

/// Makes the store at `url` as the broker left it before the removal.
async fn store_from_before_the_removal(store: &OldStore) {
    match store {
        OldStore::Sqlite(url) => {
            let (_dir, migrator) = migrator_before_the_removal("sqlite").await;
            let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url)
                .unwrap()
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            migrator.run(&pool).await.unwrap();
            for statement in rows_from_before() {
                sqlx::query(&statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        OldStore::Postgres(dsn) => {
            let (_dir, migrator) = migrator_before_the_removal("postgres").await;
            let pool = sqlx::PgPool::connect(dsn).await.unwrap();
            migrator.run(&pool).await.unwrap();
            for statement in rows_from_before() {
                sqlx::query(&statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }
}

enum OldStore {
    Sqlite(String),
    Postgres(String),
}

impl OldStore {
    /// How many places of the removed mode's credentials the schema still
    /// has: columns of `apps` about refresh tokens, and the sign-in table.
    async fn removed_mode_schema(&self) -> i64 {
        match self {
            OldStore::Sqlite(url) => {
                let pool = sqlx::SqlitePool::connect(url).await.unwrap();
                let (count,): (i64,) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM pragma_table_info('apps') WHERE name LIKE '%refresh_token%') \
                          + (SELECT COUNT(*) FROM sqlite_master WHERE name = 'device_sign_ins')",
                )
                .fetch_one(&pool)
                .await
                .unwrap();
                pool.close().await;
                count
            }
            OldStore::Postgres(dsn) => {
                let pool = sqlx::PgPool::connect(dsn).await.unwrap();
                let (count,): (i64,) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM information_schema.columns \
                             WHERE table_schema = current_schema() AND table_name = 'apps' \
                             AND column_name LIKE '%refresh_token%') \
                          + (SELECT COUNT(*) FROM information_schema.tables \
                             WHERE table_schema = current_schema() AND table_name = 'device_sign_ins')",
                )
                .fetch_one(&pool)
                .await
                .unwrap();
                pool.close().await;
                count
            }
        }
    }
}

async fn an_app_left_in_consent_token_mode_is_refused_with_the_fix(
    old_store: OldStore,
    broker_store: BrokerStore,
) {
    store_from_before_the_removal(&old_store).await;
    assert_eq!(old_store.removed_mode_schema().await, 3, "the old schema");
    let store_url = match &old_store {
        OldStore::Sqlite(url) | OldStore::Postgres(url) => url.clone(),
    };
    let broker = TestBroker::start_with(broker_store, |config| {
        config.store_url = Some(store_url);
    })
    .await;

    let mut reader = broker.client_as("directory-reader").await;
    let refused = reader
        .get_graph_token(v1::GetGraphTokenRequest {
            tenant_id: TENANT_ID.to_owned(),
            purpose: v1::TokenPurpose::Directory as i32,
        })
        .await
        .expect_err("no token for an app in the removed mode");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    let message = refused.message();
    assert!(
        message.starts_with(&format!(
            "app {CLIENT_ID} is in consent-token mode, which galsync no longer supports"
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "to fix it, register the app again in certificate mode: run `galsync tenant remove --tenant-id {TENANT_ID}`"
        )) && message.contains(&tenant_add_command()),
        "{message}"
    );

    let mut admin = broker.admin_client().await;
    let tested = admin
        .test_connection(v1::TestConnectionRequest {
            tenant_id: TENANT_ID.to_owned(),
            probe_mailbox: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!tested.ok, "{tested:?}");
    assert_eq!(tested.checks.len(), 1, "{tested:?}");
    let check = &tested.checks[0];
    assert_eq!(check.name, "token:directory+contacts");
    assert!(check.detail.contains("consent-token mode"), "{check:?}");
    assert!(check.fix.contains(&tenant_add_command()), "{check:?}");

    let tenant = admin
        .get_tenant(v1::GetTenantRequest {
            tenant_id: TENANT_ID.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tenant.apps.len(), 1, "the app stays registered");
    assert_eq!(tenant.apps[0].auth_mode, v1::AuthMode::Unspecified as i32);

    broker.shutdown().await;
    assert_eq!(
        old_store.removed_mode_schema().await,
        0,
        "the refresh-token columns and the device sign-ins are gone"
    );
}

#[tokio::test]
async fn a_sqlite_store_from_before_the_removal_refuses_its_consent_token_app_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("auth-broker.db").display());
    an_app_left_in_consent_token_mode_is_refused_with_the_fix(
        OldStore::Sqlite(url),
        BrokerStore::Sqlite,
    )
    .await;
    let stored = bytes_under(dir.path());
    for (what, sealed) in [
        ("refresh token", SEALED_REFRESH_TOKEN),
        ("device code", SEALED_DEVICE_CODE),
    ] {
        assert!(
            !contains(&stored, sealed.as_bytes()),
            "the store file still holds the sealed {what}"
        );
    }
}

#[tokio::test]
async fn a_postgres_store_from_before_the_removal_refuses_its_consent_token_app_with_the_fix() {
    let Some(dsn) = galsync_testkit::harness::fresh_postgres_dsn(
        "a_postgres_store_from_before_the_removal_refuses_its_consent_token_app_with_the_fix",
    )
    .await
    else {
        return;
    };
    an_app_left_in_consent_token_mode_is_refused_with_the_fix(
        OldStore::Postgres(dsn.clone()),
        BrokerStore::Postgres(dsn),
    )
    .await;
}

#[tokio::test]
async fn registering_an_app_in_consent_token_mode_is_refused_with_the_reason() {
    let broker = TestBroker::start().await;
    let mut admin = broker.admin_client().await;
    let refused = admin
        .register_tenant(v1::RegisterTenantRequest {
            tenant_id: TENANT_ID.to_owned(),
            display_name: "Contoso".to_owned(),
            login_base_url: String::new(),
            graph_base_url: String::new(),
            apps: vec![v1::AppRegistration {
                client_id: CLIENT_ID.to_owned(),
                // AUTH_MODE_CONSENT_TOKEN before it was reserved.
                auth_mode: 3,
                purposes: vec![v1::TokenPurpose::Directory as i32],
                ..Default::default()
            }],
        })
        .await
        .expect_err("the mode is gone");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused
            .message()
            .starts_with("invalid apps.auth_mode: consent-token mode was removed"),
        "{}",
        refused.message()
    );
    let tenants = admin
        .list_tenants(v1::ListTenantsRequest {})
        .await
        .unwrap()
        .into_inner()
        .tenants;
    assert!(tenants.is_empty(), "nothing was registered: {tenants:?}");
}
