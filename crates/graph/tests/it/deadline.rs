//! A client under a deadline (a writer's lease on a mailbox): nothing is
//! sent once it has passed, a request still in flight when it comes is
//! abandoned (a create as ambiguous), and no retry waits past it.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use galsync_graph::GraphError;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::support::{graph_client, spawn_server, Arrivals, GenerationTokenSource};

/// Answers each create after `delay`, the first `throttled` with a 429
/// asking for `retry_after` seconds.
fn creates(
    arrivals: Arrivals,
    delay: Duration,
    throttled: usize,
    retry_after: &'static str,
) -> Router {
    let handler = move || {
        let arrivals = arrivals.clone();
        async move {
            let arrival = arrivals.record();
            tokio::time::sleep(delay).await;
            if arrival <= throttled {
                let body = Json(
                    json!({"error": {"code": "ApplicationThrottled", "message": "slow down"}}),
                );
                let mut response = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
                response
                    .headers_mut()
                    .insert("retry-after", retry_after.parse().expect("header value"));
                return response;
            }
            (
                StatusCode::CREATED,
                Json(json!({"id": format!("c{arrival}")})),
            )
                .into_response()
        }
    };
    Router::new().route("/v1.0/users/u1/contacts", post(handler))
}

async fn create(client: &galsync_graph::GraphClient) -> Result<Value, GraphError> {
    client
        .post_json("/users/u1/contacts", &json!({"displayName": "Ada"}))
        .await
}

#[tokio::test]
async fn past_its_deadline_a_client_sends_nothing_until_the_lease_is_renewed() {
    let arrivals = Arrivals::default();
    let server = spawn_server(creates(arrivals.clone(), Duration::ZERO, 0, "0")).await;
    let (renew, deadline) = watch::channel(Instant::now());
    let client = graph_client(&server, GenerationTokenSource::new()).with_deadline(deadline);

    let error = create(&client).await.expect_err("the deadline has passed");
    assert!(
        matches!(error, GraphError::PastDeadline { .. }),
        "{error:?}"
    );
    assert!(
        error.is_past_deadline() && !error.is_ambiguous(),
        "never sent: {error:?}"
    );
    assert_eq!(
        arrivals.count(),
        0,
        "nothing may reach Graph after the deadline"
    );

    renew.send_replace(Instant::now() + Duration::from_secs(30));
    let created = create(&client).await.expect("renewed, the create goes out");
    assert_eq!(created["id"], "c1");
}

#[tokio::test]
async fn a_create_in_flight_when_the_deadline_comes_is_abandoned_as_ambiguous() {
    let arrivals = Arrivals::default();
    let server = spawn_server(creates(arrivals.clone(), Duration::from_secs(3), 0, "0")).await;
    let (_renew, deadline) = watch::channel(Instant::now() + Duration::from_millis(300));
    let client = graph_client(&server, GenerationTokenSource::new()).with_deadline(deadline);
    let started = Instant::now();

    let error = create(&client)
        .await
        .expect_err("Graph answers after the deadline");

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited {:?}",
        started.elapsed()
    );
    assert!(
        error.is_ambiguous(),
        "the create may have been applied: {error:?}"
    );
    assert!(error.is_past_deadline(), "{error:?}");
    assert_eq!(arrivals.count(), 1, "a create is never sent twice");
}

/// A lease renewed while Graph works on a request moves the point where the
/// attempt would be abandoned: the create sent under a 300 ms deadline that
/// is moved on every 100 ms gets its answer (1 s later), not an abandonment.
#[tokio::test]
async fn a_create_in_flight_is_not_abandoned_while_its_lease_is_renewed() {
    let arrivals = Arrivals::default();
    let server = spawn_server(creates(arrivals.clone(), Duration::from_secs(1), 0, "0")).await;
    let (renew, deadline) = watch::channel(Instant::now() + Duration::from_millis(300));
    let client = graph_client(&server, GenerationTokenSource::new()).with_deadline(deadline);
    let renewals = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if renew
                .send(Instant::now() + Duration::from_millis(300))
                .is_err()
            {
                return;
            }
        }
    });

    let created = create(&client).await;
    renewals.abort();

    let created = created.expect("the lease was renewed while Graph worked");
    assert_eq!(created["id"], "c1");
    assert_eq!(arrivals.count(), 1);
}

#[tokio::test]
async fn a_retry_that_would_wait_past_the_deadline_is_not_made() {
    let arrivals = Arrivals::default();
    let server = spawn_server(creates(arrivals.clone(), Duration::ZERO, 1, "5")).await;
    let (_renew, deadline) = watch::channel(Instant::now() + Duration::from_secs(2));
    let client = graph_client(&server, GenerationTokenSource::new()).with_deadline(deadline);
    let started = Instant::now();

    let error = create(&client)
        .await
        .expect_err("the Retry-After outlasts the deadline");

    assert!(
        started.elapsed() < Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert!(
        matches!(error, GraphError::PastDeadline { .. }),
        "{error:?}"
    );
    assert_eq!(arrivals.count(), 1);
}

#[tokio::test]
async fn a_request_is_not_sent_when_graph_could_still_be_applying_it_at_the_deadline() {
    let arrivals = Arrivals::default();
    let server = spawn_server(creates(
        arrivals.clone(),
        Duration::from_millis(600),
        0,
        "0",
    ))
    .await;
    let (renew, deadline) = watch::channel(Instant::now() + Duration::from_secs(30));
    let client = graph_client(&server, GenerationTokenSource::new()).with_deadline(deadline);
    create(&client).await.expect("plenty of time: sent");

    // Creates take 600 ms lately; 400 ms are left.
    renew.send_replace(Instant::now() + Duration::from_millis(400));
    let error = create(&client).await.expect_err("too little time left");

    assert!(
        matches!(error, GraphError::PastDeadline { .. }),
        "{error:?}"
    );
    assert_eq!(arrivals.count(), 1, "the second create was never sent");
}
