//! In-process wake-ups for what watches a run: its driver hears when one of
//! the run's work items changes state, `WatchRun` when an event is appended.
//! A signal only says "look again"; what happened is read from the store.
//! Writes made by another scheduler replica sharing the store signal nothing
//! here, so every watcher still looks again on its own every so often.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

/// What a watcher of a run waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunSignal {
    /// A work item of the run was completed, failed, released, or the run
    /// was asked to cancel.
    ItemsChanged,
    /// An event was appended to the run's log.
    EventAppended,
}

/// One counter per (run, signal) that someone watches; bumping it wakes
/// every receiver, and a receiver that was busy when it was bumped sees the
/// change when it next waits (unlike `Notify::notify_waiters`).
#[derive(Debug, Default)]
pub struct RunSignals {
    watched: Mutex<HashMap<(String, RunSignal), watch::Sender<u64>>>,
}

impl RunSignals {
    fn watched(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, RunSignal), watch::Sender<u64>>> {
        self.watched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A receiver that changes at the next `signal` of `run_id` after this
    /// call: subscribe before reading the store, so nothing written between
    /// the read and the wait is missed.
    pub fn subscribe(&self, run_id: &str, signal: RunSignal) -> watch::Receiver<u64> {
        let mut watched = self.watched();
        // Channels nobody watches any more go, so the map holds only live runs.
        watched.retain(|_, sender| sender.receiver_count() > 0);
        watched
            .entry((run_id.to_owned(), signal))
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Wakes whoever watches `signal` of `run_id`.
    pub fn raise(&self, run_id: &str, signal: RunSignal) {
        let watched = self.watched();
        if let Some(sender) = watched.get(&(run_id.to_owned(), signal)) {
            sender.send_modify(|count| *count = count.wrapping_add(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_signal_raised_while_the_watcher_was_busy_is_seen_at_its_next_wait() {
        let signals = RunSignals::default();
        let mut items = signals.subscribe("run-1", RunSignal::ItemsChanged);
        let events = signals.subscribe("run-1", RunSignal::EventAppended);
        signals.raise("run-1", RunSignal::ItemsChanged);
        signals.raise("run-2", RunSignal::EventAppended);
        tokio::time::timeout(std::time::Duration::from_secs(1), items.changed())
            .await
            .expect("the raised signal was missed")
            .unwrap();
        assert!(
            !events.has_changed().unwrap(),
            "another signal or run woke the watcher"
        );
        drop(items);
        drop(events);
        let _fresh = signals.subscribe("run-3", RunSignal::ItemsChanged);
        assert_eq!(signals.watched().len(), 1, "unwatched runs are forgotten");
    }
}
