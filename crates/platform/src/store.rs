//! Store connection: one DSN picks the backend — `sqlite://path` (embedded,
//! created on first start) or `postgres://…` (shared by replicas) — and each
//! service applies its own migrations for that backend on start.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config_error::ConfigError;

/// The store DSN: `explicit` (the service's `--store-url`) when given, else
/// the embedded SQLite file `file_name` in `data_dir`.
pub fn url_or_embedded(
    explicit: Option<&str>,
    data_dir: &std::path::Path,
    file_name: &str,
) -> String {
    match explicit {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}", data_dir.join(file_name).display()),
    }
}

/// A connected, migrated store.
#[derive(Debug, Clone)]
pub enum StorePool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl StorePool {
    pub fn backend(&self) -> Backend {
        match self {
            StorePool::Sqlite(_) => Backend::Sqlite,
            StorePool::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn close(&self) {
        match self {
            StorePool::Sqlite(pool) => pool.close().await,
            StorePool::Postgres(pool) => pool.close().await,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A service's migrations, one folder per backend.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
}

/// Pool settings.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the store {dsn}: {source}")]
    Connect { dsn: String, source: sqlx::Error },
    #[error("cannot migrate the store {dsn}: {source}")]
    Migrate {
        dsn: String,
        source: sqlx::migrate::MigrateError,
    },
}

/// Connects to the store named by `dsn` (the value of `flag`) and applies the
/// backend's migrations.
pub async fn connect(
    flag: &str,
    dsn: &str,
    migrations: Migrations,
    settings: PoolSettings,
) -> Result<StorePool, StoreError> {
    let shown = redact_dsn(dsn);
    let backend = backend_of(flag, dsn)?;
    let pool = match backend {
        Backend::Sqlite => {
            let options = SqliteConnectOptions::from_str(dsn)
                .map_err(|error| {
                    ConfigError::new(flag, format!("{shown} is not a SQLite DSN: {error}"))
                })?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let database = options.get_filename().to_owned();
            let in_memory = dsn.contains(":memory:") || dsn.contains("mode=memory");
            if !in_memory {
                create_private_database(flag, &database)?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .connect_with(options)
                .await
                .map_err(|source| {
                    // A local file that cannot be opened as a database is
                    // the DSN's fault, never a passing outage.
                    ConfigError::new(
                        flag,
                        format!(
                            "cannot open {shown} as a SQLite database: {source}; \
                             give the path of a galsync store or of a file to create"
                        ),
                    )
                })?;
            migrations
                .sqlite
                .run(&pool)
                .await
                .map_err(|source| StoreError::Migrate {
                    dsn: shown.clone(),
                    source,
                })?;
            if !in_memory {
                // The write-ahead log and shared memory exist now; SQLite
                // gives them the database file's mode.
                crate::private_files::warn_if_exposed(&crate::private_files::sqlite_paths(
                    &database,
                ));
            }
            StorePool::Sqlite(pool)
        }
        Backend::Postgres => {
            let options = PgConnectOptions::from_str(dsn).map_err(|error| {
                ConfigError::new(flag, format!("{shown} is not a PostgreSQL DSN: {error}"))
            })?;
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .connect_with(options)
                .await
                .map_err(|source| postgres_connect_error(flag, &shown, source))?;
            migrations
                .postgres
                .run(&pool)
                .await
                .map_err(|source| StoreError::Migrate { dsn: shown, source })?;
            StorePool::Postgres(pool)
        }
    };
    Ok(pool)
}

/// Which backend a DSN names; anything else is a config error naming `flag`.
pub fn backend_of(flag: &str, dsn: &str) -> Result<Backend, ConfigError> {
    let scheme = dsn.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
    match scheme {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        _ => Err(ConfigError::new(
            flag,
            format!(
                "unknown store scheme `{scheme}` in {}; use sqlite://PATH (embedded) or postgres://USER@HOST/DB",
                redact_dsn(dsn)
            ),
        )),
    }
}

/// A PostgreSQL server that answers and refuses (wrong user or password, no
/// such database) is bad configuration; one that does not answer may be
/// starting, and stays a runtime failure.
fn postgres_connect_error(flag: &str, shown: &str, source: sqlx::Error) -> StoreError {
    match &source {
        sqlx::Error::Database(_) | sqlx::Error::Configuration(_) | sqlx::Error::Tls(_) => {
            StoreError::Config(ConfigError::new(
                flag,
                format!(
                    "PostgreSQL refused {shown}: {source}; check the user, password and database name"
                ),
            ))
        }
        _ => StoreError::Connect {
            dsn: shown.to_owned(),
            source,
        },
    }
}

/// Creates the database's directory (0700) and the empty database file
/// (0600) when they do not exist yet: the directory's store holds personal data.
fn create_private_database(flag: &str, file: &std::path::Path) -> Result<(), ConfigError> {
    if let Some(parent) = file.parent() {
        if parent.exists() && !parent.is_dir() {
            return Err(ConfigError::new(
                flag,
                format!(
                    "{} is a file, not a directory; give a path in a directory galsync may write to",
                    parent.display()
                ),
            ));
        }
        crate::private_files::create_private_dir(parent).map_err(|error| {
            ConfigError::new(
                flag,
                format!("cannot create directory {}: {error}", parent.display()),
            )
        })?;
    }
    crate::private_files::create_private_file(file).map_err(|error| {
        ConfigError::new(flag, format!("cannot create {}: {error}", file.display()))
    })
}

/// A DSN with any password replaced, for logs and errors.
pub fn redact_dsn(dsn: &str) -> String {
    let Some((scheme, rest)) = dsn.split_once("://") else {
        return dsn.to_owned();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return dsn.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => dsn.to_owned(),
    }
}

/// Runs the same sqlx code against whichever backend a [`StorePool`] holds.
/// The body is compiled once per backend, so it must be valid for both: write
/// SQL both accept (`$1`-style parameters in order of appearance, `ON CONFLICT`,
/// `RETURNING`) and keep backend-specific DDL in the migration folders.
/// The [`Migrations`] of the service crate it is written in: its
/// `migrations/sqlite` and `migrations/postgres` folders, embedded at build
/// time (`sqlx::migrate!`, relative to that crate's manifest).
#[macro_export]
macro_rules! migrations {
    () => {{
        static SQLITE: ::sqlx::migrate::Migrator = ::sqlx::migrate!("migrations/sqlite");
        static POSTGRES: ::sqlx::migrate::Migrator = ::sqlx::migrate!("migrations/postgres");
        $crate::store::Migrations {
            sqlite: &SQLITE,
            postgres: &POSTGRES,
        }
    }};
}

#[macro_export]
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::StorePool::Sqlite($pool) => $body,
            $crate::store::StorePool::Postgres($pool) => $body,
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_scheme_names_the_flag_and_the_fix() {
        let error = backend_of("store-url", "mysql://root@db/x").unwrap_err();
        assert_eq!(error.flag, "store-url");
        assert!(error.problem.contains("unknown store scheme `mysql`"));
        assert!(error.problem.contains("sqlite://"));
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_dsn("postgres://galsync:hunter2@db:5432/galsync"),
            "postgres://galsync:***@db:5432/galsync"
        );
        let error = backend_of("store-url", "mysql://root:hunter2@db/x").unwrap_err();
        assert!(!error.to_string().contains("hunter2"));
    }
}
