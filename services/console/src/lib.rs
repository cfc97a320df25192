//! galsync admin console: server-rendered pages over HTTPS on the
//! scheduler's public API. It holds no credential of its own beyond its
//! service identity, and calls the scheduler on behalf of the signed-in
//! person with that person's role, so it can do nothing the API would refuse
//! them. Sign-in: with Microsoft Entra ID (OpenID Connect authorization code
//! flow with PKCE, roles from Entra groups, `--entra-…` and `--role-group`)
//! when configured, and always with one-time links (the administrator link
//! printed at start).

mod actions;
mod api;
mod api_keys;
mod audit;
mod audit_tenant;
mod broker_api;
mod certificate_import;
mod config;
mod credential_audit;
mod entra;
mod entra_roles;
mod entra_routes;
pub mod html;
pub mod oidc;
mod pages;
mod plans;
mod profile_delete;
mod profile_form;
mod profile_show;
mod profiles;
mod role_map;
mod run_pace;
pub mod session;
mod tenant_actions;
mod tenant_settings;
mod tenant_view;
mod tenants;
mod tls_listener;
mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::routing::{get, post};
use galsync_graph::identity::{
    AssertionAlgorithm, CertificateCredential, ClientCredential, PrivateKey,
};
use galsync_platform::config::ConfigError;
use galsync_platform::tls::peer_channel_for;
use galsync_platform::TlsMaterial;

pub use config::{Config, EntraArgs, EntraFlags};
pub use entra_routes::FLOW_COOKIE;
pub use session::{Role, SignInLink};
pub use web::{CONTENT_SECURITY_POLICY, SESSION_COOKIE};

/// Where the console listens unless `--listen` says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// The console's mTLS identity in the internal PKI.
pub const IDENTITY: &str = "console";

/// How long open connections (event streams) get to finish after the
/// shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The person a bootstrap link signs in.
pub const BOOTSTRAP_PERSON: &str = "bootstrap-admin";

pub struct AppState {
    sessions: session::Sessions,
    api: api::Api,
    /// The auth-broker, when the console was given `--broker-url`.
    broker: Option<broker_api::BrokerApi>,
    session_idle: Duration,
    entra: Option<entra::Entra>,
}

/// A console ready to serve on a bound listener.
pub struct Console {
    state: Arc<AppState>,
    https: Arc<rustls::ServerConfig>,
    public_url: String,
    sign_in_link_ttl: Duration,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Console")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Console {
    /// Loads the TLS material and prepares the scheduler's channel (it
    /// connects lazily). `bound` is the listener's address, for links.
    pub fn new(config: &Config, bound: SocketAddr) -> Result<Console, ConfigError> {
        config.validate()?;
        let identity = TlsMaterial::from_pki_dir(&config.pki_dir, IDENTITY).map_err(|error| {
            ConfigError::new(
                "pki-dir",
                format!(
                    "{} (the console presents {IDENTITY}.pem / {IDENTITY}.key from it; `galsync pki init --dir {}` makes them)",
                    error.problem,
                    config.pki_dir.display()
                ),
            )
        })?;
        let mut https = match (&config.https_cert, &config.https_key) {
            (Some(cert), Some(key)) => {
                let certificate_pem = read("https-cert", cert)?;
                let private_key_pem = read("https-key", key)?;
                galsync_platform::https::server_config(
                    "https-cert",
                    &certificate_pem,
                    &private_key_pem,
                )
                .map_err(|error| {
                    ConfigError::new(
                        "https-cert",
                        format!(
                            "{} with {}: {}; give a PEM certificate chain (leaf first) and its PEM private key",
                            cert.display(),
                            key.display(),
                            error.problem
                        ),
                    )
                })?
            }
            _ => identity.https_server_config().map_err(|error| {
                ConfigError::new("pki-dir", format!("{IDENTITY}.pem: {}", error.problem))
            })?,
        };
        // axum serves HTTP/1.1 here.
        https.alpn_protocols = vec![b"http/1.1".to_vec()];
        let channel = peer_channel_for("scheduler-url", &config.scheduler_url, Some(&identity))?;
        let broker = match &config.broker_url {
            Some(url) => Some(broker_api::BrokerApi::new(peer_channel_for(
                "broker-url",
                url,
                Some(&identity),
            )?)),
            None => None,
        };
        let session_idle = Duration::from_secs(config.session_idle_secs);
        let public_url = config.public_url(bound);
        let entra = match config.entra_settings()? {
            Some(flags) => Some(entra_sign_in(flags, &public_url)?),
            None => None,
        };
        let state = AppState {
            sessions: session::Sessions::new(session_idle),
            api: api::Api::new(channel),
            broker,
            session_idle,
            entra,
        };
        Ok(Console {
            state: Arc::new(state),
            https: Arc::new(https),
            public_url,
            sign_in_link_ttl: Duration::from_secs(config.sign_in_link_ttl_secs),
        })
    }

    /// The console's address as browsers reach it.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// A one-time link signing in the bootstrap administrator, valid for
    /// `--sign-in-link-ttl-secs`. Show it once, to the person who started
    /// the console; never log it.
    pub fn bootstrap_link(&self) -> String {
        self.sign_in_link(BOOTSTRAP_PERSON, Role::Admin, self.sign_in_link_ttl)
    }

    /// A one-time link signing in `person` with `role`.
    pub fn sign_in_link(&self, person: &str, role: Role, valid_for: Duration) -> String {
        let link = self.state.sessions.issue_link(person, role, valid_for);
        link.url(&self.public_url)
    }

    /// Serves HTTPS on `listener` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let tls_listener = tls_listener::TlsListener::new(listener, self.https.clone())
            .context("failed to read the console's listening address")?;
        let app = router(self.state.clone());
        tracing::info!(url = %self.public_url, "console serving https");
        let (stopping, stopping_seen) = tokio::sync::watch::channel(false);
        let signalled = async move {
            shutdown.await;
            let _ = stopping.send(true);
        };
        let server = axum::serve(tls_listener, app).with_graceful_shutdown(signalled);
        // A browser following a run's events keeps its connection open as
        // long as the run lasts: after the grace, stop without it.
        let grace_over = async move {
            let mut stopping_seen = stopping_seen;
            if stopping_seen.wait_for(|stopping| *stopping).await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            served = server => served.context("the console's https server failed"),
            () = grace_over => {
                tracing::info!(grace_secs = SHUTDOWN_GRACE.as_secs(), "closed the connections still open after the shutdown grace");
                Ok(())
            }
        }
    }
}

/// Entra sign-in with its credential read from its files.
fn entra_sign_in(flags: EntraFlags, public_url: &str) -> Result<entra::Entra, ConfigError> {
    let credential = match &flags.credential {
        config::CredentialSource::SecretFile(secret_file) => {
            let text = std::fs::read_to_string(secret_file).map_err(|error| {
                ConfigError::new(
                    "entra-client-secret-file",
                    format!(
                        "cannot read {}: {error}; give a file holding the app registration's client secret",
                        secret_file.display()
                    ),
                )
            })?;
            let secret = text.trim();
            if secret.is_empty() {
                return Err(ConfigError::new(
                    "entra-client-secret-file",
                    format!(
                        "{} is empty; put the app registration's client secret in it",
                        secret_file.display()
                    ),
                ));
            }
            ClientCredential::Secret(secrecy::SecretString::from(secret.to_owned()))
        }
        config::CredentialSource::Certificate { certificate, key } => {
            ClientCredential::Certificate(client_certificate(certificate, key)?)
        }
    };
    entra::Entra::new(flags, credential, public_url).map_err(|error| {
        ConfigError::new(
            "entra-authority",
            format!("cannot make an https client: {error}"),
        )
    })
}

/// The certificate and key of `--entra-client-cert` / `--entra-client-key`.
fn client_certificate(
    certificate: &std::path::Path,
    key: &std::path::Path,
) -> Result<CertificateCredential, ConfigError> {
    use rustls::pki_types::pem::PemObject;
    let certificate_pem = read("entra-client-cert", certificate)?;
    let key_pem = read("entra-client-key", key)?;
    let certificate_der = rustls::pki_types::CertificateDer::from_pem_slice(&certificate_pem)
        .map_err(|error| {
            ConfigError::new(
                "entra-client-cert",
                format!("{}: not a PEM certificate ({error})", certificate.display()),
            )
        })?;
    let key_text = String::from_utf8_lossy(&key_pem);
    let private_key = PrivateKey::from_pem(&key_text).map_err(|error| {
        ConfigError::new("entra-client-key", format!("{}: {error}", key.display()))
    })?;
    CertificateCredential::new(
        certificate_der.to_vec(),
        private_key,
        AssertionAlgorithm::Rs256,
    )
    .map_err(|error| {
        ConfigError::new(
            "entra-client-key",
            format!("{} with {}: {error}", key.display(), certificate.display()),
        )
    })
}

fn read(flag: &str, path: &std::path::Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path)
        .map_err(|error| ConfigError::new(flag, format!("cannot read {}: {error}", path.display())))
}

fn router(state: Arc<AppState>) -> axum::Router {
    axum::Router::new()
        .route("/", get(pages::overview))
        .route("/tenants", get(tenants::list).post(tenants::register))
        .route("/tenants/{tenant_id}", get(tenants::show))
        .route(
            "/tenants/{tenant_id}/settings",
            post(tenant_settings::update),
        )
        .route(
            "/tenants/{tenant_id}/remove",
            get(tenant_settings::confirm).post(tenant_settings::remove),
        )
        .route(
            "/tenants/{tenant_id}/test",
            post(tenant_actions::test_connection),
        )
        .route(
            "/tenants/{tenant_id}/certificates/{certificate_id}/cer",
            get(tenant_actions::download_cer),
        )
        .route(
            "/tenants/{tenant_id}/apps/{client_id}/certificates",
            post(tenant_actions::certificate),
        )
        .route(
            "/tenants/{tenant_id}/apps/{client_id}/certificates/import",
            post(certificate_import::import),
        )
        .route(
            "/tenants/{tenant_id}/apps/{client_id}/secret",
            post(tenant_actions::secret),
        )
        .route(
            "/tenants/{tenant_id}/apps/{client_id}/consent",
            get(tenant_actions::consent),
        )
        .route("/runs", get(pages::runs))
        .route("/runs/{run_id}", get(pages::run_detail))
        .route("/runs/{run_id}/cancel", post(actions::cancel_run))
        .route("/runs/{run_id}/approve", post(actions::approve_deletions))
        .route("/runs/{run_id}/events", get(actions::run_events))
        .route("/profiles", get(profiles::list))
        .route(
            "/profiles/new",
            get(profiles::new_form).post(profiles::create),
        )
        .route("/profiles/{profile_id}", get(profile_show::show))
        .route(
            "/profiles/{profile_id}/edit",
            get(profiles::edit_form).post(profiles::update),
        )
        .route("/profiles/{profile_id}/explain", get(profiles::explain))
        .route("/profiles/{profile_id}/dry-run", post(profiles::dry_run))
        .route("/profiles/{profile_id}/run", post(profiles::run_now))
        .route(
            "/profiles/{profile_id}/delete",
            post(profile_delete::delete),
        )
        .route("/audit", get(audit::audit_log))
        .route(
            "/audit/credentials",
            get(credential_audit::credential_audit),
        )
        .route("/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/api-keys/{key_id}/revoke", post(api_keys::revoke))
        .route("/sign-in", get(actions::sign_in_page))
        .route("/sign-in/link/{token}", get(actions::redeem_link))
        .route("/auth/entra/start", get(entra_routes::start))
        .route("/auth/entra/callback", get(entra_routes::callback))
        .route("/sign-out", post(actions::sign_out))
        .route("/assets/console.css", get(actions::stylesheet))
        .route("/assets/console.js", get(actions::script))
        .fallback(actions::not_found)
        .layer(axum::middleware::from_fn(web::security_headers))
        .with_state(state)
}

/// The binary's body: prints the URL and the one-time administrator link on
/// stdout (never to the log), then serves until `shutdown`.
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let bound = listener
        .local_addr()
        .context("failed to read the console's listening address")?;
    let console = Console::new(&config, bound)?;
    let link = console.bootstrap_link();
    println!("galsync console: {}", console.public_url());
    println!(
        "one-time administrator sign-in link (works once, for {} s): {link}",
        config.sign_in_link_ttl_secs
    );
    console.serve(listener, shutdown).await
}
