//! The state every handler shares: stores, clock, signer, counters, faults.

use std::sync::{Arc, OnceLock};

use axum::Router;

use crate::{
    accounting, clock, directory, faults, identity, mailbox, throttle, tokens, EmulatorConfig,
};

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
    pub global_limit: throttle::app::GlobalLimit,
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
            global_limit: throttle::app::GlobalLimit::default(),
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
