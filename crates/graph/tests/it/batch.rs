//! `$batch`: matching by id, limits, and retries of throttled sub-requests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use galsync_graph::{BatchRequest, GraphError};
use serde_json::{json, Value};

use crate::support::{graph_client, spawn_server, Arrivals, GenerationTokenSource};

/// The sub-requests of each `$batch` call the server received.
type ReceivedCalls = Arc<Mutex<Vec<Vec<Value>>>>;

/// A `$batch` endpoint: `answer(call_number, sub_request)` gives (status,
/// headers) per sub-request; responses come back in reverse order.
fn batch_server<F>(received: ReceivedCalls, arrivals: Arrivals, answer: F) -> Router
where
    F: Fn(usize, &Value) -> (u16, Value) + Clone + Send + Sync + 'static,
{
    let handler = move |Json(body): Json<Value>| {
        let received = received.clone();
        let arrivals = arrivals.clone();
        let answer = answer.clone();
        async move {
            let call_number = arrivals.record();
            let requests = body["requests"].as_array().cloned().unwrap_or_default();
            received.lock().expect("lock").push(requests.clone());
            let mut responses = Vec::new();
            for request in requests.iter().rev() {
                let (status, headers) = answer(call_number, request);
                let body = if status < 300 {
                    json!({"echo": request["id"]})
                } else {
                    json!({"error": {"code": "TooManyRequests", "message": "slow down"}})
                };
                responses.push(json!({"id": request["id"], "status": status, "headers": headers, "body": body}));
            }
            Json(json!({"responses": responses}))
        }
    };
    Router::new().route("/v1.0/$batch", post(handler))
}

fn ids_of(call: &[Value]) -> Vec<String> {
    call.iter()
        .map(|request| request["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn responses_in_any_order_are_matched_back_by_id() {
    let received = ReceivedCalls::default();
    let arrivals = Arrivals::default();
    let router = batch_server(received.clone(), arrivals, |_, request| {
        let status = if request["id"] == "b" { 404 } else { 200 };
        (status, json!({}))
    });
    let server = spawn_server(router).await;
    let client = graph_client(&server, GenerationTokenSource::new());
    let requests = vec![
        BatchRequest::get("a", "/users/u1/contactFolders"),
        BatchRequest::delete("b", "/users/u1/contacts/c9"),
        BatchRequest::patch(
            "c",
            format!("{server}/v1.0/users/u1/contacts/c1"),
            json!({"jobTitle": null}),
        ),
    ];

    let responses = client.batch(requests).await.expect("batch");

    let ids: Vec<&str> = responses
        .iter()
        .map(|response| response.id.as_str())
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(responses[0].json::<Value>().expect("body")["echo"], "a");
    assert_eq!(responses[1].status, 404);
    assert!(responses[1]
        .api_error()
        .is_some_and(|error| error.is_not_found()));
    let sent = received.lock().expect("lock")[0].clone();
    assert_eq!(
        sent[2]["url"], "/users/u1/contacts/c1",
        "absolute urls are made relative"
    );
    assert_eq!(sent[2]["headers"]["Content-Type"], "application/json");
}

#[tokio::test]
async fn throttled_sub_requests_are_retried_after_their_longest_retry_after() {
    let received = ReceivedCalls::default();
    let arrivals = Arrivals::default();
    let router = batch_server(
        received.clone(),
        arrivals.clone(),
        |call_number, request| {
            if call_number > 1 {
                return (200, json!({}));
            }
            match request["id"].as_str() {
                Some("2") => (429, json!({"Retry-After": "0.2"})),
                Some("3") => (429, json!({"retry-after": "0.1"})),
                Some("4") => (500, json!({})),
                _ => (201, json!({})),
            }
        },
    );
    let server = spawn_server(router).await;
    let client = graph_client(&server, GenerationTokenSource::new());
    let requests = vec![
        BatchRequest::post("1", "/users/m/contacts", json!({"displayName": "A"})),
        BatchRequest::post("2", "/users/m/contacts", json!({"displayName": "B"})),
        BatchRequest::patch("3", "/users/m/contacts/c3", json!({"displayName": "C"})),
        BatchRequest::post("4", "/users/m/contacts", json!({"displayName": "D"})),
    ];

    let outcome = client.batch_with_retry(requests).await.expect("batch");

    assert_eq!(outcome.calls, 2);
    assert_eq!(outcome.retried_sub_requests, 2);
    assert!(!outcome.gave_up);
    let calls = received.lock().expect("lock").clone();
    assert_eq!(
        ids_of(&calls[1]),
        ["2", "3"],
        "only the throttled ones are re-sent"
    );
    assert!(
        arrivals.gap_before(1) >= Duration::from_millis(200),
        "re-sent after {:?}, the longest Retry-After was 200 ms",
        arrivals.gap_before(1)
    );
    let statuses: Vec<u16> = outcome
        .responses
        .iter()
        .map(|response| response.status)
        .collect();
    assert_eq!(
        statuses,
        [201, 200, 200, 500],
        "a create that got 500 is left to the caller"
    );
    let stats = client.stats().snapshot();
    assert_eq!((stats.requests, stats.retries, stats.throttled), (2, 2, 2));
    assert_eq!(stats.batch_sub_requests, 6);
}

#[tokio::test]
async fn a_failed_dependency_is_retried_with_the_request_it_depends_on() {
    let received = ReceivedCalls::default();
    let arrivals = Arrivals::default();
    let router = batch_server(received.clone(), arrivals, |call_number, request| {
        match (call_number, request["id"].as_str()) {
            (1, Some("folder")) => (429, json!({"Retry-After": "0.05"})),
            (1, Some("contact")) => (424, json!({})),
            _ => (201, json!({})),
        }
    });
    let server = spawn_server(router).await;
    let client = graph_client(&server, GenerationTokenSource::new());
    let requests = vec![
        BatchRequest::get("other", "/users/m"),
        BatchRequest::post(
            "folder",
            "/users/m/contactFolders",
            json!({"displayName": "Company Directory"}),
        ),
        BatchRequest::post("contact", "/users/m/contacts", json!({"displayName": "A"}))
            .with_depends_on(vec!["folder".to_owned()]),
    ];

    let outcome = client.batch_with_retry(requests).await.expect("batch");

    assert!(outcome
        .responses
        .iter()
        .all(|response| response.is_success()));
    let calls = received.lock().expect("lock").clone();
    assert_eq!(ids_of(&calls[1]), ["folder", "contact"]);
    assert_eq!(calls[1][1]["dependsOn"], json!(["folder"]));
}

#[tokio::test]
async fn sub_requests_still_throttled_when_the_budget_ends_are_reported() {
    let received = ReceivedCalls::default();
    let arrivals = Arrivals::default();
    let router = batch_server(received, arrivals.clone(), |_, _| {
        (429, json!({"Retry-After": "0.01"}))
    });
    let server = spawn_server(router).await;
    let client = graph_client(&server, GenerationTokenSource::new());

    let outcome = client
        .batch_with_retry(vec![BatchRequest::get("a", "/users/u1")])
        .await
        .expect("batch call itself succeeds");

    assert!(outcome.gave_up);
    assert_eq!(outcome.calls, 4, "bounded by max_attempts");
    assert_eq!(outcome.responses[0].status, 429);
    assert_eq!(arrivals.count(), 4);
}

#[tokio::test]
async fn more_than_twenty_requests_are_refused_before_sending() {
    let arrivals = Arrivals::default();
    let router = batch_server(ReceivedCalls::default(), arrivals.clone(), |_, _| {
        (200, json!({}))
    });
    let server = spawn_server(router).await;
    let client = graph_client(&server, GenerationTokenSource::new());
    let requests: Vec<BatchRequest> = (0..21)
        .map(|index| BatchRequest::get(index.to_string(), "/users"))
        .collect();

    let error = client.batch(requests).await.expect_err("21 requests");

    assert!(
        matches!(error, GraphError::BatchTooLarge { count: 21, max: 20 }),
        "{error:?}"
    );
    assert_eq!(arrivals.count(), 0);
}

#[tokio::test]
async fn duplicate_ids_are_refused() {
    let server = spawn_server(Router::new()).await;
    let client = graph_client(&server, GenerationTokenSource::new());
    let requests = vec![
        BatchRequest::get("a", "/users"),
        BatchRequest::get("a", "/groups"),
    ];

    let error = client.batch(requests).await.expect_err("duplicate id");

    assert!(
        matches!(error, GraphError::InvalidBatch { .. }),
        "{error:?}"
    );
}
