//! A scheduler served in-process on port 0 with a stand-in directory, and a
//! stand-in writer that works the queue over real gRPC.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use galsync_proto::v1;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use galsync_proto::v1::work_queue_client::WorkQueueClient;
use galsync_scheduler::access::Access;
use galsync_scheduler::directory::DirectorySource;
use galsync_scheduler::store::SchedulerStore;
use galsync_scheduler::{Config, Scheduler, SchedulerError, Timings};
use galsync_testkit::harness::{spawn_server, RunningServer};
use tonic::transport::Channel;

pub const TENANT: &str = "6f1d2f8c-4f7a-4c36-9a53-0d7d3b0c2a11";

/// A directory with a fixed set of target mailboxes.
pub struct FakeDirectory {
    pub mailboxes: Mutex<Vec<String>>,
    pub snapshots_taken: Mutex<u32>,
    pub read_delay: Duration,
}

impl FakeDirectory {
    pub fn with_mailboxes(count: usize) -> Arc<Self> {
        Arc::new(Self {
            mailboxes: Mutex::new(
                (0..count)
                    .map(|index| format!("mailbox-{index:03}"))
                    .collect(),
            ),
            snapshots_taken: Mutex::new(0),
            read_delay: Duration::from_millis(0),
        })
    }
}

impl DirectorySource for FakeDirectory {
    fn take_snapshot(
        &self,
        request: v1::TakeSnapshotRequest,
    ) -> BoxFuture<'_, Result<v1::Snapshot, SchedulerError>> {
        Box::pin(async move {
            tokio::time::sleep(self.read_delay).await;
            *self.snapshots_taken.lock().unwrap() += 1;
            Ok(v1::Snapshot {
                snapshot_id: "snapshot-1".to_owned(),
                tenant_id: request.tenant_id,
                entry_count: 10,
                created_at: None,
                read_stats: Some(v1::ReadStats {
                    mode: "full".to_owned(),
                    graph_requests: 1,
                    ..Default::default()
                }),
            })
        })
    }

    fn resolve_targets(
        &self,
        _tenant_id: &str,
        _selector: v1::TargetSelector,
    ) -> BoxFuture<'_, Result<v1::TargetList, SchedulerError>> {
        let mailbox_ids = self.mailboxes.lock().unwrap().clone();
        Box::pin(async move {
            Ok(v1::TargetList {
                mailbox_ids,
                unresolved: Vec::new(),
                rules: Vec::new(),
            })
        })
    }

    fn explain_filter(
        &self,
        _tenant_id: &str,
        _filter: v1::SourceFilter,
    ) -> BoxFuture<'_, Result<v1::FilterExplanation, SchedulerError>> {
        Box::pin(async move {
            Ok(v1::FilterExplanation {
                users_read: 12,
                users_kept: 10,
                rules: vec![v1::FilterRuleCount {
                    rule: "exclude disabled accounts".to_owned(),
                    dropped: 2,
                }],
            })
        })
    }
}

pub fn fast_timings() -> Timings {
    Timings {
        lock_ttl: Duration::from_secs(2),
        driver_poll: Duration::from_millis(40),
        tick: Duration::from_millis(100),
        max_attempts: 3,
        ..Timings::default()
    }
}

pub struct TestScheduler {
    pub scheduler: Arc<Scheduler>,
    pub addr: std::net::SocketAddr,
    /// Stops serving when the `TestScheduler` is dropped.
    server: RunningServer,
}

impl TestScheduler {
    /// Serves plaintext on loopback, trusting local callers as admin and worker.
    pub async fn start(store_url: &str, directory: Arc<FakeDirectory>) -> TestScheduler {
        Self::start_trusting(store_url, directory, true).await
    }

    /// [`Self::start`] on a fresh SQLite store whose directory holds
    /// `mailboxes` target mailboxes; the store's folder goes when the test ends.
    pub async fn start_on_fresh_store(mailboxes: usize) -> (tempfile::TempDir, TestScheduler) {
        let dir = tempfile::tempdir().unwrap();
        let scheduler =
            Self::start(&sqlite_url(&dir), FakeDirectory::with_mailboxes(mailboxes)).await;
        (dir, scheduler)
    }

    /// Serves plaintext on loopback; `trust_plaintext_loopback` false stands
    /// for a deployment with TLS on (only API keys get in over plaintext).
    pub async fn start_trusting(
        store_url: &str,
        directory: Arc<FakeDirectory>,
        trust_plaintext_loopback: bool,
    ) -> TestScheduler {
        Self::start_listening(
            store_url,
            directory,
            trust_plaintext_loopback,
            "127.0.0.1:0",
        )
        .await
    }

    /// [`Self::start_trusting`] listening on `bind` (e.g. every address).
    pub async fn start_listening(
        store_url: &str,
        directory: Arc<FakeDirectory>,
        trust_plaintext_loopback: bool,
        bind: &str,
    ) -> TestScheduler {
        Self::start_timed(
            store_url,
            directory,
            trust_plaintext_loopback,
            bind,
            fast_timings(),
        )
        .await
    }

    /// [`Self::start`] with `timings` (e.g. production's) instead of the
    /// shortened ones.
    pub async fn start_with_timings(
        store_url: &str,
        directory: Arc<FakeDirectory>,
        timings: Timings,
    ) -> TestScheduler {
        Self::start_timed(store_url, directory, true, "127.0.0.1:0", timings).await
    }

    async fn start_timed(
        store_url: &str,
        directory: Arc<FakeDirectory>,
        trust_plaintext_loopback: bool,
        bind: &str,
        timings: Timings,
    ) -> TestScheduler {
        let config = Config::local(store_url);
        let pool = galsync_platform::store::connect(
            "store-url",
            store_url,
            galsync_scheduler::MIGRATIONS,
            galsync_platform::store::PoolSettings::default(),
        )
        .await
        .unwrap();
        let scheduler = Scheduler::new(SchedulerStore::new(pool), directory, timings, None);
        let access = Arc::new(
            Access::new(
                &["cli=admin".to_owned()],
                &["contact-writer".to_owned()],
                trust_plaintext_loopback,
            )
            .unwrap(),
        );
        let serving = scheduler.clone();
        let server = spawn_server(bind, move |listener, stop| async move {
            galsync_scheduler::serve_scheduler(serving, access, &config, listener, stop).await
        })
        .await;
        TestScheduler {
            scheduler,
            addr: server.addr,
            server,
        }
    }

    pub async fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn api(&self) -> SchedulerClient<Channel> {
        SchedulerClient::new(self.channel().await)
    }

    pub async fn queue(&self) -> WorkQueueClient<Channel> {
        WorkQueueClient::new(self.channel().await)
    }

    /// Stops serving (as a crash would, from the clients' point of view).
    pub async fn stop(self) {
        self.server
            .stop()
            .await
            .expect("the scheduler stops serving without an error");
    }
}

pub fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("scheduler.db").display())
}

/// A profile for every mailbox, writing a folder named like the profile
/// (two profiles on one mailbox never share a folder).
pub fn profile_spec(name: &str) -> v1::ProfileSpec {
    v1::ProfileSpec {
        name: name.to_owned(),
        tenant_id: TENANT.to_owned(),
        targets: Some(v1::TargetSelector {
            all_mailboxes: true,
            ..Default::default()
        }),
        write: Some(v1::WritePolicy {
            folder_name: name.to_owned(),
            ..Default::default()
        }),
        enabled: true,
        ..Default::default()
    }
}

pub async fn create_profile(api: &mut SchedulerClient<Channel>, name: &str) -> String {
    api.create_profile(v1::CreateProfileRequest {
        spec: Some(profile_spec(name)),
    })
    .await
    .unwrap()
    .into_inner()
    .profile_id
}

/// A scheduler on a fresh SQLite store reading `directory`, with one profile
/// ("p") ready to run: where the run and lease tests start. The store's
/// folder goes when the test ends.
pub async fn scheduler_with_profile(
    directory: Arc<FakeDirectory>,
) -> (
    tempfile::TempDir,
    TestScheduler,
    SchedulerClient<Channel>,
    String,
) {
    let dir = tempfile::tempdir().unwrap();
    let scheduler = TestScheduler::start(&sqlite_url(&dir), directory).await;
    let mut api = scheduler.api().await;
    let profile_id = create_profile(&mut api, "p").await;
    (dir, scheduler, api, profile_id)
}

/// Starts a run of the profile; the run's id.
pub async fn start_run(api: &mut SchedulerClient<Channel>, profile_id: &str) -> String {
    api.run_profile(v1::RunProfileRequest {
        profile_id: profile_id.to_owned(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .run_id
}

/// Asks for a lease until the queue has work to give.
pub async fn lease_when_queued(
    queue: &mut WorkQueueClient<Channel>,
    request: v1::LeaseRequest,
) -> v1::Lease {
    loop {
        let lease = queue
            .lease(request.clone())
            .await
            .unwrap()
            .into_inner()
            .lease;
        if let Some(lease) = lease {
            return lease;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Works the queue until told to stop: completes every item with
/// `created = 10`, or with the outcome `outcome_for` gives.
pub fn spawn_writer(
    mut queue: WorkQueueClient<Channel>,
    outcome_for: fn(&v1::WorkItem) -> v1::MailboxOutcome,
) -> (
    tokio::task::JoinHandle<u32>,
    tokio::sync::watch::Sender<bool>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let mut completed = 0;
        while !*stopped.borrow() {
            let lease = queue
                .lease(v1::LeaseRequest {
                    worker_id: "test-writer".to_owned(),
                    lease_seconds: 30,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .lease;
            let Some(lease) = lease else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let item = lease.item.clone().unwrap();
            let outcome = outcome_for(&item);
            let result = v1::MailboxSyncResult {
                mailbox_id: item.request.as_ref().unwrap().mailbox_id.clone(),
                outcome: outcome as i32,
                counts: Some(v1::SyncCounts {
                    created: 10,
                    graph_requests: 1,
                    ..Default::default()
                }),
                ..Default::default()
            };
            queue
                .complete(v1::CompleteRequest {
                    lease_token: lease.lease_token,
                    result: Some(result),
                    plan: None,
                })
                .await
                .unwrap();
            completed += 1;
        }
        completed
    });
    (task, stop)
}

pub fn succeed(_: &v1::WorkItem) -> v1::MailboxOutcome {
    v1::MailboxOutcome::Succeeded
}

/// Waits for the run to reach a state that is not queued/reading/writing.
pub async fn wait_for_end(api: &mut SchedulerClient<Channel>, run_id: &str) -> v1::Run {
    galsync_testkit::wait_for_run_end(api, run_id, Duration::from_secs(20)).await
}
