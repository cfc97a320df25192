//! Client assertions (RFC 7523 `private_key_jwt`) checked as Entra checks
//! them: the signing certificate found by `x5t` (RS256) or `x5t#S256`
//! (PS256) among the app's uploaded certificates, the signature, `iss` =
//! `sub` = client id, `aud` = the token URL, `nbf`/`exp` with five minutes of
//! skew, and a `jti` never seen before.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::certificates::{decode_base64_any, thumbprint_hex};
use super::entra_errors;
use super::model::CertificateCredential;
use super::{lock, IdentityStore};
use crate::errors::EntraError;

pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Clock skew Entra tolerates on `nbf` and `exp`.
pub const CLOCK_SKEW_SECS: i64 = 300;

/// Longest assertion lifetime (`exp` − `nbf`) accepted. Entra documents no
/// limit; a day is generous for a credential meant to live minutes.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 24 * 3600;

/// What an assertion is checked against.
pub struct AssertionCheck<'a> {
    pub client_id: &'a str,
    /// Certificates registered on the app.
    pub certificates: &'a [CertificateCredential],
    /// Token URLs the `aud` claim may name.
    pub accepted_audiences: &'a [String],
    /// Emulator clock, Unix seconds.
    pub now: i64,
}

/// Verifies a client assertion and records its `jti`.
pub fn verify_client_assertion(
    store: &IdentityStore,
    assertion: &str,
    check: &AssertionCheck<'_>,
) -> Result<(), EntraError> {
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| entra_errors::malformed_assertion("the client assertion is not a jwt"))?;
    let certificate = find_signing_certificate(&header, check)?;
    let claims = verify_signature(assertion, header.alg, certificate, check.client_id)?;
    check_principal(&claims, check.client_id)?;
    check_audience(&claims, check.accepted_audiences)?;
    let expires = check_lifetime(&claims, check.now)?;
    let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
        return Err(entra_errors::malformed_assertion(
            "the client assertion has no 'jti' claim",
        ));
    };
    store.record_assertion_id(check.client_id, jti, expires, check.now)
}

fn find_signing_certificate<'a>(
    header: &jsonwebtoken::Header,
    check: &AssertionCheck<'a>,
) -> Result<&'a CertificateCredential, EntraError> {
    let (thumbprint_text, wants_sha256) = match header.alg {
        Algorithm::RS256 => (header.x5t.as_deref(), false),
        Algorithm::PS256 => (header.x5t_s256.as_deref(), true),
        other => {
            return Err(entra_errors::malformed_assertion(&format!(
                "unsupported signing algorithm {other:?}; use RS256 with x5t or PS256 with x5t#S256"
            )))
        }
    };
    let Some(thumbprint_text) = thumbprint_text else {
        return Err(entra_errors::certificate_not_registered(
            check.client_id,
            "",
        ));
    };
    let Some(thumbprint) = decode_base64_any(thumbprint_text) else {
        return Err(entra_errors::certificate_not_registered(
            check.client_id,
            thumbprint_text,
        ));
    };
    let found = check.certificates.iter().find(|certificate| {
        if wants_sha256 {
            certificate.sha256_thumbprint.as_slice() == thumbprint.as_slice()
        } else {
            certificate.sha1_thumbprint.as_slice() == thumbprint.as_slice()
        }
    });
    let Some(certificate) = found else {
        return Err(entra_errors::certificate_not_registered(
            check.client_id,
            &thumbprint_hex(&thumbprint),
        ));
    };
    // An expired key credential no longer authenticates the app.
    if check.now > certificate.not_after || check.now < certificate.not_before {
        return Err(entra_errors::certificate_not_registered(
            check.client_id,
            &thumbprint_hex(&thumbprint),
        ));
    }
    Ok(certificate)
}

fn verify_signature(
    assertion: &str,
    algorithm: Algorithm,
    certificate: &CertificateCredential,
    client_id: &str,
) -> Result<Value, EntraError> {
    let decoding_key =
        DecodingKey::from_rsa_components(&certificate.modulus_b64, &certificate.exponent_b64)
            .map_err(|_| entra_errors::bad_assertion_signature(client_id))?;
    let mut validation = Validation::new(algorithm);
    // Lifetime is checked against the emulator clock, audience by hand.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    match jsonwebtoken::decode::<Value>(assertion, &decoding_key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(error) => match error.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                Err(entra_errors::bad_assertion_signature(client_id))
            }
            _ => Err(entra_errors::malformed_assertion(
                "the client assertion could not be decoded",
            )),
        },
    }
}

fn check_principal(claims: &Value, client_id: &str) -> Result<(), EntraError> {
    for claim in ["iss", "sub"] {
        let value = claims.get(claim).and_then(Value::as_str).unwrap_or("");
        if !value.eq_ignore_ascii_case(client_id) {
            return Err(entra_errors::assertion_wrong_subject(client_id));
        }
    }
    Ok(())
}

fn check_audience(claims: &Value, accepted_audiences: &[String]) -> Result<(), EntraError> {
    let audience = match claims.get("aud") {
        Some(Value::String(single)) => single.clone(),
        Some(Value::Array(list)) if list.len() == 1 => {
            list[0].as_str().unwrap_or_default().to_owned()
        }
        _ => String::new(),
    };
    let accepted = accepted_audiences
        .iter()
        .any(|candidate| candidate.eq_ignore_ascii_case(audience.trim_end_matches('/')));
    if accepted {
        Ok(())
    } else {
        Err(entra_errors::assertion_wrong_audience(&audience))
    }
}

/// Checks `nbf`/`exp` against the clock; returns `exp`.
fn check_lifetime(claims: &Value, now: i64) -> Result<i64, EntraError> {
    let Some(expires) = numeric_date(claims, "exp") else {
        return Err(entra_errors::malformed_assertion(
            "the client assertion has no 'exp' claim",
        ));
    };
    let not_before = numeric_date(claims, "nbf")
        .or_else(|| numeric_date(claims, "iat"))
        .unwrap_or(now);
    let expired = now > expires + CLOCK_SKEW_SECS;
    let not_yet_valid = now + CLOCK_SKEW_SECS < not_before;
    let too_long = expires - not_before > MAX_ASSERTION_LIFETIME_SECS;
    if expired || not_yet_valid || too_long || expires < not_before {
        return Err(entra_errors::assertion_out_of_time_range(
            now, not_before, expires,
        ));
    }
    Ok(expires)
}

/// A JWT NumericDate: seconds since the epoch, possibly fractional (MSAL
/// Python sends `time.time()` floats).
fn numeric_date(claims: &Value, name: &str) -> Option<i64> {
    let value = claims.get(name)?;
    if let Some(whole) = value.as_i64() {
        return Some(whole);
    }
    let fractional = value.as_f64()?;
    if !fractional.is_finite() {
        return None;
    }
    Some(fractional.floor() as i64)
}

impl IdentityStore {
    /// Remembers a redeemed assertion id until its expiry (plus skew) passes;
    /// a second use is a replay.
    fn record_assertion_id(
        &self,
        client_id: &str,
        jti: &str,
        expires: i64,
        now: i64,
    ) -> Result<(), EntraError> {
        let mut used = lock(&self.used_assertion_ids);
        // Forget expired ids now and then, not on every request.
        if used.len() >= 1024 && used.len().is_multiple_of(256) {
            used.retain(|_, remembered_until| *remembered_until >= now);
        }
        let key = (client_id.to_ascii_lowercase(), jti.to_owned());
        let still_remembered = used
            .get(&key)
            .is_some_and(|remembered_until| *remembered_until >= now);
        if still_remembered {
            return Err(entra_errors::assertion_replayed());
        }
        used.insert(key, expires + CLOCK_SKEW_SECS);
        Ok(())
    }
}
