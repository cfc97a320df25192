//! mTLS between services: loading PEM material into tonic's TLS configs, and
//! reading a verified caller's identity inside a handler.

use std::path::Path;

use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::config_error::ConfigError;
use crate::pki::{identity_from_certificate, ServiceTlsFiles};

/// A service's own certificate, key and the CA it trusts, read from disk.
#[derive(Clone)]
pub struct TlsMaterial {
    certificate_pem: Vec<u8>,
    private_key_pem: Vec<u8>,
    ca_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("TlsMaterial { private_key_pem: <redacted>, .. }")
    }
}

impl TlsMaterial {
    /// Reads the three PEM files; errors name the flag of the file that failed.
    pub fn load(cert: &Path, key: &Path, ca: &Path) -> Result<Self, ConfigError> {
        let read = |flag: &str, path: &Path| {
            std::fs::read(path).map_err(|error| {
                ConfigError::new(flag, format!("cannot read {}: {error}", path.display()))
            })
        };
        let material = Self {
            certificate_pem: read("tls-cert", cert)?,
            private_key_pem: read("tls-key", key)?,
            ca_pem: read("tls-ca", ca)?,
        };
        check_pem(
            "tls-cert",
            cert,
            &material.certificate_pem,
            PemContent::Certificates,
        )?;
        check_pem(
            "tls-key",
            key,
            &material.private_key_pem,
            PemContent::PrivateKey,
        )?;
        check_pem("tls-ca", ca, &material.ca_pem, PemContent::Certificates)?;
        Ok(material)
    }

    /// Reads the files `galsync pki init` wrote for `service` in `dir`.
    pub fn from_pki_dir(dir: &Path, service: &str) -> Result<Self, ConfigError> {
        let files = ServiceTlsFiles::in_dir(dir, service);
        Self::load(&files.cert, &files.key, &files.ca)
    }

    /// Server side: present our certificate and check a client certificate
    /// against the CA — required, or (for the scheduler's public API, where
    /// an integrator authenticates with an API key) optional: a caller
    /// without one is [`CallerIdentity::Unidentified`], and every handler
    /// that needs a service identity refuses it.
    pub fn server_config(&self, client_certificate: ClientCertificate) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(
                &self.certificate_pem,
                &self.private_key_pem,
            ))
            .client_ca_root(Certificate::from_pem(&self.ca_pem))
            .client_auth_optional(client_certificate == ClientCertificate::Optional)
    }

    /// An HTTPS server configuration presenting this certificate, asking
    /// browsers for no client certificate (the admin console's pages).
    pub fn https_server_config(&self) -> Result<rustls::ServerConfig, ConfigError> {
        crate::https::server_config("tls-cert", &self.certificate_pem, &self.private_key_pem)
    }

    /// Client side: trust only the CA, present our certificate, and check the
    /// server's name (`localhost` unless the deployment names another).
    pub fn client_config(&self, server_name: &str) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .identity(Identity::from_pem(
                &self.certificate_pem,
                &self.private_key_pem,
            ))
            .domain_name(server_name)
    }
}

/// Whether a TLS server insists on a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientCertificate {
    /// Mutual TLS: the handshake fails without a certificate of our CA.
    #[default]
    Required,
    /// Server-authenticated TLS for callers without one (API keys); one that
    /// is presented must still chain to our CA.
    Optional,
}

/// Server-authenticated TLS for a caller that holds no certificate of our
/// CA (an integrator with an API key): trust only `ca_pem`, present nothing.
pub fn server_only_client_config(ca_pem: &[u8], server_name: &str) -> ClientTlsConfig {
    ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name(server_name)
}

/// What a PEM file given by a TLS flag must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PemContent {
    /// One or more X.509 certificates.
    Certificates,
    /// A private key (PKCS#8, PKCS#1 or SEC1).
    PrivateKey,
}

/// Checks the PEM blocks of `path` decode and hold what `flag` needs, so a
/// damaged file is named with its flag instead of failing later as a
/// "transport error" when the TLS configuration is built.
fn check_pem(flag: &str, path: &Path, bytes: &[u8], wanted: PemContent) -> Result<(), ConfigError> {
    let shown = path.display();
    let (what, fix) = match wanted {
        PemContent::Certificates => (
            "PEM certificate",
            "give the PEM certificate file (galsync pki init writes one)",
        ),
        PemContent::PrivateKey => (
            "PEM private key",
            "give the PEM private key file (galsync pki init writes one)",
        ),
    };
    let mut blocks = 0;
    for block in x509_parser::pem::Pem::iter_from_buffer(bytes) {
        let block = block.map_err(|error| {
            ConfigError::new(
                flag,
                format!("{shown} is not a valid {what} ({error}); {fix}"),
            )
        })?;
        let fits = match wanted {
            PemContent::Certificates => block.label == "CERTIFICATE",
            PemContent::PrivateKey => block.label.ends_with("PRIVATE KEY"),
        };
        if !fits {
            continue;
        }
        if wanted == PemContent::Certificates {
            block.parse_x509().map_err(|error| {
                ConfigError::new(
                    flag,
                    format!("{shown} holds a damaged certificate ({error}); {fix}"),
                )
            })?;
        } else if block.contents.is_empty() {
            return Err(ConfigError::new(
                flag,
                format!("{shown} holds an empty private key; {fix}"),
            ));
        }
        blocks += 1;
    }
    if blocks == 0 {
        return Err(ConfigError::new(
            flag,
            format!("{shown} is not a {what}; {fix}"),
        ));
    }
    Ok(())
}

/// The verified identity of a caller, from its client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerIdentity {
    /// A galsync service, e.g. `directory-reader`.
    Service(String),
    /// A plaintext loopback connection (single-node demo): the caller is trusted
    /// as the local operator, and policy decides what that may do.
    LocalPlaintext,
    /// A TLS client certificate without a galsync identity.
    Unidentified,
    /// A person signed in to the admin console, for whom the console (the
    /// service `via`) makes the call. Made by a service that believes the
    /// console's on-behalf-of metadata ([`crate::on_behalf`]), never from a
    /// certificate alone; no [`crate::AllowedCallers`] list admits it.
    Person(Box<crate::on_behalf::Person>),
}

impl std::fmt::Display for CallerIdentity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallerIdentity::Service(name) => write!(formatter, "urn:galsync:service:{name}"),
            CallerIdentity::LocalPlaintext => formatter.write_str("local-plaintext"),
            CallerIdentity::Unidentified => formatter.write_str("unidentified"),
            CallerIdentity::Person(person) => {
                formatter.write_str(&crate::on_behalf::actor(&person.person, &person.via))
            }
        }
    }
}

/// Reads the caller's identity from a request. Must be called in a handler of a
/// server built by [`crate::grpc`], where TLS (when on) has verified the chain.
pub fn caller_identity<T>(request: &tonic::Request<T>) -> CallerIdentity {
    let over_tls = request
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .is_some();
    let Some(certificates) = request.peer_certs() else {
        if over_tls {
            return CallerIdentity::Unidentified;
        }
        return plaintext_caller(request.remote_addr());
    };
    let Some(leaf) = certificates.first() else {
        return CallerIdentity::Unidentified;
    };
    match identity_from_certificate(leaf.as_ref()) {
        Some(service) => CallerIdentity::Service(service),
        None => CallerIdentity::Unidentified,
    }
}

/// A plaintext caller is the local operator only when it connects from a
/// loopback address (`127.0.0.0/8`, `::1`, or IPv4-mapped loopback): a
/// service bound to another address with `--insecure-plaintext` never trusts
/// its remote callers as local, whatever `--trust-plaintext-loopback` says.
fn plaintext_caller(remote_address: Option<std::net::SocketAddr>) -> CallerIdentity {
    let from_loopback =
        remote_address.is_some_and(|address| address.ip().to_canonical().is_loopback());
    if from_loopback {
        CallerIdentity::LocalPlaintext
    } else {
        CallerIdentity::Unidentified
    }
}

/// A lazy channel to a galsync peer at `url`, checking its certificate
/// against the URL's host (see [`server_name`]) when `tls` is given. The one
/// rule every service uses for its peers.
pub fn peer_channel(
    url: &str,
    tls: Option<&TlsMaterial>,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    channel(url, tls, &server_name(url))
}

/// [`peer_channel`] to the peer a service's `--{flag}` names, a bad URL
/// reported as that flag's error.
pub fn peer_channel_for(
    flag: &str,
    url: &str,
    tls: Option<&TlsMaterial>,
) -> Result<tonic::transport::Channel, crate::ConfigError> {
    peer_channel(url, tls).map_err(|error| crate::ConfigError::new(flag, error.to_string()))
}

/// A gRPC channel to another galsync service: mTLS when `tls` is given
/// (checking the server's name), plaintext otherwise. Connects lazily, so a
/// service can start before the services it calls.
pub fn channel(
    url: &str,
    tls: Option<&TlsMaterial>,
    server_name: &str,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    channel_with(url, tls.map(|material| material.client_config(server_name)))
}

/// A lazy gRPC channel with the given client TLS configuration (plaintext
/// when `None`).
pub fn channel_with(
    url: &str,
    tls: Option<ClientTlsConfig>,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())?
        .connect_timeout(std::time::Duration::from_secs(10))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(std::time::Duration::from_secs(30));
    if let Some(config) = tls {
        endpoint = endpoint.tls_config(config)?;
    }
    Ok(endpoint.connect_lazy())
}

/// The name a peer's certificate must hold: the URL's host (galsync's PKI
/// issues certificates for localhost, loopback addresses and extra names).
pub fn server_name(url: &str) -> String {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = without_scheme.split('/').next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|character| character.is_ascii_digit()) => host,
        _ => authority,
    };
    if host.is_empty() {
        "localhost".to_owned()
    } else {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned()
    }
}

#[cfg(test)]
mod server_name_tests {
    #[test]
    fn the_server_name_is_the_urls_host() {
        assert_eq!(
            super::server_name("https://broker.internal:50051"),
            "broker.internal"
        );
        assert_eq!(super::server_name("https://localhost:50051/"), "localhost");
        assert_eq!(super::server_name("http://127.0.0.1:50052"), "127.0.0.1");
        assert_eq!(super::server_name("https://[::1]:50052"), "::1");
    }
}

#[cfg(test)]
mod caller_tests {
    use super::*;

    fn plaintext_request_from(remote_addr: Option<&str>) -> tonic::Request<()> {
        let mut request = tonic::Request::new(());
        request.extensions_mut().insert(TcpConnectInfo {
            local_addr: None,
            remote_addr: remote_addr.map(|address| address.parse().expect("a socket address")),
        });
        request
    }

    #[test]
    fn only_a_loopback_peer_counts_as_the_local_plaintext_operator() {
        for loopback in [
            "127.0.0.1:40000",
            "127.8.9.10:1",
            "[::1]:40000",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert_eq!(
                caller_identity(&plaintext_request_from(Some(loopback))),
                CallerIdentity::LocalPlaintext,
                "{loopback}"
            );
        }
        for remote in [
            "10.1.2.3:40000",
            "192.0.2.2:1",
            "[fd00::2]:1",
            "[::ffff:10.0.0.1]:1",
        ] {
            assert_eq!(
                caller_identity(&plaintext_request_from(Some(remote))),
                CallerIdentity::Unidentified,
                "{remote}"
            );
        }
        assert_eq!(
            caller_identity(&plaintext_request_from(None)),
            CallerIdentity::Unidentified
        );
    }
}
