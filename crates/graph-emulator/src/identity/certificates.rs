//! Certificates uploaded to an app registration (PEM or DER `.cer`, raw or
//! base64) and the thumbprints client assertions name them by.

use base64::Engine;
use sha1::Digest;
use uuid::Uuid;
use x509_parser::public_key::PublicKey;

use super::model::{CertificateCredential, CertificateView, IdentityAdminError};

/// Parses an uploaded certificate: PEM text, DER bytes, or base64 of the DER
/// (the `key` of a Graph `keyCredential`).
pub fn parse_certificate(upload: &[u8]) -> Result<CertificateCredential, IdentityAdminError> {
    let der = certificate_der(upload)?;
    let (_, certificate) = x509_parser::parse_x509_certificate(&der)
        .map_err(|error| IdentityAdminError::InvalidCertificate(format!("not x.509: {error}")))?;
    let public_key = certificate.public_key().parsed().map_err(|error| {
        IdentityAdminError::InvalidCertificate(format!("unreadable public key: {error}"))
    })?;
    let PublicKey::RSA(rsa_key) = public_key else {
        return Err(IdentityAdminError::InvalidCertificate(
            "only rsa certificates are supported".to_owned(),
        ));
    };
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let modulus_b64 = engine.encode(strip_leading_zeros(rsa_key.modulus));
    let exponent_b64 = engine.encode(strip_leading_zeros(rsa_key.exponent));
    let sha1_thumbprint: [u8; 20] = sha1::Sha1::digest(&der).into();
    let sha256_thumbprint: [u8; 32] = sha2::Sha256::digest(&der).into();
    Ok(CertificateCredential {
        key_id: Uuid::new_v4(),
        subject: certificate.subject().to_string(),
        sha1_thumbprint,
        sha256_thumbprint,
        modulus_b64,
        exponent_b64,
        not_before: certificate.validity().not_before.timestamp(),
        not_after: certificate.validity().not_after.timestamp(),
        display_name: certificate.subject().to_string(),
        usable_from_ms: 0,
    })
}

fn certificate_der(upload: &[u8]) -> Result<Vec<u8>, IdentityAdminError> {
    // DER starts with a SEQUENCE tag and is binary: never trim it, its last
    // signature byte may well be 0x20 or 0x0a.
    if upload.first() == Some(&0x30) {
        return Ok(upload.to_vec());
    }
    let trimmed = upload.trim_ascii();
    if trimmed.starts_with(b"-----BEGIN") {
        let (_, pem) = x509_parser::pem::parse_x509_pem(trimmed).map_err(|error| {
            IdentityAdminError::InvalidCertificate(format!("unreadable pem: {error}"))
        })?;
        return Ok(pem.contents);
    }
    // Anything else must be base64 text.
    let text: String = String::from_utf8_lossy(trimmed)
        .chars()
        .filter(|character| !character.is_whitespace())
        .collect();
    decode_base64_any(&text).ok_or_else(|| {
        IdentityAdminError::InvalidCertificate("neither pem, der nor base64 der".to_owned())
    })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first_nonzero = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len());
    &bytes[first_nonzero..]
}

/// Decodes base64 in any flavour a client may send: standard or url-safe,
/// padded or not.
pub fn decode_base64_any(text: &str) -> Option<Vec<u8>> {
    let unpadded = text.trim_end_matches('=');
    let url_safe: String = unpadded
        .chars()
        .map(|character| match character {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(url_safe.as_bytes())
        .ok()
}

/// Upper-case hex, as the Entra portal shows thumbprints.
pub fn thumbprint_hex(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

impl CertificateCredential {
    pub fn view(&self) -> CertificateView {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        CertificateView {
            key_id: self.key_id,
            subject: self.subject.clone(),
            thumbprint_sha1: thumbprint_hex(&self.sha1_thumbprint),
            thumbprint_sha256: thumbprint_hex(&self.sha256_thumbprint),
            x5t: engine.encode(self.sha1_thumbprint),
            x5t_s256: engine.encode(self.sha256_thumbprint),
            not_before: chrono::DateTime::from_timestamp(self.not_before, 0).unwrap_or_default(),
            not_after: chrono::DateTime::from_timestamp(self.not_after, 0).unwrap_or_default(),
        }
    }

    /// Whether `thumbprint` (hex, either case, or base64 of the digest) names this certificate.
    pub fn matches_thumbprint(&self, thumbprint: &str) -> bool {
        let wanted = thumbprint.trim();
        if wanted.eq_ignore_ascii_case(&thumbprint_hex(&self.sha1_thumbprint))
            || wanted.eq_ignore_ascii_case(&thumbprint_hex(&self.sha256_thumbprint))
        {
            return true;
        }
        match decode_base64_any(wanted) {
            Some(bytes) => bytes == self.sha1_thumbprint || bytes == self.sha256_thumbprint,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decode_base64_any;

    #[test]
    fn base64_decodes_in_every_flavour() {
        let expected = vec![0xfb_u8, 0xff, 0xbf, 0x01];
        for text in ["+/+/AQ==", "+/+/AQ", "-_-_AQ==", "-_-_AQ"] {
            assert_eq!(decode_base64_any(text), Some(expected.clone()), "{text}");
        }
        assert_eq!(decode_base64_any("not base64!"), None);
    }
}

#[cfg(test)]
mod binary_upload_tests {
    use super::certificate_der;

    #[test]
    fn der_ending_in_a_whitespace_byte_is_kept_whole() {
        let der = [0x30, 0x03, 0x02, 0x01, 0x20];
        assert_eq!(certificate_der(&der).unwrap(), der.to_vec());
    }
}
