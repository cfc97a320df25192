//! The work loop: lease a mailbox from the scheduler's work queue, reconcile
//! it while heartbeating (each heartbeat carries the counts so far, which the
//! scheduler forwards to `WatchRun`), then complete it with its counts or fail
//! it with a reason. On shutdown a running item gets the drain time to
//! finish, then is asked to stop after its batch in flight and its lease is
//! given back with the counts of the writes that happened (the store is
//! marked uncertain, so the next writer rebuilds before writing). Heartbeats
//! go on until the reconciliation has ended, so the lease never lapses while
//! a write is in flight.
//!
//! Of a writer's lease calls, only one at a time waits at the queue for work
//! to arrive; the others ask without waiting and, finding none, wait in the
//! writer for that call to end. The queue's server serves a bounded number
//! of calls at once on a connection (`--max-concurrent-calls`, 256) and the
//! writer's mailboxes at once grow past that in a run of a few hundred
//! mailboxes: when every worker's call waited at the queue, the waiting calls
//! took every place and the writer's completions queued behind them for the
//! whole wait (about 10 s at the end of each run).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use galsync_proto::v1;
use galsync_proto::v1::work_queue_client::WorkQueueClient;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::transport::Channel;
use tracing::{info, warn};

use crate::engine::Engine;
use crate::error::Error;
use crate::reconcile::{Progress, ProgressHandle, Report};
use crate::sync;

/// How long a lease call may wait at the queue for work to arrive.
const LEASE_WAIT_SECS: u32 = 10;

/// Longest wait between two heartbeats of a leased item.
const MAX_HEARTBEAT_SECS: u64 = 5;

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct WorkSettings {
    pub worker_id: String,
    pub lease_secs: u32,
    /// Wait between leases when the queue is empty.
    pub idle_poll: Duration,
    /// Time a running item gets after shutdown to finish, and then again
    /// to stop after its batch in flight.
    pub drain: Duration,
}

/// Runs a leasing loop per mailbox the engine's concurrency may ever allow,
/// each leasing only while it holds one of the places the current limit
/// gives, until `shutdown` turns true.
pub async fn run(
    engine: Arc<Engine>,
    queue: Channel,
    settings: WorkSettings,
    shutdown: watch::Receiver<bool>,
) {
    let turn_to_wait = Arc::new(tokio::sync::Mutex::new(()));
    let busy = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for index in 0..engine.concurrency.max() {
        let worker = Worker {
            engine: Arc::clone(&engine),
            queue: WorkQueueClient::new(queue.clone()),
            settings: settings.clone(),
            name: format!("{}-{index}", settings.worker_id),
            turn_to_wait: Arc::clone(&turn_to_wait),
            busy: Arc::clone(&busy),
        };
        workers.push(tokio::spawn(worker.run(shutdown.clone())));
    }
    for worker in workers {
        if let Err(error) = worker.await {
            warn!(%error, "a work loop ended abnormally");
        }
    }
}

struct Worker {
    engine: Arc<Engine>,
    queue: WorkQueueClient<Channel>,
    settings: WorkSettings,
    name: String,
    /// Held by the one lease call of this writer that may wait at the queue.
    turn_to_wait: Arc<tokio::sync::Mutex<()>>,
    /// Leased items being processed by this writer's workers.
    busy: Arc<AtomicUsize>,
}

/// Counts an item as being processed while held.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn start(count: &Arc<AtomicUsize>) -> Busy {
        count.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(count))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Sleeps `duration` unless shutdown comes first; true when shutting down.
async fn sleep_or_stop(duration: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(duration) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

impl Worker {
    async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let concurrency = Arc::clone(&self.engine.concurrency);
        while !*shutdown.borrow() {
            let slot = tokio::select! {
                slot = concurrency.acquire() => slot,
                _ = shutdown.changed() => break,
            };
            // Without the turn the call is answered at once (see the module doc).
            let turn = Arc::clone(&self.turn_to_wait).try_lock_owned().ok();
            let wait_seconds = if turn.is_some() { LEASE_WAIT_SECS } else { 0 };
            let request = v1::LeaseRequest {
                worker_id: self.name.clone(),
                lease_seconds: self.settings.lease_secs,
                wait_seconds,
            };
            let asked_at = tokio::time::Instant::now();
            let answer = tokio::select! {
                answer = self.queue.lease(request) => answer,
                _ = shutdown.changed() => break,
            };
            let lease = match answer {
                Ok(response) => response.into_inner().lease,
                Err(status) => {
                    warn!(worker = %self.name, error = %status.message(), "failed to lease work");
                    if sleep_or_stop(self.settings.idle_poll, &mut shutdown).await {
                        break;
                    }
                    continue;
                }
            };
            let Some(lease) = lease else {
                let Some(turn) = turn else {
                    // The queue is empty for now: wait for the call that
                    // waits there to end (work came, or its wait ran out),
                    // then ask again under the limit then in force. The
                    // place is kept meanwhile, so that workers without one
                    // stay where they are instead of each asking the empty
                    // queue in turn.
                    tokio::select! {
                        _ = self.turn_to_wait.lock() => {}
                        _ = shutdown.changed() => break,
                    }
                    drop(slot);
                    continue;
                };
                drop(slot);
                // No work came for a whole wait and none is in hand: the
                // writer is idle. A run queued sooner after the last one
                // goes on at the limit the last one found.
                if self.busy.load(Ordering::Acquire) == 0 {
                    concurrency.idle();
                }
                // The queue held the call while it had no work; one that
                // answers at once (an older scheduler) is polled at idle_poll,
                // the other workers waiting for the turn meanwhile.
                let held = asked_at.elapsed() >= Duration::from_secs(1);
                if !held && sleep_or_stop(self.settings.idle_poll, &mut shutdown).await {
                    break;
                }
                drop(turn);
                continue;
            };
            drop(turn);
            // The queue may hold a lease call until work arrives: the lease
            // runs from when it was granted, just before its answer came.
            let busy = Busy::start(&self.busy);
            self.process(lease, Instant::now(), &mut shutdown).await;
            drop(busy);
            concurrency.finished(slot);
        }
    }

    /// Processes a lease granted (at the latest) at `granted_at`.
    async fn process(
        &mut self,
        lease: v1::Lease,
        granted_at: Instant,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        let lease_token = lease.lease_token.clone();
        let Some(item) = lease.item else {
            self.fail(&lease_token, "the work item is empty", false)
                .await;
            return;
        };
        let Some(request) = item.request.clone() else {
            self.fail(&lease_token, "the work item has no mailbox request", false)
                .await;
            return;
        };
        info!(worker = %self.name, work_item = %item.work_item_id, mailbox = %request.mailbox_id, attempt = item.attempt, "leased work");
        let mailbox_id = request.mailbox_id.clone();
        let engine = Arc::clone(&self.engine);
        let dry_run = item.dry_run;
        // Graph requests end by three quarters of the lease after its last
        // renewal was asked for (the queue counts from when it got the ask,
        // later): none is sent that Graph might still be carrying out then,
        // and one still in flight is abandoned.
        let fence = Duration::from_secs(u64::from(self.settings.lease_secs)) * 3 / 4;
        let (lease_until, lease_deadline) = watch::channel(granted_at + fence);
        let (progress, handle) = Progress::new();
        let progress = progress.under_lease(lease_deadline);
        // Joined to the run's trace: the reader's and broker's spans of the
        // calls it makes come under it.
        let span = galsync_platform::telemetry::run_span("sync_mailbox", &item.run_id);
        let mut work: JoinHandle<Result<Report, Error>> =
            tokio::spawn(tracing::Instrument::instrument(
                async move { sync::execute_request(&engine, &request, dry_run, &progress).await },
                span,
            ));
        // A third of the lease, and at most 5 s: a heartbeat is also how a
        // writer learns its run was cancelled.
        let heartbeat_every = Duration::from_secs(
            (u64::from(self.settings.lease_secs.max(3)) / 3).min(MAX_HEARTBEAT_SECS),
        );
        let mut heartbeat =
            tokio::time::interval_at(Instant::now() + heartbeat_every, heartbeat_every);
        // Heartbeats go on until the reconciliation has ended, however it
        // ends: a lease that lapsed while writes were still in flight would
        // hand the mailbox to a second writer, which could create the same
        // contacts again.
        let mut ending = Ending::Running;
        // When the lease was last renewed; two thirds of a lease later
        // without a renewal the writer stops writing.
        let mut renewed = Instant::now();
        let at_risk_after = Duration::from_secs(u64::from(self.settings.lease_secs)) * 2 / 3;
        loop {
            tokio::select! {
                finished = &mut work => {
                    match (finished, ending) {
                        // Past the deadline a write may have been abandoned in
                        // flight (see below).
                        (Ok(Err(Error::Cancelled)), Ending::Stopping { .. })
                            if Instant::now() >= *lease_until.borrow() =>
                        {
                            warn!(worker = %self.name, mailbox = %mailbox_id, lease_secs = self.settings.lease_secs, "stopped past the lease's deadline; leaving the lease to lapse");
                        }
                        (Ok(Err(Error::Cancelled)), Ending::Stopping { .. }) => {
                            let counts = *handle.counts.borrow();
                            info!(worker = %self.name, mailbox = %mailbox_id, created = counts.created, updated = counts.updated, deleted = counts.deleted, "stopped after the batch in flight; giving the lease back");
                            self.release(&lease_token, counts).await;
                        }
                        // A write abandoned at the deadline may still be carried
                        // out by Graph: the lease is left to lapse, as after a
                        // crash, which gives Graph the last quarter of it
                        // before another writer can lease the mailbox.
                        (Ok(Err(Error::LeaseLapsed { .. })), _) => {
                            let counts = *handle.counts.borrow();
                            warn!(worker = %self.name, mailbox = %mailbox_id, created = counts.created, lease_secs = self.settings.lease_secs, "the lease was about to lapse, so nothing more was sent to Graph; leaving it to lapse");
                        }
                        (finished, _) => self.report(&lease_token, &mailbox_id, finished).await,
                    }
                    return;
                }
                _ = heartbeat.tick() => {
                    let request = v1::HeartbeatRequest {
                        lease_token: lease_token.clone(),
                        lease_seconds: self.settings.lease_secs,
                        progress: Some(*handle.counts.borrow()),
                    };
                    let sent = Instant::now();
                    let answer = tokio::time::timeout(heartbeat_every, self.queue.heartbeat(request))
                        .await
                        .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("no answer within the heartbeat interval")));
                    match answer {
                        Ok(response) => {
                            renewed = sent;
                            lease_until.send_replace(sent + fence);
                            if response.get_ref().cancel_requested && !matches!(ending, Ending::Stopping { .. }) {
                                info!(worker = %self.name, "run cancelled, stopping after the batch in flight");
                                ending = Ending::stop_now(&handle, self.settings.drain, Reason::Cancelled);
                            }
                        }
                        Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                            warn!(worker = %self.name, mailbox = %mailbox_id, "lease lost to another writer, stopping");
                            work.abort();
                            return;
                        }
                        Err(status) => {
                            warn!(worker = %self.name, mailbox = %mailbox_id, error = %status.message(), "heartbeat failed");
                            // The queue may give the mailbox to another writer
                            // once the lease lapses: stop writing well before.
                            if renewed.elapsed() >= at_risk_after && !matches!(ending, Ending::Stopping { .. }) {
                                warn!(worker = %self.name, mailbox = %mailbox_id, lease_secs = self.settings.lease_secs, "the lease could not be renewed and may lapse; stopping after the batch in flight");
                                ending = Ending::stop_now(&handle, self.settings.drain, Reason::LeaseAtRisk);
                            }
                        }
                    }
                }
                _ = shutdown.changed(), if matches!(ending, Ending::Running) => {
                    info!(worker = %self.name, drain_secs = self.settings.drain.as_secs(), "shutting down: the item in flight may finish within the drain time");
                    ending = Ending::Draining { until: Instant::now() + self.settings.drain };
                }
                () = ending.deadline() => match ending {
                    Ending::Draining { .. } => {
                        info!(worker = %self.name, "drain time over, stopping after the batch in flight");
                        ending = Ending::stop_now(&handle, self.settings.drain, Reason::Shutdown);
                    }
                    Ending::Stopping { reason, .. } => {
                        work.abort();
                        let counts = *handle.counts.borrow();
                        match reason {
                            // Nothing re-leases a cancelled run's item.
                            Reason::Cancelled => {
                                warn!(worker = %self.name, mailbox = %mailbox_id, "the reconciliation did not stop within the drain time; aborted it");
                                self.release(&lease_token, counts).await;
                            }
                            // A write may still be in flight: the lease is
                            // left to lapse, as after a crash, so no other
                            // writer starts on the mailbox before Graph has
                            // answered it.
                            Reason::Shutdown | Reason::LeaseAtRisk => warn!(worker = %self.name, mailbox = %mailbox_id, lease_secs = self.settings.lease_secs, "the reconciliation did not stop within the drain time; aborted it and left its lease to lapse"),
                        }
                        return;
                    }
                    Ending::Running => {}
                },
            }
        }
    }

    async fn report(
        &mut self,
        lease_token: &str,
        mailbox_id: &str,
        finished: Result<Result<Report, Error>, tokio::task::JoinError>,
    ) {
        match finished {
            Ok(Ok(report)) => {
                let request = v1::CompleteRequest {
                    lease_token: lease_token.to_owned(),
                    result: Some(report.result),
                    plan: report.plan,
                };
                if let Err(status) = self.queue.complete(request).await {
                    warn!(worker = %self.name, mailbox = %mailbox_id, error = %status.message(), "failed to complete the work item");
                }
            }
            Ok(Err(error)) => {
                warn!(worker = %self.name, mailbox = %mailbox_id, %error, "work item failed");
                self.fail(lease_token, &error.plain_words(), error.is_retryable())
                    .await;
            }
            Err(join_error) => {
                warn!(worker = %self.name, mailbox = %mailbox_id, error = %join_error, "work item task ended abnormally");
                self.fail(
                    lease_token,
                    "the reconciliation task ended abnormally",
                    true,
                )
                .await;
            }
        }
    }

    async fn fail(&mut self, lease_token: &str, reason: &str, retryable: bool) {
        let request = v1::FailRequest {
            lease_token: lease_token.to_owned(),
            reason: reason.to_owned(),
            retryable,
        };
        if let Err(status) = self.queue.fail(request).await {
            warn!(worker = %self.name, error = %status.message(), "failed to report a failed work item");
        }
    }

    async fn release(&mut self, lease_token: &str, counts: v1::SyncCounts) {
        let request = v1::ReleaseRequest {
            lease_token: lease_token.to_owned(),
            progress: Some(counts),
        };
        if let Err(status) = self.queue.release(request).await {
            warn!(worker = %self.name, error = %status.message(), "failed to release the lease");
        }
    }
}

/// How a leased item's processing is coming to an end.
#[derive(Debug, Clone, Copy)]
enum Ending {
    Running,
    /// Shutting down: the item may finish on its own until then.
    Draining {
        until: Instant,
    },
    /// Asked to stop after the batch in flight; aborted if not stopped by then.
    Stopping {
        until: Instant,
        reason: Reason,
    },
}

#[derive(Debug, Clone, Copy)]
enum Reason {
    Cancelled,
    Shutdown,
    /// The lease could not be renewed for two thirds of its length.
    LeaseAtRisk,
}

impl Ending {
    fn stop_now(handle: &ProgressHandle, grace: Duration, reason: Reason) -> Ending {
        let _ = handle.stop.send(true);
        Ending::Stopping {
            until: Instant::now() + grace,
            reason,
        }
    }

    /// Resolves at the current phase's deadline; never while running.
    async fn deadline(self) {
        match self {
            Ending::Running => std::future::pending().await,
            Ending::Draining { until } | Ending::Stopping { until, .. } => {
                tokio::time::sleep_until(until).await;
            }
        }
    }
}
