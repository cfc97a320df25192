//! An emulated tenant, an auth-broker (the test kit's) and the
//! directory-reader, all in-process on port 0 with real mTLS (PKI identities
//! `auth-broker`, `directory-reader`, `scheduler`), so real `directory` tokens
//! flow.

#![allow(dead_code)]

pub mod tenant;

use galsync_directory_reader::Config;
use galsync_graph_emulator::seeding::{SeedOptions, SeedSummary, User};
use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_platform::pki::ServiceTlsFiles;
use galsync_platform::TlsMaterial;
use galsync_proto::v1;
use galsync_proto::v1::directory_reader_client::DirectoryReaderClient;
use galsync_testkit::harness::{free_port, spawn_server, RunningServer};
use galsync_testkit::{connect_tenant, Step, TenantApp, TestBroker, DIRECTORY_ROLES};
use tonic::transport::{Channel, Endpoint};
use uuid::Uuid;

pub enum StoreKind {
    Sqlite,
    Postgres(String),
}

pub struct Harness {
    pub emulator: Emulator,
    pub tenant_id: Uuid,
    pub client_id: String,
    pub reader_addr: std::net::SocketAddr,
    /// Where the reader serves `/metrics`.
    pub metrics_addr: std::net::SocketAddr,
    /// The reader; it stops when the harness is dropped.
    reader_server: RunningServer,
    /// Where the reader gets its tokens; its PKI and data directory are the
    /// reader's too.
    pub broker: TestBroker,
}

pub fn emulator_config() -> EmulatorConfig {
    EmulatorConfig {
        token_lifetime: Some(std::time::Duration::from_secs(3600)),
        ..EmulatorConfig::default()
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Self::start_with(StoreKind::Sqlite, emulator_config(), |_| {}).await
    }

    /// Emulator, broker (SQLite), tenant with a consented read app and an
    /// uploaded certificate, and the reader with `configure` applied.
    pub async fn start_with(
        store: StoreKind,
        emulator_config: EmulatorConfig,
        configure: impl FnOnce(&mut Config),
    ) -> Harness {
        let emulator = Emulator::start(emulator_config).await.unwrap();
        let broker = TestBroker::start().await;
        let (tenant_id, client_id) = connect_read_tenant(&emulator, &broker).await;

        // One data directory and one PKI for the whole deployment, as with
        // `galsync up`: the reader's store sits beside the broker's.
        let data_dir = broker.data_dir();
        let pki_dir = broker.pki_dir();
        let store_url = match store {
            StoreKind::Sqlite => format!(
                "sqlite://{}",
                data_dir.join("directory-reader.db").display()
            ),
            StoreKind::Postgres(dsn) => dsn,
        };
        let mut config = Config::local(store_url);
        config.data_dir = data_dir.to_owned();
        let reader_files = ServiceTlsFiles::in_dir(pki_dir, "directory-reader");
        config.server.tls_cert = Some(reader_files.cert);
        config.server.tls_key = Some(reader_files.key);
        config.server.tls_ca = Some(reader_files.ca);
        config.broker_url = Some(broker.url());
        // A port free a moment ago: the metrics endpoint does not say which
        // port it took.
        let metrics_addr = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
        config.server.metrics_listen = Some(metrics_addr);
        configure(&mut config);
        let reader = spawn_server("127.0.0.1:0", move |listener, stop| {
            galsync_directory_reader::serve(config, listener, stop)
        })
        .await;
        let reader_addr = reader.addr;

        Harness {
            emulator,
            tenant_id,
            client_id,
            reader_addr,
            metrics_addr,
            reader_server: reader,
            broker,
        }
    }

    /// A gRPC client of the reader presenting the scheduler's certificate.
    pub async fn reader(&self) -> DirectoryReaderClient<Channel> {
        self.reader_as("scheduler").await
    }

    /// A gRPC client of the reader presenting `identity`'s certificate from
    /// the deployment's PKI (issued there first for an identity such as
    /// `monitoring` that `galsync pki init` does not make).
    pub async fn reader_as(&self, identity: &str) -> DirectoryReaderClient<Channel> {
        galsync_platform::pki::issue_identity(self.broker.pki_dir(), identity, &[]).unwrap();
        let material = TlsMaterial::from_pki_dir(self.broker.pki_dir(), identity).unwrap();
        let endpoint = Endpoint::from_shared(format!("https://{}", self.reader_addr))
            .unwrap()
            .tls_config(material.client_config("localhost"))
            .unwrap();
        for _ in 0..50 {
            if let Ok(channel) = endpoint.connect().await {
                return DirectoryReaderClient::new(channel)
                    .max_decoding_message_size(64 * 1024 * 1024);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the directory-reader did not start listening");
    }

    pub fn seed(&self, options: SeedOptions) -> SeedSummary {
        self.emulator
            .state
            .directory
            .seed(self.tenant_id, &options)
            .unwrap()
    }

    pub fn add_user(&self, user: User) -> Uuid {
        self.emulator
            .state
            .directory
            .add_user(self.tenant_id, user)
            .unwrap()
    }

    /// Graph requests of this tenant to `endpoint` (e.g. `/users`, `/users/delta`).
    pub fn requests_to(&self, endpoint: &str) -> u64 {
        let tenant = self.tenant_id.to_string();
        self.emulator
            .state
            .accounting
            .total(|key| key.tenant == tenant && key.endpoint == endpoint)
    }

    /// Every Graph request of this tenant (token requests excluded).
    pub fn graph_requests(&self) -> u64 {
        let tenant = self.tenant_id.to_string();
        self.emulator
            .state
            .accounting
            .total(|key| key.tenant == tenant && !key.endpoint.starts_with("/{tenant}/"))
    }

    pub async fn take(&self, filter: v1::SourceFilter) -> v1::Snapshot {
        self.take_request(filter, false, false).await.unwrap()
    }

    pub async fn take_request(
        &self,
        filter: v1::SourceFilter,
        force_full_read: bool,
        include_photos: bool,
    ) -> Result<v1::Snapshot, tonic::Status> {
        let mut reader = self.reader().await;
        reader
            .take_snapshot(v1::TakeSnapshotRequest {
                tenant_id: self.tenant_id.to_string(),
                filter: Some(filter),
                force_full_read,
                include_photos,
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// The value of one series (name and labels, as exposed) on the
    /// reader's `/metrics`; 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut connection = tokio::net::TcpStream::connect(self.metrics_addr)
            .await
            .unwrap();
        connection
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: reader\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        connection.read_to_string(&mut response).await.unwrap();
        response
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0.0, |value| value.trim().parse().unwrap())
    }

    pub async fn entries(&self, snapshot_id: &str) -> Vec<v1::DirectoryEntry> {
        let mut reader = self.reader().await;
        let mut stream = reader
            .stream_snapshot(v1::StreamSnapshotRequest {
                snapshot_id: snapshot_id.to_owned(),
                chunk_size: 0,
            })
            .await
            .unwrap()
            .into_inner();
        let mut entries = Vec::new();
        while let Some(chunk) = stream.message().await.unwrap() {
            entries.extend(chunk.entries);
        }
        entries
    }

    pub async fn diff(&self, from: &str, to: &str) -> v1::SnapshotDiff {
        let mut reader = self.reader().await;
        reader
            .diff_snapshots(v1::DiffSnapshotsRequest {
                from_snapshot_id: from.to_owned(),
                to_snapshot_id: to.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
    }
}

/// Connects a new emulated tenant with a read app to the broker (as `cli`):
/// certificate uploaded to the emulated app and admin consent granted there.
/// Returns the tenant id and the app's client id.
async fn connect_read_tenant(emulator: &Emulator, broker: &TestBroker) -> (Uuid, String) {
    let mut admin = broker.admin_client().await;
    let read_app = TenantApp {
        domain: "contoso.onmicrosoft.com".to_owned(),
        display_name: "galsync reader".to_owned(),
        requested_roles: DIRECTORY_ROLES
            .iter()
            .map(|role| role.to_string())
            .collect(),
        purposes: vec![v1::TokenPurpose::Directory],
        validity_days: 365,
        last_step: Step::GrantConsent,
        ..TenantApp::default()
    };
    let tenant = connect_tenant(emulator, &mut admin, read_app).await;
    (tenant.tenant_id, tenant.client_id)
}

/// An enabled, licensed member with a user mailbox.
pub fn member(name: &str) -> User {
    let nickname: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    User::new_licensed(
        name,
        &format!("{}@contoso.onmicrosoft.com", nickname.to_lowercase()),
    )
}
