//! `galsync-scheduler` configuration: the shared server flags plus this service's own.

use std::path::PathBuf;

use clap::Parser;
use galsync_platform::config::{ConfigError, ServerArgs};
use galsync_platform::service::ServiceConfig;

/// galsync scheduler.
#[derive(Debug, Clone, Parser)]
#[command(name = "galsync-scheduler", version, about)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Store DSN: sqlite://PATH (embedded, created on first start) or postgres://USER@HOST/DB.
    /// Default: sqlite in --data-dir.
    #[arg(long, env = "GALSYNC_SCHEDULER_STORE_URL")]
    pub store_url: Option<String>,

    /// Directory for embedded data (SQLite files, generated keys).
    #[arg(long, env = "GALSYNC_DATA_DIR", default_value = "galsync-data")]
    pub data_dir: PathBuf,

    /// The directory-reader, e.g. https://reader.internal:50052.
    /// Default: 127.0.0.1:50052, https when TLS flags are set.
    #[arg(long, env = "GALSYNC_READER_URL", value_parser = galsync_platform::flags::http_url)]
    pub reader_url: Option<String>,

    /// The auth-broker, e.g. https://broker.internal:50051: a profile for a
    /// tenant it does not know is refused when created. Unset: not checked.
    #[arg(long, env = "GALSYNC_BROKER_URL", value_parser = galsync_platform::flags::http_url)]
    pub broker_url: Option<String>,

    /// Roles of mTLS identities on the public API, as IDENTITY=ROLE (viewer, operator, admin).
    /// The console's binding caps what any signed-in person may do through it.
    #[arg(long = "role-binding", env = "GALSYNC_ROLE_BINDING", value_delimiter = ',', default_values_t = ["cli=admin".to_owned(), "console=admin".to_owned()])]
    pub role_binding: Vec<String>,

    /// The admin console's mTLS identity: the only caller whose
    /// x-galsync-on-behalf-of metadata (the signed-in person and role) is
    /// believed, capped at this identity's --role-binding. Empty: none.
    #[arg(long, env = "GALSYNC_CONSOLE_IDENTITY", default_value = "console")]
    pub console_identity: String,

    /// Service identities allowed to lease work from the queue.
    #[arg(long = "worker-identity", env = "GALSYNC_WORKER_IDENTITY", value_delimiter = ',', default_values_t = ["contact-writer".to_owned()])]
    pub worker_identity: Vec<String>,

    /// Treat plaintext loopback callers as admins and workers (single-host development only).
    #[arg(
        long,
        env = "GALSYNC_TRUST_PLAINTEXT_LOOPBACK",
        default_value_t = false
    )]
    pub trust_plaintext_loopback: bool,

    /// Attempts per mailbox before it counts as failed.
    #[arg(long, env = "GALSYNC_MAX_ATTEMPTS", default_value_t = 5)]
    pub max_attempts: u32,

    /// Seconds a profile's run lock lives without renewal (a dead scheduler's runs are adopted after it).
    #[arg(long, env = "GALSYNC_RUN_LOCK_TTL_SECS", default_value_t = 60)]
    pub run_lock_ttl_secs: u64,

    /// Days finished runs are kept.
    #[arg(long, env = "GALSYNC_RUN_RETENTION_DAYS", default_value_t = 90)]
    pub run_retention_days: u64,
}

impl Config {
    /// The store DSN, defaulting to `scheduler.db` in the data directory.
    pub fn store_url(&self) -> String {
        galsync_platform::store::url_or_embedded(
            self.store_url.as_deref(),
            &self.data_dir,
            "scheduler.db",
        )
    }

    /// The reader's URL: the flag, or the default port on loopback.
    pub fn reader_url(&self) -> String {
        self.server
            .peer_url_or_loopback(self.reader_url.as_deref(), 50052)
    }

    /// A configuration for tests and `galsync up`: loopback, plaintext, the given store.
    pub fn local(store_url: impl Into<String>) -> Self {
        let mut config = Self::parse_from(["galsync-scheduler"]);
        config.store_url = Some(store_url.into());
        config
    }
}

impl ServiceConfig for Config {
    fn server(&self) -> &ServerArgs {
        &self.server
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.store_url.is_none() {
            galsync_platform::flags::usable_data_dir("data-dir", &self.data_dir)?;
        }
        galsync_platform::store::backend_of("store-url", &self.store_url())?;
        crate::access::Access::new(
            &self.role_binding,
            &self.worker_identity,
            self.trust_plaintext_loopback,
        )
        .map_err(|problem| ConfigError::new("role-binding", problem))?;
        if self.max_attempts == 0 {
            return Err(ConfigError::new("max-attempts", "must be at least 1"));
        }
        if self.run_lock_ttl_secs < 5 {
            return Err(ConfigError::new("run-lock-ttl-secs", "must be at least 5"));
        }
        if let Some(url) = &self.reader_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::new(
                    "reader-url",
                    format!("`{url}` must start with http:// or https://"),
                ));
            }
        }
        Ok(())
    }
}
