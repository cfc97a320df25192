//! Certificates to import, as an administrator brings them: a new RSA
//! certificate with its key, as a PKCS#12 file or PEM text.

use base64::Engine;

/// The password of every PKCS#12 file made here.
pub const PASSWORD: &str = "Tr0ub4dor&3-horse";

/// `der` as PEM text with `label` (e.g. `CERTIFICATE`, `PRIVATE KEY`).
pub fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).unwrap());
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// A new self-signed RSA certificate with its key, valid for a year.
pub fn material(tenant_id: &str) -> galsync_auth_broker::certificates::CertificateMaterial {
    galsync_auth_broker::certificates::generate(tenant_id, 2048, 365, chrono::Utc::now()).unwrap()
}

/// `material` as a PKCS#12 file protected by [`PASSWORD`].
pub fn pfx_of(material: &galsync_auth_broker::certificates::CertificateMaterial) -> Vec<u8> {
    let key = p12_keystore::PrivateKey::from_der(&material.private_key_pkcs8).unwrap();
    let certificate = p12_keystore::Certificate::from_der(&material.der).unwrap();
    let chain = p12_keystore::PrivateKeyChain::new(vec![1u8, 2, 3], key, vec![certificate]);
    let mut keystore = p12_keystore::KeyStore::new();
    keystore.add_entry(
        "galsync",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
    );
    keystore.writer(PASSWORD).write().unwrap()
}
