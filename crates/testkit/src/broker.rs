//! An auth-broker started in-process, the way the services meet it in
//! production: gRPC with mTLS on a port-0 loopback listener, a fresh data
//! directory holding the store, the master key and an internal PKI, and the
//! consent callback on a free loopback port. Tests talk to it over the wire as
//! any identity of that PKI and may also reach into the [`Broker`] itself.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use galsync_auth_broker::{Broker, Config};
use galsync_platform::pki::ServiceTlsFiles;
use galsync_platform::TlsMaterial;
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use tempfile::TempDir;
use tonic::transport::{Channel, Endpoint};

use crate::harness::{spawn_server, RunningServer};

/// The identity the broker serves with; its certificate names `localhost`.
const BROKER_IDENTITY: &str = "auth-broker";

/// The name a client checks the broker's certificate against.
const BROKER_SERVER_NAME: &str = "localhost";

/// An identity the broker's default policy lets manage tenants and certificates.
const ADMIN_IDENTITY: &str = "cli";

/// A fresh internal PKI as `galsync up` makes it: a CA and a certificate and
/// key per galsync identity, in `pki/` of a new temporary directory. Returns
/// the directory (dropping it removes everything) and the PKI's path.
pub fn fresh_pki() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir()
        .unwrap_or_else(|error| panic!("failed to create a temporary directory: {error}"));
    let pki_dir = dir.path().join("pki");
    galsync_platform::pki::init_dir(&pki_dir, &[])
        .unwrap_or_else(|error| panic!("failed to make the test PKI: {error}"));
    (dir, pki_dir)
}

/// Where the broker keeps tenants, apps and sealed secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerStore {
    /// `auth-broker.db` in the broker's data directory.
    Sqlite,
    /// A PostgreSQL DSN, e.g. from `crate::harness::fresh_postgres_dsn`.
    Postgres(String),
}

/// A running auth-broker. Dropping it stops serving (in the background) and
/// removes its data directory; [`TestBroker::shutdown`] waits for the stop.
pub struct TestBroker {
    /// Declared first, so a dropped broker is told to stop before its data
    /// directory goes.
    server: RunningServer,
    broker: Arc<Broker>,
    addr: SocketAddr,
    consent_addr: SocketAddr,
    pki_dir: PathBuf,
    data_dir: TempDir,
}

impl TestBroker {
    /// The broker on SQLite with its default policy: `directory-reader` gets
    /// directory tokens, `contact-writer` contacts tokens, `cli` and
    /// `scheduler` administer.
    pub async fn start() -> TestBroker {
        TestBroker::start_with(BrokerStore::Sqlite, |_| {}).await
    }

    /// The broker on `store`, with `configure` applied last to its
    /// configuration (e.g. `allow_purpose`, `admin_identity`). The kit has set
    /// the store URL, the data directory, the server's mTLS files and
    /// `consent_listen` (a free loopback port; a test that moves it must give
    /// a real port, as [`TestBroker::consent_addr`] reports what it set).
    pub async fn start_with(store: BrokerStore, configure: impl FnOnce(&mut Config)) -> TestBroker {
        let (data_dir, pki_dir) = fresh_pki();
        TestBroker::start_in(data_dir, pki_dir, store, configure).await
    }

    /// The broker on SQLite with its default policy, presenting and
    /// trusting the PKI at `pki_dir` (e.g. a test scheduler's, so one
    /// console reaches both).
    pub async fn start_sharing_pki(pki_dir: &Path) -> TestBroker {
        TestBroker::start_sharing_pki_with(pki_dir, |_| {}).await
    }

    /// [`TestBroker::start_sharing_pki`] with `configure` applied to the
    /// broker's configuration (e.g. `cert_renewal_days`).
    pub async fn start_sharing_pki_with(
        pki_dir: &Path,
        configure: impl FnOnce(&mut Config),
    ) -> TestBroker {
        let data_dir = tempfile::tempdir()
            .unwrap_or_else(|error| panic!("failed to create a temporary directory: {error}"));
        TestBroker::start_in(data_dir, pki_dir.to_owned(), BrokerStore::Sqlite, configure).await
    }

    async fn start_in(
        data_dir: TempDir,
        pki_dir: PathBuf,
        store: BrokerStore,
        configure: impl FnOnce(&mut Config),
    ) -> TestBroker {
        let store_url = match store {
            BrokerStore::Sqlite => format!(
                "sqlite://{}",
                data_dir.path().join("auth-broker.db").display()
            ),
            BrokerStore::Postgres(dsn) => dsn,
        };
        let mut config = Config::local(store_url);
        config.data_dir = data_dir.path().to_owned();
        let server_files = ServiceTlsFiles::in_dir(&pki_dir, BROKER_IDENTITY);
        config.server.tls_cert = Some(server_files.cert);
        config.server.tls_key = Some(server_files.key);
        config.server.tls_ca = Some(server_files.ca);
        let consent_port = crate::harness::free_port();
        config.consent_listen = SocketAddr::from((Ipv4Addr::LOCALHOST, consent_port));
        configure(&mut config);
        let consent_addr = config.consent_listen;

        let broker = galsync_auth_broker::build(&config)
            .await
            .unwrap_or_else(|error| panic!("failed to build the auth-broker: {error:#}"));
        let serving_broker = broker.clone();
        let server = spawn_server("127.0.0.1:0", move |listener, stop| async move {
            galsync_auth_broker::serve_broker(serving_broker, &config, listener, stop).await
        })
        .await;
        TestBroker {
            addr: server.addr,
            server,
            broker,
            consent_addr,
            pki_dir,
            data_dir,
        }
    }

    /// The broker behind the gRPC API, for what a test cannot see over the
    /// wire (stored rows, the clock, renewal, metrics).
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Where the gRPC API listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The broker's URL as the services and the CLI take it: `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Where the consent callback listens; Entra redirects administrators to
    /// `http://{consent_addr}/consent/callback`.
    pub fn consent_addr(&self) -> SocketAddr {
        self.consent_addr
    }

    /// The PKI the broker trusts: `ca.pem`, and `{identity}.pem` and
    /// `{identity}.key` for every galsync identity.
    pub fn pki_dir(&self) -> &Path {
        &self.pki_dir
    }

    /// The broker's data directory: the SQLite store (with [`BrokerStore::Sqlite`]),
    /// `master.key`, and the PKI in `pki/`.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// A channel presenting `identity`'s certificate (`cli`, `scheduler`,
    /// `directory-reader`, `contact-writer`, …). Like the services' own
    /// channels it connects on first use.
    pub fn channel_as(&self, identity: &str) -> Channel {
        let material = self.tls_material(identity);
        galsync_platform::tls::channel(&self.url(), Some(&material), BROKER_SERVER_NAME)
            .unwrap_or_else(|error| {
                panic!("failed to make a channel to the auth-broker as {identity}: {error}")
            })
    }

    /// A client presenting `identity`'s certificate, already connected.
    pub async fn client_as(&self, identity: &str) -> AuthBrokerClient<Channel> {
        let material = self.tls_material(identity);
        let endpoint = Endpoint::from_shared(self.url())
            .and_then(|endpoint| endpoint.tls_config(material.client_config(BROKER_SERVER_NAME)))
            .unwrap_or_else(|error| panic!("invalid auth-broker endpoint {}: {error}", self.url()));
        let channel = endpoint.connect().await.unwrap_or_else(|error| {
            panic!("failed to connect to the auth-broker as {identity}: {error}")
        });
        AuthBrokerClient::new(channel)
    }

    /// A client as `cli`, which registers tenants, makes certificates and
    /// asks for consent under the default policy.
    pub async fn admin_client(&self) -> AuthBrokerClient<Channel> {
        self.client_as(ADMIN_IDENTITY).await
    }

    /// Stops serving, waits until the broker has closed its store, then
    /// removes the data directory.
    pub async fn shutdown(self) {
        // An error the broker stopped with has been printed; a panic of its
        // task goes on here.
        let _ = self.server.stop().await;
    }

    fn tls_material(&self, identity: &str) -> TlsMaterial {
        TlsMaterial::from_pki_dir(&self.pki_dir, identity).unwrap_or_else(|error| {
            panic!("no certificate for {identity} in the test PKI: {error}")
        })
    }
}
