//! A no-op round through the work loop at Graph's modelled latency, against a
//! work queue that, like the scheduler, holds a lease call while it has no
//! work and is served by galsync's own gRPC bootstrap (which serves a bounded
//! number of calls at once per connection, `--max-concurrent-calls`).
//!
//! The round needs one folder check per mailbox, a few rounds of them in
//! all: well under a second here. A writer whose idle workers all wait at
//! the queue fills the server's places with waiting lease calls, and its last
//! completions wait behind them until those waits end (10 s).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{directory, settings, Harness};
use galsync_contact_writer::work::{self, WorkSettings};
use galsync_graph_emulator::latency::LatencyModel;
use galsync_graph_emulator::EmulatorConfig;
use galsync_platform::grpc::ServeOptions;
use galsync_proto::v1;
use tokio::sync::Notify;
use tokio::time::Instant;
use tonic::{Request, Response, Status};

/// Mailboxes in the run.
const MAILBOXES: usize = 60;
/// Calls the queue's server serves at once per connection: the scheduler's
/// default is 256, for runs of hundreds of mailboxes; this run is smaller.
const QUEUE_CALLS_AT_ONCE: usize = 16;
/// Graph's latency, time-scaled: a folder check takes about 15 ms.
const TIME_SCALE: f64 = 0.1;

/// A work queue that holds a lease call up to its `wait_seconds` while it has
/// no work and answers it as soon as work is queued, as the scheduler does.
#[derive(Default, Clone)]
struct HoldingQueue {
    items: Arc<Mutex<Vec<v1::WorkItem>>>,
    added: Arc<Notify>,
    completed: Arc<Mutex<Vec<v1::CompleteRequest>>>,
    failed: Arc<Mutex<Vec<v1::FailRequest>>>,
    /// Lease calls waiting for work right now, and the most at once.
    waiting: Arc<AtomicUsize>,
    peak_waiting: Arc<AtomicUsize>,
}

/// Counts a lease call as waiting while held, however the call ends.
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HoldingQueue {
    fn queue(&self, items: Vec<v1::WorkItem>) {
        self.items.lock().unwrap().extend(items);
        self.added.notify_waiters();
    }

    fn finished(&self) -> usize {
        self.completed.lock().unwrap().len() + self.failed.lock().unwrap().len()
    }

    /// Waits until `count` items have been completed or failed; how long it took.
    async fn finish(&self, count: usize, started: Instant) -> Duration {
        while self.finished() < count {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} of {count} items finished in a minute",
                self.finished()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        started.elapsed()
    }
}

#[tonic::async_trait]
impl v1::work_queue_server::WorkQueue for HoldingQueue {
    async fn lease(
        &self,
        request: Request<v1::LeaseRequest>,
    ) -> Result<Response<v1::LeaseResponse>, Status> {
        let wait = Duration::from_secs(u64::from(request.get_ref().wait_seconds));
        let deadline = Instant::now() + wait;
        let mut counted: Option<Waiting> = None;
        let item = loop {
            let added = self.added.notified();
            if let Some(item) = self.items.lock().unwrap().pop() {
                break Some(item);
            }
            if Instant::now() >= deadline {
                break None;
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
        };
        drop(counted);
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
        _request: Request<v1::HeartbeatRequest>,
    ) -> Result<Response<v1::HeartbeatResponse>, Status> {
        Ok(Response::new(v1::HeartbeatResponse::default()))
    }

    async fn complete(
        &self,
        request: Request<v1::CompleteRequest>,
    ) -> Result<Response<v1::CompleteResponse>, Status> {
        self.completed.lock().unwrap().push(request.into_inner());
        Ok(Response::new(v1::CompleteResponse {}))
    }

    async fn fail(
        &self,
        request: Request<v1::FailRequest>,
    ) -> Result<Response<v1::FailResponse>, Status> {
        self.failed.lock().unwrap().push(request.into_inner());
        Ok(Response::new(v1::FailResponse { will_retry: false }))
    }

    async fn release(
        &self,
        _request: Request<v1::ReleaseRequest>,
    ) -> Result<Response<v1::ReleaseResponse>, Status> {
        Ok(Response::new(v1::ReleaseResponse {}))
    }
}

fn items(harness: &Harness, run_id: &str, mailboxes: &[String]) -> Vec<v1::WorkItem> {
    mailboxes
        .iter()
        .map(|mailbox| v1::WorkItem {
            work_item_id: format!("{run_id}-{mailbox}"),
            run_id: run_id.to_owned(),
            request: Some(v1::SyncMailboxRequest {
                tenant_id: harness.tenant_id.to_string(),
                mailbox_id: mailbox.clone(),
                snapshot_id: "snap-1".to_owned(),
                policy: Some(v1::WritePolicy::default()),
                profile_id: "profile-1".to_owned(),
                purge: false,
            }),
            attempt: 1,
            dry_run: false,
        })
        .collect()
}

/// Serves `queue` with galsync's gRPC bootstrap, serving
/// [`QUEUE_CALLS_AT_ONCE`] calls at once per connection.
async fn serve_queue(queue: HoldingQueue) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut options = ServeOptions::local("work-queue", vec!["galsync.v1.WorkQueue"]);
    options.max_concurrent_calls = QUEUE_CALLS_AT_ONCE;
    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(v1::work_queue_server::WorkQueueServer::new(queue));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(galsync_platform::grpc::serve(
        options,
        listener,
        routes,
        async move {
            let _ = stopped.await;
        },
    ));
    (format!("http://{addr}"), stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_op_round_of_many_mailboxes_ends_when_its_folder_checks_do() {
    let harness = Harness::start(
        EmulatorConfig {
            latency: LatencyModel::graph(),
            time_scale: TIME_SCALE,
            ..EmulatorConfig::default()
        },
        settings(),
    )
    .await;
    let mailboxes = harness.add_mailboxes(MAILBOXES);
    harness
        .reader
        .snapshots
        .lock()
        .unwrap()
        .insert("snap-1".to_owned(), directory(3));
    let queue = HoldingQueue::default();
    let (url, stop_queue) = serve_queue(queue.clone()).await;
    let channel = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .connect_lazy();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let settings = WorkSettings {
        worker_id: "writer-test".to_owned(),
        lease_secs: 30,
        idle_poll: Duration::from_millis(50),
        drain: Duration::from_secs(5),
    };
    let work_loop = tokio::spawn(work::run(
        Arc::clone(&harness.engine),
        channel,
        settings,
        stopped,
    ));

    queue.queue(items(&harness, "initial", &mailboxes));
    queue.finish(MAILBOXES, Instant::now()).await;
    // The writer waits for work again, as between two runs.
    tokio::time::sleep(Duration::from_millis(200)).await;
    harness.emulator.state.accounting.reset();
    let started = Instant::now();
    queue.queue(items(&harness, "no-op", &mailboxes));
    let took = queue.finish(2 * MAILBOXES, started).await;

    stop.send(true).unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(15), work_loop).await;
    let _ = stop_queue.send(());
    assert!(
        queue.failed.lock().unwrap().is_empty(),
        "{:?}",
        queue.failed.lock().unwrap()
    );
    for completed in &queue.completed.lock().unwrap()[MAILBOXES..] {
        let counts = completed.result.as_ref().unwrap().counts.unwrap();
        assert_eq!((counts.created, counts.unchanged), (0, 3));
    }
    assert_eq!(
        harness.all_contact_writes(),
        0,
        "nothing changed, nothing is written"
    );
    let peak_waiting = queue.peak_waiting.load(Ordering::SeqCst);
    println!("{MAILBOXES} unchanged mailboxes in {took:?}, at most {peak_waiting} lease calls waiting at once");
    assert!(
        took < Duration::from_secs(4),
        "{MAILBOXES} unchanged mailboxes took {took:?} (at most {peak_waiting} lease calls waited at the queue at once)"
    );
    assert_eq!(
        peak_waiting, 1,
        "one lease call of a writer waits at the queue; the others wait in the writer"
    );
}
