//! A PostgreSQL database of its own for every service of a cluster (created
//! on the server `GALSYNC_TEST_POSTGRES_URL` names, dropped with the cluster),
//! as separate hosts would each have theirs.

use sqlx::Connection;

/// The variable naming the PostgreSQL server clusters make databases on.
pub use galsync_testkit::harness::POSTGRES_DSN_VAR;

/// The databases made for one cluster; dropping it drops them (after the
/// processes using them are gone: keep it after them in a struct).
#[derive(Debug, Default)]
pub struct Databases {
    /// SQLite instead, whatever the environment says (separate hosts cannot
    /// reach the test server on loopback).
    pub sqlite_only: bool,
    base: Option<String>,
    names: Vec<String>,
}

/// `base` with its database replaced by `database`.
fn with_database(base: &str, database: &str) -> String {
    let (address, query) = match base.split_once('?') {
        Some((address, query)) => (address, Some(query)),
        None => (base, None),
    };
    let server = match address.rsplit_once('/') {
        Some((server, _)) if server.contains("://") && server.len() > "postgres://".len() => server,
        _ => address.trim_end_matches('/'),
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

impl Databases {
    /// A DSN for a new, empty database for `service`, or `None` when no
    /// test PostgreSQL is configured.
    pub async fn create(&mut self, service: &str) -> Option<String> {
        if self.sqlite_only {
            return None;
        }
        let base = std::env::var(POSTGRES_DSN_VAR).ok()?;
        let name = format!(
            "e2e_{}_{}",
            service.replace('-', "_"),
            uuid::Uuid::new_v4().simple()
        );
        let mut connection = sqlx::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|error| panic!("PostgreSQL at the test DSN does not answer: {error}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("CREATE DATABASE {name}: {error}"));
        let _ = connection.close().await;
        self.names.push(name.clone());
        let dsn = with_database(&base, &name);
        self.base = Some(base);
        Some(dsn)
    }
}

impl Drop for Databases {
    fn drop(&mut self) {
        let (Some(base), names) = (self.base.take(), std::mem::take(&mut self.names)) else {
            return;
        };
        // Drop runs inside the test's runtime: a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let Ok(mut connection) = sqlx::PgConnection::connect(&base).await else {
                    return;
                };
                for name in names {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut connection)
                        .await;
                }
            });
        });
        let _ = dropped.join();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_is_replaced_and_the_rest_kept() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/test", "e2e_x"),
            "postgres://postgres@127.0.0.1:5432/e2e_x"
        );
        assert_eq!(
            super::with_database("postgres://u:p@db/test?sslmode=disable", "e2e_x"),
            "postgres://u:p@db/e2e_x?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432", "e2e_x"),
            "postgres://postgres@127.0.0.1:5432/e2e_x"
        );
    }
}
