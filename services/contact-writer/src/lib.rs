//! galsync contact-writer.

mod config;
mod grpc;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use anyhow::Context;
use galsync_platform::grpc::ServeOptions;
use galsync_platform::store::{Migrations, PoolSettings};
use galsync_proto::v1;
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;

pub use config::Config;

/// Where the service listens unless `--listen` says otherwise.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50053));

/// Fully qualified names of the gRPC services this binary serves.
pub const GRPC_SERVICES: &[&str] = &["galsync.v1.ContactWriter"];

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// This service's migrations, one folder per backend.
pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE_MIGRATIONS,
    postgres: &POSTGRES_MIGRATIONS,
};

/// Opens the store and serves on `listener` until `shutdown` resolves.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store_url = config.store_url();
    let store = galsync_platform::store::connect(
        "store-url",
        &store_url,
        MIGRATIONS,
        PoolSettings::default(),
    )
    .await
    .context("failed to open the contact-writer store")?;
    let options =
        ServeOptions::from_args("contact-writer", GRPC_SERVICES.to_vec(), &config.server)?;
    let mut routes = RoutesBuilder::default();
    routes.add_service(v1::contact_writer_server::ContactWriterServer::new(
        grpc::ContactWriterService::new(store.clone()),
    ));
    galsync_platform::grpc::serve(options, listener, routes, shutdown).await?;
    store.close().await;
    Ok(())
}
