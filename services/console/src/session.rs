//! Sessions and one-time sign-in links, held in memory: a restart of the
//! console signs everybody out and invalidates every link.
//!
//! A session id and a link token are 32 random bytes; the console keeps only
//! their SHA-256, so neither can be read back from memory dumps of the maps
//! or from a `Debug` print. Each session has its own CSRF token, which every
//! form carries and every POST must echo.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Digest;

/// What a person may do: the same roles the scheduler's API enforces.
pub use galsync_platform::on_behalf::Role;

/// A signed-in person.
#[derive(Clone)]
pub struct Session {
    pub person: String,
    pub role: Role,
    /// Signed in by Microsoft Entra ID (not a one-time link).
    pub via_entra: bool,
    csrf_token: SecretString,
    last_seen: Instant,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Session")
            .field("person", &self.person)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The token this session's forms carry.
    pub fn csrf_token(&self) -> &str {
        self.csrf_token.expose_secret()
    }

    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        constant_time_eq(
            presented.as_bytes(),
            self.csrf_token.expose_secret().as_bytes(),
        )
    }
}

/// A one-time sign-in link's secret part, shown once.
pub struct SignInLink {
    token: SecretString,
    pub expires_in: Duration,
}

impl std::fmt::Debug for SignInLink {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SignInLink { token: <redacted>, .. }")
    }
}

impl SignInLink {
    /// The link to open, under the console's public URL.
    pub fn url(&self, public_url: &str) -> String {
        format!("{public_url}/sign-in/link/{}", self.token.expose_secret())
    }
}

/// Why a sign-in link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Used already, never issued, or issued by a console that restarted since.
    Unknown,
    Expired,
}

struct PendingLink {
    person: String,
    role: Role,
    expires_at: Instant,
}

/// The sessions and pending links of one console process.
pub struct Sessions {
    idle: Duration,
    sessions: Mutex<HashMap<String, Session>>,
    links: Mutex<HashMap<String, PendingLink>>,
}

impl Sessions {
    pub fn new(idle: Duration) -> Self {
        Self {
            idle,
            sessions: Mutex::new(HashMap::new()),
            links: Mutex::new(HashMap::new()),
        }
    }

    /// Issues a single-use link signing in `person` with `role`.
    pub fn issue_link(&self, person: &str, role: Role, valid_for: Duration) -> SignInLink {
        let token = random_secret();
        let pending = PendingLink {
            person: person.to_owned(),
            role,
            expires_at: Instant::now() + valid_for,
        };
        lock(&self.links).insert(digest(&token), pending);
        SignInLink {
            token: SecretString::from(token),
            expires_in: valid_for,
        }
    }

    /// Uses up a link and starts its session: (session id for the cookie,
    /// the session). A link works once, expired or not.
    pub fn redeem_link(&self, token: &str) -> Result<(SecretString, Session), LinkRefusal> {
        let Some(pending) = lock(&self.links).remove(&digest(token)) else {
            return Err(LinkRefusal::Unknown);
        };
        if Instant::now() >= pending.expires_at {
            return Err(LinkRefusal::Expired);
        }
        Ok(self.start(pending.person, pending.role))
    }

    /// Starts a session for `person` with `role` (who they are was proven
    /// elsewhere): (session id for the cookie, the session).
    pub fn start(&self, person: String, role: Role) -> (SecretString, Session) {
        self.start_signed_in(person, role, false)
    }

    /// A session for someone Microsoft Entra ID signed in: signing out also
    /// signs them out of Microsoft.
    pub fn start_via_entra(&self, person: String, role: Role) -> (SecretString, Session) {
        self.start_signed_in(person, role, true)
    }

    fn start_signed_in(
        &self,
        person: String,
        role: Role,
        via_entra: bool,
    ) -> (SecretString, Session) {
        let session_id = random_secret();
        let session = Session {
            person,
            role,
            via_entra,
            csrf_token: SecretString::from(random_secret()),
            last_seen: Instant::now(),
        };
        lock(&self.sessions).insert(digest(&session_id), session.clone());
        (SecretString::from(session_id), session)
    }

    /// The live session of `session_id`, marked as seen now; an idle one
    /// ends here.
    pub fn session(&self, session_id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, session| now.duration_since(session.last_seen) < self.idle);
        let session = sessions.get_mut(&digest(session_id))?;
        session.last_seen = now;
        Some(session.clone())
    }

    /// Whether `session_id` is a live session, without counting as activity
    /// (an open event stream is not a person at the keyboard).
    pub fn is_live(&self, session_id: &str) -> bool {
        let now = Instant::now();
        let sessions = lock(&self.sessions);
        sessions
            .get(&digest(session_id))
            .is_some_and(|session| now.duration_since(session.last_seen) < self.idle)
    }

    /// Ends a session (sign-out).
    pub fn end(&self, session_id: &str) {
        lock(&self.sessions).remove(&digest(session_id));
    }
}

/// The maps stay consistent whatever a panicking holder did: every change
/// is a single insert or remove.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn digest(secret: &str) -> String {
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter()
        .zip(right)
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_of(link: &SignInLink) -> String {
        link.url("")
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn a_link_signs_in_once() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let link = sessions.issue_link("bootstrap-admin", Role::Admin, Duration::from_secs(60));
        let token = token_of(&link);
        let (session_id, session) = sessions.redeem_link(&token).unwrap();
        assert_eq!(session.role, Role::Admin);
        assert_eq!(
            sessions.redeem_link(&token).unwrap_err(),
            LinkRefusal::Unknown
        );
        let found = sessions.session(session_id.expose_secret()).unwrap();
        assert_eq!(found.person, "bootstrap-admin");
        assert!(found.csrf_matches(session.csrf_token()));
        assert!(!found.csrf_matches("forged"));
        sessions.end(session_id.expose_secret());
        assert!(sessions.session(session_id.expose_secret()).is_none());
    }

    #[test]
    fn an_expired_link_and_an_idle_session_are_refused() {
        let sessions = Sessions::new(Duration::from_millis(30));
        let expired = sessions.issue_link("ada", Role::Viewer, Duration::ZERO);
        assert_eq!(
            sessions.redeem_link(&token_of(&expired)).unwrap_err(),
            LinkRefusal::Expired
        );
        let link = sessions.issue_link("ada", Role::Viewer, Duration::from_secs(60));
        let (session_id, _) = sessions.redeem_link(&token_of(&link)).unwrap();
        std::thread::sleep(Duration::from_millis(60));
        assert!(sessions.session(session_id.expose_secret()).is_none());
    }

    #[test]
    fn debug_prints_no_secret() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let link = sessions.issue_link("ada", Role::Viewer, Duration::from_secs(60));
        let token = token_of(&link);
        assert!(!format!("{link:?}").contains(&token));
        let (_, session) = sessions.redeem_link(&token).unwrap();
        assert!(!format!("{session:?}").contains(session.csrf_token()));
    }
}
