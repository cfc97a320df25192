//! One stand-in for the scheduler's WorkQueue, served over real gRPC by
//! galsync's own bootstrap on port 0, with the writer's work loop run against
//! it. It records every call the writer makes; its options model the queue
//! behaviours a test needs:
//!
//! - [`StandInQueue::hold_until_work`]: a lease call waits up to its
//!   `wait_seconds` while there is no work and is answered as soon as work is
//!   queued, as the scheduler does (otherwise it is answered at once, empty);
//! - [`StandInQueue::lease_hold`]: every lease call waits this long first;
//! - [`StandInQueue::calls_at_once`]: how many calls the server serves at
//!   once per connection (`--max-concurrent-calls`);
//! - [`StandInQueue::heartbeats_fail`]: heartbeats answer UNAVAILABLE.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use galsync_contact_writer::work::{self, WorkSettings};
use galsync_platform::grpc::ServeOptions;
use galsync_proto::v1;
use galsync_testkit::harness::{serve_galsync, RunningServer};
use tokio::sync::Notify;
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use super::Harness;

#[derive(Clone)]
pub struct StandInQueue {
    pub items: Arc<Mutex<Vec<v1::WorkItem>>>,
    /// Wakes the held lease calls when work is queued.
    pub added: Arc<Notify>,
    pub completed: Arc<Mutex<Vec<v1::CompleteRequest>>>,
    pub failed: Arc<Mutex<Vec<v1::FailRequest>>>,
    pub released: Arc<Mutex<Vec<String>>>,
    pub heartbeats: Arc<Mutex<Vec<v1::HeartbeatRequest>>>,
    /// Items leased and not yet completed, failed or released; and its peak.
    pub active: Arc<AtomicUsize>,
    pub peak: Arc<AtomicUsize>,
    /// Lease calls waiting for work right now, and the most at once.
    pub waiting: Arc<AtomicUsize>,
    pub peak_waiting: Arc<AtomicUsize>,
    /// When the last lease was granted.
    pub leased_at: Arc<Mutex<Option<Instant>>>,
    /// Heartbeats answer UNAVAILABLE (the queue's store is down).
    pub heartbeats_fail: Arc<AtomicBool>,
    /// Lease calls wait for work up to their `wait_seconds`, as the scheduler's do.
    pub hold_until_work: bool,
    /// How long a lease call waits at the queue before it is looked at.
    pub lease_hold: Duration,
    /// Calls the queue's server serves at once per connection.
    pub calls_at_once: usize,
}

impl Default for StandInQueue {
    fn default() -> Self {
        Self {
            items: Arc::default(),
            added: Arc::default(),
            completed: Arc::default(),
            failed: Arc::default(),
            released: Arc::default(),
            heartbeats: Arc::default(),
            active: Arc::default(),
            peak: Arc::default(),
            waiting: Arc::default(),
            peak_waiting: Arc::default(),
            leased_at: Arc::default(),
            heartbeats_fail: Arc::default(),
            hold_until_work: false,
            lease_hold: Duration::ZERO,
            calls_at_once: ServeOptions::local("work-queue", Vec::new()).max_concurrent_calls,
        }
    }
}

/// Counts a lease call as waiting while held, however the call ends.
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A work loop running against a served [`StandInQueue`].
pub struct WorkingWriter {
    stop: tokio::sync::watch::Sender<bool>,
    work_loop: tokio::task::JoinHandle<()>,
    /// The served queue; stops serving when dropped.
    queue: RunningServer,
}

impl WorkingWriter {
    /// Asks the work loop to stop and waits up to `within` for it to end,
    /// then stops the queue; whether the loop ended in time.
    pub async fn stop(self, within: Duration) -> bool {
        self.stop.send(true).unwrap();
        let ended = tokio::time::timeout(within, self.work_loop).await;
        drop(self.queue);
        match ended {
            Ok(joined) => {
                joined.unwrap();
                true
            }
            Err(_) => false,
        }
    }
}

impl StandInQueue {
    /// Adds `items` to the queue, answering held lease calls.
    pub fn queue(&self, items: Vec<v1::WorkItem>) {
        self.items.lock().unwrap().extend(items);
        self.added.notify_waiters();
    }

    /// Items completed or failed so far.
    pub fn finished(&self) -> usize {
        self.completed.lock().unwrap().len() + self.failed.lock().unwrap().len()
    }

    /// Serves the queue and starts the work loop of `harness`'s engine
    /// against it, with leases of `lease_secs`.
    pub async fn start_writer(&self, harness: &Harness, lease_secs: u32) -> WorkingWriter {
        let queue = self.serve().await;
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", queue.addr))
            .unwrap()
            .connect_lazy();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let settings = WorkSettings {
            worker_id: "writer-test".to_owned(),
            lease_secs,
            idle_poll: Duration::from_millis(50),
            drain: Duration::from_secs(5),
        };
        let work_loop = tokio::spawn(work::run(
            Arc::clone(&harness.engine),
            channel,
            settings,
            stopped,
        ));
        WorkingWriter {
            stop,
            work_loop,
            queue,
        }
    }

    /// Waits until `done` holds, failing the test after a minute; how long it took.
    pub async fn wait_until(
        &self,
        started: Instant,
        done: impl Fn(&StandInQueue) -> bool,
    ) -> Duration {
        while !done(self) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "work items were not finished in a minute: {} finished",
                self.finished()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        started.elapsed()
    }

    /// Waits until `count` items have been completed or failed; how long it took.
    pub async fn finish(&self, count: usize, started: Instant) -> Duration {
        self.wait_until(started, |queue| queue.finished() >= count)
            .await
    }

    /// Runs the work loop (leases of `lease_secs`) until `items` items were
    /// completed or failed, then stops it.
    pub async fn work_through(&self, harness: &Harness, lease_secs: u32, items: usize) {
        self.work_until(harness, lease_secs, |queue| queue.finished() >= items)
            .await;
    }

    /// Runs the work loop until `done` holds, then stops it; the loop must
    /// end within 5 s.
    pub async fn work_until(
        &self,
        harness: &Harness,
        lease_secs: u32,
        done: impl Fn(&StandInQueue) -> bool,
    ) {
        let writer = self.start_writer(harness, lease_secs).await;
        self.wait_until(Instant::now(), done).await;
        assert!(
            writer.stop(Duration::from_secs(5)).await,
            "the work loop did not stop within 5 s"
        );
    }

    /// Serves the queue with galsync's gRPC bootstrap on port 0.
    async fn serve(&self) -> RunningServer {
        let mut options = ServeOptions::local("work-queue", vec!["galsync.v1.WorkQueue"]);
        options.max_concurrent_calls = self.calls_at_once;
        let mut routes = tonic::service::RoutesBuilder::default();
        routes.add_service(v1::work_queue_server::WorkQueueServer::new(self.clone()));
        serve_galsync(options, routes).await
    }

    /// The next item, holding the call until work comes if the queue holds
    /// lease calls, counting the call as waiting meanwhile.
    async fn next_item(&self, wait: Duration) -> Option<v1::WorkItem> {
        if !self.hold_until_work {
            return self.items.lock().unwrap().pop();
        }
        let deadline = Instant::now() + wait;
        let mut counted: Option<Waiting> = None;
        loop {
            let added = self.added.notified();
            if let Some(item) = self.items.lock().unwrap().pop() {
                return Some(item);
            }
            if Instant::now() >= deadline {
                return None;
            }
            if counted.is_none() {
                let now_waiting = self.waiting.fetch_add(1, Ordering::SeqCst) + 1;
                self.peak_waiting.fetch_max(now_waiting, Ordering::SeqCst);
                counted = Some(Waiting(Arc::clone(&self.waiting)));
            }
            tokio::select! {
                _ = added => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }
}

/// A work item syncing `mailbox` from snapshot `snap-1` with profile `profile-1`.
pub fn sync_item(
    harness: &Harness,
    work_item_id: String,
    run_id: &str,
    mailbox: &str,
) -> v1::WorkItem {
    v1::WorkItem {
        work_item_id,
        run_id: run_id.to_owned(),
        request: Some(v1::SyncMailboxRequest {
            tenant_id: harness.tenant_id.to_string(),
            mailbox_id: mailbox.to_owned(),
            snapshot_id: "snap-1".to_owned(),
            policy: Some(v1::WritePolicy::default()),
            profile_id: "profile-1".to_owned(),
            purge: false,
        }),
        attempt: 1,
        dry_run: false,
    }
}

#[tonic::async_trait]
impl v1::work_queue_server::WorkQueue for StandInQueue {
    async fn lease(
        &self,
        request: Request<v1::LeaseRequest>,
    ) -> Result<Response<v1::LeaseResponse>, Status> {
        tokio::time::sleep(self.lease_hold).await;
        let wait = Duration::from_secs(u64::from(request.get_ref().wait_seconds));
        let item = self.next_item(wait).await;
        if item.is_some() {
            *self.leased_at.lock().unwrap() = Some(Instant::now());
            let active = self.active.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(active, Ordering::SeqCst);
        }
        Ok(Response::new(v1::LeaseResponse {
            lease: item.map(|item| v1::Lease {
                lease_token: format!("lease-{}", item.work_item_id),
                expires_at: None,
                item: Some(item),
            }),
        }))
    }

    async fn heartbeat(
        &self,
        request: Request<v1::HeartbeatRequest>,
    ) -> Result<Response<v1::HeartbeatResponse>, Status> {
        self.heartbeats.lock().unwrap().push(request.into_inner());
        if self.heartbeats_fail.load(Ordering::SeqCst) {
            return Err(Status::unavailable("the work queue's store is down"));
        }
        Ok(Response::new(v1::HeartbeatResponse::default()))
    }

    async fn complete(
        &self,
        request: Request<v1::CompleteRequest>,
    ) -> Result<Response<v1::CompleteResponse>, Status> {
        self.active.fetch_sub(1, Ordering::SeqCst);
        self.completed.lock().unwrap().push(request.into_inner());
        Ok(Response::new(v1::CompleteResponse {}))
    }

    async fn fail(
        &self,
        request: Request<v1::FailRequest>,
    ) -> Result<Response<v1::FailResponse>, Status> {
        self.active.fetch_sub(1, Ordering::SeqCst);
        self.failed.lock().unwrap().push(request.into_inner());
        Ok(Response::new(v1::FailResponse { will_retry: false }))
    }

    async fn release(
        &self,
        request: Request<v1::ReleaseRequest>,
    ) -> Result<Response<v1::ReleaseResponse>, Status> {
        self.active.fetch_sub(1, Ordering::SeqCst);
        self.released
            .lock()
            .unwrap()
            .push(request.into_inner().lease_token);
        Ok(Response::new(v1::ReleaseResponse {}))
    }
}
