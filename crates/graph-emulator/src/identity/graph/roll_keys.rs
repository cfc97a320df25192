//! `addKey` and `removeKey` on an application: how an app rolls its own
//! certificate, proving possession of a key it already has.
//!
//! Pages, read strictly:
//! - https://learn.microsoft.com/graph/api/application-addkey
//! - https://learn.microsoft.com/graph/api/application-removekey
//! - https://learn.microsoft.com/graph/application-rollkey-prooftoken
//!
//! The `proof` is a JWT "signed using the private key of one of the
//! application's existing valid certificates" with `aud`
//! `00000002-0000-0000-c000-000000000000`, `iss` the application's object
//! `id`, `nbf`, and `exp` = `nbf` + 10 minutes ("token validity should not be
//! more than 10 minutes"). The pages name one error for a bad proof,
//! `Authentication_MissingOrMalformed` (the proof-token page, for `=`
//! padding); the emulator answers every refused proof with it, as a 401 like
//! Graph's other `Authentication_*` errors, and applies no clock skew.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::applications::{find_application, reference_from_key, reference_text, ApplicationRef};
use super::authorization::{is_delegated, may_change, require_application_write};
use super::keys::{render_key_credential, KeyCredentialWrite};
use super::{bad_request, odata_context};
use crate::auth::GraphCaller;
use crate::directory::http::resource_not_found;
use crate::errors::GraphError;
use crate::identity::certificates::{decode_base64_any, parse_certificate};
use crate::identity::model::{AppRegistration, CertificateCredential};
use crate::identity::write;
use crate::AppState;

/// The `aud` a proof names (application-addkey, application-removekey).
pub const PROOF_AUDIENCE: &str = "00000002-0000-0000-c000-000000000000";

/// `exp` − `nbf` may be at most ten minutes (application-rollkey-prooftoken).
pub const MAX_PROOF_LIFETIME_SECS: i64 = 600;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddKeyBody {
    key_credential: Option<KeyCredentialWrite>,
    #[serde(default)]
    password_credential: Option<Value>,
    proof: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoveKeyBody {
    key_id: Option<String>,
    proof: Option<String>,
}

pub async fn add_key_by_id(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    add_key(&state, &caller, &ApplicationRef::ObjectId(id), &body)
}

/// `POST /applications(appId='{appId}')/addKey`.
pub async fn add_key_by_key(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let reference = reference_from_key(&key)?;
    add_key(&state, &caller, &reference, &body)
}

pub async fn remove_key_by_id(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    remove_key(&state, &caller, &ApplicationRef::ObjectId(id), &body)
}

/// `POST /applications(appId='{appId}')/removeKey`.
pub async fn remove_key_by_key(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let reference = reference_from_key(&key)?;
    remove_key(&state, &caller, &reference, &body)
}

fn add_key(
    state: &AppState,
    caller: &GraphCaller,
    reference: &ApplicationRef,
    body: &Bytes,
) -> Result<Response, GraphError> {
    let request: AddKeyBody = serde_json::from_slice(body).map_err(|error| {
        bad_request(format!("Invalid request body for action 'addKey': {error}"))
    })?;
    let key_credential = request.key_credential.ok_or_else(|| {
        bad_request("A value is required for parameter 'keyCredential' of action 'addKey'.")
    })?;
    let proof = required_proof(request.proof.as_deref(), "addKey")?;
    let new_certificate = checked_new_certificate(
        &key_credential,
        request.password_credential.as_ref(),
        state.identity.replicated_from_ms(),
    )?;
    with_proven_application(state, caller, reference, proof, |app| {
        let duplicate = app
            .certificates
            .iter()
            .any(|known| known.sha256_thumbprint == new_certificate.sha256_thumbprint);
        if duplicate {
            return Err(bad_request(
                "keyCredentials contains the same certificate more than once.",
            ));
        }
        let mut rendered = render_key_credential(&new_certificate);
        rendered["@odata.context"] = json!(odata_context("microsoft.graph.keyCredential"));
        app.certificates.push(new_certificate);
        Ok((StatusCode::OK, Json(rendered)).into_response())
    })
}

fn remove_key(
    state: &AppState,
    caller: &GraphCaller,
    reference: &ApplicationRef,
    body: &Bytes,
) -> Result<Response, GraphError> {
    let request: RemoveKeyBody = serde_json::from_slice(body).map_err(|error| {
        bad_request(format!(
            "Invalid request body for action 'removeKey': {error}"
        ))
    })?;
    let key_id = request
        .key_id
        .as_deref()
        .and_then(|text| text.trim().parse::<Uuid>().ok())
        .ok_or_else(|| {
            bad_request("A GUID value is required for parameter 'keyId' of action 'removeKey'.")
        })?;
    let proof = required_proof(request.proof.as_deref(), "removeKey")?;
    with_proven_application(state, caller, reference, proof, |app| {
        let before = app.certificates.len();
        app.certificates.retain(|known| known.key_id != key_id);
        if app.certificates.len() == before {
            return Err(bad_request(format!(
                "Invalid value specified for parameter 'keyId' of action 'removeKey': no key with keyId {key_id}."
            )));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// Runs `change` on the application `reference` names once the caller may
/// roll its keys and `proof` holds (both actions' pages).
fn with_proven_application(
    state: &AppState,
    caller: &GraphCaller,
    reference: &ApplicationRef,
    proof: &str,
    change: impl FnOnce(&mut AppRegistration) -> Result<Response, GraphError>,
) -> Result<Response, GraphError> {
    let key = find_application(state, caller.tenant_id, reference)
        .ok_or_else(|| resource_not_found(reference_text(reference)))?;
    let mut apps = write(&state.identity.apps);
    let app = apps
        .get_mut(&key)
        .ok_or_else(|| resource_not_found(reference_text(reference)))?;
    require_roll_access(state, caller, app)?;
    verify_proof(proof, app, state.clock.unix_now())?;
    change(app)
}

fn required_proof<'a>(proof: Option<&'a str>, action: &str) -> Result<&'a str, GraphError> {
    match proof.map(str::trim) {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(bad_request(format!(
            "A value is required for parameter 'proof' of action '{action}'."
        ))),
    }
}

/// "An application does not need any specific permission to roll its own
/// keys" (both pages): an app-only token of the application itself needs no
/// role. Anyone else needs what updating the application needs.
fn require_roll_access(
    state: &AppState,
    caller: &GraphCaller,
    app: &AppRegistration,
) -> Result<(), GraphError> {
    let own_application =
        !is_delegated(caller) && caller.claims.appid.eq_ignore_ascii_case(&app.client_id);
    if own_application {
        return Ok(());
    }
    let access = require_application_write(state, caller)?;
    may_change(access, caller, &app.graph.owners)
}

/// The key to add: `AsymmetricX509Cert` with usage `Verify` and the public
/// certificate; `passwordCredential` is null for that type (addKey page).
fn checked_new_certificate(
    credential: &KeyCredentialWrite,
    password_credential: Option<&Value>,
    usable_from_ms: i64,
) -> Result<CertificateCredential, GraphError> {
    match credential.kind.as_deref() {
        Some("AsymmetricX509Cert") => {}
        Some("X509CertAndPassword") => {
            return Err(bad_request(
                "keyCredential type X509CertAndPassword is not emulated; add an AsymmetricX509Cert with usage Verify.",
            ))
        }
        other => {
            return Err(bad_request(format!(
                "Invalid value specified for property 'type' of resource 'KeyCredential': {}; use AsymmetricX509Cert.",
                other.unwrap_or("null")
            )))
        }
    }
    if credential.usage.as_deref() != Some("Verify") {
        return Err(bad_request(
            "Invalid value specified for property 'usage' of resource 'KeyCredential': an AsymmetricX509Cert has usage Verify.",
        ));
    }
    if password_credential.is_some_and(|value| !value.is_null()) {
        return Err(bad_request(
            "passwordCredential must be null for a keyCredential of type AsymmetricX509Cert.",
        ));
    }
    let Some(key) = credential
        .key
        .as_deref()
        .filter(|key| !key.trim().is_empty())
    else {
        return Err(bad_request(
            "A value is required for property 'key' of resource 'KeyCredential'.",
        ));
    };
    let mut parsed = parse_certificate(key.as_bytes()).map_err(|_| {
        bad_request("Key credential is not a valid certificate: Key value is invalid certificate")
    })?;
    if let Some(display_name) = &credential.display_name {
        parsed.display_name = display_name.clone();
    }
    parsed.usable_from_ms = usable_from_ms;
    Ok(parsed)
}

/// 401 `Authentication_MissingOrMalformed` with the reason.
fn proof_refused(reason: &str) -> GraphError {
    GraphError::new(
        StatusCode::UNAUTHORIZED,
        "Authentication_MissingOrMalformed",
        format!("Proof of possession validation failed: {reason}."),
    )
}

/// Checks the proof against the application's current, valid certificates.
fn verify_proof(proof: &str, app: &AppRegistration, now: i64) -> Result<(), GraphError> {
    let segments: Vec<&str> = proof.split('.').collect();
    if segments.len() != 3 {
        return Err(proof_refused("the proof is not a signed jwt"));
    }
    // "padding character '=' must not be included in the JWT header and
    // payload or an Authentication_MissingOrMalformed error is returned".
    if segments[0].contains('=') || segments[1].contains('=') {
        return Err(proof_refused(
            "the jwt header or payload contains the padding character '='",
        ));
    }
    let valid_certificates: Vec<&CertificateCredential> = app
        .certificates
        .iter()
        .filter(|certificate| certificate.not_before <= now && now <= certificate.not_after)
        .collect();
    if valid_certificates.is_empty() {
        return Err(proof_refused(
            "the application has no valid certificate to prove possession of; add one with Update application instead",
        ));
    }
    let header = jsonwebtoken::decode_header(proof)
        .map_err(|_| proof_refused("the proof header is not readable"))?;
    let signing_certificate = signing_certificate(&header, &valid_certificates)?;
    let decoding_key = DecodingKey::from_rsa_components(
        &signing_certificate.modulus_b64,
        &signing_certificate.exponent_b64,
    )
    .map_err(|_| proof_refused("the signing certificate has no usable rsa key"))?;
    let mut validation = Validation::new(header.alg);
    // Lifetime against the emulator clock, audience and issuer by hand.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(proof, &decoding_key, &validation)
        .map_err(|_| proof_refused("the signature does not verify with the named certificate"))?
        .claims;
    if claims.get("aud").and_then(Value::as_str) != Some(PROOF_AUDIENCE) {
        return Err(proof_refused(&format!("aud must be {PROOF_AUDIENCE}")));
    }
    let issuer = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    if !issuer.eq_ignore_ascii_case(&app.graph.object_id.to_string()) {
        return Err(proof_refused(
            "iss must be the id (object id) of the application, not its appId",
        ));
    }
    let (Some(not_before), Some(expires)) = (
        claims.get("nbf").and_then(Value::as_i64),
        claims.get("exp").and_then(Value::as_i64),
    ) else {
        return Err(proof_refused("nbf and exp are required"));
    };
    if expires <= not_before || expires - not_before > MAX_PROOF_LIFETIME_SECS {
        return Err(proof_refused("exp must be at most 10 minutes after nbf"));
    }
    if now < not_before || now >= expires {
        return Err(proof_refused("the proof is expired or not yet valid"));
    }
    Ok(())
}

/// The certificate the header names: RS256 with `x5t` (SHA-1) or PS256 with
/// `x5t#S256`, among the valid certificates of the application.
fn signing_certificate<'a>(
    header: &jsonwebtoken::Header,
    valid_certificates: &[&'a CertificateCredential],
) -> Result<&'a CertificateCredential, GraphError> {
    let (named, wants_sha256) = match header.alg {
        Algorithm::RS256 => (header.x5t.as_deref(), false),
        Algorithm::PS256 => (header.x5t_s256.as_deref(), true),
        _ => {
            return Err(proof_refused(
                "sign the proof with RS256 (x5t) or PS256 (x5t#S256)",
            ))
        }
    };
    let Some(thumbprint) = named.and_then(decode_base64_any) else {
        return Err(proof_refused(
            "the header names no certificate thumbprint (x5t)",
        ));
    };
    valid_certificates
        .iter()
        .copied()
        .find(|certificate| {
            if wants_sha256 {
                certificate.sha256_thumbprint.as_slice() == thumbprint.as_slice()
            } else {
                certificate.sha1_thumbprint.as_slice() == thumbprint.as_slice()
            }
        })
        .ok_or_else(|| {
            proof_refused("the proof is not signed by a valid certificate of the application")
        })
}
