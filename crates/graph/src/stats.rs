//! Request accounting shared between a [`crate::GraphClient`] and whoever
//! reports on it (work item counts, metrics).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const STATUS_SLOTS: usize = 600;

/// Atomic counters of Graph traffic. Cheap to share (`Arc`) and to update from
/// many tasks at once.
#[derive(Debug)]
pub struct RequestStats {
    requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    connection_errors: AtomicU64,
    auth_retries: AtomicU64,
    batch_sub_requests: AtomicU64,
    wait_micros: AtomicU64,
    by_status: Box<[AtomicU64]>,
}

/// A point-in-time copy of [`RequestStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestStatsSnapshot {
    /// HTTP requests sent to Graph (a `$batch` call counts once).
    pub requests: u64,
    /// Requests and batch sub-requests sent again after a failure.
    pub retries: u64,
    /// Responses (and batch sub-responses) with status 429.
    pub throttled: u64,
    /// Requests that failed without an HTTP response.
    pub connection_errors: u64,
    /// Requests repeated with a fresh token after a 401/403.
    pub auth_retries: u64,
    /// Sub-requests carried inside `$batch` calls.
    pub batch_sub_requests: u64,
    /// Time spent waiting before retries.
    pub waited: Duration,
    /// Responses per HTTP status (batch sub-responses included).
    pub by_status: BTreeMap<u16, u64>,
}

impl Default for RequestStats {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestStats {
    pub fn new() -> Self {
        let by_status = (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect();
        Self {
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            connection_errors: AtomicU64::new(0),
            auth_retries: AtomicU64::new(0),
            batch_sub_requests: AtomicU64::new(0),
            wait_micros: AtomicU64::new(0),
            by_status,
        }
    }

    pub fn snapshot(&self) -> RequestStatsSnapshot {
        let mut by_status = BTreeMap::new();
        for (status, counter) in self.by_status.iter().enumerate() {
            let count = counter.load(Ordering::Relaxed);
            if count > 0 {
                by_status.insert(status as u16, count);
            }
        }
        RequestStatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            connection_errors: self.connection_errors.load(Ordering::Relaxed),
            auth_retries: self.auth_retries.load(Ordering::Relaxed),
            batch_sub_requests: self.batch_sub_requests.load(Ordering::Relaxed),
            waited: Duration::from_micros(self.wait_micros.load(Ordering::Relaxed)),
            by_status,
        }
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    pub(crate) fn record_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_retries(&self, count: u64) {
        self.retries.fetch_add(count, Ordering::Relaxed);
    }

    pub(crate) fn record_connection_error(&self) {
        self.connection_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_auth_retry(&self) {
        self.auth_retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_batch_sub_requests(&self, count: u64) {
        self.batch_sub_requests.fetch_add(count, Ordering::Relaxed);
    }

    pub(crate) fn record_wait(&self, waited: Duration) {
        let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        self.wait_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts a response (or batch sub-response) status.
    pub(crate) fn record_status(&self, status: u16) {
        if status == 429 {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(counter) = self.by_status.get(usize::from(status)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}
