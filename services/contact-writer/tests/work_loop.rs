//! The work loop against a fake WorkQueue on port 0: lease, complete with
//! counts, fail a blocked mailbox without retry, release on shutdown.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{directory, no_limits, settings, Harness};
use galsync_contact_writer::work::{self, WorkSettings};
use galsync_proto::v1;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

#[derive(Default, Clone)]
struct FakeQueue {
    items: Arc<Mutex<Vec<v1::WorkItem>>>,
    completed: Arc<Mutex<Vec<v1::CompleteRequest>>>,
    failed: Arc<Mutex<Vec<v1::FailRequest>>>,
    released: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl v1::work_queue_server::WorkQueue for FakeQueue {
    async fn lease(
        &self,
        _request: Request<v1::LeaseRequest>,
    ) -> Result<Response<v1::LeaseResponse>, Status> {
        let item = self.items.lock().unwrap().pop();
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
        request: Request<v1::ReleaseRequest>,
    ) -> Result<Response<v1::ReleaseResponse>, Status> {
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
    harness
        .reader
        .snapshots
        .lock()
        .unwrap()
        .insert("snap-1".to_owned(), directory(25));
    let queue = FakeQueue::default();
    for (index, mailbox) in mailboxes.iter().enumerate() {
        queue.items.lock().unwrap().push(v1::WorkItem {
            work_item_id: format!("item-{index}"),
            run_id: "run-1".to_owned(),
            request: Some(v1::SyncMailboxRequest {
                tenant_id: harness.tenant_id.to_string(),
                mailbox_id: mailbox.clone(),
                snapshot_id: "snap-1".to_owned(),
                policy: Some(v1::WritePolicy::default()),
                profile_id: "profile-1".to_owned(),
            }),
            attempt: 1,
            dry_run: index == 1,
        });
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = queue.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(v1::work_queue_server::WorkQueueServer::new(server))
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let settings = WorkSettings {
        worker_id: "writer-test".to_owned(),
        workers: 2,
        lease_secs: 30,
        idle_poll: Duration::from_millis(50),
        drain: Duration::from_secs(5),
    };
    let loop_task = tokio::spawn(work::run(
        Arc::clone(&harness.engine),
        channel,
        settings,
        stopped,
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while queue.completed.lock().unwrap().len() + queue.failed.lock().unwrap().len() < 3 {
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
    assert_eq!(
        failed[0].reason,
        "blocked by an Exchange application access policy"
    );
    assert!(!failed[0].retryable);
}
