//! HTTPS for people's browsers (the admin console): a rustls server
//! configuration from a PEM certificate chain and key, the internal PKI's or
//! an operator's own.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config_error::ConfigError;

/// A server configuration presenting `certificate_pem` (leaf first) with
/// `private_key_pem`; the caller sets the ALPN protocols it serves. Errors name `flag`, the flag
/// that gave the certificate.
pub fn server_config(
    flag: &str,
    certificate_pem: &[u8],
    private_key_pem: &[u8],
) -> Result<rustls::ServerConfig, ConfigError> {
    let mut chain = Vec::new();
    for certificate in CertificateDer::pem_slice_iter(certificate_pem) {
        let certificate = certificate.map_err(|error| {
            ConfigError::new(flag, format!("not a PEM certificate chain ({error})"))
        })?;
        chain.push(certificate);
    }
    if chain.is_empty() {
        return Err(ConfigError::new(flag, "holds no PEM certificate"));
    }
    let key = PrivateKeyDer::from_pem_slice(private_key_pem).map_err(|error| {
        ConfigError::new(
            flag,
            format!("its private key is not a PEM private key ({error})"),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| ConfigError::new(flag, format!("no usable TLS version ({error})")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| {
            ConfigError::new(
                flag,
                format!("the certificate and its private key do not make a TLS identity ({error})"),
            )
        })?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pki_leaf_makes_a_server_configuration_and_garbage_names_the_flag() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        crate::pki::init_dir(dir.path(), &[]).expect("a PKI");
        let material =
            crate::TlsMaterial::from_pki_dir(dir.path(), "console").expect("console files");
        material
            .https_server_config()
            .expect("a server configuration");
        let error = super::server_config("https-cert", b"not pem", b"not pem").unwrap_err();
        assert_eq!(error.flag, "https-cert");
    }
}
