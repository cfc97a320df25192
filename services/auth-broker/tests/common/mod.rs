//! What the broker's tests share beyond the test kit's in-process broker
//! (`galsync_testkit::TestBroker`): a caller from a CA the broker does not
//! trust, and a look at the bytes the store wrote.

#![allow(dead_code)]

use galsync_platform::pki::CertificateAuthority;
use galsync_testkit::TestBroker;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// A channel to `broker` with a certificate from a CA the broker does not trust.
pub async fn stranger_channel(broker: &TestBroker) -> Result<Channel, tonic::transport::Error> {
    let stranger_ca = CertificateAuthority::generate().unwrap();
    let stranger = stranger_ca.issue("directory-reader", &[]).unwrap();
    let broker_ca = std::fs::read_to_string(broker.pki_dir().join("ca.pem")).unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(broker_ca))
        .identity(Identity::from_pem(
            stranger.certificate_pem,
            stranger.private_key_pem,
        ))
        .domain_name("localhost");
    Endpoint::from_shared(broker.url())?
        .tls_config(tls)?
        .connect()
        .await
}

/// Every file under `dir`, concatenated (the SQLite file and its WAL).
pub fn bytes_under(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}
