//! Graph's latency, modelled: every request waits a time drawn from a
//! log-normal distribution for its kind of operation, scaled by the time
//! scale, while it holds its mailbox's concurrency slot — so a client meets
//! the same arithmetic it meets at Graph (4 requests in flight per mailbox ×
//! the write latency is a mailbox's best speed).
//!
//! Microsoft publishes limits, not latencies. The defaults of
//! [`LatencyModel::graph`] are the figures this project models Exchange
//! Online with (a contact write takes on the order of 100 ms; reads are
//! cheaper, directory pages of up to 999 users dearer), written down in
//! docs/performance.md; each can be changed with `--latency-op`.
//!
//! Off by default in the library (tests measure behaviour, not waiting);
//! `galsync-graph-emulator --latency graph` and the benchmark turn it on.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use serde::Serialize;

/// The z-score of the 99th percentile of a standard normal distribution.
const Z_P99: f64 = 2.326_347_874;

/// What kind of Graph operation a request is, for its latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    ContactCreate,
    ContactUpdate,
    ContactDelete,
    /// A contact read, a contacts page or a contacts delta page.
    ContactRead,
    /// Getting, listing, creating or deleting a contact folder.
    Folder,
    /// A page of `/users`, `/groups`, members, or their delta.
    DirectoryPage,
    /// A user's mailbox settings, or one of them (`userPurpose`): one small
    /// read of one mailbox, modelled like a contact read.
    MailboxSettings,
    /// A user's or contact's photo, read or written.
    Photo,
    /// A token from the identity platform.
    Token,
}

impl OpKind {
    pub const ALL: [OpKind; 9] = [
        OpKind::ContactCreate,
        OpKind::ContactUpdate,
        OpKind::ContactDelete,
        OpKind::ContactRead,
        OpKind::Folder,
        OpKind::DirectoryPage,
        OpKind::MailboxSettings,
        OpKind::Photo,
        OpKind::Token,
    ];

    /// The kind of a request, from its method and path template (as
    /// [`crate::accounting::classify`] makes it); `None` for a `$batch`
    /// envelope (its steps carry their own latency) and anything else that
    /// is not a modelled Graph call.
    pub fn of(method: &str, template: &str) -> Option<OpKind> {
        if template.ends_with("/oauth2/v2.0/token") {
            return Some(OpKind::Token);
        }
        if template.contains("$batch") || template.starts_with("/_admin") {
            return None;
        }
        if template.contains("/photo") {
            return Some(OpKind::Photo);
        }
        if template.contains("/contacts") {
            return Some(match method {
                "POST" => OpKind::ContactCreate,
                "PATCH" | "PUT" => OpKind::ContactUpdate,
                "DELETE" => OpKind::ContactDelete,
                _ => OpKind::ContactRead,
            });
        }
        if template.contains("/contactFolders") || template.contains("/childFolders") {
            return Some(OpKind::Folder);
        }
        if template.contains("/mailboxSettings") {
            return Some(OpKind::MailboxSettings);
        }
        if template.starts_with("/users") || template.starts_with("/groups") {
            return Some(OpKind::DirectoryPage);
        }
        None
    }

    pub fn name(self) -> &'static str {
        match self {
            OpKind::ContactCreate => "contact-create",
            OpKind::ContactUpdate => "contact-update",
            OpKind::ContactDelete => "contact-delete",
            OpKind::ContactRead => "contact-read",
            OpKind::Folder => "folder",
            OpKind::DirectoryPage => "directory-page",
            OpKind::MailboxSettings => "mailbox-settings",
            OpKind::Photo => "photo",
            OpKind::Token => "token",
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for OpKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        OpKind::ALL
            .into_iter()
            .find(|kind| kind.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = OpKind::ALL.iter().map(|kind| kind.name()).collect();
                format!(
                    "`{text}` is not an operation kind: use one of {}",
                    names.join(", ")
                )
            })
    }
}

/// A log-normal latency given by its median and 99th percentile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LogNormal {
    #[serde(rename = "median_ms", serialize_with = "millis")]
    pub median: Duration,
    #[serde(rename = "p99_ms", serialize_with = "millis")]
    pub p99: Duration,
}

fn millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64() * 1000.0)
}

impl LogNormal {
    pub fn new(median: Duration, p99: Duration) -> Result<Self, String> {
        if median.is_zero() || p99 < median {
            return Err(format!(
                "a latency needs a median above 0 and a p99 at least the median (got {} ms and {} ms)",
                median.as_millis(),
                p99.as_millis()
            ));
        }
        Ok(Self { median, p99 })
    }

    fn from_millis(median: u64, p99: u64) -> Self {
        Self {
            median: Duration::from_millis(median),
            p99: Duration::from_millis(p99),
        }
    }

    fn sigma(&self) -> f64 {
        (self.p99.as_secs_f64() / self.median.as_secs_f64()).ln() / Z_P99
    }

    /// The mean: what a long chain of these requests costs per request.
    pub fn mean(&self) -> Duration {
        let sigma = self.sigma();
        self.median.mul_f64((sigma * sigma / 2.0).exp())
    }

    /// One draw.
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        // Box–Muller: a standard normal from two uniforms in (0, 1].
        let u1: f64 = 1.0 - rng.gen::<f64>();
        let u2: f64 = rng.gen::<f64>();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        self.median.mul_f64((self.sigma() * z).exp())
    }
}

/// Latency per kind of operation; a kind without an entry answers at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LatencyModel {
    pub ops: BTreeMap<OpKind, LogNormal>,
}

impl LatencyModel {
    /// No modelled latency: every request answers as fast as the machine can.
    pub fn off() -> Self {
        Self::default()
    }

    /// The modelled Microsoft 365 latencies (docs/performance.md, "The cost model").
    pub fn graph() -> Self {
        let ops = [
            (OpKind::ContactCreate, LogNormal::from_millis(100, 400)),
            (OpKind::ContactUpdate, LogNormal::from_millis(90, 350)),
            (OpKind::ContactDelete, LogNormal::from_millis(70, 300)),
            (OpKind::ContactRead, LogNormal::from_millis(60, 250)),
            (OpKind::Folder, LogNormal::from_millis(120, 500)),
            (OpKind::DirectoryPage, LogNormal::from_millis(250, 1000)),
            (OpKind::MailboxSettings, LogNormal::from_millis(60, 250)),
            (OpKind::Photo, LogNormal::from_millis(150, 600)),
            (OpKind::Token, LogNormal::from_millis(80, 300)),
        ];
        Self {
            ops: ops.into_iter().collect(),
        }
    }

    pub fn is_off(&self) -> bool {
        self.ops.is_empty()
    }

    /// The latency of `kind`, if it has one.
    pub fn of(&self, kind: OpKind) -> Option<&LogNormal> {
        self.ops.get(&kind)
    }

    /// The mean latency of `kind` (zero without one).
    pub fn mean(&self, kind: OpKind) -> Duration {
        self.of(kind).map(LogNormal::mean).unwrap_or_default()
    }

    /// A draw for a request of `method` on `template`, before time scaling.
    pub fn draw(&self, method: &str, template: &str) -> Duration {
        match OpKind::of(method, template).and_then(|kind| self.of(kind)) {
            Some(latency) => latency.sample(&mut rand::thread_rng()),
            None => Duration::ZERO,
        }
    }
}

/// One `--latency-op KIND=MEDIAN_MS:P99_MS` setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyOverride {
    pub kind: OpKind,
    pub latency: LogNormal,
}

impl FromStr for LatencyOverride {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage =
            || format!("`{text}` is not KIND=MEDIAN_MS:P99_MS, e.g. contact-create=100:400");
        let (kind, figures) = text.split_once('=').ok_or_else(usage)?;
        let (median, p99) = figures.split_once(':').ok_or_else(usage)?;
        let kind: OpKind = kind.trim().parse()?;
        let median: u64 = median.trim().parse().map_err(|_| usage())?;
        let p99: u64 = p99.trim().parse().map_err(|_| usage())?;
        let latency = LogNormal::new(Duration::from_millis(median), Duration::from_millis(p99))?;
        Ok(Self { kind, latency })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_method_and_path() {
        let contact = "/users/{id}/contactFolders/{id}/contacts";
        assert_eq!(OpKind::of("POST", contact), Some(OpKind::ContactCreate));
        assert_eq!(
            OpKind::of("PATCH", "/users/{id}/contactFolders/{id}/contacts/{id}"),
            Some(OpKind::ContactUpdate)
        );
        assert_eq!(OpKind::of("GET", contact), Some(OpKind::ContactRead));
        assert_eq!(
            OpKind::of("GET", "/users/{id}/contactFolders"),
            Some(OpKind::Folder)
        );
        assert_eq!(
            OpKind::of("GET", "/users/delta"),
            Some(OpKind::DirectoryPage)
        );
        assert_eq!(
            OpKind::of("GET", "/users/{id}/mailboxSettings/userPurpose"),
            Some(OpKind::MailboxSettings)
        );
        assert_eq!(
            OpKind::of(
                "PUT",
                "/users/{id}/contactFolders/{id}/contacts/{id}/photo/$value"
            ),
            Some(OpKind::Photo)
        );
        assert_eq!(OpKind::of("POST", "/$batch"), None);
    }

    #[test]
    fn draws_have_the_configured_median_and_p99() {
        let latency = LogNormal::from_millis(100, 400);
        let mut rng = rand::thread_rng();
        let mut draws: Vec<Duration> = (0..20_000).map(|_| latency.sample(&mut rng)).collect();
        draws.sort();
        let median = draws[draws.len() / 2].as_secs_f64() * 1000.0;
        let p99 = draws[draws.len() * 99 / 100].as_secs_f64() * 1000.0;
        assert!((90.0..110.0).contains(&median), "median {median} ms");
        assert!((340.0..470.0).contains(&p99), "p99 {p99} ms");
        let mean = latency.mean().as_secs_f64() * 1000.0;
        let drawn_mean =
            draws.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / draws.len() as f64;
        assert!(
            (drawn_mean / mean - 1.0).abs() < 0.06,
            "{drawn_mean} vs {mean}"
        );
    }

    #[test]
    fn overrides_parse_and_bad_ones_say_the_form() {
        let parsed: LatencyOverride = "contact-update=50:200".parse().expect("valid");
        assert_eq!(parsed.kind, OpKind::ContactUpdate);
        assert_eq!(parsed.latency.median, Duration::from_millis(50));
        let error = "contact-write=1:2".parse::<LatencyOverride>().unwrap_err();
        assert!(error.contains("contact-create"), "{error}");
        let error = "contact-create=100".parse::<LatencyOverride>().unwrap_err();
        assert!(error.contains("KIND=MEDIAN_MS:P99_MS"), "{error}");
        let error = "contact-create=100:50"
            .parse::<LatencyOverride>()
            .unwrap_err();
        assert!(error.contains("p99"), "{error}");
    }
}
