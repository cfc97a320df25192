//! Entra ID sign-in (OpenID Connect authorization code flow with PKCE): the
//! pieces that do not need HTTP. A flow in progress ([`PendingFlows`]: state,
//! nonce and PKCE verifier kept server-side, found by the SHA-256 of a
//! pre-session cookie, usable once and for a few minutes), ID token
//! validation ([`validate_id_token`]: RS256 signature by a key of the
//! authority's JWKS, `iss`, `aud`, `exp`/`nbf` with a small leeway, `nonce`,
//! `tid`) and the group → role mapping ([`RoleGroups`]).
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

use crate::session::Role;

/// Where people sign in unless `--entra-authority` says otherwise.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

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
    #[serde(default)]
    pub groups: Vec<String>,
    nonce: String,
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

/// Entra group object ids mapped to console roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleGroups {
    groups: Vec<(Role, String)>,
}

impl RoleGroups {
    /// Parses one `role=group-id` flag value.
    pub fn add(&mut self, mapping: &str) -> Result<(), String> {
        let (role, group) = mapping
            .split_once('=')
            .ok_or_else(|| format!("{mapping:?}: expected role=group-object-id"))?;
        let role = match role.trim() {
            "viewer" => Role::Viewer,
            "operator" => Role::Operator,
            "admin" => Role::Admin,
            other => return Err(format!("unknown role {other:?}: viewer, operator or admin")),
        };
        let group = group.trim();
        if group.is_empty() {
            return Err(format!("{mapping:?}: the group object id is empty"));
        }
        self.groups.push((role, group.to_ascii_lowercase()));
        Ok(())
    }

    /// The highest role any of `groups` maps to; None when none is mapped.
    pub fn role_of(&self, groups: &[String]) -> Option<Role> {
        self.groups
            .iter()
            .filter(|(_, mapped)| {
                groups
                    .iter()
                    .any(|group| group.eq_ignore_ascii_case(mapped))
            })
            .map(|(role, _)| *role)
            .max()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
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
    fn groups_map_to_the_highest_role_and_unmapped_users_get_none() {
        let mut roles = RoleGroups::default();
        roles.add("viewer=g-view").expect("viewer");
        roles.add("admin=G-Admin").expect("admin");
        assert!(roles.add("root=g").is_err());
        assert!(roles.add("admin").is_err());
        assert_eq!(
            roles.role_of(&["g-view".to_owned(), "g-admin".to_owned()]),
            Some(Role::Admin)
        );
        assert_eq!(roles.role_of(&["G-VIEW".to_owned()]), Some(Role::Viewer));
        assert_eq!(roles.role_of(&["other".to_owned()]), None);
    }
}
