//! Process-wide Graph traffic counters for Prometheus: every [`crate::GraphClient`]
//! in the process counts here (whatever [`crate::RequestStats`] a work item
//! gives it), so a service only adds [`render_prometheus`] to its metrics.
//! Counting is a relaxed atomic add into fixed arrays: no lock, no allocation.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What kind of Graph resource a request addressed (the `endpoint` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/$batch`.
    Batch,
    /// `/users/delta`, `…/contacts/delta`: any delta query.
    Delta,
    /// A user's or contact's photo.
    Photo,
    /// Contacts and contact folders in a mailbox.
    Contacts,
    /// `mailboxSettings` (userPurpose).
    MailboxSettings,
    /// `/groups/…` (group members).
    Groups,
    /// `/users…` otherwise (directory reads).
    Users,
    Other,
}

const ENDPOINTS: [Endpoint; 8] = [
    Endpoint::Batch,
    Endpoint::Delta,
    Endpoint::Photo,
    Endpoint::Contacts,
    Endpoint::MailboxSettings,
    Endpoint::Groups,
    Endpoint::Users,
    Endpoint::Other,
];

impl Endpoint {
    /// Classifies a request path (no query string), e.g.
    /// `/v1.0/users/u/contactFolders/f/contacts`.
    pub fn of_path(path: &str) -> Self {
        if path.ends_with("/$batch") {
            Self::Batch
        } else if path.ends_with("/delta") {
            Self::Delta
        } else if path.contains("/photo") {
            Self::Photo
        } else if path.contains("/contactFolders") || path.contains("/contacts") {
            Self::Contacts
        } else if path.contains("/mailboxSettings") {
            Self::MailboxSettings
        } else if path.contains("/groups") {
            Self::Groups
        } else if path.contains("/users") {
            Self::Users
        } else {
            Self::Other
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Batch => "batch",
            Self::Delta => "delta",
            Self::Photo => "photo",
            Self::Contacts => "contacts",
            Self::MailboxSettings => "mailbox_settings",
            Self::Groups => "groups",
            Self::Users => "users",
            Self::Other => "other",
        }
    }
}

/// The `status` label: an HTTP status class, 429 on its own, or no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    Success,
    Redirect,
    ClientError,
    Throttled,
    ServerError,
    /// No (complete) HTTP response: connection refused, reset, timed out.
    Transport,
}

const STATUS_CLASSES: [StatusClass; 6] = [
    StatusClass::Success,
    StatusClass::Redirect,
    StatusClass::ClientError,
    StatusClass::Throttled,
    StatusClass::ServerError,
    StatusClass::Transport,
];

impl StatusClass {
    pub fn of_status(status: u16) -> Self {
        match status {
            429 => Self::Throttled,
            200..=299 => Self::Success,
            300..=399 => Self::Redirect,
            500..=599 => Self::ServerError,
            // 1xx and nonsense are counted with client errors.
            _ => Self::ClientError,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Success => "2xx",
            Self::Redirect => "3xx",
            Self::ClientError => "4xx",
            Self::Throttled => "429",
            Self::ServerError => "5xx",
            Self::Transport => "transport",
        }
    }
}

const N_ENDPOINTS: usize = ENDPOINTS.len();
const N_STATUS: usize = STATUS_CLASSES.len();

/// Counters of Graph traffic; [`traffic`] is the process's.
#[derive(Debug)]
pub struct Traffic {
    requests: [[AtomicU64; N_STATUS]; N_ENDPOINTS],
    sub_responses: [AtomicU64; N_STATUS],
    throttled: AtomicU64,
    retries: AtomicU64,
    wait_retry_after_micros: AtomicU64,
    wait_backoff_micros: AtomicU64,
}

impl Default for Traffic {
    fn default() -> Self {
        Self::new()
    }
}

static TRAFFIC: Traffic = Traffic::new();

/// The process's Graph traffic.
pub fn traffic() -> &'static Traffic {
    &TRAFFIC
}

/// Renders the process's Graph traffic: give it to the service's metrics
/// (`Metrics::add_renderer(galsync_graph::traffic::render_prometheus)`).
pub fn render_prometheus(text: &mut String) {
    TRAFFIC.render(text);
}

impl Traffic {
    pub const fn new() -> Self {
        Self {
            requests: [const { [const { AtomicU64::new(0) }; N_STATUS] }; N_ENDPOINTS],
            sub_responses: [const { AtomicU64::new(0) }; N_STATUS],
            throttled: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            wait_retry_after_micros: AtomicU64::new(0),
            wait_backoff_micros: AtomicU64::new(0),
        }
    }

    /// One HTTP request's outcome (a `$batch` call counts once).
    pub(crate) fn record_request(&self, endpoint: Endpoint, status: StatusClass) {
        if status == StatusClass::Throttled {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        self.requests[endpoint as usize][status as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// One sub-response inside a `$batch` response.
    pub(crate) fn record_sub_response(&self, status: u16) {
        let class = StatusClass::of_status(status);
        if class == StatusClass::Throttled {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        self.sub_responses[class as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A wait before sending `count` requests or sub-requests again.
    pub(crate) fn record_retry_wait(&self, waited: Duration, retry_after_given: bool, count: u64) {
        let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        let counter = if retry_after_given {
            &self.wait_retry_after_micros
        } else {
            &self.wait_backoff_micros
        };
        counter.fetch_add(micros, Ordering::Relaxed);
        self.retries.fetch_add(count, Ordering::Relaxed);
    }

    /// HTTP requests counted for `endpoint` and `status`.
    pub fn requests(&self, endpoint: Endpoint, status: StatusClass) -> u64 {
        self.requests[endpoint as usize][status as usize].load(Ordering::Relaxed)
    }

    /// Responses and batch sub-responses with status 429.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Time waited before retries: as Retry-After said, or backoff.
    pub fn retry_wait(&self, retry_after_given: bool) -> Duration {
        let micros = if retry_after_given {
            &self.wait_retry_after_micros
        } else {
            &self.wait_backoff_micros
        };
        Duration::from_micros(micros.load(Ordering::Relaxed))
    }

    /// Appends the Prometheus families.
    pub fn render(&self, text: &mut String) {
        text.push_str(
            "# HELP galsync_graph_requests_total HTTP requests sent to Microsoft Graph by this process, by endpoint kind and outcome (a $batch call counts once)\n\
             # TYPE galsync_graph_requests_total counter\n",
        );
        for endpoint in ENDPOINTS {
            for status in STATUS_CLASSES {
                let count = self.requests(endpoint, status);
                if count > 0 {
                    let _ = writeln!(
                        text,
                        "galsync_graph_requests_total{{endpoint=\"{}\",status=\"{}\"}} {count}",
                        endpoint.label(),
                        status.label()
                    );
                }
            }
        }
        text.push_str(
            "# HELP galsync_graph_batch_sub_responses_total sub-responses inside Graph $batch responses, by status class\n\
             # TYPE galsync_graph_batch_sub_responses_total counter\n",
        );
        for status in STATUS_CLASSES {
            let count = self.sub_responses[status as usize].load(Ordering::Relaxed);
            if count > 0 {
                let _ = writeln!(
                    text,
                    "galsync_graph_batch_sub_responses_total{{status=\"{}\"}} {count}",
                    status.label()
                );
            }
        }
        let _ = write!(
            text,
            "# HELP galsync_graph_throttled_total responses and batch sub-responses with status 429 (Too Many Requests)\n\
             # TYPE galsync_graph_throttled_total counter\n\
             galsync_graph_throttled_total {}\n\
             # HELP galsync_graph_retries_total requests and batch sub-requests sent again after a failure\n\
             # TYPE galsync_graph_retries_total counter\n\
             galsync_graph_retries_total {}\n\
             # HELP galsync_graph_retry_wait_seconds_total time spent waiting before retries: as Retry-After said, or backoff when Graph gave none\n\
             # TYPE galsync_graph_retry_wait_seconds_total counter\n\
             galsync_graph_retry_wait_seconds_total{{reason=\"retry_after\"}} {}\n\
             galsync_graph_retry_wait_seconds_total{{reason=\"backoff\"}} {}\n",
            self.throttled(),
            self.retries.load(Ordering::Relaxed),
            seconds(&self.wait_retry_after_micros),
            seconds(&self.wait_backoff_micros),
        );
    }
}

fn seconds(micros: &AtomicU64) -> f64 {
    micros.load(Ordering::Relaxed) as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths_and_statuses() {
        assert_eq!(Endpoint::of_path("/v1.0/$batch"), Endpoint::Batch);
        assert_eq!(Endpoint::of_path("/v1.0/users/delta"), Endpoint::Delta);
        assert_eq!(
            Endpoint::of_path("/v1.0/users/u/contactFolders/f/contacts/delta"),
            Endpoint::Delta
        );
        assert_eq!(
            Endpoint::of_path("/v1.0/users/u/photo/$value"),
            Endpoint::Photo
        );
        assert_eq!(
            Endpoint::of_path("/v1.0/users/u/contactFolders/f/contacts"),
            Endpoint::Contacts
        );
        assert_eq!(
            Endpoint::of_path("/v1.0/users/u/mailboxSettings/userPurpose"),
            Endpoint::MailboxSettings
        );
        assert_eq!(
            Endpoint::of_path("/v1.0/groups/g/transitiveMembers/microsoft.graph.user"),
            Endpoint::Groups
        );
        assert_eq!(Endpoint::of_path("/v1.0/users"), Endpoint::Users);
        assert_eq!(Endpoint::of_path("/v1.0/organization"), Endpoint::Other);
        assert_eq!(StatusClass::of_status(204), StatusClass::Success);
        assert_eq!(StatusClass::of_status(429), StatusClass::Throttled);
        assert_eq!(StatusClass::of_status(404), StatusClass::ClientError);
        assert_eq!(StatusClass::of_status(503), StatusClass::ServerError);
    }

    #[test]
    fn renders_only_seen_label_sets() {
        let traffic = Traffic::new();
        traffic.record_request(Endpoint::Batch, StatusClass::Success);
        traffic.record_request(Endpoint::Batch, StatusClass::Throttled);
        traffic.record_request(Endpoint::Users, StatusClass::Transport);
        traffic.record_sub_response(429);
        traffic.record_sub_response(201);
        traffic.record_retry_wait(Duration::from_millis(1500), true, 3);
        let mut text = String::new();
        traffic.render(&mut text);
        assert!(
            text.contains("galsync_graph_requests_total{endpoint=\"batch\",status=\"2xx\"} 1\n")
        );
        assert!(
            text.contains("galsync_graph_requests_total{endpoint=\"batch\",status=\"429\"} 1\n")
        );
        assert!(text
            .contains("galsync_graph_requests_total{endpoint=\"users\",status=\"transport\"} 1\n"));
        assert!(!text.contains("endpoint=\"photo\""));
        assert!(text.contains("galsync_graph_batch_sub_responses_total{status=\"429\"} 1\n"));
        assert!(text.contains("galsync_graph_throttled_total 2\n"));
        assert!(text.contains("galsync_graph_retries_total 3\n"));
        assert!(
            text.contains("galsync_graph_retry_wait_seconds_total{reason=\"retry_after\"} 1.5\n")
        );
        assert!(text.contains("galsync_graph_retry_wait_seconds_total{reason=\"backoff\"} 0\n"));
        assert_eq!(
            text.matches("# TYPE galsync_graph_requests_total counter")
                .count(),
            1
        );
    }
}
