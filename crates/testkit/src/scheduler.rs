//! A real scheduler served in-process over mTLS with a fresh internal PKI,
//! on a stand-in directory (a fixed list of target mailboxes), for tests of
//! the scheduler's clients (the admin console). No writer works its queue:
//! a run stays `writing` until the test completes mailboxes itself as the
//! contact-writer identity ([`MtlsScheduler::complete_one_mailbox`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use galsync_proto::v1;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use galsync_proto::v1::work_queue_client::WorkQueueClient;
use galsync_scheduler::access::Access;
use galsync_scheduler::store::SchedulerStore;
use galsync_scheduler::{Config, Scheduler, Timings};
use tempfile::TempDir;
use tonic::transport::Channel;

use crate::harness::{spawn_server, RunningServer};
use crate::wait_for_run_state;

mod stand_in;

pub use stand_in::{StandInDirectory, STAND_IN_DEPARTMENTS};

/// How long the scheduler's helpers wait for a run to reach a state.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// The tenant of [`profile_spec`].
pub const TENANT: &str = "6f1d2f8c-4f7a-4c36-9a53-0d7d3b0c2a11";

/// A profile named `name` for every mailbox of `tenant_id`.
pub fn profile_spec(name: &str, tenant_id: &str) -> v1::ProfileSpec {
    v1::ProfileSpec {
        name: name.to_owned(),
        tenant_id: tenant_id.to_owned(),
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

/// The running scheduler; dropping it stops serving.
pub struct MtlsScheduler {
    pub addr: SocketAddr,
    /// The PKI every identity's certificate comes from (`console`, `cli`, …).
    pub pki_dir: PathBuf,
    pub store: SchedulerStore,
    _dir: TempDir,
    /// Stops serving when the scheduler is dropped (before `_dir` goes).
    _server: RunningServer,
}

impl MtlsScheduler {
    /// Serves with the scheduler's default role bindings (`cli=admin`,
    /// `console=admin`) and console identity unless `role_bindings` is
    /// not empty, on a stand-in directory of `mailboxes` targets.
    pub async fn start(mailboxes: usize, role_bindings: &[&str]) -> MtlsScheduler {
        let (dir, pki_dir) = crate::fresh_pki();
        let store_url = format!("sqlite://{}", dir.path().join("scheduler.db").display());
        let mut config = Config::local(&store_url);
        let files = galsync_platform::pki::ServiceTlsFiles::in_dir(&pki_dir, "scheduler");
        config.server.tls_cert = Some(files.cert);
        config.server.tls_key = Some(files.key);
        config.server.tls_ca = Some(files.ca);
        if !role_bindings.is_empty() {
            config.role_binding = role_bindings
                .iter()
                .map(|binding| binding.to_string())
                .collect();
        }
        let pool = galsync_platform::store::connect(
            "store-url",
            &store_url,
            galsync_scheduler::MIGRATIONS,
            galsync_platform::store::PoolSettings::default(),
        )
        .await
        .unwrap_or_else(|error| panic!("failed to open the scheduler's test store: {error}"));
        let store = SchedulerStore::new(pool);
        let timings = Timings {
            lock_ttl: Duration::from_secs(2),
            driver_poll: Duration::from_millis(40),
            tick: Duration::from_millis(100),
            ..Timings::default()
        };
        let scheduler = Scheduler::new(
            store.clone(),
            StandInDirectory::with_mailboxes(mailboxes),
            timings,
            None,
        );
        let access = Access::new(&config.role_binding, &config.worker_identity, false)
            .unwrap_or_else(|problem| panic!("bad role bindings: {problem}"))
            .with_console_identity(&config.console_identity);
        let access = Arc::new(access);
        let server = spawn_server("127.0.0.1:0", move |listener, stop| async move {
            galsync_scheduler::serve_scheduler(scheduler, access, &config, listener, stop).await
        })
        .await;
        MtlsScheduler {
            addr: server.addr,
            pki_dir,
            store,
            _dir: dir,
            _server: server,
        }
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// A channel presenting `identity`'s certificate (issued on first use).
    pub fn channel(&self, identity: &str) -> Channel {
        galsync_platform::pki::issue_identity(&self.pki_dir, identity, &[])
            .unwrap_or_else(|error| panic!("failed to issue {identity}'s certificate: {error}"));
        let material = galsync_platform::TlsMaterial::from_pki_dir(&self.pki_dir, identity)
            .unwrap_or_else(|error| panic!("failed to read {identity}'s certificate: {error}"));
        galsync_platform::tls::peer_channel(&self.url(), Some(&material))
            .unwrap_or_else(|error| panic!("failed to make a channel: {error}"))
    }

    /// The public API as `identity` (e.g. `cli`, an admin).
    pub fn api(&self, identity: &str) -> SchedulerClient<Channel> {
        SchedulerClient::new(self.channel(identity))
    }

    /// Creates [`profile_spec`]`(name, tenant_id)` as `cli`.
    pub async fn create_profile(&self, name: &str, tenant_id: &str) -> v1::Profile {
        self.api("cli")
            .create_profile(v1::CreateProfileRequest {
                spec: Some(profile_spec(name, tenant_id)),
            })
            .await
            .unwrap_or_else(|status| panic!("CreateProfile: {status:?}"))
            .into_inner()
    }

    /// Creates a profile named `name` for `tenant_id` and starts a run, as
    /// `cli`; returns once the run is writing (no writer works the queue,
    /// so it stays there until the test completes its mailboxes).
    pub async fn start_writing_run(&self, name: &str, tenant_id: &str) -> String {
        let profile = self.create_profile(name, tenant_id).await;
        let run = self
            .api("cli")
            .run_profile(v1::RunProfileRequest {
                profile_id: profile.profile_id,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|status| panic!("RunProfile: {status:?}"))
            .into_inner();
        let mut api = self.api("cli");
        let writing = |state| state == v1::RunState::Writing;
        wait_for_run_state(&mut api, &run.run_id, WAIT_LIMIT, "start writing", writing).await;
        run.run_id
    }

    /// A run's state, read as `cli`.
    pub async fn run_state(&self, run_id: &str) -> v1::RunState {
        let request = v1::GetRunRequest {
            run_id: run_id.to_owned(),
        };
        let run = self
            .api("cli")
            .get_run(request)
            .await
            .unwrap_or_else(|status| panic!("GetRun {run_id}: {status:?}"))
            .into_inner();
        run.state()
    }

    /// Leases one work item as the contact-writer and completes it as
    /// succeeded with `created` contacts; returns its mailbox. Waits up to
    /// 10 s for an item.
    pub async fn complete_one_mailbox(&self, created: u64) -> String {
        let counts = v1::SyncCounts {
            created,
            graph_requests: 1,
            ..Default::default()
        };
        self.complete_next_mailbox(v1::MailboxOutcome::Succeeded, counts, None, Vec::new())
            .await
    }

    /// Leases one work item as the contact-writer and reports its mailbox
    /// failed for good with `errors` (the writer's plain words and fix);
    /// returns the mailbox.
    pub async fn fail_one_mailbox(&self, errors: Vec<String>) -> String {
        let counts = v1::SyncCounts {
            graph_requests: 1,
            ..Default::default()
        };
        self.complete_next_mailbox(v1::MailboxOutcome::Failed, counts, None, errors)
            .await
    }

    /// Leases one work item of a dry run and reports `changes` as its
    /// mailbox's plan; returns the mailbox.
    pub async fn plan_one_mailbox(&self, changes: Vec<v1::PlannedChange>) -> String {
        let counts = v1::SyncCounts {
            graph_requests: 1,
            ..Default::default()
        };
        let plan = v1::MailboxPlan {
            mailbox_id: String::new(),
            changes,
            counts: Some(counts),
            held_deletes_only: false,
        };
        self.complete_next_mailbox(
            v1::MailboxOutcome::Succeeded,
            counts,
            Some(plan),
            Vec::new(),
        )
        .await
    }

    /// A run of a new profile `name` for `tenant_id` whose one mailbox had
    /// `held` deletes held by the deletion guard, once it awaits approval;
    /// returns the run and the mailbox.
    pub async fn run_awaiting_approval(
        &self,
        name: &str,
        tenant_id: &str,
        held: u64,
    ) -> (String, String) {
        let run_id = self.start_writing_run(name, tenant_id).await;
        let mailbox = self.hold_deletes_of_one_mailbox(held).await;
        let mut api = self.api("cli");
        let awaiting = |state| state == v1::RunState::AwaitingApproval;
        wait_for_run_state(&mut api, &run_id, WAIT_LIMIT, "await approval", awaiting).await;
        (run_id, mailbox)
    }

    /// Leases one work item as the contact-writer and reports that the
    /// deletion guard held `held` deletes of its mailbox, with the held
    /// contacts (`Held Person 1`, …), as a writer reports them before the
    /// run's deletes are approved; returns the mailbox. A run whose
    /// mailboxes all end this way awaits approval.
    pub async fn hold_deletes_of_one_mailbox(&self, held: u64) -> String {
        let counts = v1::SyncCounts {
            deletes_awaiting_approval: held,
            graph_requests: 1,
            ..Default::default()
        };
        let changes = (1..=held)
            .map(|index| v1::PlannedChange {
                action: v1::planned_change::Action::Delete as i32,
                source_object_id: format!("held-user-{index}"),
                display_name: format!("Held Person {index}"),
                changes: Vec::new(),
            })
            .collect();
        let held_deletes = v1::MailboxPlan {
            mailbox_id: String::new(),
            changes,
            counts: None,
            held_deletes_only: true,
        };
        self.complete_next_mailbox(
            v1::MailboxOutcome::AwaitingApproval,
            counts,
            Some(held_deletes),
            Vec::new(),
        )
        .await
    }

    async fn complete_next_mailbox(
        &self,
        outcome: v1::MailboxOutcome,
        counts: v1::SyncCounts,
        plan: Option<v1::MailboxPlan>,
        errors: Vec<String>,
    ) -> String {
        let mut queue = WorkQueueClient::new(self.channel("contact-writer"));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let lease = loop {
            let response = queue
                .lease(v1::LeaseRequest {
                    worker_id: "test-writer".to_owned(),
                    lease_seconds: 30,
                    wait_seconds: 1,
                })
                .await
                .unwrap_or_else(|status| panic!("Lease: {status:?}"));
            if let Some(lease) = response.into_inner().lease {
                break lease;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no work item to lease within 10 s"
            );
        };
        let item = lease.item.unwrap_or_default();
        let mailbox_id = item.request.unwrap_or_default().mailbox_id;
        let result = v1::MailboxSyncResult {
            mailbox_id: mailbox_id.clone(),
            outcome: outcome as i32,
            counts: Some(counts),
            errors,
            ..Default::default()
        };
        queue
            .complete(v1::CompleteRequest {
                lease_token: lease.lease_token,
                result: Some(result),
                plan: plan.map(|plan| v1::MailboxPlan {
                    mailbox_id: mailbox_id.clone(),
                    ..plan
                }),
            })
            .await
            .unwrap_or_else(|status| panic!("Complete: {status:?}"));
        mailbox_id
    }
}
