//! Scheduler commands of the real `galsync` binary against a small fake
//! `Scheduler` served over mTLS on port 0 with canned answers: the spec the CLI
//! sends, the tables it renders, `--follow` over a real `WatchRun` stream, and
//! exit codes.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::{fresh_pki, galsync, strings, Outcome};
use galsync_platform::TlsMaterial;
use galsync_proto::v1;
use galsync_proto::v1::scheduler_server::{Scheduler, SchedulerServer};
use tonic::{Request, Response, Status};

#[derive(Default)]
struct Recorded {
    created: Vec<v1::ProfileSpec>,
    updated: Vec<v1::UpdateProfileRequest>,
    authorization: Vec<String>,
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

struct FakeServer {
    url: String,
    pki_dir: PathBuf,
    recorded: Arc<Mutex<Recorded>>,
    _dir: tempfile::TempDir,
}

impl FakeServer {
    async fn start() -> FakeServer {
        let (dir, pki_dir) = fresh_pki();
        let material = TlsMaterial::from_pki_dir(&pki_dir, "scheduler").unwrap();
        let fake = FakeScheduler::default();
        let recorded = fake.recorded.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .tls_config(material.server_config())
                .unwrap()
                .add_service(SchedulerServer::new(fake))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await;
            if let Err(error) = served {
                eprintln!("fake scheduler stopped: {error}");
            }
        });
        FakeServer {
            url: format!("https://{addr}"),
            pki_dir,
            recorded,
            _dir: dir,
        }
    }

    async fn galsync(&self, args: &[&str]) -> Outcome {
        let mut all = strings(&["--scheduler-url", &self.url, "--pki-dir"]);
        all.push(self.pki_dir.display().to_string());
        all.extend(strings(args));
        galsync(
            all,
            vec![("GALSYNC_API_KEY".to_owned(), "gsk_live_s3cret".to_owned())],
        )
        .await
    }
}

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_create_sends_the_spec_the_flags_describe() {
    let server = FakeServer::start().await;
    let outcome = server
        .galsync(&[
            "profile",
            "create",
            "--name",
            "Phones",
            "--tenant-id",
            TENANT,
            "--folder",
            "Contoso",
            "--target-group",
            "g-sales",
            "--target-group",
            "g-support",
            "--exclude-group",
            "g-temps",
            "--exclude-department",
            "Interns",
            "--cron",
            "0 6 * * *",
            "--time-zone",
            "Europe/Berlin",
            "--deletion-mode",
            "mirror",
            "--hide-field",
            "mobilePhone",
        ])
        .await;
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    assert!(
        outcome.stdout.contains("created profile prof-1"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("cron 0 6 * * * (Europe/Berlin)"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("galsync run start prof-1 --follow"),
        "{}",
        outcome.stdout
    );
    assert!(
        !outcome.stdout.contains("gsk_live_s3cret") && !outcome.stderr.contains("gsk_live_s3cret")
    );

    let recorded = server.recorded.lock().unwrap();
    assert_eq!(recorded.authorization, ["Bearer gsk_live_s3cret"]);
    let spec = &recorded.created[0];
    assert_eq!(spec.name, "Phones");
    assert_eq!(spec.tenant_id, TENANT);
    assert!(spec.enabled);
    let targets = spec.targets.as_ref().unwrap();
    assert_eq!(targets.group_ids, ["g-sales", "g-support"]);
    assert!(!targets.all_mailboxes);
    let source = spec.source.as_ref().unwrap();
    assert_eq!(source.exclude_group_ids, ["g-temps"]);
    assert_eq!(source.rules.len(), 1);
    assert_eq!(source.rules[0].attribute, "department");
    assert_eq!(source.rules[0].values, ["Interns"]);
    assert!(source.rules[0].exclude);
    let write = spec.write.as_ref().unwrap();
    assert_eq!(write.folder_name, "Contoso");
    assert_eq!(write.deletion_mode, v1::DeletionMode::Mirror as i32);
    assert_eq!(
        write.field_rules.get("mobilePhone"),
        Some(&(v1::FieldRule::Never as i32))
    );
    let schedule = spec.schedule.as_ref().unwrap();
    assert_eq!(
        schedule.kind,
        Some(v1::schedule::Kind::Cron("0 6 * * *".to_owned()))
    );
    assert_eq!(schedule.time_zone, "Europe/Berlin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_create_reads_a_toml_file_and_flags_override_it() {
    let server = FakeServer::start().await;
    let file = server._dir.path().join("profile.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"From file\"\ntenant_id = \"{TENANT}\"\n[targets]\nall_mailboxes = true\n[schedule]\ninterval = \"1h\"\n"
        ),
    )
    .unwrap();
    let file_arg = file.display().to_string();
    let outcome = server
        .galsync(&[
            "--output",
            "json",
            "profile",
            "create",
            "--file",
            &file_arg,
            "--name",
            "Overridden",
        ])
        .await;
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    let shown = outcome.json();
    assert_eq!(shown["profile_id"], "prof-1");
    assert_eq!(shown["spec"]["name"], "Overridden");
    assert_eq!(shown["spec"]["schedule"]["interval"], "1h");
    let recorded = server.recorded.lock().unwrap();
    let spec = &recorded.created[0];
    assert!(spec.targets.as_ref().unwrap().all_mailboxes);
    assert_eq!(
        spec.schedule.as_ref().unwrap().kind,
        Some(v1::schedule::Kind::IntervalSeconds(3600))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_create_without_targets_is_a_usage_error_and_sends_nothing() {
    let server = FakeServer::start().await;
    let outcome = server
        .galsync(&[
            "profile",
            "create",
            "--name",
            "Phones",
            "--tenant-id",
            TENANT,
            "--interval",
            "1h",
        ])
        .await;
    assert_eq!(outcome.code, Some(2), "{outcome:?}");
    assert!(
        outcome
            .stderr
            .contains("--targets-all, --target-group GROUP_ID or --target-user UPN"),
        "{}",
        outcome.stderr
    );
    let bad_interval = server
        .galsync(&[
            "profile",
            "create",
            "--name",
            "P",
            "--tenant-id",
            TENANT,
            "--targets-all",
            "--interval",
            "hourly",
        ])
        .await;
    assert_eq!(bad_interval.code, Some(2), "{bad_interval:?}");
    assert!(
        bad_interval.stderr.contains("invalid --interval `hourly`"),
        "{}",
        bad_interval.stderr
    );
    assert!(server.recorded.lock().unwrap().created.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_list_renders_a_table_and_json() {
    let server = FakeServer::start().await;
    let table = server.galsync(&["runs", "list"]).await;
    assert_eq!(table.code, Some(0), "{table:?}");
    let header = table.stdout.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("RUN ID") && header.contains("MAILBOXES"),
        "{header}"
    );
    let partial = table
        .stdout
        .lines()
        .find(|line| line.starts_with("run-6"))
        .unwrap_or_default();
    assert!(
        partial.contains("partially-failed") && partial.contains("12/12"),
        "{}",
        table.stdout
    );
    assert!(partial.contains("1m 5s"), "{partial}");

    let json = server
        .galsync(&["--output", "json", "runs", "list"])
        .await
        .json();
    assert_eq!(json["runs"][0]["run_id"], "run-7");
    assert_eq!(json["runs"][0]["state"], "succeeded");
    assert_eq!(json["runs"][0]["counts"]["created"], 150);
    assert_eq!(json["runs"][1]["state"], "partially-failed");
    assert_eq!(json["runs"][0]["started_at"], "2023-11-14T22:13:20Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_start_follow_streams_progress_and_ends_with_a_summary() {
    let server = FakeServer::start().await;
    let outcome = server
        .galsync(&["run", "start", "prof-1", "--follow"])
        .await;
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    let stdout = &outcome.stdout;
    assert!(
        stdout.contains("started run run-7 of profile prof-1"),
        "{stdout}"
    );
    assert!(stdout.contains("state: writing"), "{stdout}");
    assert!(
        stdout.contains("mailbox alice@contoso.example: succeeded (created 75"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2/2 mailboxes · 150 contacts written"),
        "{stdout}"
    );
    assert!(stdout.contains("run run-7 succeeded in 1m 5s"), "{stdout}");
    assert!(
        stdout.contains("created 150, updated 3, deleted 1"),
        "{stdout}"
    );

    let missing = server.galsync(&["run", "start", "missing"]).await;
    assert_eq!(missing.code, Some(5), "{missing:?}");
    let unknown_run = server.galsync(&["runs", "show", "run-404"]).await;
    assert_eq!(unknown_run.code, Some(5), "{unknown_run:?}");
    assert!(
        unknown_run.stderr.contains("run run-404 does not exist"),
        "{}",
        unknown_run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_the_fake_does_not_offer_exit_1_and_say_so() {
    let server = FakeServer::start().await;
    let outcome = server.galsync(&["profile", "list"]).await;
    assert_eq!(outcome.code, Some(1), "{outcome:?}");
    assert!(
        outcome.stderr.contains("does not offer this call yet"),
        "{}",
        outcome.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_edit_changes_only_the_flags_given_at_the_version_read() {
    let server = FakeServer::start().await;
    let outcome = server
        .galsync(&[
            "profile",
            "edit",
            "prof-1",
            "--interval",
            "2h",
            "--disable",
            "--hide-field",
            "mobilePhone",
        ])
        .await;
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    assert!(
        outcome
            .stdout
            .contains("updated profile prof-1 (version 5)"),
        "{}",
        outcome.stdout
    );
    let recorded = server.recorded.lock().unwrap();
    let update = &recorded.updated[0];
    assert_eq!(update.expected_version, 4);
    let spec = update.spec.as_ref().unwrap();
    assert_eq!(spec.name, "Phones");
    assert!(!spec.enabled);
    assert_eq!(
        spec.targets.as_ref().unwrap().users,
        ["adele@contoso.example"]
    );
    assert_eq!(
        spec.schedule.as_ref().unwrap().kind,
        Some(v1::schedule::Kind::IntervalSeconds(7200))
    );
    assert_eq!(
        spec.write.as_ref().unwrap().field_rules.get("mobilePhone"),
        Some(&(v1::FieldRule::Never as i32))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_exits_1_with_the_reason_and_json_has_the_state() {
    let server = FakeServer::start().await;
    let outcome = server
        .galsync(&["run", "start", "prof-fails", "--follow"])
        .await;
    assert_eq!(outcome.code, Some(1), "{outcome:?}");
    assert!(
        outcome.stdout.contains("run run-8 failed in 1m 5s"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stderr
            .contains("run run-8 failed: the directory-reader could not get a token"),
        "{}",
        outcome.stderr
    );
    let json = server
        .galsync(&["--output", "json", "run", "start", "prof-fails", "--follow"])
        .await;
    assert_eq!(json.code, Some(1), "{json:?}");
    let document = json.json();
    assert_eq!(document["state"], "failed");
    assert_eq!(
        document["error"],
        "the directory-reader could not get a token"
    );
}
