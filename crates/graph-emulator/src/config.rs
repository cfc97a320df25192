//! The emulator's settings.

use std::time::Duration;

use crate::{identity, latency};

/// Emulator settings.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Lifetime of issued access tokens; `None` = random 60–90 minutes, as Entra does.
    pub token_lifetime: Option<Duration>,
    /// Enforce Graph's throttling limits (per-mailbox concurrency and rate,
    /// directory resource units).
    pub limits_enabled: bool,
    /// Time scale for throttling windows and Retry-After: 1.0 = real time,
    /// 0.01 = a 10-minute window lasts 6 seconds.
    pub time_scale: f64,
    /// Requests one app may make to one mailbox per window.
    pub mailbox_requests_per_window: u32,
    /// Length of that window at time scale 1.
    pub mailbox_window: Duration,
    /// Requests one app may have in flight to one mailbox.
    pub mailbox_concurrency: u32,
    /// Directory read requests one app may make to one tenant per window.
    pub directory_requests_per_window: u32,
    /// Length of the directory window at time scale 1.
    pub directory_window: Duration,
    /// Requests one app may make across all tenants per app window
    /// (throttling-limits, global limits: 130,000 per 10 seconds).
    pub app_requests_per_window: u32,
    /// Length of the app window at time scale 1.
    pub app_window: Duration,
    /// Modelled Graph latency per kind of operation (off by default; scaled
    /// by `time_scale`, held while the request holds its mailbox slot).
    pub latency: latency::LatencyModel,
    /// How long (at time scale 1) an app, service principal, key credential
    /// or app role grant written through Graph takes to reach the token
    /// endpoint. Scaled by `time_scale`; changeable at run time through
    /// `PUT /_admin/replication-delay`.
    pub replication_delay: Duration,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            token_lifetime: None,
            limits_enabled: true,
            time_scale: 1.0,
            mailbox_requests_per_window: 10_000,
            mailbox_window: Duration::from_secs(600),
            mailbox_concurrency: 4,
            directory_requests_per_window: 3_500,
            directory_window: Duration::from_secs(10),
            app_requests_per_window: 130_000,
            app_window: Duration::from_secs(10),
            latency: latency::LatencyModel::off(),
            replication_delay: identity::replication::DEFAULT_REPLICATION_DELAY,
        }
    }
}

impl EmulatorConfig {
    /// Scales a real-time duration by the time scale.
    pub fn scaled(&self, duration: Duration) -> Duration {
        duration.mul_f64(self.time_scale.max(0.000_001))
    }
}

/// Value parser for a `--time-scale` flag: a number above 0 (clap exits 2
/// naming the flag otherwise).
pub fn parse_time_scale(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale > 0.0 => Ok(scale),
        _ => Err(format!(
            "`{text}` is not a time scale: give a number above 0, e.g. 1 or 0.01"
        )),
    }
}
