//! The work loop against a fake WorkQueue on port 0: lease, heartbeat with
//! progress, complete with counts, fail a blocked mailbox without retry.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{directory, no_limits, settings, Harness};
use galsync_contact_writer::engine::EngineSettings;
use galsync_contact_writer::work::{self, WorkSettings};
use galsync_graph_emulator::faults::FaultRule;
use galsync_proto::v1;
use galsync_testkit::harness::serve_grpc;
use tonic::{Request, Response, Status};

#[derive(Default, Clone)]
struct FakeQueue {
    items: Arc<Mutex<Vec<v1::WorkItem>>>,
    completed: Arc<Mutex<Vec<v1::CompleteRequest>>>,
    failed: Arc<Mutex<Vec<v1::FailRequest>>>,
    released: Arc<Mutex<Vec<String>>>,
    heartbeats: Arc<Mutex<Vec<v1::HeartbeatRequest>>>,
    /// Items leased and not yet completed, failed or released; and its peak.
    active: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    /// Heartbeats answer UNAVAILABLE (the queue's store is down).
    heartbeats_fail: Arc<AtomicBool>,
    /// How long a lease call waits at the queue before it is answered.
    lease_hold: Duration,
    /// When the last lease was granted.
    leased_at: Arc<Mutex<Option<tokio::time::Instant>>>,
}

impl FakeQueue {
    /// Serves the queue on port 0, runs the work loop (leases of
    /// `lease_secs`) until `items` items were completed or failed, then stops it.
    async fn work_through(&self, harness: &Harness, lease_secs: u32, items: usize) {
        self.work_until(harness, lease_secs, |queue| {
            queue.completed.lock().unwrap().len() + queue.failed.lock().unwrap().len() >= items
        })
        .await;
    }

    /// Serves the queue and runs the work loop until `done` holds, then stops it.
    async fn work_until(
        &self,
        harness: &Harness,
        lease_secs: u32,
        done: impl Fn(&FakeQueue) -> bool,
    ) {
        let queue = v1::work_queue_server::WorkQueueServer::new(self.clone());
        let addr = serve_grpc(tonic::service::Routes::new(queue), None).await;
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let settings = WorkSettings {
            worker_id: "writer-test".to_owned(),
            lease_secs,
            idle_poll: Duration::from_millis(50),
            drain: Duration::from_secs(5),
        };
        let loop_task = tokio::spawn(work::run(
            Arc::clone(&harness.engine),
            channel,
            settings,
            stopped,
        ));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !done(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "work items were not finished"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), loop_task)
            .await
            .unwrap()
            .unwrap();
    }
}

fn sync_item(harness: &Harness, index: usize, mailbox: &str, dry_run: bool) -> v1::WorkItem {
    v1::WorkItem {
        work_item_id: format!("item-{index}"),
        run_id: "run-1".to_owned(),
        request: Some(v1::SyncMailboxRequest {
            tenant_id: harness.tenant_id.to_string(),
            mailbox_id: mailbox.to_owned(),
            snapshot_id: "snap-1".to_owned(),
            policy: Some(v1::WritePolicy::default()),
            profile_id: "profile-1".to_owned(),
            purge: false,
        }),
        attempt: 1,
        dry_run,
    }
}

#[tonic::async_trait]
impl v1::work_queue_server::WorkQueue for FakeQueue {
    async fn lease(
        &self,
        _request: Request<v1::LeaseRequest>,
    ) -> Result<Response<v1::LeaseResponse>, Status> {
        tokio::time::sleep(self.lease_hold).await;
        let item = self.items.lock().unwrap().pop();
        if item.is_some() {
            *self.leased_at.lock().unwrap() = Some(tokio::time::Instant::now());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leased_mailboxes_are_completed_with_counts_and_a_blocked_one_fails_for_good() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailboxes = harness.add_mailboxes(3);
    harness
        .emulator
        .state
        .identity
        .set_exchange_scope(
            harness.tenant_id,
            &harness.client_id,
            Some(mailboxes[..2].to_vec()),
        )
        .unwrap();
    let queue = queue_of(&harness, &mailboxes, 25);
    queue.items.lock().unwrap()[1].dry_run = true;
    queue.work_through(&harness, 30, 3).await;

    let completed = queue.completed.lock().unwrap().clone();
    let synced = completed
        .iter()
        .find(|request| request.lease_token == "lease-item-0")
        .unwrap();
    assert_eq!(synced.result.as_ref().unwrap().counts.unwrap().created, 25);
    assert_eq!(harness.owned_by_source(&mailboxes[0]).len(), 25);
    let planned = completed
        .iter()
        .find(|request| request.lease_token == "lease-item-1")
        .unwrap();
    assert_eq!(planned.plan.as_ref().unwrap().counts.unwrap().created, 25);
    assert!(
        harness.folder_ids(&mailboxes[1]).is_empty(),
        "a dry run writes nothing"
    );
    let failed = queue.failed.lock().unwrap().clone();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].lease_token, "lease-item-2");
    assert!(
        failed[0]
            .reason
            .starts_with("blocked by an Exchange application access policy"),
        "{}",
        failed[0].reason
    );
    assert!(failed[0]
        .reason
        .contains("add the mailbox to the app's scope"));
    assert!(!failed[0].retryable);
}

/// Graph requests to `mailbox` counted by the emulator, by status.
fn mailbox_requests(harness: &Harness, mailbox: &str, status: u16) -> u64 {
    harness
        .emulator
        .state
        .accounting
        .total(|key| key.mailbox == mailbox && key.status == status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_graph_error_ends_the_attempt_at_once_with_its_fix() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    // Graph refuses the folder look-up as malformed, as it would a query it
    // does not support: retrying cannot change its answer.
    harness.emulator.state.faults.add(FaultRule {
        path_contains: Some("/contactFolders".to_owned()),
        status: Some(400),
        ..Default::default()
    });
    let queue = queue_of(&harness, std::slice::from_ref(&mailbox), 5);
    queue.work_through(&harness, 30, 1).await;

    let failed = queue.failed.lock().unwrap().clone();
    assert_eq!(failed.len(), 1);
    assert!(
        !failed[0].retryable,
        "the work queue must not offer it again"
    );
    let reason = &failed[0].reason;
    assert!(reason.contains("400 invalidRequest"), "{reason}");
    assert!(
        reason.contains("retrying cannot fix this: graph does not accept a request galsync sent"),
        "{reason}"
    );
    assert_eq!(mailbox_requests(&harness, &mailbox, 400), 1, "one request");
    assert_eq!(
        harness
            .emulator
            .state
            .accounting
            .total(|key| key.mailbox == mailbox),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_503_is_retried_and_the_mailbox_completes() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    harness.emulator.state.faults.add(FaultRule {
        path_contains: Some("/contactFolders".to_owned()),
        method: Some("GET".to_owned()),
        status: Some(503),
        times: Some(2),
        ..Default::default()
    });
    let queue = queue_of(&harness, std::slice::from_ref(&mailbox), 5);
    queue.work_through(&harness, 30, 1).await;

    assert!(queue.failed.lock().unwrap().is_empty());
    let completed = queue.completed.lock().unwrap().clone();
    let counts = completed[0].result.as_ref().unwrap().counts.unwrap();
    assert_eq!(counts.created, 5);
    assert_eq!(counts.retries, 2);
    assert_eq!(mailbox_requests(&harness, &mailbox, 503), 2);
    assert_eq!(harness.owned_by_source(&mailbox).len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_carry_the_counts_so_far() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    // Slow batches make the sync outlast several heartbeats.
    harness.emulator.state.faults.add(FaultRule {
        path_contains: Some("$batch".to_owned()),
        method: Some("POST".to_owned()),
        latency_ms: Some(250),
        ..Default::default()
    });
    let queue = queue_of(&harness, std::slice::from_ref(&mailbox), 400);
    // Leases of 3 s: a heartbeat every second.
    queue.work_through(&harness, 3, 1).await;

    let completed = queue.completed.lock().unwrap().clone();
    let final_counts = completed[0].result.as_ref().unwrap().counts.unwrap();
    assert_eq!(final_counts.created, 400);
    let progress: Vec<v1::SyncCounts> = queue
        .heartbeats
        .lock()
        .unwrap()
        .iter()
        .map(|heartbeat| {
            heartbeat
                .progress
                .expect("every heartbeat carries progress")
        })
        .collect();
    assert!(
        progress.len() >= 2,
        "a sync of 20 slow batches outlasts two heartbeats: {progress:?}"
    );
    assert!(
        progress
            .iter()
            .any(|counts| counts.created > 0 && counts.created < 400),
        "some heartbeat shows the sync part way: {progress:?}"
    );
    assert!(
        progress
            .windows(2)
            .all(|pair| pair[0].created <= pair[1].created
                && pair[0].graph_requests <= pair[1].graph_requests),
        "progress only grows: {progress:?}"
    );
    assert!(progress
        .iter()
        .all(|counts| counts.created <= final_counts.created));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_cannot_renew_its_lease_sends_nothing_once_it_may_lapse() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    // Each batch takes 2.5 s at Graph: the second is in flight when the
    // 4 s lease, unrenewed since it was granted, runs out.
    harness.emulator.state.faults.add(FaultRule {
        path_contains: Some("$batch".to_owned()),
        method: Some("POST".to_owned()),
        latency_ms: Some(2500),
        ..Default::default()
    });
    let queue = queue_of(&harness, std::slice::from_ref(&mailbox), 200);
    queue.heartbeats_fail.store(true, Ordering::SeqCst);
    // Runs until 3 s after the lease lapsed, noting the contacts at the lapse.
    let at_lapse: Mutex<Option<usize>> = Mutex::new(None);
    queue
        .work_until(&harness, 4, |queue| {
            let Some(leased_at) = *queue.leased_at.lock().unwrap() else {
                return false;
            };
            let since = leased_at.elapsed();
            if since >= Duration::from_secs(4) {
                at_lapse
                    .lock()
                    .unwrap()
                    .get_or_insert_with(|| harness.folder_contacts(&mailbox).len());
            }
            since >= Duration::from_secs(7)
        })
        .await;

    assert!(
        queue.released.lock().unwrap().is_empty()
            && queue.completed.lock().unwrap().is_empty()
            && queue.failed.lock().unwrap().is_empty(),
        "a write abandoned at the deadline may still land: the lease is left to lapse"
    );
    let at_lapse = at_lapse.lock().unwrap().expect("sampled at the lapse");
    assert_eq!(
        harness.folder_contacts(&mailbox).len(),
        at_lapse,
        "a write landed after the lease lapsed, when another writer may hold the mailbox"
    );
    assert!(
        at_lapse < 200,
        "the sync stopped part way: {at_lapse} contacts"
    );
    assert!(
        queue.heartbeats.lock().unwrap().len() >= 2,
        "the writer kept trying to renew"
    );
}

/// A lease call the queue held until work came runs its whole length from
/// when it was granted, not from when it was asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_granted_after_a_long_wait_at_the_queue_runs_its_full_length() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    let mut queue = queue_of(&harness, std::slice::from_ref(&mailbox), 40);
    queue.lease_hold = Duration::from_millis(3500);
    queue.work_through(&harness, 4, 1).await;

    let completed = queue.completed.lock().unwrap().clone();
    assert_eq!(
        completed.len(),
        1,
        "failed: {:?}",
        queue.failed.lock().unwrap()
    );
    assert_eq!(
        completed[0]
            .result
            .as_ref()
            .unwrap()
            .counts
            .unwrap()
            .created,
        40
    );
    assert_eq!(harness.owned_by_source(&mailbox).len(), 40);
}

/// Fills a queue with one sync item per mailbox, of `people` people.
fn queue_of(harness: &Harness, mailboxes: &[String], people: usize) -> FakeQueue {
    harness
        .reader
        .snapshots
        .lock()
        .unwrap()
        .insert("snap-1".to_owned(), directory(people));
    let queue = FakeQueue::default();
    for (index, mailbox) in mailboxes.iter().enumerate() {
        queue
            .items
            .lock()
            .unwrap()
            .push(sync_item(harness, index, mailbox, false));
    }
    queue
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_drives_more_mailboxes_at_once_while_graph_allows() {
    let harness = Harness::start(
        no_limits(),
        EngineSettings {
            mailboxes_at_start: 1,
            max_mailboxes: 12,
            ..settings()
        },
    )
    .await;
    let mailboxes = harness.add_mailboxes(40);
    let queue = queue_of(&harness, &mailboxes, 10);
    queue.work_through(&harness, 30, 40).await;
    assert_eq!(queue.completed.lock().unwrap().len(), 40);
    let peak = queue.peak.load(Ordering::SeqCst);
    assert!(
        peak > 4,
        "started at 1 mailbox at once and reached only {peak}"
    );
    assert!(
        peak <= 12,
        "{peak} mailboxes at once is above --max-workers 12"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_wide_429_makes_the_writer_drive_fewer_mailboxes_and_nothing_is_lost() {
    // An app-wide budget of 60 requests per (time-scaled) 10 s: 200 ms here.
    let harness = Harness::start(
        galsync_graph_emulator::EmulatorConfig {
            app_requests_per_window: 60,
            time_scale: 0.02,
            ..galsync_graph_emulator::EmulatorConfig::default()
        },
        EngineSettings {
            mailboxes_at_start: 16,
            max_mailboxes: 16,
            ..settings()
        },
    )
    .await;
    let mailboxes = harness.add_mailboxes(24);
    let queue = queue_of(&harness, &mailboxes, 10);
    queue.work_through(&harness, 30, 24).await;
    assert_eq!(
        queue.completed.lock().unwrap().len(),
        24,
        "{:?}",
        queue.failed.lock().unwrap()
    );
    for mailbox in &mailboxes {
        assert_eq!(harness.owned_by_source(mailbox).len(), 10, "{mailbox}");
    }
    let app_wide = harness
        .emulator
        .state
        .accounting
        .total(|key| key.status == 429);
    assert!(
        app_wide > 0,
        "the app-wide limit never bound: the test proves nothing"
    );
    assert!(
        harness.engine.concurrency.cuts() > 0,
        "the writer kept driving 16 mailboxes through app-wide 429s"
    );
}
