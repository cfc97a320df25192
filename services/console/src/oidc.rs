//! Entra ID sign-in (OpenID Connect authorization code flow with PKCE): the
//! pieces that do not need HTTP. A flow in progress ([`PendingFlows`]: state,
//! nonce and PKCE verifier kept server-side, found by the SHA-256 of a
//! pre-session cookie, usable once and for a few minutes), ID token
//! validation ([`validate_id_token`]: RS256 signature by a key of the
//! authority's JWKS, `iss`, `aud`, `exp`/`nbf` with a small leeway, `nonce`,
//! `tid`); the group and app role → role mapping is [`crate::role_map`].
//!
//! Followed: <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow>,
//! <https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference>.
//!
//! The HTTP side (discovery, the token endpoint, the cached key set) is
//! [`crate::entra`]; the routes are in `entra_routes`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::RngCore;
use serde::Deserialize;
use sha2::Digest;

pub use crate::role_map::RoleGroups;

/// Where people sign in unless `--entra-authority` says otherwise.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Where the console asks Microsoft Graph unless `--entra-graph-url` says otherwise.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";

/// Leeway on `exp` and `nbf`, in seconds.
pub const CLOCK_LEEWAY_SECS: u64 = 120;

/// What the callback needs to finish one sign-in.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingFlow {
    pub state: String,
    pub nonce: String,
    pub code_verifier: String,
}

impl std::fmt::Debug for PendingFlow {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PendingFlow { .. }")
    }
}

impl PendingFlow {
    /// Fresh random state, nonce and verifier.
    pub fn new() -> Self {
        Self {
            state: random_token(),
            nonce: random_token(),
            code_verifier: random_token(),
        }
    }

    /// The S256 `code_challenge` of the verifier.
    pub fn code_challenge(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(self.code_verifier.as_bytes()))
    }
}

impl Default for PendingFlow {
    fn default() -> Self {
        Self::new()
    }
}

/// Flows in progress by the SHA-256 of their pre-session cookie.
pub struct PendingFlows {
    lifetime: Duration,
    flows: Mutex<HashMap<[u8; 32], (Instant, PendingFlow)>>,
}

impl PendingFlows {
    pub fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            flows: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps `flow`; returns the pre-session cookie value that finds it.
    pub fn start(&self, flow: PendingFlow) -> String {
        let cookie = random_token();
        let mut flows = self.lock();
        let lifetime = self.lifetime;
        flows.retain(|_, (started, _)| started.elapsed() < lifetime);
        flows.insert(digest(&cookie), (Instant::now(), flow));
        cookie
    }

    /// Takes the flow of `cookie` (once) if it is young enough and its state
    /// is `state`. A wrong state spends the flow too.
    pub fn finish(&self, cookie: &str, state: &str) -> Option<PendingFlow> {
        let (started, flow) = self.lock().remove(&digest(cookie))?;
        if started.elapsed() >= self.lifetime {
            return None;
        }
        constant_time_eq(flow.state.as_bytes(), state.as_bytes()).then_some(flow)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (Instant, PendingFlow)>> {
        self.flows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The claims the console uses.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct IdentityClaims {
    pub tid: String,
    pub oid: String,
    pub preferred_username: String,
    #[serde(default)]
    pub name: String,
    /// Security group object ids; empty on the groups overage.
    #[serde(default)]
    pub groups: Vec<String>,
    /// `{"groups": "src1"}` when the user is in more groups than fit in a
    /// token (200 for a JWT): Entra then leaves `groups` out.
    #[serde(default, rename = "_claim_names")]
    pub claim_names: HashMap<String, serde_json::Value>,
    /// Values of the console app's app roles assigned to the person.
    #[serde(default)]
    pub roles: Vec<String>,
    nonce: String,
}

impl IdentityClaims {
    /// Whether Entra left the groups out for being too many (the overage):
    /// the person's groups must then be asked of Microsoft Graph.
    /// <https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference>
    pub fn groups_overage(&self) -> bool {
        self.claim_names.contains_key("groups")
    }
}

/// Why an ID token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdTokenRefusal {
    #[error(
        "the ID token is not signed with RS256 by a key of the authority's key set (kid {0:?})"
    )]
    UnknownKey(Option<String>),
    #[error("the ID token is invalid: {0}")]
    Invalid(String),
    #[error("the ID token does not answer this sign-in (nonce mismatch)")]
    NonceMismatch,
    #[error("the ID token is from tenant {0}, not the console's tenant")]
    WrongTenant(String),
}

/// Validates `id_token` against `jwks` (a JSON Web Key Set) and returns
/// its claims: RS256 only, `kid` in the set, `iss` =
/// `{authority}/{tenant}/v2.0`, `aud` = `client_id`, `exp`/`nbf`/`iat`
/// present with [`CLOCK_LEEWAY_SECS`], `nonce` = the flow's, `tid` = `tenant`.
pub fn validate_id_token(
    id_token: &str,
    jwks: &serde_json::Value,
    issuer: &str,
    client_id: &str,
    tenant: &str,
    nonce: &str,
) -> Result<IdentityClaims, IdTokenRefusal> {
    let header = jsonwebtoken::decode_header(id_token)
        .map_err(|error| IdTokenRefusal::Invalid(error.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(IdTokenRefusal::UnknownKey(header.kid));
    }
    let key = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|key| key["kid"].as_str().is_some() && key["kid"].as_str() == header.kid.as_deref())
        .ok_or_else(|| IdTokenRefusal::UnknownKey(header.kid.clone()))?;
    let (Some(modulus), Some(exponent)) = (key["n"].as_str(), key["e"].as_str()) else {
        return Err(IdTokenRefusal::UnknownKey(header.kid));
    };
    let decoding = DecodingKey::from_rsa_components(modulus, exponent)
        .map_err(|error| IdTokenRefusal::Invalid(error.to_string()))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = CLOCK_LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<IdentityClaims>(id_token, &decoding, &validation)
        .map_err(|error| match error.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                IdTokenRefusal::UnknownKey(header.kid.clone())
            }
            _ => IdTokenRefusal::Invalid(error.to_string()),
        })?
        .claims;
    if !constant_time_eq(claims.nonce.as_bytes(), nonce.as_bytes()) {
        return Err(IdTokenRefusal::NonceMismatch);
    }
    if !claims.tid.eq_ignore_ascii_case(tenant) {
        return Err(IdTokenRefusal::WrongTenant(claims.tid));
    }
    Ok(claims)
}

fn random_token() -> String {
    let mut random = [0_u8; 32];
    rand::thread_rng().fill_bytes(&mut random);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
}

fn digest(secret: &str) -> [u8; 32] {
    sha2::Sha256::digest(secret.as_bytes()).into()
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    use serde_json::json;

    const ISSUER: &str = "https://login.example/t1/v2.0";

    struct Key {
        kid: String,
        encoding: EncodingKey,
        jwk: serde_json::Value,
    }

    fn key(kid: &str) -> Key {
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("rsa");
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        Key {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_rsa_der(private.to_pkcs1_der().expect("der").as_bytes()),
            jwk: json!({"kty": "RSA", "kid": kid, "n": engine.encode(private.n().to_bytes_be()), "e": engine.encode(private.e().to_bytes_be())}),
        }
    }

    fn token(key: &Key, claims: serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding).expect("sign")
    }

    fn claims(now: i64) -> serde_json::Value {
        json!({"iss": ISSUER, "aud": "console-app", "iat": now, "nbf": now, "exp": now + 3600,
               "nonce": "n1", "tid": "t1", "oid": "o1", "preferred_username": "ada@contoso.example",
               "name": "Ada", "groups": ["G-ADMIN"]})
    }

    #[test]
    fn id_tokens_are_checked_for_key_issuer_audience_time_nonce_and_tenant() {
        let now = chrono::Utc::now().timestamp();
        let good = key("k1");
        let other = key("k1");
        let jwks = json!({"keys": [good.jwk]});
        let check = |token: &str, nonce: &str| {
            validate_id_token(token, &jwks, ISSUER, "console-app", "t1", nonce)
        };
        let valid = check(&token(&good, claims(now)), "n1").expect("valid");
        assert_eq!(valid.preferred_username, "ada@contoso.example");
        assert_eq!(valid.groups, vec!["G-ADMIN".to_owned()]);

        // Another key under the same kid: a bad signature.
        assert!(matches!(
            check(&token(&other, claims(now)), "n1"),
            Err(IdTokenRefusal::UnknownKey(_))
        ));
        assert!(matches!(
            check(&token(&key("k2"), claims(now)), "n1"),
            Err(IdTokenRefusal::UnknownKey(_))
        ));
        assert_eq!(
            check(&token(&good, claims(now)), "n2"),
            Err(IdTokenRefusal::NonceMismatch)
        );
        let mut wrong = claims(now);
        wrong["tid"] = json!("t2");
        assert_eq!(
            check(&token(&good, wrong), "n1"),
            Err(IdTokenRefusal::WrongTenant("t2".to_owned()))
        );
        for (field, value) in [
            ("aud", json!("someone-else")),
            ("iss", json!("https://login.example/t2/v2.0")),
            ("exp", json!(now - 600)),
            ("nbf", json!(now + 600)),
        ] {
            let mut bad = claims(now);
            bad[field] = value;
            assert!(
                matches!(
                    check(&token(&good, bad), "n1"),
                    Err(IdTokenRefusal::Invalid(_))
                ),
                "{field}"
            );
        }
        // Within the leeway.
        let mut late = claims(now);
        late["exp"] = json!(now - 30);
        assert!(check(&token(&good, late), "n1").is_ok());
    }

    #[test]
    fn pending_flows_work_once_with_their_state() {
        let flows = PendingFlows::new(Duration::from_secs(300));
        let flow = PendingFlow::new();
        assert_eq!(flow.code_challenge().len(), 43);
        let cookie = flows.start(flow.clone());
        assert_eq!(flows.finish(&cookie, &flow.state), Some(flow.clone()));
        assert_eq!(flows.finish(&cookie, &flow.state), None);
        let cookie = flows.start(flow.clone());
        assert_eq!(flows.finish(&cookie, "tampered"), None);
        assert_eq!(flows.finish(&cookie, &flow.state), None);
        let expired = PendingFlows::new(Duration::ZERO);
        let cookie = expired.start(flow.clone());
        assert_eq!(expired.finish(&cookie, &flow.state), None);
    }

    #[test]
    fn the_groups_overage_and_app_roles_are_read_from_the_id_token() {
        let now = chrono::Utc::now().timestamp();
        let signer = key("k1");
        let jwks = json!({"keys": [signer.jwk]});
        let mut overage = claims(now);
        overage.as_object_mut().expect("claims").remove("groups");
        overage["_claim_names"] = json!({"groups": "src1"});
        overage["_claim_sources"] =
            json!({"src1": {"endpoint": "https://graph.windows.net/t1/users/o1/getMemberObjects"}});
        overage["roles"] = json!(["GalSync.Admin"]);
        let valid = validate_id_token(
            &token(&signer, overage),
            &jwks,
            ISSUER,
            "console-app",
            "t1",
            "n1",
        )
        .expect("valid");
        assert!(valid.groups_overage());
        assert!(valid.groups.is_empty());
        assert_eq!(valid.roles, vec!["GalSync.Admin".to_owned()]);
        let plain = validate_id_token(
            &token(&signer, claims(now)),
            &jwks,
            ISSUER,
            "console-app",
            "t1",
            "n1",
        )
        .expect("valid");
        assert!(!plain.groups_overage());
    }
}
