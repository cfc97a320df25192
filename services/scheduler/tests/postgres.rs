//! Two schedulers sharing one PostgreSQL store: a profile never runs twice at
//! once, and every work item is leased exactly once (FOR UPDATE SKIP LOCKED).

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use galsync_proto::v1;

#[tokio::test]
async fn two_schedulers_on_postgres_never_run_a_profile_twice() {
    let Some(dsn) = galsync_testkit::harness::fresh_postgres_dsn(
        "two_schedulers_on_postgres_never_run_a_profile_twice",
    )
    .await
    else {
        return;
    };
    let directory = FakeDirectory::with_mailboxes(40);
    let first = TestScheduler::start(&dsn, directory.clone()).await;
    let second = TestScheduler::start(&dsn, directory).await;
    let mut api_first = first.api().await;
    let mut api_second = second.api().await;
    let profile_id = create_profile(&mut api_first, "All staff").await;

    let mut attempts = Vec::new();
    for index in 0..10 {
        let mut api = if index % 2 == 0 {
            api_first.clone()
        } else {
            api_second.clone()
        };
        let request = v1::RunProfileRequest {
            profile_id: profile_id.clone(),
            ..Default::default()
        };
        attempts.push(tokio::spawn(async move { api.run_profile(request).await }));
    }
    let mut started = Vec::new();
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(run) => started.push(run.into_inner().run_id),
            Err(status) => assert_eq!(status.code(), tonic::Code::Aborted),
        }
    }
    assert_eq!(started.len(), 1, "one run across both schedulers");

    // Writers on both schedulers lease concurrently: each item exactly once.
    let mut queues = Vec::new();
    for scheduler in [&first, &second, &first, &second] {
        queues.push(scheduler.queue().await);
    }
    let mut workers = Vec::new();
    for mut queue in queues {
        workers.push(tokio::spawn(async move {
            let mut leased = Vec::new();
            let mut idle_rounds = 0;
            while idle_rounds < 25 {
                let lease = queue
                    .lease(v1::LeaseRequest::default())
                    .await
                    .unwrap()
                    .into_inner()
                    .lease;
                let Some(lease) = lease else {
                    idle_rounds += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                idle_rounds = 0;
                leased.push(lease.item.as_ref().unwrap().work_item_id.clone());
                queue
                    .complete(v1::CompleteRequest {
                        lease_token: lease.lease_token,
                        result: Some(v1::MailboxSyncResult::default()),
                        plan: None,
                    })
                    .await
                    .unwrap();
            }
            leased
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 40, "every mailbox leased");
    assert_eq!(unique.len(), 40, "no mailbox leased twice");
    let run = wait_for_end(&mut api_second, &started[0]).await;
    assert_eq!(run.state, v1::RunState::Succeeded as i32);

    // The audit log reads back from PostgreSQL, filtered as the console does.
    let all = api_first
        .list_audit_log(v1::ListAuditLogRequest::default())
        .await
        .unwrap()
        .into_inner();
    let newest = all
        .entries
        .first()
        .expect("the profile's creation is audited");
    let filtered = api_first
        .list_audit_log(v1::ListAuditLogRequest {
            actor: newest.actor.chars().skip(1).take(4).collect(),
            action: newest.action.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        filtered
            .entries
            .iter()
            .all(|entry| entry.action == newest.action),
        "{filtered:?}"
    );
    assert!(!filtered.entries.is_empty(), "{all:?}");
}
