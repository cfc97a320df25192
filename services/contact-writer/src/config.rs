//! `galsync-contact-writer` configuration: the shared server flags plus this service's own.

use std::path::PathBuf;

use clap::Parser;
use galsync_platform::config::{ConfigError, ServerArgs};
use galsync_platform::service::ServiceConfig;

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
}

impl Config {
    /// The store DSN, defaulting to `contact-writer.db` in the data directory.
    pub fn store_url(&self) -> String {
        match &self.store_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}",
                self.data_dir.join("contact-writer.db").display()
            ),
        }
    }

    /// A configuration for tests and `galsync up`: loopback, plaintext, the given store.
    pub fn local(store_url: impl Into<String>) -> Self {
        let mut config = Self::parse_from(["galsync-contact-writer"]);
        config.store_url = Some(store_url.into());
        config
    }
}

impl ServiceConfig for Config {
    fn server(&self) -> &ServerArgs {
        &self.server
    }

    fn validate(&self) -> Result<(), ConfigError> {
        galsync_platform::store::backend_of("store-url", &self.store_url())?;
        Ok(())
    }
}
