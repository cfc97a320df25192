//! Per-mailbox pacing: at most `in_flight` Graph requests at once (a batch's
//! sub-requests count, up to the 4 Graph runs in parallel), at most
//! `requests_per_window` per sliding window, and nothing before a
//! `Retry-After` has elapsed. The window counts a request from when its
//! response arrived (never earlier than Graph admitted it), so a slot frees
//! here no sooner than it frees at Graph: a long sync runs at the limit
//! without being throttled. A throttle anyway (another writer, another app
//! on the same budget) halves the budget (never below what the window held),
//! which then creeps back up.

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

#[derive(Debug)]
struct WindowState {
    /// Budget in force (learned from throttling, at most the configured one).
    budget: u32,
    /// (completion time, requests) of finished calls still in the window.
    completed: VecDeque<(Instant, u32)>,
    /// Requests sent and not yet answered.
    outstanding: u32,
    /// Nothing may be sent before this (the latest Retry-After).
    not_before: Option<Instant>,
    /// When the budget last grew back.
    last_growth: Instant,
}

/// The pacer of one mailbox, shared by every task writing to it.
#[derive(Debug)]
pub struct MailboxPacer {
    config: PacingConfig,
    slots: Arc<Semaphore>,
    window: Mutex<WindowState>,
}

/// Permission to send `requests` requests; give it back with [`MailboxPacer::finish`].
#[derive(Debug)]
pub struct Permit {
    requests: u32,
    _slots: OwnedSemaphorePermit,
}

impl MailboxPacer {
    pub fn new(config: PacingConfig) -> Self {
        Self {
            config,
            slots: Arc::new(Semaphore::new(config.in_flight.max(1) as usize)),
            window: Mutex::new(WindowState {
                budget: config.requests_per_window.max(1),
                completed: VecDeque::new(),
                outstanding: 0,
                not_before: None,
                last_growth: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WindowState> {
        self.window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until `requests` requests (one call, or one batch's sub-requests)
    /// may be sent, and reserves them.
    pub async fn acquire(&self, requests: u32) -> Permit {
        let parallel = requests.clamp(1, self.config.in_flight.max(1));
        // The semaphore is never closed, so acquiring cannot fail.
        let slots = match Arc::clone(&self.slots).acquire_many_owned(parallel).await {
            Ok(permit) => permit,
            Err(_) => unreachable_closed(),
        };
        loop {
            let wait_until = {
                let mut state = self.lock();
                let now = Instant::now();
                self.prune(&mut state, now);
                match state.not_before {
                    Some(not_before) if not_before > now => Some(not_before),
                    _ => {
                        let wanted = requests.min(state.budget);
                        let used: u32 = state.completed.iter().map(|(_, count)| count).sum();
                        if used + state.outstanding + wanted <= state.budget {
                            state.outstanding += requests;
                            None
                        } else {
                            Some(self.next_release(&state, now))
                        }
                    }
                }
            };
            match wait_until {
                None => {
                    return Permit {
                        requests,
                        _slots: slots,
                    }
                }
                Some(instant) => tokio::time::sleep_until(instant).await,
            }
        }
    }

    /// Records that the requests of `permit` were answered; `retry_after` is
    /// the longest `Retry-After` among their responses, if any was throttled.
    pub fn finish(&self, permit: Permit, retry_after: Option<Duration>) {
        let mut state = self.lock();
        let now = Instant::now();
        state.outstanding = state.outstanding.saturating_sub(permit.requests);
        state.completed.push_back((now, permit.requests));
        if let Some(delay) = retry_after {
            let until = now + delay;
            state.not_before = Some(state.not_before.map_or(until, |current| current.max(until)));
            let used: u32 = state.completed.iter().map(|(_, count)| count).sum();
            // Multiplicative decrease, but never below what the window just held.
            state.budget = used.max(state.budget / 2).clamp(1, state.budget);
            state.last_growth = now;
            tracing::info!(
                budget = state.budget,
                retry_after_ms = delay.as_millis() as u64,
                "graph throttled the mailbox, pacing lowered"
            );
        }
    }

    /// Holds every request to the mailbox for `delay` (backoff without Retry-After).
    pub fn pause(&self, delay: Duration) {
        let mut state = self.lock();
        let until = Instant::now() + delay;
        state.not_before = Some(state.not_before.map_or(until, |current| current.max(until)));
    }

    fn prune(&self, state: &mut WindowState, now: Instant) {
        while let Some((completed_at, _)) = state.completed.front() {
            if *completed_at + self.config.window > now {
                break;
            }
            state.completed.pop_front();
        }
        // A learned budget grows back by a twentieth per quiet window.
        let configured = self.config.requests_per_window.max(1);
        if state.budget < configured && now >= state.last_growth + self.config.window {
            state.budget = (state.budget + configured / 20 + 1).min(configured);
            state.last_growth = now;
        }
    }

    fn next_release(&self, state: &WindowState, now: Instant) -> Instant {
        match state.completed.front() {
            Some((completed_at, _)) => *completed_at + self.config.window,
            // Only outstanding requests hold the budget: check again shortly.
            None => now + Duration::from_millis(5),
        }
    }
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
mod tests {
    use super::*;

    fn pacer(requests_per_window: u32, window_ms: u64) -> MailboxPacer {
        MailboxPacer::new(PacingConfig {
            requests_per_window,
            window: Duration::from_millis(window_ms),
            in_flight: 4,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_window_holds_the_next_batch_until_the_oldest_answer_ages_out() {
        let pacer = pacer(40, 1000);
        let started = Instant::now();
        for _ in 0..2 {
            let permit = pacer.acquire(20).await;
            pacer.finish(permit, None);
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
        let permit = pacer.acquire(20).await;
        assert_eq!(started.elapsed(), Duration::from_millis(1000));
        pacer.finish(permit, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_halves_the_budget_and_it_creeps_back() {
        let pacer = pacer(100, 10_000);
        let permit = pacer.acquire(20).await;
        pacer.finish(permit, None);
        let permit = pacer.acquire(20).await;
        let started = Instant::now();
        pacer.finish(permit, Some(Duration::from_millis(1500)));
        assert_eq!(pacer.lock().budget, 50);
        // 40 + 20 exceed the learned budget until the window moves on.
        let permit = pacer.acquire(20).await;
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        pacer.finish(permit, None);
        assert!(pacer.lock().budget > 50, "the budget creeps back up");
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_sent_before_a_retry_after() {
        let pacer = pacer(1000, 10_000);
        let permit = pacer.acquire(1).await;
        let started = Instant::now();
        pacer.finish(permit, Some(Duration::from_millis(1500)));
        let permit = pacer.acquire(1).await;
        assert_eq!(started.elapsed(), Duration::from_millis(1500));
        pacer.finish(permit, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_takes_at_most_four_in_flight_slots() {
        let pacer = pacer(1000, 1000);
        let batch = pacer.acquire(20).await;
        let waiting = tokio::time::timeout(Duration::from_millis(50), pacer.acquire(1)).await;
        assert!(waiting.is_err(), "a single request waited for the batch");
        pacer.finish(batch, None);
        let single = pacer.acquire(1).await;
        pacer.finish(single, None);
    }
}
