//! `galsync-auth-broker` configuration: the shared server flags plus this service's own.

use std::path::PathBuf;

use clap::Parser;
use galsync_platform::config::{ConfigError, ServerArgs};
use galsync_platform::service::ServiceConfig;

/// galsync auth-broker.
#[derive(Debug, Clone, Parser)]
#[command(name = "galsync-auth-broker", version, about)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Store DSN: sqlite://PATH (embedded, created on first start) or postgres://USER@HOST/DB.
    /// Default: sqlite in --data-dir.
    #[arg(long, env = "GALSYNC_AUTH_BROKER_STORE_URL")]
    pub store_url: Option<String>,

    /// Directory for embedded data (SQLite files, generated keys).
    #[arg(long, env = "GALSYNC_DATA_DIR", default_value = "galsync-data")]
    pub data_dir: PathBuf,

    /// File with the 32-byte master key (64 hex characters) that seals secrets at rest.
    /// Default: master.key in --data-dir, generated (mode 0600) on first start.
    #[arg(long, env = "GALSYNC_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,

    /// Address of the HTTP endpoint Entra redirects administrators to after admin consent.
    #[arg(
        long,
        env = "GALSYNC_CONSENT_LISTEN",
        default_value = "127.0.0.1:50061"
    )]
    pub consent_listen: std::net::SocketAddr,

    /// Public URL of that endpoint, as registered as a redirect URI on the app.
    /// Default: http://<consent-listen>/consent/callback.
    #[arg(long, env = "GALSYNC_CONSENT_REDIRECT_URI", value_parser = galsync_platform::flags::http_url)]
    pub consent_redirect_uri: Option<String>,

    /// Which service identity may get tokens for which purpose, as SERVICE=PURPOSE.
    #[arg(
        long = "allow-purpose",
        env = "GALSYNC_ALLOW_PURPOSE",
        value_delimiter = ',',
        default_values_t = ["directory-reader=directory".to_owned(), "contact-writer=contacts".to_owned()]
    )]
    pub allow_purpose: Vec<String>,

    /// Service identities allowed to manage tenants, certificates and consent.
    #[arg(
        long = "admin-identity",
        env = "GALSYNC_ADMIN_IDENTITY",
        value_delimiter = ',',
        default_values_t = ["scheduler".to_owned(), "cli".to_owned()]
    )]
    pub admin_identity: Vec<String>,

    /// The admin console's identity: the only one whose calls on behalf of
    /// a signed-in person (and that person's role) the broker believes.
    /// Viewers read tenants, certificates and consent; operators also test
    /// connections; admins change them. Empty: no console.
    #[arg(long, env = "GALSYNC_CONSOLE_IDENTITY", default_value = "console")]
    pub console_identity: String,

    /// Treat plaintext loopback callers as trusted for everything (single-host
    /// development only; never with TLS off on a shared host).
    #[arg(
        long,
        env = "GALSYNC_TRUST_PLAINTEXT_LOOPBACK",
        default_value_t = false
    )]
    pub trust_plaintext_loopback: bool,

    /// Days before a certificate expires that its replacement is made.
    #[arg(long, env = "GALSYNC_CERT_RENEWAL_DAYS", default_value_t = 30)]
    pub cert_renewal_days: u32,

    /// Login host for tenants registered without one.
    #[arg(
        long,
        env = "GALSYNC_LOGIN_BASE_URL",
        default_value = "https://login.microsoftonline.com",
        value_parser = galsync_platform::flags::http_url
    )]
    pub default_login_base_url: String,

    /// Graph host for tenants registered without one.
    #[arg(
        long,
        env = "GALSYNC_GRAPH_BASE_URL",
        default_value = "https://graph.microsoft.com",
        value_parser = galsync_platform::flags::http_url
    )]
    pub default_graph_base_url: String,

    /// The public client an administrator signs in with for `galsync tenant
    /// provision` (device code, delegated, no secret). Default: Microsoft's
    /// first-party "Microsoft Graph Command Line Tools", the client
    /// Microsoft Graph PowerShell's Connect-MgGraph uses; organisations that
    /// block it give the client id of their own public client app here.
    #[arg(
        long,
        env = "GALSYNC_ADMIN_SIGNIN_CLIENT_ID",
        default_value = crate::provision::MICROSOFT_GRAPH_CLI_CLIENT_ID
    )]
    pub admin_signin_client_id: String,
}

impl Config {
    /// The store DSN, defaulting to `auth-broker.db` in the data directory.
    pub fn store_url(&self) -> String {
        galsync_platform::store::url_or_embedded(
            self.store_url.as_deref(),
            &self.data_dir,
            "auth-broker.db",
        )
    }

    /// The master key file: the flag, or master.key in the data directory.
    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// The consent callback URL registered on the app.
    pub fn consent_redirect_uri(&self) -> String {
        self.consent_redirect_uri
            .clone()
            .unwrap_or_else(|| format!("http://{}/consent/callback", self.consent_listen))
    }

    /// A configuration for tests and `galsync up`: loopback, plaintext, the given store.
    pub fn local(store_url: impl Into<String>) -> Self {
        let mut config = Self::parse_from(["galsync-auth-broker"]);
        config.store_url = Some(store_url.into());
        config
    }
}

impl ServiceConfig for Config {
    fn server(&self) -> &ServerArgs {
        &self.server
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.store_url.is_none() || self.master_key_file.is_none() {
            galsync_platform::flags::usable_data_dir("data-dir", &self.data_dir)?;
        }
        galsync_platform::store::backend_of("store-url", &self.store_url())?;
        crate::policy::Policy::new(
            &self.allow_purpose,
            &self.admin_identity,
            self.trust_plaintext_loopback,
        )
        .map_err(|problem| ConfigError::new("allow-purpose", problem))?;
        if self.cert_renewal_days == 0 || self.cert_renewal_days > 365 {
            return Err(ConfigError::new("cert-renewal-days", "use 1 to 365 days"));
        }
        for (flag, url) in [
            ("default-login-base-url", &self.default_login_base_url),
            ("default-graph-base-url", &self.default_graph_base_url),
        ] {
            if url::Url::parse(url).is_err() {
                return Err(ConfigError::new(flag, format!("`{url}` is not a URL")));
            }
        }
        if let Some(path) = &self.master_key_file {
            galsync_platform::config::readable_file("master-key-file", path)?;
            // A damaged key is refused before the store is opened or created.
            crate::seal::MasterKey::load_or_create(path, false)
                .map_err(crate::seal::SealError::into_flag_error)?;
        }
        Ok(())
    }
}
