//! The floor: the least wall time any client could need for a sync scenario
//! under this emulator's limits and latencies. A benchmark divides what
//! galsync took by it; 1.0 would be a perfect client.
//!
//! The floor is the directory read (delta pages follow one another, each a
//! directory-page latency) and then the slowest of three bounds, which all
//! hold at once (throttling-limits: "the first limit to be reached triggers
//! throttling behavior"):
//! - per-mailbox concurrency: a mailbox runs at most `mailbox_concurrency`
//!   requests at once, so its requests take at least Σ latency ÷ concurrency,
//!   after its folder is found or made (one folder request first);
//! - per-mailbox window: at most `mailbox_requests_per_window` requests per
//!   mailbox per window;
//! - the app-wide limit: at most `app_requests_per_window` requests per
//!   window, counting every `$batch` step and envelope (the least requests a
//!   client can make: full batches of 20).
//!
//! Mean latencies are used (a long chain of draws costs its mean per draw),
//! and everything is scaled by the time scale, like the emulator's waits.

use serde::{Deserialize, Serialize};

use crate::latency::OpKind;
use crate::EmulatorConfig;

/// Graph's largest `$batch` (json-batching: "limited to 20 individual requests").
const BATCH_LIMIT: u64 = 20;

/// What a sync has to do.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Users the directory read returns.
    pub users: u64,
    /// Users per delta page the client asks for (`Prefer: odata.maxpagesize`,
    /// at most the 200 a delta page holds).
    #[serde(default = "default_page_size")]
    pub directory_page_size: u64,
    /// Target mailboxes.
    pub mailboxes: u64,
    #[serde(default)]
    pub creates_per_mailbox: u64,
    #[serde(default)]
    pub updates_per_mailbox: u64,
    #[serde(default)]
    pub deletes_per_mailbox: u64,
    /// Contact reads or contact pages per mailbox.
    #[serde(default)]
    pub reads_per_mailbox: u64,
    /// Folder requests per mailbox before its contacts (finding or making the folder).
    #[serde(default = "one")]
    pub folder_requests_per_mailbox: u64,
}

fn default_page_size() -> u64 {
    crate::directory::delta::MAX_DELTA_PAGE_SIZE as u64
}

fn one() -> u64 {
    1
}

/// The floor of a scenario and what makes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Floor {
    /// The least wall time, at this emulator's time scale.
    pub floor_secs: f64,
    /// The same at real time (time scale 1).
    pub floor_secs_real_time: f64,
    /// Which bound is the largest: `per-mailbox concurrency`, `per-mailbox
    /// window` or `app-wide limit`; `directory read` when no mailbox work binds.
    pub binding: String,
    pub directory_secs: f64,
    pub mailbox_concurrency_secs: f64,
    pub mailbox_window_secs: f64,
    pub app_limit_secs: f64,
    /// The least Graph requests (batch envelopes and steps each count).
    pub min_requests: u64,
    /// The least HTTP round trips (a full batch is one).
    pub min_round_trips: u64,
}

impl Scenario {
    /// A delta round of `users` users and nothing else: add the mailbox work
    /// with struct update syntax.
    pub fn directory_round(users: u64) -> Self {
        Self {
            users,
            directory_page_size: default_page_size(),
            mailboxes: 0,
            creates_per_mailbox: 0,
            updates_per_mailbox: 0,
            deletes_per_mailbox: 0,
            reads_per_mailbox: 0,
            folder_requests_per_mailbox: 0,
        }
    }

    fn mailbox_steps(&self) -> u64 {
        self.creates_per_mailbox
            + self.updates_per_mailbox
            + self.deletes_per_mailbox
            + self.reads_per_mailbox
    }

    /// The floor under `config`'s latencies and limits.
    pub fn floor(&self, config: &EmulatorConfig) -> Floor {
        let latency = &config.latency;
        let pages = self
            .users
            .div_ceil(
                self.directory_page_size
                    .clamp(1, crate::directory::delta::MAX_DELTA_PAGE_SIZE as u64),
            )
            .max(1);
        let directory = latency.mean(OpKind::DirectoryPage).as_secs_f64() * pages as f64;

        let steps = self.mailbox_steps();
        let busy: f64 = [
            (OpKind::ContactCreate, self.creates_per_mailbox),
            (OpKind::ContactUpdate, self.updates_per_mailbox),
            (OpKind::ContactDelete, self.deletes_per_mailbox),
            (OpKind::ContactRead, self.reads_per_mailbox),
        ]
        .iter()
        .map(|(kind, count)| latency.mean(*kind).as_secs_f64() * *count as f64)
        .sum();
        let folder =
            latency.mean(OpKind::Folder).as_secs_f64() * self.folder_requests_per_mailbox as f64;
        let concurrency = f64::from(config.mailbox_concurrency.max(1));
        let mailbox_concurrency = if self.mailboxes == 0 {
            0.0
        } else {
            folder + busy / concurrency
        };

        let per_mailbox_requests = self.folder_requests_per_mailbox + steps;
        let mailbox_window = if config.limits_enabled && self.mailboxes > 0 {
            windows_beyond_first(per_mailbox_requests, config.mailbox_requests_per_window)
                * config.mailbox_window.as_secs_f64()
        } else {
            0.0
        };

        let envelopes = steps.div_ceil(BATCH_LIMIT);
        let min_requests =
            pages + self.mailboxes * (self.folder_requests_per_mailbox + steps + envelopes);
        let min_round_trips =
            pages + self.mailboxes * (self.folder_requests_per_mailbox + envelopes);
        let app_limit = if config.limits_enabled {
            windows_beyond_first(min_requests, config.app_requests_per_window)
                * config.app_window.as_secs_f64()
        } else {
            0.0
        };

        let bounds = [
            ("per-mailbox concurrency", mailbox_concurrency),
            ("per-mailbox window", mailbox_window),
            ("app-wide limit", app_limit),
        ];
        let (binding, slowest) =
            bounds
                .iter()
                .copied()
                .fold(("directory read", 0.0), |best, bound| {
                    if bound.1 > best.1 {
                        bound
                    } else {
                        best
                    }
                });
        let real_time = directory + slowest;
        let scale = config.time_scale.max(0.000_001);
        Floor {
            floor_secs: real_time * scale,
            floor_secs_real_time: real_time,
            binding: binding.to_owned(),
            directory_secs: directory * scale,
            mailbox_concurrency_secs: mailbox_concurrency * scale,
            mailbox_window_secs: mailbox_window * scale,
            app_limit_secs: app_limit * scale,
            min_requests,
            min_round_trips,
        }
    }
}

/// Whole windows a client must wait through to make `requests` when a window
/// admits `per_window` (the first window's share goes at once).
fn windows_beyond_first(requests: u64, per_window: u32) -> f64 {
    let per_window = u64::from(per_window.max(1));
    requests.div_ceil(per_window).saturating_sub(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::LatencyModel;

    fn graph() -> EmulatorConfig {
        EmulatorConfig {
            latency: LatencyModel::graph(),
            ..EmulatorConfig::default()
        }
    }

    #[test]
    fn a_thousand_mailboxes_are_bound_by_the_app_wide_limit() {
        // The arithmetic: 2,000 contacts into 1,000 mailboxes is
        // about 2.5 minutes at Graph, because of the app-wide limit.
        let scenario = Scenario {
            users: 2_000,
            directory_page_size: 200,
            mailboxes: 1_000,
            creates_per_mailbox: 2_000,
            updates_per_mailbox: 0,
            deletes_per_mailbox: 0,
            reads_per_mailbox: 0,
            folder_requests_per_mailbox: 1,
        };
        let floor = scenario.floor(&graph());
        assert_eq!(floor.binding, "app-wide limit");
        assert_eq!(floor.min_requests, 10 + 1_000 * (1 + 2_000 + 100));
        assert_eq!(floor.app_limit_secs, 160.0);
        assert!(
            (150.0..175.0).contains(&floor.floor_secs),
            "{}",
            floor.floor_secs
        );
        // One mailbox alone is bound by its 4 slots: 2,000 × ~130 ms ÷ 4.
        let one = Scenario {
            mailboxes: 1,
            ..scenario
        }
        .floor(&graph());
        assert_eq!(one.binding, "per-mailbox concurrency");
        assert!((60.0..75.0).contains(&one.floor_secs), "{}", one.floor_secs);
    }

    #[test]
    fn time_scale_shrinks_the_floor_and_no_latency_leaves_only_the_limits() {
        let scenario = Scenario {
            users: 50,
            directory_page_size: 999,
            mailboxes: 2,
            creates_per_mailbox: 25_000,
            updates_per_mailbox: 0,
            deletes_per_mailbox: 0,
            reads_per_mailbox: 0,
            folder_requests_per_mailbox: 1,
        };
        let scaled = scenario.floor(&EmulatorConfig {
            time_scale: 0.01,
            ..graph()
        });
        let real = scenario.floor(&graph());
        assert!((scaled.floor_secs - real.floor_secs / 100.0).abs() < 1e-6);
        assert_eq!(scaled.floor_secs_real_time, real.floor_secs);
        let unmodelled = scenario.floor(&EmulatorConfig::default());
        // 25,001 requests per mailbox at 10,000 per 10 minutes: two whole windows.
        assert_eq!(unmodelled.binding, "per-mailbox window");
        assert_eq!(unmodelled.floor_secs, 1_200.0);
    }
}
