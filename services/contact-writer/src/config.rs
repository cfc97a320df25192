//! `galsync-contact-writer` configuration: the shared server flags plus this service's own.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use galsync_platform::config::{ConfigError, ServerArgs};
use galsync_platform::service::ServiceConfig;
use galsync_platform::AllowedCallers;

use crate::pacing::PacingConfig;

/// Graph's largest `$batch`.
pub const MAX_BATCH_SIZE: usize = 20;

/// galsync contact-writer.
#[derive(Debug, Clone, Parser)]
#[command(name = "galsync-contact-writer", version, about)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Store DSN: sqlite://PATH (embedded, created on first start) or postgres://USER@HOST/DB.
    /// Default: sqlite in --data-dir.
    #[arg(long, env = "GALSYNC_CONTACT_WRITER_STORE_URL")]
    pub store_url: Option<String>,

    /// Directory for embedded data (SQLite files, generated keys).
    #[arg(long, env = "GALSYNC_DATA_DIR", default_value = "galsync-data")]
    pub data_dir: PathBuf,

    /// The auth-broker issuing `contacts` tokens. Default: the local broker
    /// (https with --tls-*, http otherwise) on port 50051.
    #[arg(long, env = "GALSYNC_BROKER_URL", value_parser = galsync_platform::flags::http_url)]
    pub broker_url: Option<String>,

    /// The directory-reader serving snapshots and photos. Default: the local
    /// reader on port 50052.
    #[arg(long, env = "GALSYNC_READER_URL", value_parser = galsync_platform::flags::http_url)]
    pub reader_url: Option<String>,

    /// The scheduler's work queue; the work loop runs only when this is given.
    #[arg(long, env = "GALSYNC_SCHEDULER_URL", value_parser = galsync_platform::flags::http_url)]
    pub scheduler_url: Option<String>,

    /// Mailboxes reconciled at once at start; the writer then drives more
    /// while Graph throttles nothing app-wide, halves on an app-wide 429, and
    /// never exceeds --max-workers. 64 mailboxes × 4 requests in flight at
    /// ~120 ms a write is about 2,100 requests/s, a sixth of the app-wide
    /// 13,000/s: six writers can start together without an app-wide 429.
    #[arg(
        long,
        env = "GALSYNC_WRITER_WORKERS",
        default_value_t = 64,
        value_parser = galsync_platform::flags::at_least_one::<usize>
    )]
    pub workers: usize,

    /// Most mailboxes reconciled at once (bounds memory; Graph's app-wide
    /// limit binds at a few hundred mailboxes at ~100 ms per write).
    #[arg(
        long,
        env = "GALSYNC_WRITER_MAX_WORKERS",
        default_value_t = 512,
        value_parser = galsync_platform::flags::at_least_one::<usize>
    )]
    pub max_workers: usize,

    /// Lease length asked of the work queue, in seconds (heartbeats at a third
    /// of it, at most every 5 s; a heartbeat is how a writer hears of a cancel).
    #[arg(
        long,
        env = "GALSYNC_WRITER_LEASE_SECS",
        default_value_t = 60,
        value_parser = galsync_platform::flags::at_least_one::<u32>
    )]
    pub lease_secs: u32,

    /// Graph requests in flight per mailbox; a batch's sub-requests count (Graph allows 4).
    #[arg(long, env = "GALSYNC_WRITER_MAILBOX_IN_FLIGHT", default_value_t = 4)]
    pub mailbox_in_flight: u32,

    /// Sub-requests per `$batch` call (at most 20).
    #[arg(long, env = "GALSYNC_WRITER_BATCH_SIZE", default_value_t = 20)]
    pub batch_size: usize,

    /// Milliseconds a partial `$batch` waits for other mailboxes' requests to
    /// share its HTTP call (0: each mailbox sends its own calls).
    #[arg(long, env = "GALSYNC_WRITER_BATCH_LINGER_MS", default_value_t = 10)]
    pub batch_linger_ms: u64,

    /// Graph's per-app-per-mailbox request budget per window; the writer paces
    /// itself to stay within it (and, after a 429, sends slower for a while).
    #[arg(
        long,
        env = "GALSYNC_WRITER_MAILBOX_REQUESTS_PER_WINDOW",
        default_value_t = 10_000
    )]
    pub mailbox_requests_per_window: u32,

    /// Length of that window in seconds (decimals allowed).
    #[arg(
        long,
        env = "GALSYNC_WRITER_MAILBOX_WINDOW_SECS",
        default_value_t = 600.0
    )]
    pub mailbox_window_secs: f64,

    /// Seconds a running work item gets to finish after SIGTERM; then it is
    /// asked to stop after its batch in flight (given as long again) and its
    /// lease is given back.
    #[arg(long, env = "GALSYNC_WRITER_DRAIN_SECS", default_value_t = 20)]
    pub drain_secs: u64,

    /// Service identities that may call SyncMailbox, PlanMailbox and PurgeMailbox.
    #[arg(long = "scheduler-identity", env = "GALSYNC_SCHEDULER_IDENTITY", value_delimiter = ',', default_values_t = ["scheduler".to_owned()])]
    pub scheduler_identity: Vec<String>,

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
    /// The store DSN, defaulting to `contact-writer.db` in the data directory.
    pub fn store_url(&self) -> String {
        galsync_platform::store::url_or_embedded(
            self.store_url.as_deref(),
            &self.data_dir,
            "contact-writer.db",
        )
    }

    /// Who may call the writer's RPCs, from the identity flags.
    pub fn drivers(&self) -> AllowedCallers {
        AllowedCallers::new(&self.scheduler_identity, self.trust_plaintext_loopback)
    }

    /// A configuration for tests and `galsync up`: loopback, plaintext, the given store.
    pub fn local(store_url: impl Into<String>) -> Self {
        let mut config = Self::parse_from(["galsync-contact-writer"]);
        config.store_url = Some(store_url.into());
        config
    }

    pub fn broker_url(&self) -> String {
        self.server
            .peer_url_or_loopback(self.broker_url.as_deref(), 50051)
    }

    pub fn reader_url(&self) -> String {
        self.server
            .peer_url_or_loopback(self.reader_url.as_deref(), 50052)
    }

    /// How hard one mailbox may be driven.
    pub fn pacing(&self) -> PacingConfig {
        PacingConfig {
            requests_per_window: self.mailbox_requests_per_window,
            window: Duration::from_secs_f64(self.mailbox_window_secs.max(0.001)),
            in_flight: self.mailbox_in_flight,
        }
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
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_SIZE {
            return Err(ConfigError::new(
                "batch-size",
                format!("must be between 1 and {MAX_BATCH_SIZE} (Graph's $batch limit)"),
            ));
        }
        if self.mailbox_in_flight == 0 || self.mailbox_in_flight > 4 {
            return Err(ConfigError::new(
                "mailbox-in-flight",
                "must be between 1 and 4 (Graph refuses a fifth concurrent request per mailbox)",
            ));
        }
        if self.batch_linger_ms > 1_000 {
            return Err(ConfigError::new(
                "batch-linger-ms",
                "must be at most 1000 (a partial batch should not wait longer than a Graph round trip or two)",
            ));
        }
        if self.workers == 0 {
            return Err(ConfigError::new("workers", "must be at least 1"));
        }
        if self.workers > self.max_workers {
            return Err(ConfigError::new(
                "workers",
                format!(
                    "{} is above --max-workers {}: raise --max-workers or lower --workers",
                    self.workers, self.max_workers
                ),
            ));
        }
        if self.mailbox_requests_per_window == 0 || self.mailbox_window_secs <= 0.0 {
            return Err(ConfigError::new(
                "mailbox-requests-per-window",
                "the request budget and its window must be positive",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_larger_than_graph_allows_is_refused_naming_the_flag() {
        let mut config = Config::local("sqlite://x.db");
        config.batch_size = 21;
        let error = config.validate().unwrap_err();
        assert_eq!(error.flag, "batch-size");
        config.batch_size = 20;
        assert!(config.validate().is_ok());
    }

    #[test]
    fn local_defaults_point_at_the_local_broker_and_reader_without_a_scheduler() {
        let config = Config::local("sqlite://x.db");
        assert_eq!(config.broker_url(), "http://127.0.0.1:50051");
        assert_eq!(config.reader_url(), "http://127.0.0.1:50052");
        assert!(config.scheduler_url.is_none());
        assert_eq!(config.pacing().in_flight, 4);
    }
}
