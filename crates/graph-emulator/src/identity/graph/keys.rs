//! `keyCredentials` of an application, as Graph takes and shows them.
//!
//! https://learn.microsoft.com/graph/api/resources/keycredential: a
//! certificate is `type: AsymmetricX509Cert`, `usage: Verify`, `key` the
//! base64 of the public certificate (DER). Writing `keyCredentials` (create
//! or update) replaces the whole collection
//! (https://learn.microsoft.com/graph/api/application-update); Graph never
//! returns `key`, so an existing credential is kept by sending its `keyId`
//! with `key` null (or the same certificate again). Only public
//! certificates are taken ("You should only provide the public key value",
//! https://learn.microsoft.com/graph/api/application-addkey).

use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{bad_request, graph_time};
use crate::errors::GraphError;
use crate::identity::certificates::parse_certificate;
use crate::identity::model::CertificateCredential;

/// One `keyCredential` in a request body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyCredentialWrite {
    pub key_id: Option<Uuid>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub usage: Option<String>,
    /// Base64 of the certificate (DER).
    pub key: Option<String>,
    pub display_name: Option<String>,
}

/// The credentials after writing `written` over `existing`. New
/// certificates are accepted by the token endpoint from `usable_from_ms`;
/// kept ones keep their time.
pub fn apply_key_credentials(
    existing: &[CertificateCredential],
    written: &[KeyCredentialWrite],
    usable_from_ms: i64,
) -> Result<Vec<CertificateCredential>, GraphError> {
    let mut result: Vec<CertificateCredential> = Vec::new();
    for credential in written {
        let kept_or_new = match credential
            .key
            .as_deref()
            .filter(|key| !key.trim().is_empty())
        {
            None => keep_existing(existing, credential)?,
            Some(key) => new_certificate(existing, credential, key, usable_from_ms)?,
        };
        let duplicate = result
            .iter()
            .any(|known| known.sha256_thumbprint == kept_or_new.sha256_thumbprint);
        if duplicate {
            return Err(bad_request(
                "keyCredentials contains the same certificate more than once.",
            ));
        }
        result.push(kept_or_new);
    }
    Ok(result)
}

fn keep_existing(
    existing: &[CertificateCredential],
    credential: &KeyCredentialWrite,
) -> Result<CertificateCredential, GraphError> {
    let Some(key_id) = credential.key_id else {
        return Err(bad_request(
            "Invalid value specified for property 'key' of resource 'KeyCredential'.",
        ));
    };
    existing
        .iter()
        .find(|known| known.key_id == key_id)
        .cloned()
        .ok_or_else(|| {
            bad_request(format!(
                "Invalid value specified for property 'key' of resource 'KeyCredential': no key with keyId {key_id}."
            ))
        })
}

fn new_certificate(
    existing: &[CertificateCredential],
    credential: &KeyCredentialWrite,
    key: &str,
    usable_from_ms: i64,
) -> Result<CertificateCredential, GraphError> {
    match credential.kind.as_deref() {
        Some("AsymmetricX509Cert") => {}
        other => {
            return Err(bad_request(format!(
                "Invalid value specified for property 'type' of resource 'KeyCredential': {}; the emulator takes AsymmetricX509Cert.",
                other.unwrap_or("null")
            )))
        }
    }
    if credential.usage.as_deref() != Some("Verify") {
        return Err(bad_request(
            "Invalid value specified for property 'usage' of resource 'KeyCredential': a public certificate has usage Verify.",
        ));
    }
    let mut parsed = parse_certificate(key.as_bytes()).map_err(|_| {
        bad_request("Key credential is not a valid certificate: Key value is invalid certificate")
    })?;
    if let Some(known) = existing
        .iter()
        .find(|known| known.sha256_thumbprint == parsed.sha256_thumbprint)
    {
        return Ok(known.clone());
    }
    if let Some(key_id) = credential.key_id {
        parsed.key_id = key_id;
    }
    if let Some(display_name) = &credential.display_name {
        parsed.display_name = display_name.clone();
    }
    parsed.usable_from_ms = usable_from_ms;
    Ok(parsed)
}

/// A `keyCredential` as Graph returns it (never the key itself).
pub fn render_key_credential(credential: &CertificateCredential) -> Value {
    let start = chrono::DateTime::from_timestamp(credential.not_before, 0).unwrap_or_default();
    let end = chrono::DateTime::from_timestamp(credential.not_after, 0).unwrap_or_default();
    json!({
        "customKeyIdentifier": base64::engine::general_purpose::STANDARD.encode(credential.sha1_thumbprint),
        "displayName": credential.display_name,
        "endDateTime": graph_time(end),
        "key": null,
        "keyId": credential.key_id,
        "startDateTime": graph_time(start),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    })
}
