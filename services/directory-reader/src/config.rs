//! `galsync-directory-reader` configuration: the shared server flags plus this service's own.

use std::path::PathBuf;

use clap::Parser;
use galsync_platform::config::{ConfigError, ServerArgs};
use galsync_platform::service::ServiceConfig;
use galsync_platform::AllowedCallers;

use crate::grpc::ReaderAccess;

/// galsync directory-reader.
#[derive(Debug, Clone, Parser)]
#[command(name = "galsync-directory-reader", version, about)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Store DSN: sqlite://PATH (embedded, created on first start) or postgres://USER@HOST/DB.
    /// Default: sqlite in --data-dir.
    #[arg(long, env = "GALSYNC_DIRECTORY_READER_STORE_URL")]
    pub store_url: Option<String>,

    /// Directory for embedded data (SQLite files, generated keys).
    #[arg(long, env = "GALSYNC_DATA_DIR", default_value = "galsync-data")]
    pub data_dir: PathBuf,

    /// The auth-broker's gRPC URL. Default: https://127.0.0.1:50051 when this
    /// service has TLS material (it presents its own certificate to the broker),
    /// http://127.0.0.1:50051 otherwise.
    #[arg(long, env = "GALSYNC_BROKER_URL", value_parser = galsync_platform::flags::http_url)]
    pub broker_url: Option<String>,

    /// Snapshots kept per tenant (the most recently taken ones); older ones are
    /// removed after each new snapshot and answer NOT_FOUND.
    #[arg(long, env = "GALSYNC_SNAPSHOT_RETENTION", default_value_t = 20)]
    pub snapshot_retention: u32,

    /// Fetch profile photos when a snapshot asks for them; off = snapshots never carry photos.
    #[arg(
        long,
        env = "GALSYNC_FETCH_PHOTOS",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub fetch_photos: bool,

    /// Graph requests this service has in flight at once, over all tenants
    /// (group listings and photo reads run in parallel up to this bound).
    #[arg(long, env = "GALSYNC_MAX_GRAPH_CONCURRENCY", default_value_t = 4)]
    pub max_graph_concurrency: usize,

    /// `$batch` calls (20 users each) that read users' mailbox purpose
    /// (`mailboxSettings/userPurpose`) in flight at once. Graph runs 4
    /// sub-requests of a call at a time, so one call at a time makes an
    /// initial read of N users N/20 round trips; an app-wide 429 in any call
    /// pauses them all for its Retry-After.
    #[arg(
        long,
        env = "GALSYNC_PURPOSE_BATCHES_IN_FLIGHT",
        default_value_t = crate::purpose::DEFAULT_BATCHES_IN_FLIGHT
    )]
    pub purpose_batches_in_flight: usize,

    /// Seconds a target list may reuse the last round of the whole directory
    /// (e.g. the snapshot a run took just before) instead of a delta round of
    /// its own; 0 = always read.
    #[arg(long, env = "GALSYNC_TARGET_ROUND_REUSE_SECS", default_value_t = 60)]
    pub target_round_reuse_secs: u64,

    /// Service identities that drive the reader: take snapshots, resolve
    /// targets, explain filters, and read snapshots.
    #[arg(long = "scheduler-identity", env = "GALSYNC_SCHEDULER_IDENTITY", value_delimiter = ',', default_values_t = ["scheduler".to_owned()])]
    pub scheduler_identity: Vec<String>,

    /// Service identities that may only read snapshots and their photos.
    #[arg(long = "worker-identity", env = "GALSYNC_WORKER_IDENTITY", value_delimiter = ',', default_values_t = ["contact-writer".to_owned()])]
    pub worker_identity: Vec<String>,

    /// Treat plaintext loopback callers as the scheduler (single-host
    /// development only; `galsync up --plaintext` sets it).
    #[arg(
        long,
        env = "GALSYNC_TRUST_PLAINTEXT_LOOPBACK",
        default_value_t = false
    )]
    pub trust_plaintext_loopback: bool,
}

impl Config {
    /// The store DSN, defaulting to `directory-reader.db` in the data directory.
    pub fn store_url(&self) -> String {
        galsync_platform::store::url_or_embedded(
            self.store_url.as_deref(),
            &self.data_dir,
            "directory-reader.db",
        )
    }

    /// The auth-broker URL: explicit, or the default port with the scheme
    /// matching whether this service has TLS material.
    pub fn broker_url(&self) -> String {
        self.server
            .peer_url_or_loopback(self.broker_url.as_deref(), 50051)
    }

    /// Who may call which RPC, from the identity flags.
    pub fn access(&self) -> ReaderAccess {
        let snapshot_readers = self.scheduler_identity.iter().chain(&self.worker_identity);
        ReaderAccess {
            drivers: AllowedCallers::new(&self.scheduler_identity, self.trust_plaintext_loopback),
            snapshot_readers: AllowedCallers::new(snapshot_readers, self.trust_plaintext_loopback),
        }
    }

    /// A configuration for tests and `galsync up`: loopback, plaintext, the given store.
    pub fn local(store_url: impl Into<String>) -> Self {
        let mut config = Self::parse_from(["galsync-directory-reader"]);
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
        let broker_url = self.broker_url();
        if !(broker_url.starts_with("http://") || broker_url.starts_with("https://")) {
            return Err(ConfigError::new(
                "broker-url",
                format!("{broker_url:?} is not an http:// or https:// url"),
            ));
        }
        if self.max_graph_concurrency == 0 {
            return Err(ConfigError::new(
                "max-graph-concurrency",
                "must be at least 1",
            ));
        }
        if self.purpose_batches_in_flight == 0 {
            return Err(ConfigError::new(
                "purpose-batches-in-flight",
                "must be at least 1",
            ));
        }
        if self.snapshot_retention == 0 {
            return Err(ConfigError::new("snapshot-retention", "must be at least 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_broker_url_follows_whether_tls_is_configured() {
        let mut config = Config::local("sqlite::memory:");
        assert_eq!(config.broker_url(), "http://127.0.0.1:50051");
        config.server.tls_cert = Some("reader.pem".into());
        config.server.tls_key = Some("reader.key".into());
        config.server.tls_ca = Some("ca.pem".into());
        assert_eq!(config.broker_url(), "https://127.0.0.1:50051");
        config.broker_url = Some("https://broker:50051".to_owned());
        assert_eq!(config.broker_url(), "https://broker:50051");
    }

    #[test]
    fn a_zero_concurrency_is_refused_with_the_flag_named() {
        let mut config = Config::local("sqlite://reader.db");
        config.max_graph_concurrency = 0;
        let error = config.validate().unwrap_err();
        assert_eq!(error.flag, "max-graph-concurrency");
    }

    #[test]
    fn purpose_batches_default_to_several_in_flight_and_zero_is_refused() {
        let mut config = Config::local("sqlite://reader.db");
        assert_eq!(config.purpose_batches_in_flight, 32);
        config.purpose_batches_in_flight = 0;
        let error = config.validate().unwrap_err();
        assert_eq!(error.flag, "purpose-batches-in-flight");
    }

    #[test]
    fn the_scheduler_drives_and_writers_only_read_snapshots() {
        use galsync_platform::CallerIdentity;
        let access = Config::local("sqlite://reader.db").access();
        let scheduler = CallerIdentity::Service("scheduler".to_owned());
        let writer = CallerIdentity::Service("contact-writer".to_owned());
        assert!(access.drivers.admits(&scheduler));
        assert!(!access.drivers.admits(&writer));
        assert!(access.snapshot_readers.admits(&scheduler));
        assert!(access.snapshot_readers.admits(&writer));
        assert!(!access
            .snapshot_readers
            .admits(&CallerIdentity::LocalPlaintext));
    }
}
