//! The `main` every service binary shares: parse config (flags, environment,
//! TOML), validate it, start telemetry, bind, serve until SIGTERM/SIGINT.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use clap::Parser;
use tokio::net::TcpListener;

use crate::config::{ConfigError, ServerArgs};

/// Resolves when the service should stop.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A service's configuration.
pub trait ServiceConfig: Parser {
    /// The shared server flags.
    fn server(&self) -> &ServerArgs;
    /// Service-specific checks, run after the shared ones.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// Runs a service binary to completion and exits the process: 0 after a clean
/// shutdown, 2 for bad configuration (one line naming the flag), 1 otherwise.
pub fn main<C, F, Fut>(service_name: &'static str, default_listen: SocketAddr, serve: F)
where
    C: ServiceConfig,
    F: FnOnce(C, TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let config: C = match crate::config::parse() {
        Ok(config) => config,
        Err(error) => crate::flags::exit_on_clap_error(error),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async move {
        let listen = config.server().listen_or(default_listen);
        config.server().validate(listen)?;
        config.validate()?;
        let _telemetry = crate::telemetry::init(service_name, &config.server().telemetry)?;
        let listener = crate::grpc::bind(listen).await?;
        serve(config, listener, Box::pin(crate::grpc::shutdown_signal())).await
    });
    crate::exit_on_error(result);
}
