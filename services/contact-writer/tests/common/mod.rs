//! The writer against the Entra + Graph emulator with real `contacts` tokens:
//! an auth-broker in-process (mTLS, certificate uploaded to the emulated app,
//! consent granted), a fake directory-reader serving snapshots, the engine on
//! a fresh store, and helpers to inspect mailboxes and count requests.
//!
//! [`Harness`] runs the emulator in-process; [`WriterSide`] is the same writer
//! setup against any emulator reachable through an [`EntraAdmin`] (the
//! benchmark's emulator runs in a child process).

#![allow(dead_code)]

pub mod work_queue;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use galsync_contact_writer::engine::{Engine, EngineSettings};
use galsync_contact_writer::reconcile::{self, MailboxJob, Report};
use galsync_contact_writer::snapshot::PhotoMap;
use galsync_contact_writer::store::WriterStore;
use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1;
use galsync_testkit::{
    create_emulated_app, register_with_broker, EmulatedApp, TenantApp, TestBroker,
};
use serde_json::Value;
use tonic::transport::Endpoint;
use uuid::Uuid;

pub const FOLDER: &str = "Company Directory";

/// Snapshots and photos the fake directory-reader serves.
#[derive(Default, Clone)]
pub struct ReaderData {
    pub snapshots: Arc<Mutex<HashMap<String, Vec<v1::DirectoryEntry>>>>,
    pub photos: Arc<Mutex<HashMap<String, v1::Photo>>>,
    pub streams: Arc<Mutex<u64>>,
}

#[tonic::async_trait]
impl v1::directory_reader_server::DirectoryReader for ReaderData {
    async fn stream_snapshot(
        &self,
        request: tonic::Request<v1::StreamSnapshotRequest>,
    ) -> Result<
        tonic::Response<
            std::pin::Pin<
                Box<
                    dyn tokio_stream::Stream<Item = Result<v1::SnapshotChunk, tonic::Status>>
                        + Send
                        + 'static,
                >,
            >,
        >,
        tonic::Status,
    > {
        *self.streams.lock().unwrap() += 1;
        let snapshots = self.snapshots.lock().unwrap();
        let Some(entries) = snapshots.get(&request.get_ref().snapshot_id) else {
            return Err(tonic::Status::not_found("no such snapshot"));
        };
        let chunks: Vec<&[v1::DirectoryEntry]> = entries.chunks(500).collect();
        let count = chunks.len();
        let messages: Vec<Result<v1::SnapshotChunk, tonic::Status>> = chunks
            .into_iter()
            .enumerate()
            .map(|(index, chunk)| {
                Ok(v1::SnapshotChunk {
                    entries: chunk.to_vec(),
                    chunk_index: index as u32,
                    last: index + 1 == count,
                })
            })
            .collect();
        Ok(tonic::Response::new(Box::pin(tokio_stream::iter(messages))))
    }

    async fn get_photo(
        &self,
        request: tonic::Request<v1::GetPhotoRequest>,
    ) -> Result<tonic::Response<v1::Photo>, tonic::Status> {
        match self
            .photos
            .lock()
            .unwrap()
            .get(&request.get_ref().photo_hash)
        {
            Some(photo) => Ok(tonic::Response::new(photo.clone())),
            None => Err(tonic::Status::not_found("no such photo")),
        }
    }
}

async fn start_reader(data: ReaderData) -> SocketAddr {
    let reader = v1::directory_reader_server::DirectoryReaderServer::new(data);
    galsync_testkit::harness::serve_grpc(tonic::service::Routes::new(reader), None).await
}

/// The emulated Entra side of the setup: what an administrator does in the
/// portal for galsync. Implemented in-process for [`Emulator`]; a benchmark
/// implements it over the admin API of an emulator in another process.
#[tonic::async_trait]
pub trait EntraAdmin: Send + Sync {
    /// The emulator's base URL, both login host and Graph host.
    fn base_url(&self) -> String;

    /// Creates the tenant (domain `contoso.example`) and registers the galsync
    /// app requesting `Contacts.ReadWrite` in it; returns the app's client id.
    async fn register_galsync_app(&self, tenant_id: Uuid) -> anyhow::Result<String>;

    /// Uploads the certificate (PEM) to the app and grants admin consent.
    async fn trust_certificate(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        certificate_pem: &str,
    ) -> anyhow::Result<()>;
}

#[tonic::async_trait]
impl EntraAdmin for Emulator {
    fn base_url(&self) -> String {
        Emulator::base_url(self)
    }

    async fn register_galsync_app(&self, tenant_id: Uuid) -> anyhow::Result<String> {
        Ok(create_emulated_app(self, tenant_id, &writer_app()).client_id)
    }

    async fn trust_certificate(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        certificate_pem: &str,
    ) -> anyhow::Result<()> {
        let identity = &self.state.identity;
        identity.upload_certificate(client_id, certificate_pem.as_bytes())?;
        identity.grant_consent(tenant_id, client_id, None)?;
        Ok(())
    }
}

/// The app the writer uses, as [`EntraAdmin::register_galsync_app`] describes
/// it: `Contacts.ReadWrite` in `contoso.example`, registered with the broker
/// for the contacts purpose, with a 365-day certificate.
fn writer_app() -> TenantApp {
    TenantApp {
        domain: "contoso.example".to_owned(),
        display_name: "galsync".to_owned(),
        requested_roles: vec!["Contacts.ReadWrite".to_owned()],
        purposes: vec![v1::TokenPurpose::Contacts],
        validity_days: 365,
        ..TenantApp::default()
    }
}

/// Everything galsync runs for the writer, pointed at an emulator known only
/// by its [`EntraAdmin`]: the auth-broker holding the app's certificate, the
/// fake directory-reader and the engine on its store.
pub struct WriterSide {
    pub broker: TestBroker,
    pub tenant_id: Uuid,
    pub client_id: String,
    pub engine: Arc<Engine>,
    pub reader: ReaderData,
    pub reader_addr: SocketAddr,
    pub store_url: String,
    pub store_dir: tempfile::TempDir,
}

impl WriterSide {
    /// `store_url` None = a fresh SQLite file.
    pub async fn start(
        entra: &dyn EntraAdmin,
        settings: EngineSettings,
        store_url: Option<String>,
    ) -> WriterSide {
        let broker = TestBroker::start().await;
        let tenant_id = Uuid::new_v4();
        let client_id = entra
            .register_galsync_app(tenant_id)
            .await
            .unwrap_or_else(|error| panic!("register the galsync app: {error:#}"));
        let mut admin = broker.admin_client().await;
        let emulated = EmulatedApp {
            tenant_id,
            client_id: client_id.clone(),
        };
        let exported =
            register_with_broker(&mut admin, &entra.base_url(), &emulated, &writer_app())
                .await
                .expect("the broker exports the writer's certificate");
        entra
            .trust_certificate(tenant_id, &client_id, &exported.pem)
            .await
            .unwrap_or_else(|error| panic!("trust the galsync certificate: {error:#}"));

        let reader = ReaderData::default();
        let reader_addr = start_reader(reader.clone()).await;
        let store_dir = tempfile::tempdir().unwrap();
        let store_url = store_url.unwrap_or_else(|| {
            format!("sqlite://{}", store_dir.path().join("writer.db").display())
        });
        let engine = build_engine(&broker, reader_addr, &store_url, settings).await;
        WriterSide {
            broker,
            tenant_id,
            client_id,
            engine,
            reader,
            reader_addr,
            store_url,
            store_dir,
        }
    }

    pub fn job(&self, mailbox_id: &str, policy: v1::WritePolicy) -> MailboxJob {
        mailbox_job(self.tenant_id, mailbox_id, policy)
    }

    pub async fn sync(
        &self,
        mailbox_id: &str,
        entries: &[v1::DirectoryEntry],
        policy: v1::WritePolicy,
    ) -> Report {
        sync_mailbox(&self.engine, self.tenant_id, mailbox_id, entries, policy).await
    }

    /// Purges `mailbox_id`'s galsync folder of `profile_id`'s contacts (""
    /// names no profile: every galsync contact), as a `PurgeMailbox` call
    /// asks.
    pub async fn purge(&self, mailbox_id: &str, profile_id: &str) -> v1::MailboxSyncResult {
        let job =
            galsync_contact_writer::request::PurgeJob::from_request(&v1::PurgeMailboxRequest {
                tenant_id: self.tenant_id.to_string(),
                mailbox_id: mailbox_id.to_owned(),
                folder_name: FOLDER.to_owned(),
                profile_id: profile_id.to_owned(),
            })
            .expect("a well-formed purge request");
        galsync_contact_writer::purge::purge(&self.engine, &job, None)
            .await
            .expect("the purge")
    }
}

fn mailbox_job(tenant_id: Uuid, mailbox_id: &str, policy: v1::WritePolicy) -> MailboxJob {
    MailboxJob {
        tenant_id: tenant_id.to_string(),
        mailbox_id: mailbox_id.to_owned(),
        profile_id: "profile-1".to_owned(),
        policy,
        dry_run: false,
    }
}

async fn sync_mailbox(
    engine: &Engine,
    tenant_id: Uuid,
    mailbox_id: &str,
    entries: &[v1::DirectoryEntry],
    policy: v1::WritePolicy,
) -> Report {
    let job = mailbox_job(tenant_id, mailbox_id, policy);
    reconcile::reconcile(engine, &job, entries, &PhotoMap::new())
        .await
        .unwrap_or_else(|error| panic!("reconcile {mailbox_id}: {error}"))
}

/// The writer side against an in-process emulator; derefs to its
/// [`WriterSide`] (broker, engine, reader, tenant).
pub struct Harness {
    pub emulator: Emulator,
    pub writer: WriterSide,
}

impl std::ops::Deref for Harness {
    type Target = WriterSide;

    fn deref(&self) -> &WriterSide {
        &self.writer
    }
}

impl Harness {
    pub async fn start(emulator_config: EmulatorConfig, settings: EngineSettings) -> Harness {
        Self::start_with_store(emulator_config, settings, None).await
    }

    /// `store_url` None = a fresh SQLite file.
    pub async fn start_with_store(
        emulator_config: EmulatorConfig,
        settings: EngineSettings,
        store_url: Option<String>,
    ) -> Harness {
        let emulator = Emulator::start(emulator_config).await.unwrap();
        let writer = WriterSide::start(&emulator, settings, store_url).await;
        Harness { emulator, writer }
    }

    /// A second engine on the same store (a restarted writer).
    pub async fn restart_engine(&mut self, settings: EngineSettings) {
        let writer = &mut self.writer;
        writer.engine = build_engine(
            &writer.broker,
            writer.reader_addr,
            &writer.store_url,
            settings,
        )
        .await;
    }

    /// A writer restarted on a new, empty store (the old one lost).
    pub async fn restart_with_empty_store(&mut self, settings: EngineSettings) {
        let writer = &mut self.writer;
        writer.store_url = format!(
            "sqlite://{}",
            writer
                .store_dir
                .path()
                .join("writer-after-loss.db")
                .display()
        );
        writer.engine = build_engine(
            &writer.broker,
            writer.reader_addr,
            &writer.store_url,
            settings,
        )
        .await;
    }

    /// Contacts read one at a time by id (alone or inside a `$batch`).
    pub fn single_contact_reads(&self) -> u64 {
        self.emulator
            .state
            .accounting
            .total(|key| key.method == "GET" && key.endpoint.ends_with("/contacts/{id}"))
    }

    pub fn add_mailboxes(&self, count: usize) -> Vec<String> {
        (0..count)
            .map(|index| {
                self.emulator.state.directory.add_mailbox_user(
                    self.tenant_id,
                    &format!("Target {index}"),
                    &format!("target{index}@contoso.example"),
                    true,
                )
            })
            .collect()
    }

    /// Folders named like the galsync folder.
    pub fn folder_ids(&self, mailbox_id: &str) -> Vec<String> {
        self.emulator
            .state
            .mailboxes
            .folders_named(self.tenant_id, mailbox_id, FOLDER)
            .into_iter()
            .map(|folder| folder.id)
            .collect()
    }

    /// The contacts of the (single) galsync folder, exactly as stored.
    pub fn folder_contacts(&self, mailbox_id: &str) -> Vec<Value> {
        let folders = self.folder_ids(mailbox_id);
        assert_eq!(folders.len(), 1, "galsync folders in {mailbox_id}");
        self.emulator
            .state
            .mailboxes
            .folder_contacts(self.tenant_id, mailbox_id, &folders[0])
            .unwrap()
    }

    /// Contacts in the folder by the ownership property's value.
    pub fn owned_by_source(&self, mailbox_id: &str) -> HashMap<String, Vec<Value>> {
        let mut owned: HashMap<String, Vec<Value>> = HashMap::new();
        for contact in self.folder_contacts(mailbox_id) {
            let source = galsync_contact_writer::mailbox::source_property(&contact)
                .as_deref()
                .and_then(galsync_contact_writer::mapping::Owner::parse)
                .map(|owner| owner.source_id);
            if let Some(source) = source {
                owned.entry(source).or_default().push(contact);
            }
        }
        owned
    }

    /// Successful contact writes counted by the emulator for `method`.
    pub fn contact_writes(&self, method: &str) -> u64 {
        self.emulator.state.accounting.total(|key| {
            key.method == method
                && key.endpoint.contains("/contacts")
                && (200..300).contains(&key.status)
        })
    }

    /// Reads of a folder's contacts (listings, look-ups, delta pages), sent
    /// alone or inside a `$batch`, counted by the emulator.
    pub fn contact_reads(&self) -> u64 {
        self.emulator.state.accounting.total(|key| {
            key.method == "GET"
                && (key.endpoint.ends_with("/contacts")
                    || key.endpoint.ends_with("/contacts/delta"))
        })
    }

    /// Contacts-delta pages counted by the emulator, by status.
    pub fn delta_pages(&self, status: u16) -> u64 {
        self.emulator.state.accounting.total(|key| {
            key.method == "GET" && key.endpoint.ends_with("/contacts/delta") && key.status == status
        })
    }

    /// Every write (POST/PATCH/DELETE/PUT) on contacts, any status.
    pub fn all_contact_writes(&self) -> u64 {
        self.emulator
            .state
            .accounting
            .total(|key| key.method != "GET" && key.endpoint.contains("/contacts"))
    }
}

async fn build_engine(
    broker: &TestBroker,
    reader_addr: SocketAddr,
    store_url: &str,
    settings: EngineSettings,
) -> Arc<Engine> {
    let pool = galsync_platform::store::connect(
        "store-url",
        store_url,
        galsync_contact_writer::MIGRATIONS,
        galsync_platform::store::PoolSettings::default(),
    )
    .await
    .unwrap();
    let reader = Endpoint::from_shared(format!("http://{reader_addr}"))
        .unwrap()
        .connect_lazy();
    Arc::new(
        Engine::new(
            WriterStore::new(pool),
            broker.channel_as("contact-writer"),
            reader,
            settings,
        )
        .unwrap(),
    )
}

/// `count` directory entries with every mapped field set.
pub fn directory(count: usize) -> Vec<v1::DirectoryEntry> {
    (0..count)
        .map(|index| v1::DirectoryEntry {
            source_object_id: Uuid::from_u128(
                0x5eed_0000_0000_0000_0000_0000_0000_0000 + index as u128,
            )
            .to_string(),
            display_name: format!("Person {index:04}"),
            given_name: "Person".to_owned(),
            surname: format!("{index:04}"),
            mail: format!("person{index}@contoso.example"),
            user_principal_name: format!("person{index}@contoso.example"),
            business_phones: vec![format!("+1 425 555 {index:04}")],
            mobile_phone: format!("+1 206 555 {index:04}"),
            job_title: "Engineer".to_owned(),
            department: format!("Dept {}", index % 7),
            company_name: "Contoso".to_owned(),
            office_location: format!("Building {}", index % 3),
            business_address: Some(v1::PostalAddress {
                street: format!("{index} Main St"),
                city: "Redmond".to_owned(),
                state: "WA".to_owned(),
                postal_code: "98052".to_owned(),
                country_or_region: "US".to_owned(),
            }),
            manager_display_name: "Boss".to_owned(),
            ..Default::default()
        })
        .collect()
}

/// Test settings: Graph's real limits unless a test scales them.
pub fn settings() -> EngineSettings {
    EngineSettings::default()
}

/// Emulator limits off.
pub fn no_limits() -> EmulatorConfig {
    EmulatorConfig {
        limits_enabled: false,
        ..EmulatorConfig::default()
    }
}
