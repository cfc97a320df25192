//! The work loop: lease a mailbox from the scheduler's work queue, reconcile
//! it while heartbeating (each heartbeat carries the counts so far, which the
//! scheduler forwards to `WatchRun`), then complete it with its counts or fail
//! it with a reason. On shutdown a running item gets the drain time to
//! finish, else its lease is released (the store is marked uncertain, so the
//! next writer rebuilds before writing).

use std::sync::Arc;
use std::time::Duration;

use galsync_proto::v1;
use galsync_proto::v1::work_queue_client::WorkQueueClient;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tracing::{info, warn};

use crate::engine::Engine;
use crate::error::Error;
use crate::grpc;
use crate::reconcile::{Progress, ProgressHandle, Report};

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
    /// Time a running item gets after shutdown before its lease is released.
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
    let mut workers = Vec::new();
    for index in 0..engine.concurrency.max() {
        let worker = Worker {
            engine: Arc::clone(&engine),
            queue: WorkQueueClient::new(queue.clone()),
            settings: settings.clone(),
            name: format!("{}-{index}", settings.worker_id),
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
            let request = v1::LeaseRequest {
                worker_id: self.name.clone(),
                lease_seconds: self.settings.lease_secs,
                wait_seconds: LEASE_WAIT_SECS,
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
                // The queue held the call while it had no work; one that
                // answers at once (an older scheduler) is polled at idle_poll.
                let held = asked_at.elapsed() >= Duration::from_secs(1);
                drop(slot);
                concurrency.idle();
                if !held && sleep_or_stop(self.settings.idle_poll, &mut shutdown).await {
                    break;
                }
                continue;
            };
            self.process(lease, &mut shutdown).await;
            concurrency.finished(slot);
        }
    }

    async fn process(&mut self, lease: v1::Lease, shutdown: &mut watch::Receiver<bool>) {
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
        let engine = Arc::clone(&self.engine);
        let dry_run = item.dry_run;
        let (progress, handle) = Progress::new();
        let mut work: JoinHandle<Result<Report, Error>> = tokio::spawn(async move {
            grpc::execute_request(&engine, &request, dry_run, &progress).await
        });
        // A third of the lease, and at most 5 s: a heartbeat is also how a
        // writer learns its run was cancelled.
        let heartbeat_every = Duration::from_secs(
            (u64::from(self.settings.lease_secs.max(3)) / 3).min(MAX_HEARTBEAT_SECS),
        );
        let mut heartbeat = tokio::time::interval_at(
            tokio::time::Instant::now() + heartbeat_every,
            heartbeat_every,
        );
        loop {
            tokio::select! {
                finished = &mut work => {
                    self.report(&lease_token, finished).await;
                    return;
                }
                _ = heartbeat.tick() => {
                    let request = v1::HeartbeatRequest {
                        lease_token: lease_token.clone(),
                        lease_seconds: self.settings.lease_secs,
                        progress: Some(*handle.counts.borrow()),
                    };
                    match self.queue.heartbeat(request).await {
                        Ok(response) if response.get_ref().cancel_requested => {
                            info!(worker = %self.name, "run cancelled, stopping after the batch in flight");
                            self.stop_cancelled(&lease_token, work, handle).await;
                            return;
                        }
                        Ok(_) => {}
                        Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                            warn!(worker = %self.name, "lease lost to another writer, stopping");
                            work.abort();
                            return;
                        }
                        Err(status) => warn!(worker = %self.name, error = %status.message(), "heartbeat failed"),
                    }
                }
                _ = shutdown.changed() => {
                    match tokio::time::timeout(self.settings.drain, &mut work).await {
                        Ok(finished) => self.report(&lease_token, finished).await,
                        Err(_) => {
                            info!(worker = %self.name, "shutting down mid-item, releasing the lease");
                            work.abort();
                            let counts = *handle.counts.borrow();
                            self.release(&lease_token, counts).await;
                        }
                    }
                    return;
                }
            }
        }
    }

    async fn report(
        &mut self,
        lease_token: &str,
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
                    warn!(worker = %self.name, error = %status.message(), "failed to complete the work item");
                }
            }
            Ok(Err(error)) => {
                warn!(worker = %self.name, %error, "work item failed");
                self.fail(lease_token, &error.plain_words(), error.is_retryable())
                    .await;
            }
            Err(join_error) => {
                warn!(worker = %self.name, error = %join_error, "work item task ended abnormally");
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

    /// Stops a reconciliation whose run was cancelled between two batches
    /// (waiting up to the drain time) and gives the item back with the
    /// counts of the writes that happened; one that finished meanwhile is
    /// completed as usual.
    async fn stop_cancelled(
        &mut self,
        lease_token: &str,
        mut work: JoinHandle<Result<Report, Error>>,
        handle: ProgressHandle,
    ) {
        let _ = handle.stop.send(true);
        match tokio::time::timeout(self.settings.drain, &mut work).await {
            Ok(Ok(Ok(report))) => {
                self.report(lease_token, Ok(Ok(report))).await;
                return;
            }
            Ok(_) => {}
            Err(_) => {
                warn!(worker = %self.name, "the reconciliation did not stop within the drain time; aborting it");
                work.abort();
            }
        }
        let counts = *handle.counts.borrow();
        info!(worker = %self.name, created = counts.created, updated = counts.updated, deleted = counts.deleted, "stopped for the cancelled run");
        self.release(lease_token, counts).await;
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
