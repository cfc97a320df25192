//! `galsync-console` configuration: every flag `long` + `GALSYNC_…`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use galsync_platform::config::{ConfigError, TelemetryArgs};

use crate::oidc::RoleGroups;

/// The Entra sign-in flags, validated together.
#[derive(Debug, Clone)]
pub struct EntraFlags {
    /// Without a trailing slash.
    pub authority: String,
    pub tenant_id: String,
    pub client_id: String,
    pub credential: CredentialSource,
    pub role_groups: RoleGroups,
    /// Microsoft Graph, asked for a person's role groups on the groups
    /// overage; without a trailing slash.
    pub graph_url: String,
}

/// How the console proves itself at the token endpoint.
#[derive(Debug, Clone)]
pub enum CredentialSource {
    /// A file holding the client secret.
    SecretFile(PathBuf),
    /// A PEM certificate registered on the app registration and its PEM
    /// private key: the console signs a client assertion.
    Certificate { certificate: PathBuf, key: PathBuf },
}

/// The Entra sign-in flags, shared with `galsync up`, which passes them on
/// to the console it starts.
#[derive(Debug, Clone, clap::Args)]
pub struct EntraArgs {
    /// Entra ID sign-in: the directory (tenant) ID, a GUID. With
    /// --entra-client-id, a credential (--entra-client-secret-file, or
    /// --entra-client-cert and --entra-client-key) and --role-group, the
    /// sign-in page offers "Sign in with Microsoft"; all of them or none.
    #[arg(long = "entra-tenant-id", env = "GALSYNC_CONSOLE_ENTRA_TENANT_ID")]
    pub tenant_id: Option<String>,

    /// Entra ID sign-in: the application (client) ID of the console's app
    /// registration, whose redirect URI is {public URL}/auth/entra/callback.
    #[arg(long = "entra-client-id", env = "GALSYNC_CONSOLE_ENTRA_CLIENT_ID")]
    pub client_id: Option<String>,

    /// Entra ID sign-in: a file holding the app registration's client secret
    /// (never the secret itself on the command line).
    #[arg(
        long = "entra-client-secret-file",
        env = "GALSYNC_CONSOLE_ENTRA_CLIENT_SECRET_FILE"
    )]
    pub client_secret_file: Option<PathBuf>,

    /// Entra ID sign-in, instead of a client secret: a PEM certificate
    /// uploaded to the app registration; the console signs its client
    /// assertions with --entra-client-key.
    #[arg(long = "entra-client-cert", env = "GALSYNC_CONSOLE_ENTRA_CLIENT_CERT")]
    pub client_cert: Option<PathBuf>,

    /// Entra ID sign-in: the PEM private key (RSA) of --entra-client-cert.
    #[arg(long = "entra-client-key", env = "GALSYNC_CONSOLE_ENTRA_CLIENT_KEY")]
    pub client_key: Option<PathBuf>,

    /// Entra ID sign-in: the authority people sign in at.
    #[arg(
        long = "entra-authority",
        env = "GALSYNC_CONSOLE_ENTRA_AUTHORITY",
        default_value = crate::oidc::DEFAULT_AUTHORITY,
        value_parser = galsync_platform::flags::http_url
    )]
    pub authority: String,

    /// Entra ID sign-in: `role=group-object-id` (viewer, operator or admin),
    /// repeatable; a person gets the highest role of their groups and app
    /// roles, and someone with none of them is refused.
    #[arg(long, env = "GALSYNC_CONSOLE_ROLE_GROUP", value_delimiter = ',')]
    pub role_group: Vec<String>,

    /// Entra ID sign-in: `role=app-role-value` (viewer, operator or admin),
    /// repeatable, e.g. admin=GalSync.Admin: a person assigned that app role
    /// of the console's app registration (the ID token's `roles`) gets the role.
    #[arg(long, env = "GALSYNC_CONSOLE_ROLE_APP_ROLE", value_delimiter = ',')]
    pub role_app_role: Vec<String>,

    /// Entra ID sign-in: Microsoft Graph, where the console asks which mapped
    /// groups a person is in when they are in too many groups for the ID
    /// token (the groups overage): POST /v1.0/me/checkMemberGroups.
    #[arg(
        long = "entra-graph-url",
        env = "GALSYNC_CONSOLE_ENTRA_GRAPH_URL",
        default_value = crate::oidc::DEFAULT_GRAPH_URL,
        value_parser = galsync_platform::flags::http_url
    )]
    pub graph_url: String,
}

impl EntraArgs {
    /// The Entra sign-in flags, checked together: `None` when none is given.
    /// The secret file is read later, by [`crate::Console::new`].
    pub fn validate(&self) -> Result<Option<EntraFlags>, ConfigError> {
        let fix = "Entra sign-in needs --entra-tenant-id, --entra-client-id, a credential (--entra-client-secret-file, or --entra-client-cert with --entra-client-key) and at least one --role-group or --role-app-role, or none of them";
        let nothing_given = self.tenant_id.is_none()
            && self.client_id.is_none()
            && self.client_secret_file.is_none()
            && self.client_cert.is_none()
            && self.client_key.is_none();
        if nothing_given {
            if !self.role_group.is_empty() {
                return Err(ConfigError::new(
                    "role-group",
                    format!("only means something with Entra sign-in; {fix}"),
                ));
            }
            if !self.role_app_role.is_empty() {
                return Err(ConfigError::new(
                    "role-app-role",
                    format!("only means something with Entra sign-in; {fix}"),
                ));
            }
            return Ok(None);
        }
        let Some(tenant_id) = &self.tenant_id else {
            return Err(ConfigError::new(
                "entra-tenant-id",
                format!("missing; {fix}"),
            ));
        };
        let Some(client_id) = &self.client_id else {
            return Err(ConfigError::new(
                "entra-client-id",
                format!("missing; {fix}"),
            ));
        };
        let credential = match (
            &self.client_secret_file,
            &self.client_cert,
            &self.client_key,
        ) {
            (Some(secret_file), None, None) => CredentialSource::SecretFile(secret_file.clone()),
            (None, Some(certificate), Some(key)) => CredentialSource::Certificate {
                certificate: certificate.clone(),
                key: key.clone(),
            },
            (Some(_), _, _) => {
                return Err(ConfigError::new(
                    "entra-client-cert",
                    "give --entra-client-secret-file or --entra-client-cert with --entra-client-key, not both",
                ))
            }
            (None, Some(_), None) => {
                return Err(ConfigError::new(
                    "entra-client-key",
                    "--entra-client-cert needs --entra-client-key, the certificate's private key",
                ))
            }
            (None, None, Some(_)) => {
                return Err(ConfigError::new(
                    "entra-client-cert",
                    "--entra-client-key needs --entra-client-cert, the certificate it belongs to",
                ))
            }
            (None, None, None) => {
                return Err(ConfigError::new(
                    "entra-client-secret-file",
                    format!("missing; {fix}"),
                ))
            }
        };
        if !is_guid(tenant_id.trim()) {
            return Err(ConfigError::new(
                "entra-tenant-id",
                "give the directory (tenant) ID, the GUID on the tenant's overview page in the Entra admin center",
            ));
        }
        if client_id.trim().is_empty() {
            return Err(ConfigError::new(
                "entra-client-id",
                "give the application (client) ID of the console's app registration",
            ));
        }
        if self.role_group.is_empty() && self.role_app_role.is_empty() {
            return Err(ConfigError::new(
                "role-group",
                format!("missing: nobody could sign in; map at least one Entra group or app role, e.g. --role-group admin=<group object id> or --role-app-role admin=GalSync.Admin; {fix}"),
            ));
        }
        let mut role_groups = RoleGroups::default();
        for mapping in &self.role_group {
            role_groups
                .add(mapping)
                .map_err(|problem| ConfigError::new("role-group", problem))?;
        }
        for mapping in &self.role_app_role {
            role_groups
                .add_app_role(mapping)
                .map_err(|problem| ConfigError::new("role-app-role", problem))?;
        }
        let authority = self.authority.trim_end_matches('/').to_owned();
        if authority.starts_with("http://") && !is_loopback_url(&authority) {
            return Err(ConfigError::new(
                "entra-authority",
                "must be https:// (plain http only for a local emulator on 127.0.0.1 or localhost)",
            ));
        }
        let graph_url = self.graph_url.trim_end_matches('/').to_owned();
        if graph_url.starts_with("http://") && !is_loopback_url(&graph_url) {
            return Err(ConfigError::new(
                "entra-graph-url",
                "must be https:// (plain http only for a local emulator on 127.0.0.1 or localhost)",
            ));
        }
        Ok(Some(EntraFlags {
            authority,
            tenant_id: tenant_id.trim().to_owned(),
            client_id: client_id.trim().to_owned(),
            credential,
            role_groups,
            graph_url,
        }))
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex: ID tokens name the tenant
/// by this ID (`tid`), never by a domain.
fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
    lengths == [8, 4, 4, 4, 12]
        && groups
            .iter()
            .all(|group| group.chars().all(|character| character.is_ascii_hexdigit()))
}

fn is_loopback_url(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    match parsed.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

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

    /// The auth-broker's gRPC API, for the tenant pages (certificates,
    /// consent, Test Connection) and the overview's connection health.
    /// Without it the console shows profiles and runs only.
    #[arg(long, env = "GALSYNC_BROKER_URL", value_parser = galsync_platform::flags::http_url)]
    pub broker_url: Option<String>,

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
    pub entra: EntraArgs,

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
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "https-key",
                    "--https-cert needs --https-key, the certificate's private key",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "https-cert",
                    "--https-key needs --https-cert, the certificate it belongs to",
                ))
            }
            _ => {}
        }
        self.entra_settings().map(|_| ())
    }

    /// The Entra sign-in flags, checked together: `None` when none is given.
    pub fn entra_settings(&self) -> Result<Option<EntraFlags>, ConfigError> {
        self.entra.validate()
    }
}
