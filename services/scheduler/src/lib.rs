//! galsync scheduler: profiles, runs (one at a time per profile, under a
//! persisted lock), the work queue writers lease from, and the public API.

pub mod access;
mod api_keys;
mod caller;
mod config;
pub mod directory;
mod driver;
mod error;
mod grpc;
pub mod item_state;
pub mod metrics;
pub mod on_behalf;
pub mod profiles;
pub mod queue;
pub mod run_state;
pub mod scheduler;
pub mod store;
pub mod tenants;
mod ticker;
mod work_items;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

use anyhow::Context;
use galsync_platform::grpc::ServeOptions;
use galsync_platform::store::{Migrations, PoolSettings};
use galsync_platform::tls::peer_channel_for;
use galsync_platform::tls::ClientCertificate;
use galsync_proto::v1;
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;

pub use config::Config;
pub use error::SchedulerError;
pub use scheduler::{Scheduler, Timings};

/// Where the service listens unless `--listen` says otherwise.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50050));

/// Fully qualified names of the gRPC services this binary serves.
pub const GRPC_SERVICES: &[&str] = &["galsync.v1.Scheduler", "galsync.v1.WorkQueue"];

/// This service's migrations, one folder per backend.
pub const MIGRATIONS: Migrations = galsync_platform::migrations!();

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
    .context("failed to open the scheduler store")?;
    let tls = config.server.tls_material()?;
    let reader_channel = peer_channel_for("reader-url", &config.reader_url(), tls.as_ref())?;
    let timings = Timings {
        lock_ttl: std::time::Duration::from_secs(config.run_lock_ttl_secs),
        max_attempts: config.max_attempts,
        run_retention: std::time::Duration::from_secs(config.run_retention_days * 24 * 3600),
        ..Timings::default()
    };
    let directory = Arc::new(directory::GrpcDirectory::new(reader_channel));
    let tenants = match &config.broker_url {
        Some(url) => {
            let channel = peer_channel_for("broker-url", url, tls.as_ref())?;
            Some(Arc::new(tenants::BrokerTenants::new(channel, url))
                as Arc<dyn tenants::TenantRegistry>)
        }
        None => {
            tracing::warn!("no --broker-url: profiles are not checked against the auth-broker's tenants when they are created");
            None
        }
    };
    let scheduler = Scheduler::new(
        store::SchedulerStore::new(pool.clone()),
        directory,
        timings,
        tenants,
    );
    let access = access::Access::new(
        &config.role_binding,
        &config.worker_identity,
        config.trust_plaintext_loopback,
    )
    .map_err(|problem| galsync_platform::ConfigError::new("role-binding", problem))?
    .with_console_identity(&config.console_identity);
    serve_scheduler(scheduler, Arc::new(access), &config, listener, shutdown).await?;
    pool.close().await;
    Ok(())
}

/// Serves an already built scheduler (tests give it a stand-in directory).
pub async fn serve_scheduler(
    scheduler: Arc<Scheduler>,
    access: Arc<access::Access>,
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let _metrics_endpoint = galsync_platform::metrics::start(
        config.server.metrics_listen,
        scheduler.metrics().registry().clone(),
    )
    .await?;
    let ticker = tokio::spawn(scheduler.clone().tick_forever());
    // The public API takes API keys from callers without a certificate of
    // our CA (integrators); the work queue still refuses any caller that is
    // not a writer's certificate.
    let options = ServeOptions::from_args("scheduler", GRPC_SERVICES.to_vec(), &config.server)?
        .with_client_certificate(ClientCertificate::Optional);
    let mut routes = RoutesBuilder::default();
    routes.add_service(v1::scheduler_server::SchedulerServer::new(
        grpc::SchedulerService::new(scheduler.clone(), access.clone()),
    ));
    routes.add_service(v1::work_queue_server::WorkQueueServer::new(
        grpc::WorkQueueService::new(scheduler.clone(), access),
    ));
    let served = galsync_platform::grpc::serve(options, listener, routes, shutdown).await;
    scheduler.stop();
    ticker.abort();
    served?;
    Ok(())
}
