//! Store connection and migration against real SQLite and PostgreSQL.

use galsync_platform::store::{connect, Backend, Migrations, PoolSettings, StorePool};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("tests/migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("tests/migrations/postgres");
const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

async fn insert_and_count(pool: &StorePool) -> i64 {
    match pool {
        StorePool::Sqlite(pool) => {
            sqlx::query("INSERT INTO widgets (name) VALUES ('a')")
                .execute(pool)
                .await
                .unwrap();
            sqlx::query_scalar("SELECT COUNT(*) FROM widgets")
                .fetch_one(pool)
                .await
                .unwrap()
        }
        StorePool::Postgres(pool) => {
            sqlx::query("INSERT INTO widgets (name) VALUES ('a')")
                .execute(pool)
                .await
                .unwrap();
            sqlx::query_scalar("SELECT COUNT(*) FROM widgets")
                .fetch_one(pool)
                .await
                .unwrap()
        }
    }
}

#[tokio::test]
async fn sqlite_file_is_created_migrated_and_kept_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/store.db");
    let dsn = format!("sqlite://{}", path.display());
    let pool = connect("store-url", &dsn, MIGRATIONS, PoolSettings::default())
        .await
        .unwrap();
    assert_eq!(pool.backend(), Backend::Sqlite);
    assert_eq!(insert_and_count(&pool).await, 1);
    pool.close().await;
    assert!(path.exists());

    // Reopening applies no migration twice and keeps the data.
    let pool = connect("store-url", &dsn, MIGRATIONS, PoolSettings::default())
        .await
        .unwrap();
    assert_eq!(insert_and_count(&pool).await, 2);
}

#[tokio::test]
async fn postgres_is_migrated_and_usable() {
    let Some(dsn) =
        galsync_testkit::harness::fresh_postgres_dsn("postgres_is_migrated_and_usable").await
    else {
        return;
    };
    let pool = connect("store-url", &dsn, MIGRATIONS, PoolSettings::default())
        .await
        .unwrap();
    assert_eq!(pool.backend(), Backend::Postgres);
    assert_eq!(insert_and_count(&pool).await, 1);
    pool.close().await;
    let pool = connect("store-url", &dsn, MIGRATIONS, PoolSettings::default())
        .await
        .unwrap();
    assert_eq!(insert_and_count(&pool).await, 2);
}

#[tokio::test]
async fn unreachable_postgres_is_a_clear_error_without_the_password() {
    let error = connect(
        "store-url",
        "postgres://galsync:s3cret@127.0.0.1:1/galsync",
        MIGRATIONS,
        PoolSettings {
            max_connections: 1,
            acquire_timeout: std::time::Duration::from_secs(2),
        },
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("cannot open the store"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
}
