//! Per-mailbox pacing: at most `in_flight` Graph requests at once (a batch's
//! sub-requests count, up to the 4 Graph runs in parallel), at most
//! `requests_per_window` per sliding window (Graph's documented budget), and
//! nothing before a `Retry-After` has elapsed. The window counts a request
//! from when its response arrived (never earlier than Graph admitted it), so
//! a slot frees here no sooner than it frees at Graph: a long sync runs at
//! the limit without being throttled.
//!
//! When Graph throttles anyway (a stricter limit than configured, another
//! writer on the same budget), the mailbox waits exactly the Retry-After
//! (throttling: "Wait the number of seconds specified in the Retry-After
//! field", <https://learn.microsoft.com/graph/throttling>) and then sends
//! slower for a while: at the rate it had been sending at, cut by half the
//! share of the call Graph refused (at most halved), as a learned limit of
//! so many requests per Retry-After. Three rules keep that from stalling a run:
//! - one throttling event cuts the rate once: the answers to requests sent
//!   before the last cut (the batches in flight) belong to the event already
//!   answered for, and a batch's 429 steps are one event;
//! - the learned limit counts over a horizon as long as the Retry-After that
//!   set it (or as long as one call takes at the learned rate, when a call
//!   is larger than the limit per Retry-After), never over the configured
//!   window: it spaces calls out, it never stops a mailbox for minutes after
//!   Graph's Retry-After has passed;
//! - it doubles after every horizon sent through without a new throttle, and
//!   is dropped once it allows the rate sent at before the throttling (or
//!   the whole configured budget in one horizon), so it recovers as fast as
//!   it was cut and never outlives the throttling.
//!
//! Server errors (5xx) are not throttling: their Retry-After is honoured
//! ([`MailboxPacer::pause`]) but they never cut the rate.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// How hard one mailbox may be driven.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacingConfig {
    pub requests_per_window: u32,
    pub window: Duration,
    pub in_flight: u32,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            requests_per_window: 10_000,
            window: Duration::from_secs(600),
            in_flight: 4,
        }
    }
}

/// Shortest horizon a learned limit counts over (a Retry-After of 0).
const MIN_HORIZON: Duration = Duration::from_millis(1);

/// A rate learned from throttling: at most `requests` per `horizon`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearnedLimit {
    pub requests: u32,
    pub horizon: Duration,
    /// From when the limit applies unchanged (the end of the Retry-After
    /// that set it, or its last doubling).
    since: Instant,
    /// Requests per second the mailbox was sent at before the first cut of
    /// this episode: once the limit allows as much again it is dropped.
    rate_before_throttling: f64,
}

impl LearnedLimit {
    fn rate(&self) -> f64 {
        f64::from(self.requests) / self.horizon.as_secs_f64()
    }
}

/// A finished call.
#[derive(Debug, Clone, Copy)]
struct Answered {
    sent_at: Instant,
    completed_at: Instant,
    requests: u32,
}

/// Recent calls the sending rate is measured over when Graph throttles.
const RATE_SAMPLE_CALLS: usize = 16;

#[derive(Debug)]
struct WindowState {
    /// Finished calls still in the window, oldest first.
    completed: VecDeque<Answered>,
    /// Requests sent and not yet answered.
    outstanding: u32,
    /// Nothing may be sent before this (the latest Retry-After).
    not_before: Option<Instant>,
    /// When sending last resumed after a Retry-After (or started).
    resumed_at: Instant,
    /// The rate learned from the latest throttling, while it is in force.
    learned: Option<LearnedLimit>,
    /// When the rate was last cut.
    last_cut: Option<Instant>,
    /// Cuts so far (for logs and tests).
    cuts: u32,
}

/// The pacer of one mailbox, shared by every task writing to it.
#[derive(Debug)]
pub struct MailboxPacer {
    config: PacingConfig,
    slots: Arc<Semaphore>,
    window: Mutex<WindowState>,
}

/// Graph refused `refused` requests of a call with 429; the longest
/// Retry-After among them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttled {
    pub refused: u32,
    pub retry_after: Duration,
}

/// Permission to send `requests` requests; give it back with [`MailboxPacer::finish`].
#[derive(Debug)]
pub struct Permit {
    requests: u32,
    sent_at: Instant,
    _slots: OwnedSemaphorePermit,
}

impl MailboxPacer {
    pub fn new(config: PacingConfig) -> Self {
        Self {
            config,
            slots: Arc::new(Semaphore::new(config.in_flight.max(1) as usize)),
            window: Mutex::new(WindowState {
                completed: VecDeque::new(),
                outstanding: 0,
                not_before: None,
                resumed_at: Instant::now(),
                learned: None,
                last_cut: None,
                cuts: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WindowState> {
        self.window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Requests the mailbox may have in flight at once.
    pub fn in_flight(&self) -> u32 {
        self.config.in_flight.max(1)
    }

    /// Whether Graph is throttling the mailbox: a Retry-After still running
    /// or a rate learned from throttling still in force.
    pub fn is_throttled(&self) -> bool {
        let mut state = self.lock();
        let now = Instant::now();
        self.prune(&mut state, now);
        state.learned.is_some() || state.not_before.is_some_and(|until| until > now)
    }

    /// The learned limit in force, if throttling taught one.
    pub fn learned_limit(&self) -> Option<LearnedLimit> {
        let mut state = self.lock();
        self.prune(&mut state, Instant::now());
        state.learned
    }

    /// Times throttling cut the rate so far.
    pub fn cuts(&self) -> u32 {
        self.lock().cuts
    }

    /// Waits until `requests` requests (one call, or one batch's sub-requests
    /// that Graph may run side by side) may be sent, and reserves them.
    pub async fn acquire(&self, requests: u32) -> Permit {
        self.acquire_running(requests, requests).await
    }

    /// Waits until `requests` requests of which at most `at_once` run at the
    /// same time (a batch whose steps each wait for the one before runs one
    /// at a time) may be sent, and reserves them.
    pub async fn acquire_running(&self, requests: u32, at_once: u32) -> Permit {
        let parallel = at_once.clamp(1, self.config.in_flight.max(1));
        // The semaphore is never closed, so acquiring cannot fail.
        let slots = match Arc::clone(&self.slots).acquire_many_owned(parallel).await {
            Ok(permit) => permit,
            Err(_) => unreachable_closed(),
        };
        loop {
            let (wait_until, for_retry_after) = {
                let mut state = self.lock();
                let now = Instant::now();
                self.prune(&mut state, now);
                let for_retry_after = state.not_before.is_some_and(|until| until > now);
                (self.admit(&mut state, now, requests), for_retry_after)
            };
            match wait_until {
                None => {
                    return Permit {
                        requests,
                        sent_at: Instant::now(),
                        _slots: slots,
                    }
                }
                Some(instant) => {
                    let started = Instant::now();
                    tokio::time::sleep_until(instant).await;
                    crate::metrics::count_pacing_wait(started.elapsed(), for_retry_after);
                }
            }
        }
    }

    /// Reserves `requests` now, or says until when to wait.
    fn admit(&self, state: &mut WindowState, now: Instant, requests: u32) -> Option<Instant> {
        if let Some(not_before) = state.not_before {
            if not_before > now {
                return Some(not_before);
            }
            state.not_before = None;
            state.resumed_at = now;
        }
        let configured = self.config.requests_per_window.max(1);
        let used = completed_since(state, None);
        let wanted = requests.min(configured);
        if used + state.outstanding + wanted > configured {
            return Some(self.next_release(state, self.config.window, now));
        }
        if let Some(learned) = state.learned {
            // A call larger than the limit allows per horizon is spread over
            // as many horizons as it needs at the learned rate.
            let horizon = learned
                .horizon
                .max(Duration::from_secs_f64(
                    f64::from(requests) / learned.rate(),
                ))
                .min(self.config.window);
            let allowed = (learned.rate() * horizon.as_secs_f64()).ceil() as u32;
            let recent = completed_since(state, now.checked_sub(horizon));
            let wanted = requests.min(allowed.max(1));
            if recent + state.outstanding + wanted > allowed.max(1) {
                return Some(self.next_release_within(state, horizon, now));
            }
        }
        state.outstanding += requests;
        None
    }

    /// Records that the requests of `permit` were answered; `throttled` says
    /// how many Graph refused with 429 and the longest Retry-After among them.
    pub fn finish(&self, permit: Permit, throttled: Option<Throttled>) {
        let mut state = self.lock();
        let now = Instant::now();
        state.outstanding = state.outstanding.saturating_sub(permit.requests);
        state.completed.push_back(Answered {
            sent_at: permit.sent_at,
            completed_at: now,
            requests: permit.requests,
        });
        let Some(throttled) = throttled else {
            return;
        };
        let until = now + throttled.retry_after;
        state.not_before = Some(state.not_before.map_or(until, |current| current.max(until)));
        let already_answered_for = state.last_cut.is_some_and(|cut| permit.sent_at < cut);
        if already_answered_for {
            return;
        }
        let refused_share =
            f64::from(throttled.refused.min(permit.requests)) / f64::from(permit.requests.max(1));
        self.cut(&mut state, now, throttled.retry_after, refused_share);
    }

    /// Cuts the rate the mailbox was sending at by half the share of the
    /// call Graph refused (a call refused whole: by half), counted over a
    /// horizon as long as `retry_after`. One 429 among 20 answers says
    /// little about the rate; 20 of 20 say it was twice too fast.
    fn cut(
        &self,
        state: &mut WindowState,
        now: Instant,
        retry_after: Duration,
        refused_share: f64,
    ) {
        let horizon = retry_after.max(MIN_HORIZON);
        let (sent, span) = recent_sending(state, now);
        let sent_rate = f64::from(sent) / span.as_secs_f64();
        let cut_rate = sent_rate * (1.0 - refused_share.clamp(0.0, 1.0) / 2.0);
        let per_horizon = (cut_rate * horizon.as_secs_f64()).ceil();
        let requests = if per_horizon >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            (per_horizon as u32).max(1)
        };
        let rate_before_throttling = state
            .learned
            .map_or(sent_rate, |learned| learned.rate_before_throttling);
        state.learned = Some(LearnedLimit {
            requests,
            horizon,
            since: now + retry_after,
            rate_before_throttling,
        });
        state.last_cut = Some(now);
        state.cuts += 1;
        tracing::info!(
            requests,
            horizon_ms = horizon.as_millis() as u64,
            retry_after_ms = retry_after.as_millis() as u64,
            refused_percent = (refused_share * 100.0).round() as u32,
            "graph throttled the mailbox, sending slower for a while"
        );
    }

    /// Holds every request to the mailbox for `delay`: a server's
    /// Retry-After that is not throttling (503), honoured exactly.
    pub fn pause(&self, delay: Duration) {
        let mut state = self.lock();
        let until = Instant::now() + delay;
        state.not_before = Some(state.not_before.map_or(until, |current| current.max(until)));
    }

    fn prune(&self, state: &mut WindowState, now: Instant) {
        while let Some(answered) = state.completed.front() {
            if answered.completed_at + self.config.window > now {
                break;
            }
            state.completed.pop_front();
        }
        self.grow_learned(state, now);
    }

    /// Doubles a learned limit per horizon sent through without a new cut;
    /// drops it once it allows the rate sent at before the throttling, or
    /// the whole configured budget within one horizon.
    fn grow_learned(&self, state: &mut WindowState, now: Instant) {
        let Some(mut learned) = state.learned else {
            return;
        };
        while now >= learned.since + learned.horizon {
            learned.requests = learned.requests.saturating_mul(2);
            learned.since += learned.horizon;
        }
        let recovered = learned.rate() >= learned.rate_before_throttling
            || learned.requests >= self.config.requests_per_window;
        state.learned = if recovered { None } else { Some(learned) };
    }

    fn next_release(&self, state: &WindowState, window: Duration, now: Instant) -> Instant {
        match state.completed.front() {
            Some(answered) => answered.completed_at + window,
            // Only outstanding requests hold the budget: check again shortly.
            None => now + Duration::from_millis(5),
        }
    }

    /// When the oldest answer inside `horizon` leaves it.
    fn next_release_within(&self, state: &WindowState, horizon: Duration, now: Instant) -> Instant {
        let oldest_recent = state
            .completed
            .iter()
            .map(|answered| answered.completed_at)
            .find(|completed_at| *completed_at + horizon > now);
        match oldest_recent {
            Some(completed_at) => completed_at + horizon,
            None => now + Duration::from_millis(5).min(horizon),
        }
    }
}

/// Requests answered at or after `since` (all of the window when `None`).
fn completed_since(state: &WindowState, since: Option<Instant>) -> u32 {
    state
        .completed
        .iter()
        .filter(|answered| since.is_none_or(|since| answered.completed_at >= since))
        .map(|answered| answered.requests)
        .sum()
}

/// Requests of the last few calls sent since sending last resumed, and the
/// time from the first of them being sent until now: the rate the mailbox
/// was being driven at. Idle time (a Retry-After waited out, no work) before
/// those calls does not count as sending slowly.
fn recent_sending(state: &WindowState, now: Instant) -> (u32, Duration) {
    let mut sent = 0;
    let mut first_sent_at = now;
    let recent = state
        .completed
        .iter()
        .rev()
        .filter(|answered| answered.sent_at >= state.resumed_at)
        .take(RATE_SAMPLE_CALLS);
    for answered in recent {
        sent += answered.requests;
        first_sent_at = first_sent_at.min(answered.sent_at);
    }
    (sent, (now - first_sent_at).max(MIN_HORIZON))
}

fn unreachable_closed() -> ! {
    panic!("the mailbox pacer's semaphore is never closed")
}

/// Pacers by (tenant, mailbox), shared by every reconciliation in the process.
#[derive(Debug, Default)]
pub struct Pacers {
    config: PacingConfig,
    by_mailbox: Mutex<HashMap<(String, String), Arc<MailboxPacer>>>,
}

impl Pacers {
    pub fn new(config: PacingConfig) -> Self {
        Self {
            config,
            by_mailbox: Mutex::new(HashMap::new()),
        }
    }

    pub fn for_mailbox(&self, tenant_id: &str, mailbox_id: &str) -> Arc<MailboxPacer> {
        let mut by_mailbox = self
            .by_mailbox
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (tenant_id.to_owned(), mailbox_id.to_ascii_lowercase());
        Arc::clone(
            by_mailbox
                .entry(key)
                .or_insert_with(|| Arc::new(MailboxPacer::new(self.config))),
        )
    }
}

#[cfg(test)]
#[path = "pacing_tests.rs"]
mod tests;
