//! galsync contact-writer: makes one target mailbox's galsync folder equal to
//! one snapshot, writing only what differs, never duplicating, never touching
//! what is not its own.
//!
//! Modules: [`mapping`] (entry → contact fields, hashes, bodies), [`plan`]
//! (creates/updates/deletes, deletion guard), [`known`] (what exists: store,
//! rebuild, repair), [`mailbox`] (paced Graph per mailbox, folder),
//! [`executor`] (batches, retries, uncertain creates), [`pacing`],
//! [`request`] (a request, checked, as the use cases take it),
//! [`reconcile`] (the flow; its writing half in `reconcile::writes`), [`purge`], [`work`] (work-queue loop),
//! [`store`], [`grpc`], [`advice`] (a failed mailbox's reason and fix).

pub mod advice;
pub mod coalesce;
pub mod concurrency;
mod config;
pub mod engine;
pub mod error;
pub mod executor;
pub mod grpc;
pub mod known;
pub mod mailbox;
pub mod mapping;
pub mod metrics;
pub mod pacing;
pub mod plan;
pub mod purge;
pub mod reconcile;
pub mod request;
pub mod snapshot;
pub mod store;
pub mod sync;
pub mod work;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use galsync_platform::grpc::ServeOptions;
use galsync_platform::store::{Migrations, PoolSettings};
use galsync_platform::tls::peer_channel_for;
use galsync_proto::v1;
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;

pub use config::{Config, MAX_BATCH_SIZE};
pub use engine::{Engine, EngineSettings};

/// Where the service listens unless `--listen` says otherwise.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50053));

/// Fully qualified names of the gRPC services this binary serves.
pub const GRPC_SERVICES: &[&str] = &["galsync.v1.ContactWriter"];

/// This service's migrations, one folder per backend.
pub const MIGRATIONS: Migrations = galsync_platform::migrations!();

/// Opens the store and serves on `listener` until `shutdown` resolves; runs
/// the work loop too when `--scheduler-url` is given.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store_url = config.store_url();
    let pool = galsync_platform::store::connect(
        "store-url",
        &store_url,
        MIGRATIONS,
        PoolSettings::default(),
    )
    .await
    .context("failed to open the contact-writer store")?;
    let store = store::WriterStore::new(pool);
    let tls = config.server.tls_material()?;
    let broker = peer_channel_for("broker-url", &config.broker_url(), tls.as_ref())?;
    let reader = peer_channel_for("reader-url", &config.reader_url(), tls.as_ref())?;
    let settings = EngineSettings {
        pacing: config.pacing(),
        batch_size: config.batch_size.clamp(1, MAX_BATCH_SIZE),
        batch_linger: Duration::from_millis(config.batch_linger_ms),
        mailboxes_at_start: config.workers,
        max_mailboxes: config.max_workers,
    };
    let engine = Arc::new(Engine::new(store.clone(), broker, reader, settings)?);
    let _metrics_endpoint = galsync_platform::metrics::start(
        config.server.metrics_listen,
        engine.metrics.registry().clone(),
    )
    .await?;

    let (stop_sender, stop_receiver) = tokio::sync::watch::channel(false);
    let work_loop = match &config.scheduler_url {
        Some(url) => {
            let queue = peer_channel_for("scheduler-url", url, tls.as_ref())?;
            let settings = work::WorkSettings {
                worker_id: format!("contact-writer-{}", std::process::id()),
                lease_secs: config.lease_secs,
                idle_poll: Duration::from_secs(2),
                drain: Duration::from_secs(config.drain_secs),
            };
            Some(tokio::spawn(work::run(
                Arc::clone(&engine),
                queue,
                settings,
                stop_receiver,
            )))
        }
        None => None,
    };

    let options =
        ServeOptions::from_args("contact-writer", GRPC_SERVICES.to_vec(), &config.server)?;
    let mut routes = RoutesBuilder::default();
    routes.add_service(v1::contact_writer_server::ContactWriterServer::new(
        grpc::ContactWriterService::new(Arc::clone(&engine), config.drivers()),
    ));
    let served = galsync_platform::grpc::serve(options, listener, routes, async move {
        shutdown.await;
        let _ = stop_sender.send(true);
    })
    .await;
    if let Some(work_loop) = work_loop {
        if let Err(error) = work_loop.await {
            tracing::warn!(%error, "the work loop ended abnormally");
        }
    }
    store.close().await;
    served?;
    Ok(())
}
