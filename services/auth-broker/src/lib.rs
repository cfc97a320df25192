//! galsync auth-broker: the only holder of credentials. It keeps certificates
//! (private keys sealed under the master key) and client secrets, and issues
//! short-lived app-only Graph tokens to callers whose mTLS identity is allowed
//! the purpose. Every issuance and refusal is audited.

mod audit;
pub mod auth_mode;
pub mod broker;
mod call_metrics;
pub mod certificate_upload;
pub mod certificates;
pub mod clock;
mod config;
mod connection;
mod consent;
mod credentials;
mod error;
mod grpc;
pub mod health;
mod issuance;
pub mod master_key;
pub mod policy;
mod provision;
mod provision_graph;
pub mod removed_mode;
pub mod seal;
pub mod store;
pub mod tenants;
pub mod tokens;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

use anyhow::Context;
use galsync_platform::grpc::ServeOptions;
use galsync_platform::store::{Migrations, PoolSettings};
use galsync_proto::v1;
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;

pub use broker::Broker;
pub use config::Config;
pub use connection::ConnectionCheck;
pub use credentials::{CertificateOrder, NewCertificate, Registration};
pub use error::BrokerError;

/// Where the service listens unless `--listen` says otherwise.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50051));

/// Fully qualified names of the gRPC services this binary serves.
pub const GRPC_SERVICES: &[&str] = &["galsync.v1.AuthBroker"];

/// This service's migrations, one folder per backend.
pub const MIGRATIONS: Migrations = galsync_platform::migrations!();

/// Builds the broker from its configuration: store, master key, policy.
pub async fn build(config: &Config) -> anyhow::Result<Arc<Broker>> {
    let store_url = config.store_url();
    let pool = galsync_platform::store::connect(
        "store-url",
        &store_url,
        MIGRATIONS,
        PoolSettings::default(),
    )
    .await
    .context("failed to open the auth-broker store")?;
    let store = store::BrokerStore::new(pool);
    let master_key = master_key::open_master_key(config, &store).await?;
    let policy = policy::Policy::new(
        &config.allow_purpose,
        &config.admin_identity,
        config.trust_plaintext_loopback,
    )
    .map_err(|problem| galsync_platform::ConfigError::new("allow-purpose", problem))?
    .with_console_identity(&config.console_identity);
    let settings = broker::BrokerSettings {
        default_login_base_url: config
            .default_login_base_url
            .trim_end_matches('/')
            .to_owned(),
        default_graph_base_url: config
            .default_graph_base_url
            .trim_end_matches('/')
            .to_owned(),
        consent_redirect_uri: config.consent_redirect_uri(),
        cert_renewal_days: config.cert_renewal_days,
        admin_signin_client_id: config.admin_signin_client_id.trim().to_owned(),
    };
    Ok(Broker::new(
        store,
        master_key,
        clock::Clock::default(),
        policy,
        settings,
    )?)
}

/// Opens the store and serves on `listener` until `shutdown` resolves.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let broker = build(&config).await?;
    serve_broker(broker, &config, listener, shutdown).await
}

/// Serves an already built broker: gRPC on `listener`, the consent callback on
/// `--consent-listen`, and hourly certificate renewal.
pub async fn serve_broker(
    broker: Arc<Broker>,
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let consent_listener = galsync_platform::grpc::bind(config.consent_listen)
        .await
        .map_err(|error| galsync_platform::ConfigError::new("consent-listen", error.problem))?;
    let consent_task = tokio::spawn({
        let router = consent::callback_router(broker.clone());
        async move {
            if let Err(error) = axum::serve(consent_listener, router).await {
                tracing::error!(%error, "consent callback server failed");
            }
        }
    });
    // Renewal and credential health every ten minutes (and at start).
    let renewal_task = tokio::spawn({
        let broker = broker.clone();
        async move {
            let mut interval = tokio::time::interval(std::time::Duration::from_secs(600));
            loop {
                interval.tick().await;
                if let Err(error) = broker.renew_due_certificates().await {
                    tracing::error!(%error, "certificate renewal failed");
                }
                if let Err(error) = broker.credential_health().await {
                    tracing::error!(%error, "credential health check failed");
                }
            }
        }
    });
    broker.register_token_counters();
    let _metrics_endpoint =
        galsync_platform::metrics::start(config.server.metrics_listen, broker.metrics().clone())
            .await?;

    let options = ServeOptions::from_args("auth-broker", GRPC_SERVICES.to_vec(), &config.server)?;
    let mut routes = RoutesBuilder::default();
    routes.add_service(v1::auth_broker_server::AuthBrokerServer::new(
        grpc::AuthBrokerService::new(broker.clone()),
    ));
    let served = galsync_platform::grpc::serve(options, listener, routes, shutdown).await;
    consent_task.abort();
    renewal_task.abort();
    broker.store.pool().close().await;
    served?;
    Ok(())
}
