//! `galsync-graph-emulator`: the Entra ID + Microsoft Graph emulator as a server.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use galsync_graph_emulator::{Emulator, EmulatorConfig};

/// A local emulator of the Entra ID token endpoints and Microsoft Graph.
#[derive(Debug, Parser)]
#[command(name = "galsync-graph-emulator", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(
        long,
        env = "GALSYNC_EMULATOR_LISTEN",
        default_value = "127.0.0.1:8480"
    )]
    listen: SocketAddr,

    /// Turn off Graph's throttling limits (for raw throughput benchmarks).
    #[arg(long, env = "GALSYNC_EMULATOR_NO_LIMITS", default_value_t = false)]
    no_limits: bool,

    /// Time scale of throttling windows: 1 = real time, 0.01 = 100x faster.
    #[arg(long, env = "GALSYNC_EMULATOR_TIME_SCALE", default_value_t = 1.0, value_parser = positive_scale)]
    time_scale: f64,

    /// Access token lifetime in seconds (default: random 60–90 minutes, as Entra).
    #[arg(long, env = "GALSYNC_EMULATOR_TOKEN_LIFETIME_SECS")]
    token_lifetime_secs: Option<u64>,

    /// Log filter.
    #[arg(long, env = "GALSYNC_LOG", default_value = "info")]
    log: String,
}

/// A time scale above 0 (clap exits 2 naming the flag otherwise).
fn positive_scale(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale > 0.0 => Ok(scale),
        _ => Err(format!(
            "`{text}` is not a time scale: give a number above 0, e.g. 1 or 0.01"
        )),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(args.log.as_str())
        .init();
    let config = EmulatorConfig {
        limits_enabled: !args.no_limits,
        time_scale: args.time_scale,
        token_lifetime: args.token_lifetime_secs.map(Duration::from_secs),
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start_on(args.listen, config)
        .await
        .map_err(|error| anyhow::anyhow!("invalid --listen {}: {error}", args.listen))?;
    tracing::info!(base_url = %emulator.base_url(), "graph emulator ready");
    tokio::signal::ctrl_c().await?;
    emulator.stop().await;
    Ok(())
}
