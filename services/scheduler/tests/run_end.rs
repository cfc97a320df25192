//! How soon a run's end is seen through `WatchRun`, at production timings:
//! at once when the last mailbox completes on this scheduler, and still
//! within the safety-net recheck when it completes through another replica.

mod common;

use std::time::{Duration, Instant};

use common::*;
use galsync_proto::v1;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use galsync_proto::v1::work_queue_client::WorkQueueClient;
use galsync_scheduler::Timings;
use tonic::transport::Channel;

/// Watches the run from a task: the state it ended in, and when the stream
/// showed that end.
fn watch_for_end(
    mut api: SchedulerClient<Channel>,
    run_id: String,
) -> tokio::task::JoinHandle<(v1::RunState, Instant)> {
    tokio::spawn(async move {
        let mut events = api
            .watch_run(v1::WatchRunRequest { run_id })
            .await
            .unwrap()
            .into_inner();
        while let Some(event) = events.message().await.unwrap() {
            let Some(v1::run_event::Detail::StateChanged(state)) = event.detail else {
                continue;
            };
            let state = v1::RunState::try_from(state).unwrap();
            if !matches!(
                state,
                v1::RunState::Queued | v1::RunState::Reading | v1::RunState::Writing
            ) {
                return (state, Instant::now());
            }
        }
        panic!("the event stream ended without the run's end");
    })
}

/// Leases and completes `mailboxes` items through `queue`, a little apart
/// (so the last completion falls anywhere in a driver's poll); when the
/// last `Complete` was answered.
async fn complete_every_item(queue: &mut WorkQueueClient<Channel>, mailboxes: usize) -> Instant {
    let mut last_completed_at = Instant::now();
    for index in 0..mailboxes {
        let lease = lease_when_queued(
            queue,
            v1::LeaseRequest {
                worker_id: "test-writer".to_owned(),
                lease_seconds: 30,
                wait_seconds: 5,
            },
        )
        .await;
        let item = lease.item.unwrap();
        tokio::time::sleep(Duration::from_millis(37 * (index as u64 + 1))).await;
        queue
            .complete(v1::CompleteRequest {
                lease_token: lease.lease_token,
                result: Some(v1::MailboxSyncResult {
                    mailbox_id: item.request.unwrap().mailbox_id,
                    outcome: v1::MailboxOutcome::Succeeded as i32,
                    ..Default::default()
                }),
                plan: None,
            })
            .await
            .unwrap();
        last_completed_at = Instant::now();
    }
    last_completed_at
}

#[tokio::test]
async fn watch_run_shows_a_runs_end_as_soon_as_its_last_mailbox_completes() {
    let dir = tempfile::tempdir().unwrap();
    let scheduler = TestScheduler::start_with_timings(
        &sqlite_url(&dir),
        FakeDirectory::with_mailboxes(3),
        Timings::default(),
    )
    .await;
    let mut api = scheduler.api().await;
    let mut queue = scheduler.queue().await;
    // Several runs, so an end that waits for the driver's next 250 ms look
    // cannot pass by luck.
    for attempt in 0..4 {
        let profile_id = create_profile(&mut api, &format!("Staff {attempt}")).await;
        let run_id = start_run(&mut api, &profile_id).await;
        let watcher = watch_for_end(api.clone(), run_id);
        let last_completed_at = complete_every_item(&mut queue, 3).await;
        let (state, seen_at) = watcher.await.unwrap();
        assert_eq!(state, v1::RunState::Succeeded);
        let late = seen_at.saturating_duration_since(last_completed_at);
        assert!(
            late < Duration::from_millis(100),
            "run {attempt}: WatchRun showed the end {late:?} after the last Complete"
        );
    }
}

#[tokio::test]
async fn a_run_whose_mailboxes_complete_through_another_replica_still_ends() {
    let dir = tempfile::tempdir().unwrap();
    let directory = FakeDirectory::with_mailboxes(2);
    let driving =
        TestScheduler::start_with_timings(&sqlite_url(&dir), directory.clone(), Timings::default())
            .await;
    let other =
        TestScheduler::start_with_timings(&sqlite_url(&dir), directory, Timings::default()).await;
    let mut api = driving.api().await;
    let profile_id = create_profile(&mut api, "Staff").await;
    let run_id = start_run(&mut api, &profile_id).await;
    // Watched on the replica that does not drive the run, and written
    // through it: the driver hears of nothing in its own process.
    let watcher = watch_for_end(other.api().await, run_id.clone());
    let last_completed_at = complete_every_item(&mut other.queue().await, 2).await;
    let (state, seen_at) = watcher.await.unwrap();
    assert_eq!(state, v1::RunState::Succeeded);
    let late = seen_at.saturating_duration_since(last_completed_at);
    // The driver's recheck (1 s), then the watcher's (1 s).
    assert!(
        late < Duration::from_secs(3),
        "the other replica's watcher showed the end {late:?} after the last Complete"
    );
    let run = wait_for_end(&mut api, &run_id).await;
    assert_eq!(run.mailboxes_done, 2);
}
