//! Access tokens the emulator issues: RS256 JWTs signed with the emulator's own
//! key (published at the JWKS endpoint), verified on every Graph call with a
//! cache so verification never limits throughput.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};

/// The Graph resource, as the `aud` of app-only tokens.
pub const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";

/// Claims of an emulator access token (the subset Graph checks, with Entra's names).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// Tenant id.
    pub tid: String,
    /// Client id of the app the token was issued to.
    pub appid: String,
    /// Application permissions (app-only tokens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Delegated scopes, space-separated (delegated tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    /// "app" for app-only tokens, "user" for delegated.
    pub idtyp: String,
    pub oid: String,
    pub sub: String,
    /// Signed-in user (delegated tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// Unique token id.
    pub uti: String,
    pub ver: String,
}

impl AccessClaims {
    /// Whether the token carries any of `permissions`, as an app role or a delegated scope.
    pub fn has_any(&self, permissions: &[&str]) -> bool {
        let scopes: Vec<&str> = self
            .scp
            .as_deref()
            .map(|scp| scp.split(' ').collect())
            .unwrap_or_default();
        permissions.iter().any(|permission| {
            self.roles.iter().any(|role| role == permission) || scopes.contains(permission)
        })
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenRejection {
    Malformed,
    BadSignature,
    Expired,
    NotYetValid,
    WrongAudience,
}

pub struct TokenSigner {
    kid: String,
    encoding_key: EncodingKey,
    decoding_key: DecodingKey,
    modulus_b64: String,
    exponent_b64: String,
    verified: Mutex<HashMap<String, AccessClaims>>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

const VERIFIED_CACHE_LIMIT: usize = 200_000;

impl TokenSigner {
    /// Makes a fresh 2048-bit signing key.
    pub fn generate() -> anyhow::Result<Self> {
        let mut rng = rand::thread_rng();
        let private_key = rsa::RsaPrivateKey::new(&mut rng, 2048)?;
        let der = private_key.to_pkcs1_der()?;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let modulus_b64 = engine.encode(private_key.n().to_bytes_be());
        let exponent_b64 = engine.encode(private_key.e().to_bytes_be());
        let decoding_key = DecodingKey::from_rsa_components(&modulus_b64, &exponent_b64)?;
        Ok(Self {
            kid: uuid::Uuid::new_v4().simple().to_string(),
            encoding_key: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding_key,
            modulus_b64,
            exponent_b64,
            verified: Mutex::new(HashMap::new()),
        })
    }

    pub fn sign<C: Serialize>(&self, claims: &C) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".to_owned());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding_key)?)
    }

    /// Verifies signature, audience and lifetime against `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, TokenRejection> {
        let cached = self.cache().get(token).cloned();
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let claims = self.verify_signature(token)?;
                let mut cache = self.cache();
                if cache.len() >= VERIFIED_CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert(token.to_owned(), claims.clone());
                claims
            }
        };
        if claims.aud != GRAPH_AUDIENCE && claims.aud != "00000003-0000-0000-c000-000000000000" {
            return Err(TokenRejection::WrongAudience);
        }
        if now >= claims.exp {
            return Err(TokenRejection::Expired);
        }
        if now + 300 < claims.nbf {
            return Err(TokenRejection::NotYetValid);
        }
        Ok(claims)
    }

    fn verify_signature(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        if header.alg != Algorithm::RS256 || header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(TokenRejection::BadSignature);
        }
        let mut validation = Validation::new(Algorithm::RS256);
        // Lifetime is checked against the emulator's clock, audience by hand.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        match jsonwebtoken::decode::<AccessClaims>(token, &self.decoding_key, &validation) {
            Ok(data) => Ok(data.claims),
            Err(error) => match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    Err(TokenRejection::BadSignature)
                }
                _ => Err(TokenRejection::Malformed),
            },
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, AccessClaims>> {
        self.verified
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The JSON Web Key Set that verifies the emulator's tokens.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": self.kid,
                "n": self.modulus_b64,
                "e": self.exponent_b64,
            }]
        })
    }
}
