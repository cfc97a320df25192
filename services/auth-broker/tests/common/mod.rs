//! A broker started in-process on port 0 with real mTLS, and gRPC clients
//! holding the identities of the other services.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use galsync_auth_broker::{Broker, Config};
use galsync_platform::pki::CertificateAuthority;
use galsync_platform::TlsMaterial;
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

pub struct TestBroker {
    pub broker: Arc<Broker>,
    pub addr: std::net::SocketAddr,
    pub pki_dir: PathBuf,
    pub data_dir: tempfile::TempDir,
    pub store_url: String,
    pub consent_addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub enum StoreKind {
    Sqlite,
    Postgres(String),
}

impl TestBroker {
    pub async fn start(store: StoreKind) -> TestBroker {
        let data_dir = tempfile::tempdir().unwrap();
        let pki_dir = data_dir.path().join("pki");
        galsync_platform::pki::init_dir(&pki_dir, &[]).unwrap();
        let store_url = match store {
            StoreKind::Sqlite => format!(
                "sqlite://{}",
                data_dir.path().join("auth-broker.db").display()
            ),
            StoreKind::Postgres(dsn) => dsn,
        };
        let mut config = Config::local(store_url.clone());
        config.data_dir = data_dir.path().to_owned();
        let files = galsync_platform::pki::ServiceTlsFiles::in_dir(&pki_dir, "auth-broker");
        config.server.tls_cert = Some(files.cert);
        config.server.tls_key = Some(files.key);
        config.server.tls_ca = Some(files.ca);
        let consent_port = galsync_platform::testing::free_port();
        config.consent_listen = format!("127.0.0.1:{consent_port}").parse().unwrap();
        let broker = galsync_auth_broker::build(&config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving_broker = broker.clone();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(error) =
                galsync_auth_broker::serve_broker(serving_broker, &config, listener, shutdown).await
            {
                eprintln!("broker stopped with an error: {error:#}");
            }
        });
        TestBroker {
            consent_addr: config_consent_addr(consent_port),
            broker,
            addr,
            pki_dir,
            data_dir,
            store_url,
            stop: Some(stop),
        }
    }

    /// A client presenting the certificate of `service` from the broker's PKI.
    pub async fn client_as(&self, service: &str) -> AuthBrokerClient<Channel> {
        let material = TlsMaterial::from_pki_dir(&self.pki_dir, service).unwrap();
        let channel = Endpoint::from_shared(format!("https://{}", self.addr))
            .unwrap()
            .tls_config(material.client_config("localhost"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        AuthBrokerClient::new(channel)
    }

    /// A client with a certificate from a CA the broker does not trust.
    pub async fn stranger_channel(&self) -> Result<Channel, tonic::transport::Error> {
        let stranger_ca = CertificateAuthority::generate().unwrap();
        let stranger = stranger_ca.issue("directory-reader", &[]).unwrap();
        let broker_ca = std::fs::read_to_string(self.pki_dir.join("ca.pem")).unwrap();
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(broker_ca))
            .identity(Identity::from_pem(
                stranger.certificate_pem,
                stranger.private_key_pem,
            ))
            .domain_name("localhost");
        Endpoint::from_shared(format!("https://{}", self.addr))?
            .tls_config(tls)?
            .connect()
            .await
    }
}

fn config_consent_addr(port: u16) -> std::net::SocketAddr {
    format!("127.0.0.1:{port}").parse().unwrap()
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
