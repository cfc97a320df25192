//! A small fake `Scheduler` served over mTLS on port 0 with canned answers,
//! recording what the CLI sent.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use galsync_platform::TlsMaterial;
use galsync_proto::v1;
use galsync_proto::v1::scheduler_server::{Scheduler, SchedulerServer};
use galsync_testkit::fresh_pki;
use tonic::{Request, Response, Status};

use crate::common::{galsync, strings, Outcome};

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

#[derive(Default)]
pub struct Recorded {
    pub created: Vec<v1::ProfileSpec>,
    pub updated: Vec<v1::UpdateProfileRequest>,
    pub authorization: Vec<String>,
}

#[derive(Clone, Default)]
struct FakeScheduler {
    recorded: Arc<Mutex<Recorded>>,
}

fn counts(created: u64, updated: u64, deleted: u64) -> v1::SyncCounts {
    v1::SyncCounts {
        created,
        updated,
        deleted,
        graph_requests: 12,
        batched_requests: 200,
        ..Default::default()
    }
}

fn timestamp(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

/// The run the fake starts: profiles named `prof-fails` end failed.
fn run(profile_id: &str, state: v1::RunState) -> v1::Run {
    v1::Run {
        run_id: "run-7".to_owned(),
        profile_id: profile_id.to_owned(),
        state: state as i32,
        trigger: "cli".to_owned(),
        created_at: timestamp(1_700_000_000),
        started_at: timestamp(1_700_000_000),
        finished_at: timestamp(1_700_000_065),
        mailboxes_total: 2,
        mailboxes_done: 2,
        mailboxes_succeeded: 2,
        counts: Some(counts(150, 3, 1)),
        error: if state == v1::RunState::Failed {
            "the directory-reader could not get a token".to_owned()
        } else {
            String::new()
        },
        ..Default::default()
    }
}

fn event(
    sequence: u64,
    state: v1::RunState,
    detail: v1::run_event::Detail,
) -> Result<v1::RunEvent, Status> {
    Ok(v1::RunEvent {
        sequence,
        at: timestamp(1_700_000_000 + sequence as i64),
        run_id: "run-7".to_owned(),
        state: state as i32,
        detail: Some(detail),
    })
}

#[tonic::async_trait]
impl Scheduler for FakeScheduler {
    async fn create_profile(
        &self,
        request: Request<v1::CreateProfileRequest>,
    ) -> Result<Response<v1::Profile>, Status> {
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let spec = request.into_inner().spec.unwrap_or_default();
        let mut recorded = self.recorded.lock().unwrap();
        recorded.authorization.push(authorization);
        recorded.created.push(spec.clone());
        Ok(Response::new(v1::Profile {
            profile_id: "prof-1".to_owned(),
            spec: Some(spec),
            version: 1,
            ..Default::default()
        }))
    }

    async fn get_profile(
        &self,
        request: Request<v1::GetProfileRequest>,
    ) -> Result<Response<v1::Profile>, Status> {
        let profile_id = request.into_inner().profile_id;
        if profile_id != "prof-1" {
            return Err(Status::not_found(format!(
                "profile {profile_id} does not exist"
            )));
        }
        Ok(Response::new(v1::Profile {
            profile_id,
            version: 4,
            spec: Some(v1::ProfileSpec {
                name: "Phones".to_owned(),
                tenant_id: TENANT.to_owned(),
                targets: Some(v1::TargetSelector {
                    users: vec!["adele@contoso.example".to_owned()],
                    ..Default::default()
                }),
                schedule: Some(v1::Schedule {
                    kind: Some(v1::schedule::Kind::IntervalSeconds(3600)),
                    time_zone: String::new(),
                }),
                enabled: true,
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn update_profile(
        &self,
        request: Request<v1::UpdateProfileRequest>,
    ) -> Result<Response<v1::Profile>, Status> {
        let message = request.into_inner();
        self.recorded.lock().unwrap().updated.push(message.clone());
        Ok(Response::new(v1::Profile {
            profile_id: message.profile_id,
            spec: message.spec,
            version: message.expected_version + 1,
            ..Default::default()
        }))
    }

    async fn list_runs(
        &self,
        _request: Request<v1::ListRunsRequest>,
    ) -> Result<Response<v1::ListRunsResponse>, Status> {
        let mut partial = run("prof-2", v1::RunState::PartiallyFailed);
        partial.run_id = "run-6".to_owned();
        partial.mailboxes_total = 12;
        partial.mailboxes_done = 12;
        Ok(Response::new(v1::ListRunsResponse {
            runs: vec![run("prof-1", v1::RunState::Succeeded), partial],
        }))
    }

    async fn run_profile(
        &self,
        request: Request<v1::RunProfileRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        let message = request.into_inner();
        if message.profile_id == "missing" {
            return Err(Status::not_found("profile missing does not exist"));
        }
        let mut queued = run(&message.profile_id, v1::RunState::Queued);
        if message.profile_id == "prof-fails" {
            queued.run_id = "run-8".to_owned();
        }
        queued.dry_run = message.dry_run;
        queued.finished_at = None;
        Ok(Response::new(queued))
    }

    async fn watch_run(
        &self,
        _request: Request<v1::WatchRunRequest>,
    ) -> Result<Response<tonic::codegen::BoxStream<v1::RunEvent>>, Status> {
        use v1::run_event::Detail;
        use v1::RunState::{Reading, Writing};
        let mailbox = |name: &str, created| v1::MailboxResult {
            mailbox_id: name.to_owned(),
            outcome: v1::MailboxOutcome::Succeeded as i32,
            counts: Some(counts(created, 0, 0)),
            errors: Vec::new(),
            attempts: 1,
        };
        let progress = |done, created| v1::RunProgress {
            mailboxes_done: done,
            mailboxes_total: 2,
            counts: Some(counts(created, 0, 0)),
        };
        let events = vec![
            event(1, Reading, Detail::StateChanged(Reading as i32)),
            event(2, Writing, Detail::StateChanged(Writing as i32)),
            event(
                3,
                Writing,
                Detail::MailboxDone(mailbox("alice@contoso.example", 75)),
            ),
            event(4, Writing, Detail::Progress(progress(1, 75))),
            event(
                5,
                Writing,
                Detail::MailboxDone(mailbox("bob@contoso.example", 75)),
            ),
            event(6, Writing, Detail::Progress(progress(2, 150))),
            // The final state comes from GetRun; the stream ends here.
        ];
        Ok(Response::new(Box::pin(tokio_stream::iter(events))))
    }

    async fn get_run(
        &self,
        request: Request<v1::GetRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        let run_id = request.into_inner().run_id;
        match run_id.as_str() {
            "run-7" => Ok(Response::new(run("prof-1", v1::RunState::Succeeded))),
            "run-8" => {
                let mut failed = run("prof-fails", v1::RunState::Failed);
                failed.run_id = run_id;
                Ok(Response::new(failed))
            }
            _ => Err(Status::not_found(format!("run {run_id} does not exist"))),
        }
    }
}

pub struct FakeServer {
    pub url: String,
    pub pki_dir: PathBuf,
    /// Where the CLI looks for the auth-broker: nothing listens there unless
    /// a test starts a broker with [`FakeServer::start_beside`].
    pub broker_url: String,
    pub recorded: Arc<Mutex<Recorded>>,
    pub dir: tempfile::TempDir,
}

impl FakeServer {
    /// A fake with its own PKI and no broker.
    pub async fn start() -> FakeServer {
        let (dir, pki_dir) = fresh_pki();
        let broker_url = format!(
            "https://127.0.0.1:{}",
            galsync_testkit::harness::free_port()
        );
        Self::serve(dir, pki_dir, broker_url).await
    }

    /// A fake sharing the PKI of a running broker, so the CLI can talk to both.
    pub async fn start_beside(broker: &crate::common::TestBroker) -> FakeServer {
        let dir = tempfile::tempdir().unwrap();
        Self::serve(dir, broker.pki_dir().to_owned(), broker.url()).await
    }

    async fn serve(dir: tempfile::TempDir, pki_dir: PathBuf, broker_url: String) -> FakeServer {
        let material = TlsMaterial::from_pki_dir(&pki_dir, "scheduler").unwrap();
        let fake = FakeScheduler::default();
        let recorded = fake.recorded.clone();
        let tls = material.server_config(galsync_platform::tls::ClientCertificate::Required);
        let addr = galsync_testkit::harness::serve_grpc(
            tonic::service::Routes::new(SchedulerServer::new(fake)),
            Some(tls),
        )
        .await;
        FakeServer {
            url: format!("https://{addr}"),
            pki_dir,
            broker_url,
            recorded,
            dir,
        }
    }

    pub async fn galsync(&self, args: &[&str]) -> Outcome {
        let mut all = strings(&[
            "--scheduler-url",
            &self.url,
            "--broker-url",
            &self.broker_url,
            "--pki-dir",
        ]);
        all.push(self.pki_dir.display().to_string());
        all.extend(strings(args));
        galsync(
            all,
            vec![("GALSYNC_API_KEY".to_owned(), "gsk_live_s3cret".to_owned())],
        )
        .await
    }
}
