//! How many mailboxes one writer reconciles at once: as many as Graph allows,
//! found the way TCP finds a link's capacity.
//!
//! A mailbox alone runs at most 4 requests at once at Graph, so a writer is
//! only as fast as the number of mailboxes it drives together — until the
//! app-wide limit (130,000 requests per 10 s per app across all tenants,
//! <https://learn.microsoft.com/graph/throttling-limits>) binds. The limit
//! starts at `--workers` and, while every place is in use and nothing is
//! throttled app-wide, grows by one for every batch answered (so it doubles
//! every round of batches, as TCP's slow start does), up to `--max-workers`,
//! which bounds memory. An app-wide 429 halves it, at most once per
//! Retry-After, and growth then slows to about one mailbox per round, so
//! many writers sharing one app settle on their shares of the budget
//! instead of storming it; a per-mailbox 429 is that mailbox's pacer's
//! business and leaves the limit alone. A writer idle for a whole lease wait
//! (nothing in hand and no work queued for 10 s) returns to `--workers`; a
//! run queued sooner after the last goes on at the limit the last one found.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug)]
pub struct MailboxConcurrency {
    limit: AtomicUsize,
    initial: usize,
    max: usize,
    active: AtomicUsize,
    /// Bumped on every app-wide throttle; a mailbox that saw it change while
    /// it ran does not grow the limit.
    throttles: AtomicU64,
    /// Times the limit was halved.
    cuts: AtomicU64,
    /// Growing slowly, after an app-wide throttle (until the queue idles).
    avoiding: AtomicBool,
    /// Progresses since the last growth while `avoiding`.
    since_growth: AtomicUsize,
    /// No second cut before this instant (the Retry-After of the last cut).
    hold_cuts_until: Mutex<Option<Instant>>,
    freed: Notify,
}

/// One mailbox's place; frees it on drop.
#[derive(Debug)]
pub struct MailboxSlot {
    owner: Arc<MailboxConcurrency>,
    throttles_at_start: u64,
}

impl Drop for MailboxSlot {
    fn drop(&mut self) {
        self.owner.active.fetch_sub(1, Ordering::AcqRel);
        self.owner.freed.notify_waiters();
    }
}

impl MailboxConcurrency {
    /// Starts at `initial` mailboxes at once, never above `max`.
    pub fn new(initial: usize, max: usize) -> Arc<Self> {
        let max = max.max(1);
        Arc::new(Self {
            limit: AtomicUsize::new(initial.clamp(1, max)),
            initial: initial.clamp(1, max),
            max,
            active: AtomicUsize::new(0),
            throttles: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
            avoiding: AtomicBool::new(false),
            since_growth: AtomicUsize::new(0),
            hold_cuts_until: Mutex::new(None),
            freed: Notify::new(),
        })
    }

    /// Mailboxes allowed at once right now.
    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Acquire)
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Times an app-wide throttle halved the limit.
    pub fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::Acquire)
    }

    /// Mailboxes being reconciled right now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// Waits for a place under the current limit.
    pub async fn acquire(self: &Arc<Self>) -> MailboxSlot {
        loop {
            let freed = self.freed.notified();
            let active = self.active.load(Ordering::Acquire);
            if active < self.limit()
                && self
                    .active
                    .compare_exchange(active, active + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                return MailboxSlot {
                    owner: Arc::clone(self),
                    throttles_at_start: self.throttles.load(Ordering::Acquire),
                };
            }
            freed.await;
        }
    }

    /// A mailbox finished: its place frees, and it counts as progress when
    /// no app-wide throttle came while it ran.
    pub fn finished(&self, slot: MailboxSlot) {
        let throttled = self.throttles.load(Ordering::Acquire) != slot.throttles_at_start;
        let full = self.active() >= self.limit();
        drop(slot);
        if !throttled && full {
            self.grow();
        }
    }

    /// A mailbox's batch was answered without an app-wide throttle: while
    /// every place is in use, Graph has room for more mailboxes.
    pub fn progressed(&self) {
        if self.active() >= self.limit() {
            self.grow();
        }
    }

    /// Slow start (+1 per progress, so the limit doubles every round of
    /// batches) until the first app-wide throttle; after it, +1 per `limit`
    /// progresses (about one more mailbox per round), as TCP's congestion
    /// avoidance does.
    fn grow(&self) {
        if self.avoiding.load(Ordering::Acquire) {
            let progressed = self.since_growth.fetch_add(1, Ordering::AcqRel) + 1;
            if progressed < self.limit() {
                return;
            }
            self.since_growth.store(0, Ordering::Release);
        }
        let grown = self
            .limit
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |limit| {
                (limit < self.max).then_some(limit + 1)
            });
        if grown.is_ok() {
            self.freed.notify_waiters();
        }
    }

    /// The queue had no work for a whole lease wait: back to the starting
    /// limit, so a writer that was idle starts its next run carefully
    /// (other writers sharing the app's budget may have grown into it
    /// meanwhile) and grows again in a few rounds of mailboxes.
    pub fn idle(&self) {
        self.limit.store(self.initial, Ordering::Release);
        self.avoiding.store(false, Ordering::Release);
    }

    /// Graph refused a request for the app as a whole: halve the limit,
    /// once per `retry_after`.
    pub fn app_throttled(&self, retry_after: Duration) {
        self.throttles.fetch_add(1, Ordering::AcqRel);
        let now = Instant::now();
        let mut hold = self
            .hold_cuts_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if hold.is_some_and(|until| now < until) {
            return;
        }
        *hold = Some(now + retry_after);
        self.avoiding.store(true, Ordering::Release);
        self.since_growth.store(0, Ordering::Release);
        if let Ok(before) = self
            .limit
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |limit| {
                Some((limit / 2).max(1))
            })
        {
            self.cuts.fetch_add(1, Ordering::AcqRel);
            tracing::warn!(
                before,
                after = (before / 2).max(1),
                "Graph throttled the app as a whole: fewer mailboxes at once"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn grows_one_per_mailbox_finished_at_full_use_up_to_the_max() {
        let concurrency = MailboxConcurrency::new(2, 5);
        for expected in [3, 4, 5, 5] {
            let limit = concurrency.limit();
            let slots: Vec<_> =
                futures::future::join_all((0..limit).map(|_| concurrency.acquire())).await;
            let mut slots = slots.into_iter();
            concurrency.finished(slots.next().expect("a slot"));
            assert_eq!(concurrency.limit(), expected);
        }
    }

    #[tokio::test]
    async fn an_app_wide_throttle_halves_once_per_retry_after_and_stops_growth() {
        let concurrency = MailboxConcurrency::new(16, 64);
        let slot = concurrency.acquire().await;
        concurrency.app_throttled(Duration::from_millis(50));
        concurrency.app_throttled(Duration::from_millis(50));
        assert_eq!(concurrency.limit(), 8, "one cut per Retry-After");
        concurrency.finished(slot);
        assert_eq!(
            concurrency.limit(),
            8,
            "a throttled mailbox does not grow the limit"
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
        concurrency.app_throttled(Duration::from_millis(50));
        assert_eq!(concurrency.limit(), 4);
    }

    #[tokio::test]
    async fn after_an_app_wide_throttle_growth_is_one_per_round() {
        let concurrency = MailboxConcurrency::new(8, 64);
        let _slots: Vec<_> = futures::future::join_all((0..8).map(|_| concurrency.acquire())).await;
        concurrency.progressed();
        assert_eq!(concurrency.limit(), 9, "slow start: +1 per progress");
        concurrency.app_throttled(Duration::from_millis(1));
        assert_eq!(concurrency.limit(), 4);
        for _ in 0..3 {
            concurrency.progressed();
        }
        assert_eq!(concurrency.limit(), 4, "fewer progresses than the limit");
        concurrency.progressed();
        assert_eq!(concurrency.limit(), 5, "one more after a round");
        concurrency.idle();
        assert_eq!(concurrency.limit(), 8);
    }

    #[tokio::test]
    async fn a_waiter_gets_the_place_a_finished_mailbox_frees() {
        let concurrency = MailboxConcurrency::new(1, 1);
        let first = concurrency.acquire().await;
        let waiting = tokio::spawn({
            let concurrency = Arc::clone(&concurrency);
            async move { concurrency.acquire().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        concurrency.finished(first);
        let second = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("the waiter got the place")
            .expect("no panic");
        assert_eq!(concurrency.active(), 1);
        drop(second);
        assert_eq!(concurrency.active(), 0);
    }
}
