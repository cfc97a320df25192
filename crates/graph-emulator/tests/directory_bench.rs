//! Throughput of directory reads (a benchmark, not a timed test). Run with
//! `cargo test --release -p galsync-graph-emulator --test directory_bench -- --ignored --nocapture`.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::directory::{start, unlimited};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly in release mode"]
async fn single_user_reads_per_second_and_a_50k_full_read() {
    let fixture = Arc::new(start(50_000, unlimited()).await);
    let users = fixture
        .emulator
        .state
        .directory
        .list_users(fixture.tenant, false);
    let urls: Arc<Vec<String>> = Arc::new(
        users
            .iter()
            .take(1_000)
            .map(|user| fixture.url(&format!("/v1.0/users/{}?$select=id,displayName", user.id)))
            .collect(),
    );
    let completed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut workers = Vec::new();
    for worker in 0..64 {
        let fixture = fixture.clone();
        let urls = urls.clone();
        let completed = completed.clone();
        workers.push(tokio::spawn(async move {
            let mut index = worker;
            while Instant::now() < deadline {
                let url = &urls[index % urls.len()];
                let response = fixture
                    .client
                    .get(url)
                    .bearer_auth(&fixture.token)
                    .send()
                    .await
                    .expect("answered");
                assert!(response.status().is_success());
                let _ = response.bytes().await;
                completed.fetch_add(1, Ordering::Relaxed);
                index += 64;
            }
        }));
    }
    for worker in workers {
        worker.await.expect("worker finished");
    }
    let total = completed.load(Ordering::Relaxed);
    println!(
        "GET /users/{{id}}: {} requests/s (client and server on the same 2 cores)",
        total / 5
    );

    let started = Instant::now();
    let pages = fixture
        .all_pages(
            "/v1.0/users?$top=999&$select=id,displayName,mail,businessPhones,jobTitle",
            &[],
        )
        .await;
    println!(
        "full read of 50,000 users: {} pages in {:?}",
        pages.len(),
        started.elapsed()
    );
}

/// The server side alone: requests driven through the router in-process, so
/// the HTTP client's cost does not count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly in release mode"]
async fn single_user_reads_per_second_through_the_router() {
    use tower::ServiceExt;

    let fixture = Arc::new(start(50_000, unlimited()).await);
    let router = fixture
        .emulator
        .state
        .router
        .get()
        .cloned()
        .expect("router is built");
    let users = fixture
        .emulator
        .state
        .directory
        .list_users(fixture.tenant, false);
    let paths: Arc<Vec<String>> = Arc::new(
        users
            .iter()
            .take(1_000)
            .map(|user| format!("/v1.0/users/{}?$select=id,displayName", user.id))
            .collect(),
    );
    let completed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut workers = Vec::new();
    for worker in 0..2 {
        let router = router.clone();
        let paths = paths.clone();
        let completed = completed.clone();
        let token = fixture.token.clone();
        workers.push(tokio::spawn(async move {
            let mut index = worker;
            while Instant::now() < deadline {
                let request = axum::http::Request::builder()
                    .uri(&paths[index % paths.len()])
                    .header("authorization", format!("Bearer {token}"))
                    .body(axum::body::Body::empty())
                    .expect("request");
                let response = router.clone().oneshot(request).await.expect("answered");
                assert!(response.status().is_success());
                let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
                completed.fetch_add(1, Ordering::Relaxed);
                index += 2;
            }
        }));
    }
    for worker in workers {
        worker.await.expect("worker finished");
    }
    let total = completed.load(Ordering::Relaxed);
    println!(
        "GET /users/{{id}} through the router: {} requests/s",
        total / 5
    );
}
