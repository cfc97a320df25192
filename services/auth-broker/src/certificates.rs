//! Certificates for client-assertion authentication: generated with rcgen
//! (RSA, SHA-256) or imported (PKCS#12 or PEM), with the thumbprints the Entra
//! portal shows. Private keys only ever leave this module sealed.

use chrono::{DateTime, TimeZone, Utc};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use sha1::Digest;

/// RSA sizes galsync generates.
pub const ALLOWED_KEY_BITS: &[u32] = &[2048, 3072, 4096];
pub const DEFAULT_KEY_BITS: u32 = 2048;
pub const DEFAULT_VALIDITY_DAYS: u32 = 730;

#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("invalid key_bits {0}: use 2048, 3072 or 4096")]
    KeyBits(u32),
    #[error("invalid validity_days {0}: use 1 to 3650 days")]
    Validity(u32),
    #[error("invalid pkcs12: {0}")]
    Pkcs12(String),
    #[error("invalid pem: {0}")]
    Pem(String),
    #[error("the private key does not belong to the certificate: import the key that was generated with it")]
    KeyMismatch,
    #[error(
        "only RSA certificates can sign Entra client assertions; this one has another key type"
    )]
    NotRsa,
    #[error("failed to make the certificate: {0}")]
    Generate(String),
}

/// A certificate with its private key, as the broker keeps it (key sealed before storage).
pub struct CertificateMaterial {
    pub der: Vec<u8>,
    /// PKCS#8 DER of the RSA private key.
    pub private_key_pkcs8: Vec<u8>,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub key_bits: u32,
    pub thumbprint_sha1: String,
    pub thumbprint_sha256: String,
}

impl std::fmt::Debug for CertificateMaterial {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CertificateMaterial")
            .field("subject", &self.subject)
            .field("thumbprint_sha1", &self.thumbprint_sha1)
            .field("not_after", &self.not_after)
            .field("private_key_pkcs8", &"<redacted>")
            .finish()
    }
}

/// Generates an RSA key and a self-signed certificate `CN=galsync <tenant>`.
/// CPU-heavy (seconds for 4096 bits): call from `spawn_blocking`.
pub fn generate(
    tenant_id: &str,
    key_bits: u32,
    validity_days: u32,
    now: DateTime<Utc>,
) -> Result<CertificateMaterial, CertificateError> {
    if !ALLOWED_KEY_BITS.contains(&key_bits) {
        return Err(CertificateError::KeyBits(key_bits));
    }
    if validity_days == 0 || validity_days > 3650 {
        return Err(CertificateError::Validity(validity_days));
    }
    let mut rng = rand::rngs::OsRng;
    let private_key = rsa::RsaPrivateKey::new(&mut rng, key_bits as usize)
        .map_err(|error| CertificateError::Generate(error.to_string()))?;
    let pkcs8 = private_key
        .to_pkcs8_der()
        .map_err(|error| CertificateError::Generate(error.to_string()))?;
    let key_pair = rcgen::KeyPair::try_from(pkcs8.as_bytes())
        .map_err(|error| CertificateError::Generate(error.to_string()))?;

    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|error| CertificateError::Generate(error.to_string()))?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, format!("galsync {tenant_id}"));
    params.distinguished_name = name;
    // An hour of slack for clocks that run behind ours.
    params.not_before = to_offset(now - chrono::Duration::hours(1));
    params.not_after = to_offset(now + chrono::Duration::days(i64::from(validity_days)));
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let certificate = params
        .self_signed(&key_pair)
        .map_err(|error| CertificateError::Generate(error.to_string()))?;
    describe(certificate.der().to_vec(), pkcs8.as_bytes().to_vec())
}

/// Imports a PKCS#12 (.pfx) bundle: the first private key and its leaf certificate.
pub fn import_pkcs12(der: &[u8], password: &str) -> Result<CertificateMaterial, CertificateError> {
    let store = p12_keystore::KeyStore::from_pkcs12(
        der,
        password,
        p12_keystore::Pkcs12ImportPolicy::Relaxed,
    )
    .map_err(|error| {
        let text = error.to_string();
        if text.to_lowercase().contains("mac") || text.to_lowercase().contains("password") {
            CertificateError::Pkcs12("wrong password (or a damaged file)".to_owned())
        } else {
            CertificateError::Pkcs12(format!("not a readable PKCS#12 file: {text}"))
        }
    })?;
    let Some((_, chain)) = store.private_key_chain() else {
        return Err(CertificateError::Pkcs12(
            "the file holds no private key with a certificate; export it with its private key"
                .to_owned(),
        ));
    };
    let Some(leaf) = chain.certs().first() else {
        return Err(CertificateError::Pkcs12(
            "the private key has no certificate".to_owned(),
        ));
    };
    let private_key = rsa::RsaPrivateKey::from_pkcs8_der(chain.key().as_der())
        .map_err(|_| CertificateError::NotRsa)?;
    let pkcs8 = private_key
        .to_pkcs8_der()
        .map_err(|error| CertificateError::Pkcs12(error.to_string()))?;
    describe(leaf.as_der().to_vec(), pkcs8.as_bytes().to_vec())
}

/// Imports a PEM certificate and its PEM private key (PKCS#8 or PKCS#1, unencrypted).
pub fn import_pem(
    certificate_pem: &str,
    private_key_pem: &str,
) -> Result<CertificateMaterial, CertificateError> {
    let (_, certificate) =
        x509_parser::pem::parse_x509_pem(certificate_pem.as_bytes()).map_err(|_| {
            CertificateError::Pem("certificate_pem holds no PEM certificate".to_owned())
        })?;
    if certificate.label != "CERTIFICATE" {
        return Err(CertificateError::Pem(format!(
            "certificate_pem holds a {} block, not a CERTIFICATE",
            certificate.label
        )));
    }
    if private_key_pem.contains("ENCRYPTED PRIVATE KEY") {
        return Err(CertificateError::Pem(
            "private_key_pem is encrypted; import a PKCS#12 file with its password instead"
                .to_owned(),
        ));
    }
    let private_key = rsa::RsaPrivateKey::from_pkcs8_pem(private_key_pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(private_key_pem))
        .map_err(|_| {
            CertificateError::Pem("private_key_pem holds no unencrypted RSA private key".to_owned())
        })?;
    let pkcs8 = private_key
        .to_pkcs8_der()
        .map_err(|error| CertificateError::Pem(error.to_string()))?;
    describe(certificate.contents, pkcs8.as_bytes().to_vec())
}

/// Reads a certificate's facts and checks the key belongs to it.
fn describe(
    der: Vec<u8>,
    private_key_pkcs8: Vec<u8>,
) -> Result<CertificateMaterial, CertificateError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(&der)
        .map_err(|error| CertificateError::Pem(error.to_string()))?;
    let private_key = rsa::RsaPrivateKey::from_pkcs8_der(&private_key_pkcs8)
        .map_err(|_| CertificateError::NotRsa)?;
    let Ok(x509_parser::public_key::PublicKey::RSA(certificate_key)) = parsed.public_key().parsed()
    else {
        return Err(CertificateError::NotRsa);
    };
    let certificate_modulus = certificate_key
        .modulus
        .iter()
        .skip_while(|byte| **byte == 0)
        .copied()
        .collect::<Vec<u8>>();
    if certificate_modulus != private_key.n().to_bytes_be() {
        return Err(CertificateError::KeyMismatch);
    }
    let key_bits = (private_key.size() * 8) as u32;
    let not_before = from_asn1(parsed.validity().not_before.timestamp());
    let not_after = from_asn1(parsed.validity().not_after.timestamp());
    let subject = parsed.subject().to_string();
    Ok(CertificateMaterial {
        thumbprint_sha1: thumbprint_sha1(&der),
        thumbprint_sha256: hex::encode_upper(sha2::Sha256::digest(&der)),
        der,
        private_key_pkcs8,
        subject,
        not_before,
        not_after,
        key_bits,
    })
}

/// SHA-1 thumbprint in uppercase hex, as the Entra portal shows it.
pub fn thumbprint_sha1(der: &[u8]) -> String {
    hex::encode_upper(sha1::Sha1::digest(der))
}

/// PEM text of a DER certificate.
pub fn to_pem(der: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

fn to_offset(at: DateTime<Utc>) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(at.timestamp())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn from_asn1(unix_seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(unix_seconds, 0)
        .single()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_has_entra_thumbprints_and_validity() {
        let now = Utc::now();
        let material = generate("72f988bf-86f1-41af-91ab-2d7cd011db47", 2048, 730, now).unwrap();
        assert_eq!(
            material.subject,
            "CN=galsync 72f988bf-86f1-41af-91ab-2d7cd011db47"
        );
        assert_eq!(material.key_bits, 2048);
        assert_eq!(material.thumbprint_sha1.len(), 40);
        assert!(material
            .thumbprint_sha1
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        assert_eq!(material.thumbprint_sha256.len(), 64);
        let days = (material.not_after - now).num_days();
        assert!((729..=730).contains(&days), "{days}");
        assert!(!format!("{material:?}").contains("BEGIN"));

        // Round trip through PEM import keeps the thumbprint.
        let key_pem = rsa::RsaPrivateKey::from_pkcs8_der(&material.private_key_pkcs8)
            .unwrap()
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap();
        let imported = import_pem(&to_pem(&material.der), &key_pem).unwrap();
        assert_eq!(imported.thumbprint_sha1, material.thumbprint_sha1);
    }

    #[test]
    fn bad_sizes_and_mismatched_keys_are_refused() {
        assert!(matches!(
            generate("t", 1024, 730, Utc::now()),
            Err(CertificateError::KeyBits(1024))
        ));
        let first = generate("t", 2048, 30, Utc::now()).unwrap();
        let second = generate("t", 2048, 30, Utc::now()).unwrap();
        let other_key_pem = rsa::RsaPrivateKey::from_pkcs8_der(&second.private_key_pkcs8)
            .unwrap()
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap();
        assert!(matches!(
            import_pem(&to_pem(&first.der), &other_key_pem),
            Err(CertificateError::KeyMismatch)
        ));
        assert!(matches!(
            import_pem("garbage", "garbage"),
            Err(CertificateError::Pem(_))
        ));
        assert!(matches!(
            import_pkcs12(b"garbage", "pw"),
            Err(CertificateError::Pkcs12(_))
        ));
    }
}
