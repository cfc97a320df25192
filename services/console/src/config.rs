//! `galsync-console` configuration: every flag `long` + `GALSYNC_…`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use galsync_platform::config::{ConfigError, TelemetryArgs};

/// galsync admin console: web pages over HTTPS on the scheduler's public API.
#[derive(Debug, Clone, Parser)]
#[command(name = "galsync-console", version, about)]
pub struct Config {
    /// Address the HTTPS server listens on.
    #[arg(long, env = "GALSYNC_CONSOLE_LISTEN", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,

    /// Directory with the internal PKI (`galsync pki init`): the console
    /// presents console.pem / console.key to the scheduler (its mTLS
    /// identity) and to browsers, and trusts ca.pem.
    #[arg(long, env = "GALSYNC_PKI_DIR", default_value = "galsync-data/pki")]
    pub pki_dir: PathBuf,

    /// PEM certificate chain browsers see instead of the internal PKI's
    /// (e.g. one your organisation's CA issued); needs --https-key.
    #[arg(long, env = "GALSYNC_CONSOLE_HTTPS_CERT")]
    pub https_cert: Option<PathBuf>,

    /// PEM private key of --https-cert.
    #[arg(long, env = "GALSYNC_CONSOLE_HTTPS_KEY")]
    pub https_key: Option<PathBuf>,

    /// The scheduler's public API.
    #[arg(
        long,
        env = "GALSYNC_SCHEDULER_URL",
        default_value = "https://127.0.0.1:50050",
        value_parser = galsync_platform::flags::http_url
    )]
    pub scheduler_url: String,

    /// The console's address as browsers reach it, for the printed sign-in
    /// link. Default: https:// and --listen.
    #[arg(long, env = "GALSYNC_CONSOLE_PUBLIC_URL", value_parser = galsync_platform::flags::http_url)]
    pub public_url: Option<String>,

    /// Seconds without a request after which a session ends (sign in again).
    #[arg(
        long,
        env = "GALSYNC_CONSOLE_SESSION_IDLE_SECS",
        default_value_t = 1800
    )]
    pub session_idle_secs: u64,

    /// Seconds the one-time administrator link printed at start stays valid.
    #[arg(
        long,
        env = "GALSYNC_CONSOLE_SIGN_IN_LINK_TTL_SECS",
        default_value_t = 900
    )]
    pub sign_in_link_ttl_secs: u64,

    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

impl Config {
    /// The defaults, for `galsync up` and tests, with the given PKI and scheduler.
    pub fn local(pki_dir: PathBuf, scheduler_url: impl Into<String>) -> Self {
        let mut config = Self::parse_from(["galsync-console"]);
        config.pki_dir = pki_dir;
        config.scheduler_url = scheduler_url.into();
        config
    }

    /// The base URL printed in sign-in links, without a trailing slash.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("https://{bound}"),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.session_idle_secs == 0 {
            return Err(ConfigError::new("session-idle-secs", "must be at least 1"));
        }
        if self.sign_in_link_ttl_secs == 0 {
            return Err(ConfigError::new(
                "sign-in-link-ttl-secs",
                "must be at least 1",
            ));
        }
        match (&self.https_cert, &self.https_key) {
            (Some(_), None) => Err(ConfigError::new(
                "https-key",
                "--https-cert needs --https-key, the certificate's private key",
            )),
            (None, Some(_)) => Err(ConfigError::new(
                "https-cert",
                "--https-key needs --https-cert, the certificate it belongs to",
            )),
            _ => Ok(()),
        }
    }
}
