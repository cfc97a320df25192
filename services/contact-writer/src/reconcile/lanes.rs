//! Sends a mailbox's writes so that its places at Graph stay busy.
//!
//! Graph runs at most 4 requests at once per app and mailbox
//! (throttling-limits, Outlook service limits), and a `$batch` runs at most 4
//! of its steps at a time. A batch of 20 side-by-side writes therefore holds
//! all four places until its slowest write is answered: while its last three
//! finish, places stand idle (at Graph's latency spread, a batch takes about
//! 1.15 × the time its writes need). So a mailbox with more than one batch
//! of writes sends them as 4 lanes of chained batches instead: each batch's
//! writes depend one on the next (json-batching `dependsOn`), so it holds one
//! place, and the lane sends its next batch the moment its last one ends.
//! The writes are cut into a multiple of 4 batches of equal size (at most
//! 20), so every lane carries the same load and the lanes finish together:
//! 450 writes go as 24 batches of 18 or 19 (one more call than 23 full
//! batches would take).
//!
//! A chain is cut to the writer's lease: its steps run one after another,
//! so it must end well within the time the lease leaves (see
//! `Run::longest_chain`); under a lease of a few seconds the writes go as
//! one side-by-side batch at a time instead.
//!
//! Deletes go first, all of them answered before any other write is sent: a
//! contact being replaced is deleted before its new one is created, so the
//! store never ends up holding the old contact id.

use std::collections::HashMap;
use std::time::Duration;

use tokio::task::JoinSet;

use super::writes::{Run, Write};
use crate::error::Error;
use crate::executor::{self, Op, Order};
use crate::mapping::Desired;

impl Run<'_> {
    /// Sends `ops` and records every outcome answered; returns the source
    /// ids to look up. Stops between batches when asked to.
    pub(super) async fn send(
        &mut self,
        writes: Vec<Write<'_>>,
        desired: &HashMap<&str, &Desired>,
    ) -> Result<Vec<String>, Error> {
        let (deletes, others): (Vec<Write>, Vec<Write>) =
            writes.into_iter().partition(Write::is_delete);
        let mut to_look_up = self.send_phase(deletes, desired).await?;
        to_look_up.extend(self.send_phase(others, desired).await?);
        Ok(to_look_up)
    }

    async fn send_phase(
        &mut self,
        writes: Vec<Write<'_>>,
        desired: &HashMap<&str, &Desired>,
    ) -> Result<Vec<String>, Error> {
        let batch_size = self.engine.settings.batch_size.clamp(1, 20);
        let places = self.mailbox.pacer.in_flight() as usize;
        let chain_length = self.longest_chain(batch_size);
        let (order, mut lanes) =
            if writes.len() > batch_size && places > 1 && chain_length >= MIN_CHAIN {
                (Order::Chained, places)
            } else {
                (Order::Parallel, 1)
            };
        let longest = if order == Order::Chained {
            chain_length
        } else {
            batch_size
        };
        let mut sizes = batch_sizes(writes.len(), lanes, longest).into_iter();
        let cuts_at_start = self.mailbox.pacer.cuts();
        // Each batch is a task of its own, so its answer (a 429 above all)
        // reaches the mailbox's pacer the moment it arrives, not when this
        // task has recorded another lane's outcomes. Dropping the set (the
        // reconciliation abandoned) aborts them.
        let mut in_flight = JoinSet::new();
        let mut sent = 0;
        let mut to_look_up = Vec::new();
        let mut failure: Option<Error> = None;
        let mut stopping = false;
        loop {
            while failure.is_none() && in_flight.len() < lanes && sent < writes.len() {
                if self.progress.stop_requested() {
                    stopping = true;
                    break;
                }
                let left = writes.len() - sent;
                let throttled =
                    self.mailbox.pacer.is_throttled() || self.mailbox.pacer.cuts() != cuts_at_start;
                let (size, order) = if order == Order::Chained && (lanes == 1 || throttled) {
                    // Throttled, the mailbox's own limit binds, not its
                    // places: one batch at a time, side by side, for the
                    // rest of the phase, so that no lane's batch is on its
                    // way while another lane's Retry-After runs.
                    lanes = 1;
                    (batch_size.min(left), Order::Parallel)
                } else {
                    (sizes.next().unwrap_or(left).min(left), order)
                };
                let batch = writes[sent..sent + size]
                    .iter()
                    .map(|write| write.op(&self.rules, &self.job.profile_id))
                    .collect::<Result<Vec<Op>, Error>>();
                sent += size;
                let batch = match batch {
                    Ok(batch) => batch,
                    Err(error) => {
                        failure = Some(error);
                        break;
                    }
                };
                let (mailbox, folder_id) = (self.mailbox.clone(), self.folder_id.clone());
                in_flight.spawn(async move {
                    executor::execute(&mailbox, &folder_id, &batch, order).await
                });
            }
            let Some(answered) = in_flight.join_next().await else {
                break;
            };
            let recorded = match answered {
                Ok(Ok(outcomes)) => self.apply(outcomes, desired).await,
                Ok(Err(error)) => Err(error),
                Err(join_error) if join_error.is_panic() => {
                    std::panic::resume_unwind(join_error.into_panic())
                }
                Err(_) => Err(Error::Cancelled),
            };
            // After a failure the other lanes' answers are still recorded.
            match recorded {
                Ok(found) => to_look_up.extend(found),
                Err(error) => {
                    failure.get_or_insert(error);
                }
            }
        }
        if let Some(error) = failure {
            self.flush().await?;
            return Err(error);
        }
        if stopping {
            return Err(self.stop().await);
        }
        Ok(to_look_up)
    }
}

/// The time a chained step is allowed when a chain is cut to its lease: well
/// past Graph's slowest usual contact write (about 1 s at its 99th
/// percentile), so a chain ends before the lease's deadline even when every
/// step is slow.
const STEP_ALLOWANCE: Duration = Duration::from_secs(1);

/// The shortest chain worth a lane: below it, one side-by-side batch at a
/// time holds the mailbox's places as well (a batch of 20 runs in 5 waves).
const MIN_CHAIN: usize = 4;

impl Run<'_> {
    /// The most steps one chained batch may have. Its steps run one after
    /// another, and a request still in flight when the writer's lease nears
    /// its end is abandoned (Graph may still carry it out while another
    /// writer takes the mailbox over), so a chain must end, at
    /// [`STEP_ALLOWANCE`] a step, within half the time the lease leaves. At
    /// the default 60 s lease that is every batch's 20; at a few seconds'
    /// lease it is too short for lanes.
    fn longest_chain(&self, batch_size: usize) -> usize {
        let Some(deadline) = self.mailbox.graph.deadline() else {
            return batch_size;
        };
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let fits = (left / 2).as_millis() / STEP_ALLOWANCE.as_millis();
        usize::try_from(fits).unwrap_or(usize::MAX).min(batch_size)
    }
}

/// The sizes of the batches `writes` go in: as few as `lanes` lanes of
/// batches of at most `batch_size` need, a multiple of `lanes` of them, of
/// equal size (the first ones one larger where it does not divide).
fn batch_sizes(writes: usize, lanes: usize, batch_size: usize) -> Vec<usize> {
    let lanes = lanes.max(1);
    let per_round = lanes * batch_size.max(1);
    let batches = if lanes == 1 {
        writes.div_ceil(batch_size.max(1))
    } else {
        writes.div_ceil(per_round) * lanes
    }
    .min(writes);
    if batches == 0 {
        return Vec::new();
    }
    let (base, larger) = (writes / batches, writes % batches);
    (0..batches)
        .map(|index| base + usize::from(index < larger))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chained_batches_are_equal_and_a_multiple_of_the_lanes() {
        let of_450 = batch_sizes(450, 4, 20);
        assert_eq!(of_450.len(), 24);
        assert_eq!(of_450.iter().sum::<usize>(), 450);
        assert!(
            of_450.iter().all(|size| (18..=19).contains(size)),
            "{of_450:?}"
        );
        assert_eq!(batch_sizes(1848, 4, 20).len(), 96);
        assert_eq!(batch_sizes(30, 4, 20), [8, 8, 7, 7]);
        assert_eq!(batch_sizes(3, 4, 20), [1, 1, 1]);
        assert_eq!(batch_sizes(45, 1, 20), [15, 15, 15]);
        assert!(batch_sizes(0, 4, 20).is_empty());
    }
}
