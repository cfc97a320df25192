//! galsync directory-reader: reads the tenant's directory through Graph with
//! `directory` tokens from the auth-broker and serves immutable,
//! content-addressed snapshots and target-mailbox lists.

mod config;
mod error;
mod filter;
mod graph_access;
mod groups;
mod grpc;
mod merge;
mod photos;
mod purpose;
mod reader;
mod scope;
mod service;
mod snapshot;
mod snapshot_cache;
mod source;
mod store;
mod targets;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

use anyhow::Context;
use galsync_graph::HttpOptions;
use galsync_platform::grpc::ServeOptions;
use galsync_platform::store::{Migrations, PoolSettings};
use galsync_platform::tls::peer_channel_for;
use galsync_proto::v1;
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;

pub use config::Config;
pub use error::Error;
pub use grpc::ReaderAccess;

/// Where the service listens unless `--listen` says otherwise.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50052));

/// Fully qualified names of the gRPC services this binary serves.
pub const GRPC_SERVICES: &[&str] = &["galsync.v1.DirectoryReader"];

/// This service's migrations, one folder per backend.
pub const MIGRATIONS: Migrations = galsync_platform::migrations!();

/// The channel to the auth-broker: mTLS with this service's own identity when
/// it has TLS material, plaintext otherwise.
fn broker_channel(config: &Config) -> anyhow::Result<tonic::transport::Channel> {
    let tls = config.server.tls_material()?;
    Ok(peer_channel_for(
        "broker-url",
        &config.broker_url(),
        tls.as_ref(),
    )?)
}

/// Opens the store and serves on `listener` until `shutdown` resolves.
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
    .context("failed to open the directory-reader store")?;
    let http = HttpOptions::default()
        .build_client()
        .context("failed to build the graph http client")?;
    let graph = Arc::new(graph_access::GraphAccess::new(
        broker_channel(&config)?,
        http,
    ));
    let store = store::Store::new(pool.clone());
    let reads = reader::DirectoryReads::new(store.clone(), graph, config.purpose_batches_in_flight);
    let settings = service::ReaderSettings {
        snapshot_retention: config.snapshot_retention,
        fetch_photos: config.fetch_photos,
        max_graph_concurrency: config.max_graph_concurrency,
        target_round_reuse: std::time::Duration::from_secs(config.target_round_reuse_secs),
    };
    let reader = Arc::new(service::Reader::new(store, reads, settings));
    let _metrics_endpoint =
        galsync_platform::metrics::start(config.server.metrics_listen, reader.metrics().clone())
            .await?;
    let options =
        ServeOptions::from_args("directory-reader", GRPC_SERVICES.to_vec(), &config.server)?;
    let mut routes = RoutesBuilder::default();
    routes.add_service(
        v1::directory_reader_server::DirectoryReaderServer::new(grpc::DirectoryReaderService::new(
            reader,
            config.access(),
        ))
        .max_encoding_message_size(64 * 1024 * 1024),
    );
    galsync_platform::grpc::serve(options, listener, routes, shutdown).await?;
    pool.close().await;
    Ok(())
}
