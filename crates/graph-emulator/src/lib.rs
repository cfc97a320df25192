//! A faithful, strict local emulator of the Microsoft identity platform (Entra
//! ID token endpoints) and Microsoft Graph v1.0, for galsync's tests, benchmarks
//! and demo. It is a measuring instrument: it rejects what Microsoft rejects.
//!
//! One HTTP server serves both hosts: use its base URL as the login host and
//! as the Graph host. Routes:
//! - `/{tenant}/oauth2/v2.0/token`, `/devicecode`, `/adminconsent`, JWKS — [`identity`]
//! - `/v1.0/users…`, `/v1.0/groups…` — [`directory`]
//! - `/v1.0/users/{id}/contactFolders…`, `/v1.0/$batch` — [`mailbox`]
//! - `/_admin/…` — seeding, inspection, counters, faults, clock ([`admin`])

pub mod accounting;
pub mod admin;
pub mod auth;
pub mod clock;
pub mod directory;
pub mod errors;
pub mod faults;
pub mod floor;
pub mod global_limit;
pub mod identity;
pub mod latency;
pub mod mailbox;
mod odata_filter;
pub mod tokens;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;

/// Emulator settings.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Lifetime of issued access tokens; `None` = random 60–90 minutes, as Entra does.
    pub token_lifetime: Option<Duration>,
    /// Enforce Graph's throttling limits (per-mailbox concurrency and rate,
    /// directory resource units).
    pub limits_enabled: bool,
    /// Time scale for throttling windows and Retry-After: 1.0 = real time,
    /// 0.01 = a 10-minute window lasts 6 seconds.
    pub time_scale: f64,
    /// Requests one app may make to one mailbox per window.
    pub mailbox_requests_per_window: u32,
    /// Length of that window at time scale 1.
    pub mailbox_window: Duration,
    /// Requests one app may have in flight to one mailbox.
    pub mailbox_concurrency: u32,
    /// Directory read requests one app may make to one tenant per window.
    pub directory_requests_per_window: u32,
    /// Length of the directory window at time scale 1.
    pub directory_window: Duration,
    /// Requests one app may make across all tenants per app window
    /// (throttling-limits, global limits: 130,000 per 10 seconds).
    pub app_requests_per_window: u32,
    /// Length of the app window at time scale 1.
    pub app_window: Duration,
    /// Modelled Graph latency per kind of operation (off by default; scaled
    /// by `time_scale`, held while the request holds its mailbox slot).
    pub latency: latency::LatencyModel,
    /// How long (at time scale 1) an app, service principal, key credential
    /// or app role grant written through Graph takes to reach the token
    /// endpoint. Scaled by `time_scale`; changeable at run time through
    /// `PUT /_admin/replication-delay`.
    pub replication_delay: Duration,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            token_lifetime: None,
            limits_enabled: true,
            time_scale: 1.0,
            mailbox_requests_per_window: 10_000,
            mailbox_window: Duration::from_secs(600),
            mailbox_concurrency: 4,
            directory_requests_per_window: 3_500,
            directory_window: Duration::from_secs(10),
            app_requests_per_window: 130_000,
            app_window: Duration::from_secs(10),
            latency: latency::LatencyModel::off(),
            replication_delay: identity::replication::DEFAULT_REPLICATION_DELAY,
        }
    }
}

impl EmulatorConfig {
    /// Scales a real-time duration by the time scale.
    pub fn scaled(&self, duration: Duration) -> Duration {
        duration.mul_f64(self.time_scale.max(0.000_001))
    }
}

/// Value parser for a `--time-scale` flag: a number above 0 (clap exits 2
/// naming the flag otherwise).
pub fn parse_time_scale(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale > 0.0 => Ok(scale),
        _ => Err(format!(
            "`{text}` is not a time scale: give a number above 0, e.g. 1 or 0.01"
        )),
    }
}

/// Shared state of a running emulator.
#[derive(Debug)]
pub struct EmulatorState {
    pub config: EmulatorConfig,
    pub clock: Arc<clock::Clock>,
    pub signer: tokens::TokenSigner,
    /// When set, ID tokens of the authorization code flow are signed with
    /// this key, which the JWKS does not publish (a test of relying parties;
    /// see `identity::authorization_code::sign_id_token`).
    pub unpublished_id_token_signer: std::sync::Mutex<Option<tokens::TokenSigner>>,
    pub identity: identity::IdentityStore,
    pub directory: directory::DirectoryStore,
    pub mailboxes: mailbox::MailboxStore,
    pub accounting: accounting::Accounting,
    pub faults: faults::Faults,
    pub global_limit: global_limit::GlobalLimit,
    /// The emulator's own base URL, e.g. `http://127.0.0.1:8480`, once bound.
    pub base_url: OnceLock<String>,
    /// The full router, so `$batch` can dispatch sub-requests through it.
    pub router: OnceLock<Router>,
}

pub type AppState = Arc<EmulatorState>;

impl EmulatorState {
    pub fn new(config: EmulatorConfig) -> anyhow::Result<AppState> {
        let clock = Arc::new(clock::Clock::default());
        let replication_delay = config.scaled(config.replication_delay);
        Ok(Arc::new(Self {
            config,
            clock: clock.clone(),
            signer: tokens::TokenSigner::generate()?,
            unpublished_id_token_signer: std::sync::Mutex::new(None),
            identity: identity::IdentityStore::new(clock, replication_delay),
            directory: directory::DirectoryStore::default(),
            mailboxes: mailbox::MailboxStore::default(),
            accounting: accounting::Accounting::default(),
            faults: faults::Faults::default(),
            global_limit: global_limit::GlobalLimit::default(),
            base_url: OnceLock::new(),
            router: OnceLock::new(),
        }))
    }

    /// Issues an app-only access token directly, bypassing the token endpoint.
    /// For tests of Graph endpoints; tests of the identity flows use the real
    /// token endpoint.
    pub fn mint_token(&self, tenant_id: uuid::Uuid, client_id: &str, roles: &[&str]) -> String {
        let now = self.clock.unix_now();
        let lifetime = self
            .config
            .token_lifetime
            .map(|lifetime| lifetime.as_secs() as i64)
            .unwrap_or(3600);
        let claims = tokens::AccessClaims {
            aud: tokens::GRAPH_AUDIENCE.to_owned(),
            iss: format!("https://sts.windows.net/{tenant_id}/"),
            iat: now,
            nbf: now,
            exp: now + lifetime,
            tid: tenant_id.to_string(),
            appid: client_id.to_owned(),
            roles: roles.iter().map(|role| role.to_string()).collect(),
            scp: None,
            idtyp: "app".to_owned(),
            oid: uuid::Uuid::new_v4().to_string(),
            sub: uuid::Uuid::new_v4().to_string(),
            upn: None,
            uti: uuid::Uuid::new_v4().simple().to_string(),
            ver: "1.0".to_owned(),
        };
        self.signer.sign(&claims).unwrap_or_default()
    }

    /// The base URL (login and Graph host) of this emulator.
    pub fn base_url(&self) -> &str {
        self.base_url
            .get()
            .map(String::as_str)
            .unwrap_or("http://127.0.0.1:8480")
    }
}

/// The complete router: every emulated endpoint behind fault injection and accounting.
pub fn router(state: AppState) -> Router {
    let router = Router::new()
        .merge(identity::routes())
        .merge(directory::routes())
        .merge(mailbox::routes())
        .merge(admin::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::middleware,
        ))
        .layer(axum::middleware::from_fn(run_to_completion))
        .with_state(state.clone());
    let _ = state.router.set(router.clone());
    router
}

/// Runs each request to its end even when the client goes away first.
///
/// Microsoft Graph documents no promise that a request is abandoned when its
/// client disconnects or times out, so the emulator takes the strictest
/// reading: a request that arrived is carried out (its modelled latency
/// included) and only the answer is lost. A client that gives up on a write
/// and lets someone else look at the mailbox meanwhile sees the write land
/// later, as it can at Graph. Without this, hyper drops the handler with the
/// connection and an abandoned write silently never happens.
async fn run_to_completion(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "an emulated request ended abnormally");
            axum::response::IntoResponse::into_response(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            )
        }
    }
}

/// A running emulator.
pub struct Emulator {
    pub state: AppState,
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    /// Starts an emulator on 127.0.0.1 with an OS-chosen port.
    pub async fn start(config: EmulatorConfig) -> anyhow::Result<Emulator> {
        Self::start_on("127.0.0.1:0".parse()?, config).await
    }

    /// Starts an emulator on `addr`.
    pub async fn start_on(addr: SocketAddr, config: EmulatorConfig) -> anyhow::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Self::start_with_listener(listener, config).await
    }

    pub async fn start_with_listener(
        listener: tokio::net::TcpListener,
        config: EmulatorConfig,
    ) -> anyhow::Result<Emulator> {
        let addr = listener.local_addr()?;
        let state = EmulatorState::new(config)?;
        let _ = state.base_url.set(format!("http://{addr}"));
        let app = router(state.clone());
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "emulator server failed");
            }
        });
        Ok(Emulator {
            state,
            addr,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// Base URL for both the login host and the Graph host.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
