//! Runs over real gRPC: one at a time per profile, the lock surviving a
//! restart, lease expiry re-offering work, WatchRun order, cancel, approvals,
//! schedules, profile validation and API keys.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use galsync_proto::v1;
use tonic::Code;

#[tokio::test]
async fn invalid_profiles_are_refused_naming_the_field() {
    let (_dir, scheduler) = TestScheduler::start_on_fresh_store(1).await;
    let mut api = scheduler.api().await;
    let mut spec = profile_spec("x");
    spec.tenant_id = "contoso.onmicrosoft.com".to_owned();
    let status = api
        .create_profile(v1::CreateProfileRequest { spec: Some(spec) })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("invalid spec.tenant_id:"),
        "{}",
        status.message()
    );

    create_profile(&mut api, "All staff").await;
    let status = api
        .create_profile(v1::CreateProfileRequest {
            spec: Some(profile_spec("All staff")),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);

    let status = api
        .get_profile(v1::GetProfileRequest {
            profile_id: "nope".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

/// Two profiles may not write one folder on a mailbox both may target: the
/// second is refused naming the first, whichever way it gets there.
#[tokio::test]
async fn a_profile_writing_another_profiles_folder_is_refused_naming_it() {
    let (_dir, scheduler) = TestScheduler::start_on_fresh_store(1).await;
    let mut api = scheduler.api().await;
    let mut sales = profile_spec("Sales");
    sales.write.get_or_insert_with(Default::default).folder_name = "Company Directory".into();
    api.create_profile(v1::CreateProfileRequest { spec: Some(sales) })
        .await
        .expect("the first profile");

    // Exchange compares folder names without case.
    let mut support = profile_spec("Support");
    support
        .write
        .get_or_insert_with(Default::default)
        .folder_name = "company directory".into();
    let status = api
        .create_profile(v1::CreateProfileRequest {
            spec: Some(support.clone()),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("invalid spec.write.folder_name:")
            && status.message().contains("\"Sales\""),
        "{}",
        status.message()
    );

    // Its own folder is fine, and so is the same folder for other people.
    let created = api
        .create_profile(v1::CreateProfileRequest {
            spec: Some(profile_spec("Support")),
        })
        .await
        .expect("a folder of its own")
        .into_inner();
    let mut alice_only = profile_spec("Alice");
    alice_only.targets = Some(v1::TargetSelector {
        users: vec!["alice@contoso.example".into()],
        ..Default::default()
    });
    let mut bob_only = profile_spec("Bob");
    bob_only.targets = Some(v1::TargetSelector {
        users: vec!["bob@contoso.example".into()],
        ..Default::default()
    });
    bob_only
        .write
        .get_or_insert_with(Default::default)
        .folder_name = "Alice".into();
    api.create_profile(v1::CreateProfileRequest {
        spec: Some(alice_only),
    })
    .await
    .expect("alice's profile");
    api.create_profile(v1::CreateProfileRequest {
        spec: Some(bob_only),
    })
    .await
    .expect("explicit users apart may share a folder name");

    // Moving onto the first profile's folder by an update is refused too.
    let status = api
        .update_profile(v1::UpdateProfileRequest {
            profile_id: created.profile_id.clone(),
            spec: Some(support),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
    assert!(
        status.message().contains("\"Sales\""),
        "{}",
        status.message()
    );
}

/// Each bad value of a profile field is refused over the API as
/// INVALID_ARGUMENT naming that field, and no echoed value makes the answer
/// large or carries a control character.
#[tokio::test]
async fn each_bad_profile_field_is_refused_naming_that_field() {
    type Mutation = fn(&mut v1::ProfileSpec);
    let huge_id = "x".repeat(1_000_000);
    let rows: Vec<(&str, Mutation, &str)> = vec![
        (
            "name with NUL",
            |spec| spec.name = "All\u{0}staff".into(),
            "spec.name",
        ),
        (
            "name with ESC",
            |spec| spec.name = "\u{1b}[31mred".into(),
            "spec.name",
        ),
        (
            "tenant not a GUID",
            |spec| spec.tenant_id = "contoso".into(),
            "spec.tenant_id",
        ),
        (
            "include group not a GUID",
            |spec| {
                spec.source
                    .get_or_insert_with(Default::default)
                    .include_group_ids = vec!["sales".into()]
            },
            "spec.source.include_group_ids",
        ),
        (
            "exclude group not a GUID",
            |spec| {
                spec.source
                    .get_or_insert_with(Default::default)
                    .exclude_group_ids = vec!["sales".into()]
            },
            "spec.source.exclude_group_ids",
        ),
        (
            "unknown field rule value",
            |spec| {
                spec.write
                    .get_or_insert_with(Default::default)
                    .field_rules
                    .insert("jobTitle".into(), 42);
            },
            "spec.write.field_rules",
        ),
        (
            "unspecified field rule",
            |spec| {
                spec.write
                    .get_or_insert_with(Default::default)
                    .field_rules
                    .insert("jobTitle".into(), v1::FieldRule::Unspecified as i32);
            },
            "spec.write.field_rules",
        ),
        (
            "folder name with a control character",
            |spec| spec.write.get_or_insert_with(Default::default).folder_name = "Dir\u{7}".into(),
            "spec.write.folder_name",
        ),
        (
            "cron every second",
            |spec| {
                spec.schedule = Some(v1::Schedule {
                    kind: Some(v1::schedule::Kind::Cron("* * * * * *".into())),
                    ..Default::default()
                })
            },
            "spec.schedule.cron",
        ),
        (
            "cron every 30 seconds",
            |spec| {
                spec.schedule = Some(v1::Schedule {
                    kind: Some(v1::schedule::Kind::Cron("*/30 * * * * *".into())),
                    ..Default::default()
                })
            },
            "spec.schedule.cron",
        ),
    ];
    let (_dir, scheduler) = TestScheduler::start_on_fresh_store(1).await;
    let mut api = scheduler.api().await;
    let mut wrong = Vec::new();
    for (index, (what, mutate, field)) in rows.into_iter().enumerate() {
        // A name of its own, so a row wrongly accepted cannot hide the next.
        let mut spec = profile_spec(&format!("Row {index}"));
        mutate(&mut spec);
        let answer = api
            .create_profile(v1::CreateProfileRequest { spec: Some(spec) })
            .await;
        match answer {
            Err(status)
                if status.code() == Code::InvalidArgument
                    && status.message().starts_with(&format!("invalid {field}:"))
                    && !status.message().chars().any(char::is_control) => {}
            other => wrong.push(format!(
                "{what}: expected INVALID_ARGUMENT naming {field}, got {other:?}"
            )),
        }
    }
    // A 1 MB value is echoed cut short: the real error, not RESOURCE_EXHAUSTED.
    let mut spec = profile_spec("All staff");
    spec.tenant_id = huge_id;
    let status = api
        .create_profile(v1::CreateProfileRequest { spec: Some(spec) })
        .await
        .unwrap_err();
    if status.code() != Code::InvalidArgument || status.message().len() > 1_000 {
        wrong.push(format!(
            "a 1 MB tenant id: {:?} with a message of {} bytes",
            status.code(),
            status.message().len()
        ));
    }
    // The floor itself is allowed: once a minute.
    let mut spec = profile_spec("Every minute");
    spec.schedule = Some(v1::Schedule {
        kind: Some(v1::schedule::Kind::Cron("* * * * *".into())),
        ..Default::default()
    });
    if let Err(status) = api
        .create_profile(v1::CreateProfileRequest { spec: Some(spec) })
        .await
    {
        wrong.push(format!("a cron of once a minute was refused: {status:?}"));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn concurrent_run_requests_start_one_run_and_watch_shows_every_step_in_order() {
    let (_dir, scheduler) = TestScheduler::start_on_fresh_store(5).await;
    let mut api = scheduler.api().await;
    let profile_id = create_profile(&mut api, "All staff").await;

    let mut first = api.clone();
    let mut second = api.clone();
    let request = v1::RunProfileRequest {
        profile_id: profile_id.clone(),
        ..Default::default()
    };
    let (left, right) = tokio::join!(
        first.run_profile(request.clone()),
        second.run_profile(request.clone())
    );
    let outcomes = [left, right];
    let started: Vec<_> = outcomes
        .iter()
        .filter_map(|outcome| outcome.as_ref().ok())
        .collect();
    assert_eq!(started.len(), 1, "exactly one run starts: {outcomes:?}");
    let refused = outcomes
        .iter()
        .find_map(|outcome| outcome.as_ref().err())
        .unwrap();
    assert_eq!(refused.code(), Code::Aborted);
    let run_id = started[0].get_ref().run_id.clone();

    let (writer, stop_writer) = spawn_writer(scheduler.queue().await, succeed);
    let mut events = api
        .watch_run(v1::WatchRunRequest {
            run_id: run_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut sequences = Vec::new();
    let mut states = Vec::new();
    let mut mailboxes_done = 0;
    while let Some(event) = events.message().await.unwrap() {
        sequences.push(event.sequence);
        match event.detail.unwrap() {
            v1::run_event::Detail::StateChanged(state) => {
                states.push(v1::RunState::try_from(state).unwrap())
            }
            v1::run_event::Detail::MailboxDone(_) => mailboxes_done += 1,
            v1::run_event::Detail::Progress(_) => {}
        }
    }
    let expected: Vec<u64> = (1..=sequences.len() as u64).collect();
    assert_eq!(sequences, expected, "sequences start at 1 and have no gap");
    assert_eq!(
        states,
        [
            v1::RunState::Queued,
            v1::RunState::Reading,
            v1::RunState::Writing,
            v1::RunState::Succeeded
        ]
    );
    assert_eq!(mailboxes_done, 5);
    let run = wait_for_end(&mut api, &run_id).await;
    assert_eq!(run.mailboxes_done, 5);
    assert_eq!(run.counts.unwrap().created, 50);
    let _ = stop_writer.send(true);
    assert_eq!(writer.await.unwrap(), 5);

    // The lock is free again.
    api.run_profile(request).await.unwrap();
}

#[tokio::test]
async fn a_waiting_lease_gets_work_as_soon_as_a_run_queues_it() {
    let (_dir, scheduler, mut api, profile_id) =
        scheduler_with_profile(FakeDirectory::with_mailboxes(1)).await;
    let mut queue = scheduler.queue().await;
    // A writer asks while the queue is empty, and is held.
    let waiting = tokio::spawn(async move {
        let asked_at = std::time::Instant::now();
        let lease = queue
            .lease(v1::LeaseRequest {
                worker_id: "writer-a".to_owned(),
                lease_seconds: 30,
                wait_seconds: 15,
            })
            .await
            .unwrap()
            .into_inner()
            .lease;
        (lease, asked_at.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "an empty queue answered at once");
    let queued_at = std::time::Instant::now();
    start_run(&mut api, &profile_id).await;
    let (lease, waited) = waiting.await.unwrap();
    assert!(lease.is_some(), "the held lease answered without the work");
    assert!(
        queued_at.elapsed() < Duration::from_secs(3),
        "the writer heard of the work {:?} after the run started",
        queued_at.elapsed()
    );
    assert!(waited >= Duration::from_millis(300));
}

#[tokio::test]
async fn an_expired_lease_is_offered_to_another_writer() {
    let (_dir, scheduler, mut api, profile_id) =
        scheduler_with_profile(FakeDirectory::with_mailboxes(1)).await;
    let run_id = start_run(&mut api, &profile_id).await;

    let mut queue = scheduler.queue().await;
    let first = lease_when_queued(
        &mut queue,
        v1::LeaseRequest {
            worker_id: "writer-a".to_owned(),
            lease_seconds: 1,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(first.item.as_ref().unwrap().attempt, 1);
    let nothing = queue
        .lease(v1::LeaseRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(nothing.lease.is_none(), "a live lease is not offered twice");

    // Writer A goes silent; after its lease expires writer B gets the item.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = queue
        .lease(v1::LeaseRequest {
            worker_id: "writer-b".to_owned(),
            lease_seconds: 30,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .lease
        .expect("the expired lease is offered again");
    assert_eq!(
        second.item.as_ref().unwrap().work_item_id,
        first.item.as_ref().unwrap().work_item_id
    );
    assert_eq!(second.item.as_ref().unwrap().attempt, 2);

    let late = queue
        .heartbeat(v1::HeartbeatRequest {
            lease_token: first.lease_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    queue
        .complete(v1::CompleteRequest {
            lease_token: second.lease_token,
            result: Some(v1::MailboxSyncResult {
                outcome: v1::MailboxOutcome::Succeeded as i32,
                ..Default::default()
            }),
            plan: None,
        })
        .await
        .unwrap();
    let run = wait_for_end(&mut api, &run_id).await;
    assert_eq!(run.state, v1::RunState::Succeeded as i32);
    assert_eq!(run.mailboxes[0].attempts, 2);
}

#[tokio::test]
async fn failed_items_retry_with_backoff_then_fail_the_run_partially() {
    let (_dir, scheduler, mut api, profile_id) =
        scheduler_with_profile(FakeDirectory::with_mailboxes(2)).await;
    let run_id = start_run(&mut api, &profile_id).await;
    let mut queue = scheduler.queue().await;
    let mut failed_mailbox = None;
    let mut seen = 0;
    while seen < 2 {
        let Some(lease) = queue
            .lease(v1::LeaseRequest::default())
            .await
            .unwrap()
            .into_inner()
            .lease
        else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        seen += 1;
        let mailbox = lease.item.unwrap().request.unwrap().mailbox_id;
        if failed_mailbox.is_none() {
            // Not retryable: the mailbox is blocked by policy.
            let answer = queue
                .fail(v1::FailRequest {
                    lease_token: lease.lease_token,
                    reason: "blocked by an Exchange application access policy".to_owned(),
                    retryable: false,
                })
                .await
                .unwrap()
                .into_inner();
            assert!(!answer.will_retry);
            failed_mailbox = Some(mailbox);
        } else {
            queue
                .complete(v1::CompleteRequest {
                    lease_token: lease.lease_token,
                    result: Some(v1::MailboxSyncResult::default()),
                    plan: None,
                })
                .await
                .unwrap();
        }
    }
    let run = wait_for_end(&mut api, &run_id).await;
    assert_eq!(run.state, v1::RunState::PartiallyFailed as i32);
    let failed = run
        .mailboxes
        .iter()
        .find(|mailbox| Some(&mailbox.mailbox_id) == failed_mailbox.as_ref())
        .unwrap();
    assert_eq!(failed.outcome, v1::MailboxOutcome::Failed as i32);
    assert!(failed
        .errors
        .iter()
        .any(|error| error.contains("application access policy")));
}

#[tokio::test]
async fn cancel_ends_the_run_and_the_next_run_starts() {
    let (_dir, scheduler, mut api, profile_id) =
        scheduler_with_profile(FakeDirectory::with_mailboxes(3)).await;
    let request = v1::RunProfileRequest {
        profile_id: profile_id.clone(),
        ..Default::default()
    };
    let run_id = api
        .run_profile(request.clone())
        .await
        .unwrap()
        .into_inner()
        .run_id;
    let mut queue = scheduler.queue().await;
    let lease = lease_when_queued(&mut queue, v1::LeaseRequest::default()).await;
    api.cancel_run(v1::CancelRunRequest {
        run_id: run_id.clone(),
    })
    .await
    .unwrap();
    // The writer learns of the cancel on its heartbeat; the run waits for it.
    let heartbeat = queue
        .heartbeat(v1::HeartbeatRequest {
            lease_token: lease.lease_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(heartbeat.cancel_requested);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = api
        .get_run(v1::GetRunRequest {
            run_id: run_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(
        waiting.state,
        v1::RunState::Cancelled as i32,
        "the run ended before its writer said what it wrote"
    );
    // It stops and gives the item back with the writes it made.
    queue
        .release(v1::ReleaseRequest {
            lease_token: lease.lease_token.clone(),
            progress: Some(v1::SyncCounts {
                created: 7,
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let run = wait_for_end(&mut api, &run_id).await;
    assert_eq!(run.state, v1::RunState::Cancelled as i32);
    assert_eq!(run.counts.unwrap_or_default().created, 7, "{run:?}");
    assert_eq!(run.mailboxes_cancelled, 3, "{run:?}");
    assert_eq!(run.mailboxes_succeeded + run.mailboxes_failed, 0);
    let stopped = run
        .mailboxes
        .iter()
        .find(|mailbox| mailbox.counts.is_some_and(|counts| counts.created == 7))
        .expect("the stopped mailbox shows its writes");
    assert_eq!(stopped.outcome, v1::MailboxOutcome::Cancelled as i32);
    let leftover = queue
        .lease(v1::LeaseRequest::default())
        .await
        .unwrap()
        .into_inner()
        .lease;
    assert!(leftover.is_none(), "a cancelled run offers no more work");
    api.run_profile(request).await.unwrap();
}

#[tokio::test]
async fn held_deletions_wait_for_approval_then_run_approved() {
    let (_dir, scheduler, mut api, profile_id) =
        scheduler_with_profile(FakeDirectory::with_mailboxes(2)).await;
    fn guard(item: &v1::WorkItem) -> v1::MailboxOutcome {
        let approved = item
            .request
            .as_ref()
            .unwrap()
            .policy
            .as_ref()
            .unwrap()
            .deletions_approved;
        if approved {
            v1::MailboxOutcome::Succeeded
        } else {
            v1::MailboxOutcome::AwaitingApproval
        }
    }
    let (writer, stop_writer) = spawn_writer(scheduler.queue().await, guard);
    let run_id = start_run(&mut api, &profile_id).await;
    let run = wait_for_end(&mut api, &run_id).await;
    assert_eq!(run.state, v1::RunState::AwaitingApproval as i32);
    api.approve_deletions(v1::ApproveDeletionsRequest {
        run_id: run_id.clone(),
    })
    .await
    .unwrap();
    let run = wait_for_end(&mut api, &run_id).await;
    assert_eq!(run.state, v1::RunState::Succeeded as i32);
    assert_eq!(run.mailboxes.len(), 2);
    let _ = stop_writer.send(true);
    assert_eq!(writer.await.unwrap(), 4);
}

#[tokio::test]
async fn the_run_lock_survives_a_restart_and_a_dead_schedulers_run_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let directory = FakeDirectory::with_mailboxes(2);
    let first = TestScheduler::start(&url, directory.clone()).await;
    let mut api = first.api().await;
    let profile_id = create_profile(&mut api, "p").await;
    let run_id = start_run(&mut api, &profile_id).await;
    // The first scheduler dies mid-run (nothing leased the work yet).
    first.stop().await;

    let second = TestScheduler::start(&url, directory).await;
    let mut api = second.api().await;
    let status = api
        .run_profile(v1::RunProfileRequest {
            profile_id: profile_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::Aborted,
        "the persisted lock still holds"
    );

    // Once the dead holder's lock expires, the new scheduler adopts the run.
    let holder = |scheduler: &TestScheduler| {
        let galsync_platform::store::StorePool::Sqlite(pool) =
            scheduler.scheduler.store().pool().clone()
        else {
            unreachable!("this test uses SQLite")
        };
        async move {
            sqlx::query_scalar::<_, String>("SELECT holder FROM run_locks")
                .fetch_optional(&pool)
                .await
                .unwrap()
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while holder(&second).await.as_deref() != Some(second.scheduler.node_id()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the second scheduler never adopted the run"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (writer, stop_writer) = spawn_writer(second.queue().await, succeed);
    let run = wait_for_end(&mut api, &run_id).await;
    assert_eq!(run.state, v1::RunState::Succeeded as i32);
    assert_eq!(run.mailboxes_done, 2);
    let _ = stop_writer.send(true);
    writer.await.unwrap();
}

#[tokio::test]
async fn a_due_schedule_starts_a_run() {
    let (_dir, scheduler) = TestScheduler::start_on_fresh_store(1).await;
    let mut api = scheduler.api().await;
    let mut spec = profile_spec("hourly");
    spec.schedule = Some(v1::Schedule {
        kind: Some(v1::schedule::Kind::IntervalSeconds(3600)),
        time_zone: String::new(),
    });
    let profile = api
        .create_profile(v1::CreateProfileRequest { spec: Some(spec) })
        .await
        .unwrap()
        .into_inner();
    let next = profile.next_run_at.unwrap();
    assert!(next.seconds > chrono::Utc::now().timestamp() + 3500);

    // Pretend the hour has passed.
    if let galsync_platform::store::StorePool::Sqlite(pool) = scheduler.scheduler.store().pool() {
        sqlx::query("UPDATE profiles SET next_run_at = 1 WHERE profile_id = $1")
            .bind(&profile.profile_id)
            .execute(pool)
            .await
            .unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let run = loop {
        let runs = api
            .list_runs(v1::ListRunsRequest {
                profile_id: profile.profile_id.clone(),
                limit: 10,
            })
            .await
            .unwrap()
            .into_inner()
            .runs;
        if let Some(run) = runs.into_iter().next() {
            break run;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the schedule did not fire"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(run.trigger, "schedule");
    let profile = api
        .get_profile(v1::GetProfileRequest {
            profile_id: profile.profile_id,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        profile.next_run_at.unwrap().seconds > chrono::Utc::now().timestamp() + 3500,
        "the next run moved on"
    );
}

#[tokio::test]
async fn api_keys_carry_roles_and_bad_keys_are_refused() {
    let (dir, scheduler) = TestScheduler::start_on_fresh_store(1).await;
    let mut admin = scheduler.api().await;
    let key = admin
        .create_api_key(v1::CreateApiKeyRequest {
            name: "hr-onboarding".to_owned(),
            role: v1::ApiRole::Viewer as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(key.secret.starts_with("gsk_"));

    let with_key = |secret: String| {
        move |mut request: tonic::Request<()>| {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {secret}").parse().unwrap());
            Ok(request)
        }
    };
    let channel = scheduler.channel().await;
    let mut viewer = v1::scheduler_client::SchedulerClient::with_interceptor(
        channel.clone(),
        with_key(key.secret.clone()),
    );
    viewer
        .list_profiles(v1::ListProfilesRequest::default())
        .await
        .unwrap();
    let status = viewer
        .create_profile(v1::CreateProfileRequest {
            spec: Some(profile_spec("from hr")),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("viewer"), "{}", status.message());

    let forged = format!("{}x", key.secret);
    let mut stranger =
        v1::scheduler_client::SchedulerClient::with_interceptor(channel, with_key(forged));
    let status = stranger
        .list_profiles(v1::ListProfilesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    // The secret is stored only as a hash.
    if let galsync_platform::store::StorePool::Sqlite(pool) = scheduler.scheduler.store().pool() {
        let stored: Vec<(String,)> = sqlx::query_as("SELECT key_hash FROM api_keys")
            .fetch_all(pool)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert!(!stored[0].0.contains(&key.secret));
    }

    // The key was made by a plaintext caller: once the same store is served
    // without trusting plaintext (TLS on), it no longer gets in.
    scheduler.stop().await;
    let served_with_tls =
        TestScheduler::start_trusting(&sqlite_url(&dir), FakeDirectory::with_mailboxes(1), false)
            .await;
    let mut late = v1::scheduler_client::SchedulerClient::with_interceptor(
        served_with_tls.channel().await,
        with_key(key.secret.clone()),
    );
    let status = late
        .list_profiles(v1::ListProfilesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(
        status.message().contains("plaintext session"),
        "{}",
        status.message()
    );
}

/// This host's address on its network (not loopback), if it has one: the
/// source address a UDP socket would use towards a documentation address
/// (no packet is sent).
fn non_loopback_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.200:9").ok()?;
    let address = socket.local_addr().ok()?.ip();
    (!address.is_loopback() && !address.is_unspecified()).then_some(address)
}

/// `--trust-plaintext-loopback` trusts loopback callers only: the same
/// plaintext scheduler, reached over this host's network address, refuses.
#[tokio::test]
async fn a_plaintext_caller_from_a_network_address_is_never_trusted() {
    let Some(address) = non_loopback_address() else {
        println!("skipping: this host has no non-loopback address");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scheduler = TestScheduler::start_listening(
        &sqlite_url(&dir),
        FakeDirectory::with_mailboxes(1),
        true,
        "0.0.0.0:0",
    )
    .await;
    let port = scheduler.addr.port();
    let connect = |host: String| async move {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{host}:{port}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        v1::scheduler_client::SchedulerClient::new(channel)
    };
    let mut remote = connect(address.to_string()).await;
    let status = remote
        .create_profile(v1::CreateProfileRequest {
            spec: Some(profile_spec("From the network")),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{}", status.message());
    let mut local = connect("127.0.0.1".to_owned()).await;
    local
        .create_profile(v1::CreateProfileRequest {
            spec: Some(profile_spec("From this host")),
        })
        .await
        .expect("a loopback caller is the local operator");
}

/// A store that answers late (here: locked by another connection; in
/// production: PostgreSQL restarting) must not hand out a lease already
/// partly spent: the writer counts the lease from when the answer arrives.
#[tokio::test]
async fn a_lease_granted_late_by_the_store_counts_from_its_answer() {
    use sqlx::Connection;

    let (dir, scheduler, mut api, profile_id) =
        scheduler_with_profile(FakeDirectory::with_mailboxes(1)).await;
    let url = sqlite_url(&dir);
    start_run(&mut api, &profile_id).await;
    // Wait for the item to be queued, without leasing it.
    let mut lock = sqlx::SqliteConnection::connect(&url).await.unwrap();
    loop {
        let (queued,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM work_items WHERE state = 'queued'")
                .fetch_one(&mut lock)
                .await
                .unwrap();
        if queued > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The store is locked for 2 s: the lease asked for now is granted then.
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut lock)
        .await
        .unwrap();
    let mut queue = scheduler.queue().await;
    let asked = tokio::spawn(async move {
        let lease = queue
            .lease(v1::LeaseRequest {
                worker_id: "writer-a".to_owned(),
                lease_seconds: 4,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .lease;
        (lease, std::time::SystemTime::now())
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    sqlx::query("COMMIT").execute(&mut lock).await.unwrap();
    let (lease, answered) = asked.await.unwrap();
    let expires = lease.expect("the item is leased").expires_at.unwrap();
    let expires =
        std::time::UNIX_EPOCH + Duration::new(expires.seconds as u64, expires.nanos as u32);
    let left = expires.duration_since(answered).unwrap_or_default();
    assert!(
        left >= Duration::from_millis(3500),
        "a 4 s lease answered with only {left:?} of it left"
    );
    // And the queue holds it to that expiry: a heartbeat 3 s on renews it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (state, expires_at): (String, i64) =
        sqlx::query_as("SELECT state, lease_expires_at FROM work_items")
            .fetch_one(&mut lock)
            .await
            .unwrap();
    assert_eq!(state, "leased");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        expires_at > now,
        "the lease lapsed {} ms early",
        now - expires_at
    );
    scheduler.stop().await;
}

/// A replica that adopted a run (its lock lapsed while this scheduler could
/// not renew it) keeps it: this scheduler neither takes the lock back nor
/// fails the run it no longer drives.
#[tokio::test]
async fn a_run_taken_over_by_another_replica_is_left_to_it() {
    use sqlx::Connection;

    let directory = Arc::new(FakeDirectory {
        read_delay: Duration::from_secs(4),
        ..Arc::into_inner(FakeDirectory::with_mailboxes(1)).unwrap()
    });
    let (dir, scheduler, mut api, profile_id) = scheduler_with_profile(directory).await;
    let url = sqlite_url(&dir);
    let run_id = start_run(&mut api, &profile_id).await;
    // While the directory read holds the run, another replica takes its lock.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut store = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let taken = sqlx::query("UPDATE run_locks SET holder = 'scheduler-other' WHERE run_id = $1")
        .bind(&run_id)
        .execute(&mut store)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(taken, 1, "the run holds its profile's lock");

    // Within the lock's lifetime (2 s here) this scheduler renews at least once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (holder,): (String,) = sqlx::query_as("SELECT holder FROM run_locks WHERE run_id = $1")
        .bind(&run_id)
        .fetch_one(&mut store)
        .await
        .unwrap();
    assert_eq!(holder, "scheduler-other", "the lock was taken back");
    let run = api
        .get_run(v1::GetRunRequest {
            run_id: run_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(
        run.state(),
        v1::RunState::Failed,
        "the run another replica drives was failed: {run:?}"
    );
    scheduler.stop().await;
}

#[tokio::test]
async fn the_audit_log_is_read_by_unscoped_admins_only() {
    let (_dir, scheduler) = TestScheduler::start_on_fresh_store(1).await;
    let mut admin = scheduler.api().await;
    let scoped = admin
        .create_api_key(v1::CreateApiKeyRequest {
            name: "msp-customer".to_owned(),
            role: v1::ApiRole::Admin as i32,
            tenant_id: "6f1d2f8c-4f7a-4c36-9a53-0d7d3b0c2a11".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    let log = admin
        .list_audit_log(v1::ListAuditLogRequest {
            action: "api_key.created".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(log.entries.len(), 1, "{log:?}");
    assert_eq!(log.entries[0].target, scoped.key_id);
    assert_eq!(log.next_before_id, 0);

    let secret = scoped.secret.clone();
    let channel = scheduler.channel().await;
    let mut as_scoped = v1::scheduler_client::SchedulerClient::with_interceptor(
        channel,
        move |mut request: tonic::Request<()>| {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {secret}").parse().unwrap());
            Ok(request)
        },
    );
    let status = as_scoped
        .list_audit_log(v1::ListAuditLogRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("not kept per tenant"),
        "{status:?}"
    );
}
