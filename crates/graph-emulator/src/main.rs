//! `galsync-graph-emulator`: the Entra ID + Microsoft Graph emulator as a server.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use galsync_graph_emulator::cost::{LatencyModel, LatencyOverride};
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

    /// Time scale of throttling windows, Retry-After and modelled latency:
    /// 1 = real time, 0.01 = 100x faster.
    #[arg(long, env = "GALSYNC_EMULATOR_TIME_SCALE", default_value_t = 1.0, value_parser = galsync_graph_emulator::parse_time_scale)]
    time_scale: f64,

    /// Graph latency: `off` (answer at once) or `graph` (the modelled
    /// Microsoft 365 latencies, scaled by --time-scale).
    #[arg(long, env = "GALSYNC_EMULATOR_LATENCY", default_value = "off", value_parser = ["off", "graph"])]
    latency: String,

    /// One operation's latency, KIND=MEDIAN_MS:P99_MS (repeatable), e.g.
    /// contact-create=100:400. Kinds: contact-create, contact-update,
    /// contact-delete, contact-read, folder, directory-page, mailbox-settings, photo, token.
    #[arg(long = "latency-op", value_name = "KIND=MEDIAN_MS:P99_MS")]
    latency_ops: Vec<LatencyOverride>,

    /// Requests one app may make across all tenants per 10 s (Graph: 130000).
    #[arg(long, env = "GALSYNC_EMULATOR_APP_REQUESTS_PER_10S", default_value_t = 130_000, value_parser = clap::value_parser!(u32).range(1..))]
    app_requests_per_10s: u32,

    /// Access token lifetime in seconds (default: random 60–90 minutes, as Entra).
    #[arg(long, env = "GALSYNC_EMULATOR_TOKEN_LIFETIME_SECS")]
    token_lifetime_secs: Option<u64>,

    /// Seconds (at time scale 1, scaled by --time-scale) before an app,
    /// service principal, key credential or app role grant written through
    /// Graph reaches the token endpoint.
    #[arg(long, env = "GALSYNC_EMULATOR_REPLICATION_DELAY_SECS", default_value_t = 5.0, value_parser = parse_delay)]
    replication_delay_secs: f64,

    /// Log filter.
    #[arg(long, env = "GALSYNC_LOG", default_value = "info")]
    log: String,
}

/// A number of seconds at or above 0.
fn parse_delay(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(seconds),
        _ => Err(format!(
            "`{text}` is not a delay: give seconds at or above 0, e.g. 5"
        )),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(args.log.as_str())
        .init();
    let mut latency = match args.latency.as_str() {
        "graph" => LatencyModel::graph(),
        _ => LatencyModel::off(),
    };
    for setting in &args.latency_ops {
        latency.ops.insert(setting.kind, setting.latency);
    }
    let config = EmulatorConfig {
        limits_enabled: !args.no_limits,
        latency,
        app_requests_per_window: args.app_requests_per_10s,
        time_scale: args.time_scale,
        token_lifetime: args.token_lifetime_secs.map(Duration::from_secs),
        replication_delay: Duration::from_secs_f64(args.replication_delay_secs),
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
