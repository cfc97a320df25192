//! The gate that `$batch` calls running side by side share, so that a
//! throttle of the whole app stops them all.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::BatchResponse;
use crate::error::ApiError;

/// Shared by `$batch` calls that run side by side: when Graph throttles the
/// app as a whole (a 429 that names no mailbox limit, see
/// [`ApiError::is_app_wide_throttle`]) in one of them, none of them calls
/// Graph again — first call or retry — before that `Retry-After` has passed
/// (throttling: "wait the number of seconds specified in the Retry-After
/// header before retrying"). Without it, the calls still in flight would keep
/// starting new batches inside the wait and meet 429 after 429. When the wait
/// is over the calls go one at a time until one is answered without such a
/// throttle, so the calls that waited do not all reach Graph at once.
#[derive(Debug, Clone, Default)]
pub struct BatchGate {
    not_before: Arc<Mutex<Option<Instant>>>,
    /// Set by a hold, cleared by the first call through `probe` that Graph
    /// answers without throttling the app.
    recovering: Arc<AtomicBool>,
    probe: Arc<tokio::sync::Mutex<()>>,
}

impl BatchGate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Holds every call behind the gate for `wait` from now; a longer hold
    /// already in place is kept.
    pub fn hold_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut not_before = self
            .not_before
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if not_before.is_none_or(|current| current < until) {
            *not_before = Some(until);
        }
        self.recovering.store(true, Ordering::SeqCst);
    }

    /// Waits until this call may go: the hold has passed and, while the gate
    /// recovers from a hold, no other call is on its way. The guard, when
    /// given, is kept until the call's answer is known.
    pub(super) async fn enter(
        &self,
        sleeper: &dyn crate::retry::Sleeper,
    ) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let held = self.wait_left();
        if !held.is_zero() {
            sleeper.sleep(held).await;
        }
        if !self.recovering.load(Ordering::SeqCst) {
            return None;
        }
        let guard = self.probe.clone().lock_owned().await;
        let held = self.wait_left();
        if !held.is_zero() {
            sleeper.sleep(held).await;
        }
        Some(guard)
    }

    /// Graph answered a call through the gate without throttling the app:
    /// the gate is open to every call again.
    pub(super) fn recovered(&self) {
        self.recovering.store(false, Ordering::SeqCst);
    }

    /// How long a call must still wait; zero when the gate is open.
    pub fn wait_left(&self) -> Duration {
        let not_before = self
            .not_before
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        not_before.map_or(Duration::ZERO, |until| {
            until.saturating_duration_since(Instant::now())
        })
    }
}

/// Holds `gate` for the longest `Retry-After` among the sub-responses just
/// received that throttle the app as a whole; true when there was one.
pub(super) fn hold_for_app_wide_throttle(
    gate: &BatchGate,
    latest: &[Option<BatchResponse>],
    pending: &[usize],
) -> bool {
    let longest = pending
        .iter()
        .filter_map(|index| latest[*index].as_ref()?.api_error())
        .filter(ApiError::is_app_wide_throttle)
        .filter_map(|error| error.retry_after)
        .max();
    if let Some(wait) = longest {
        gate.hold_for(wait);
        return true;
    }
    false
}
