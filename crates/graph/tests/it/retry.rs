//! The retry policy as a caller sees it: waits, attempts, final errors.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use galsync_graph::{GraphError, RetryPolicy};
use serde_json::{json, Value};

use crate::support::{
    fast_retry_policy, graph_client, graph_client_with_policy, spawn_server, Arrivals,
    GenerationTokenSource, RecordingSleeper,
};

fn graph_error(
    status: StatusCode,
    code: &str,
    retry_after: Option<&str>,
) -> axum::response::Response {
    let body = Json(
        json!({"error": {"code": code, "message": "try later", "innerError": {"request-id": "r-1"}}}),
    );
    let mut response = (status, body).into_response();
    if let Some(value) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", value.parse().expect("header value"));
    }
    response
}

/// Answers `failures` times with `status` (and `retry_after`), then 200.
fn failing_then_ok(
    arrivals: Arrivals,
    failures: usize,
    status: StatusCode,
    retry_after: Option<&'static str>,
) -> Router {
    let handler = move || {
        let arrivals = arrivals.clone();
        async move {
            let arrival = arrivals.record();
            if arrival <= failures {
                return graph_error(status, "TooManyRequests", retry_after);
            }
            (StatusCode::OK, Json(json!({"id": "u1"}))).into_response()
        }
    };
    Router::new()
        .route("/v1.0/users/u1", get(handler.clone()))
        .route("/v1.0/users", post(handler))
}

#[tokio::test]
async fn decimal_retry_after_is_honoured_to_the_millisecond() {
    let arrivals = Arrivals::default();
    let server = spawn_server(failing_then_ok(
        arrivals.clone(),
        1,
        StatusCode::TOO_MANY_REQUESTS,
        Some("0.35"),
    ))
    .await;
    let client = graph_client(&server, GenerationTokenSource::new());

    let user: Value = client
        .get_json("/users/u1")
        .await
        .expect("user after one retry");

    assert_eq!(user["id"], "u1");
    assert_eq!(arrivals.count(), 2);
    assert!(
        arrivals.gap_before(1) >= Duration::from_millis(350),
        "retried after {:?}, asked for 350 ms",
        arrivals.gap_before(1)
    );
    let stats = client.stats().snapshot();
    assert_eq!((stats.requests, stats.retries, stats.throttled), (2, 1, 1));
    assert_eq!(stats.by_status.get(&429), Some(&1));
}

#[tokio::test]
async fn the_process_traffic_counts_the_429_its_retry_after_and_the_2xx() {
    use galsync_graph::traffic::{traffic, Endpoint, StatusClass};
    // Other tests in this binary count into the same process-wide traffic,
    // so only growth is asserted.
    let throttled = traffic().requests(Endpoint::Users, StatusClass::Throttled);
    let ok = traffic().requests(Endpoint::Users, StatusClass::Success);
    let all_429 = traffic().throttled();
    let waited = traffic().retry_wait(true);
    let arrivals = Arrivals::default();
    let server = spawn_server(failing_then_ok(
        arrivals.clone(),
        1,
        StatusCode::TOO_MANY_REQUESTS,
        Some("0.2"),
    ))
    .await;
    let client = graph_client(&server, GenerationTokenSource::new());
    // Per-work-item stats do not take the request away from the process's.
    let client = client.with_stats(Arc::new(galsync_graph::RequestStats::new()));

    let _: Value = client
        .get_json("/users/u1")
        .await
        .expect("user after one retry");

    assert!(traffic().requests(Endpoint::Users, StatusClass::Throttled) > throttled);
    assert!(traffic().requests(Endpoint::Users, StatusClass::Success) > ok);
    assert!(traffic().throttled() > all_429);
    assert!(traffic().retry_wait(true) >= waited + Duration::from_millis(200));
    let mut text = String::new();
    galsync_graph::traffic::render_prometheus(&mut text);
    assert!(
        text.contains("galsync_graph_requests_total{endpoint=\"users\",status=\"429\"} "),
        "{text}"
    );
}

#[tokio::test]
async fn backoff_with_jitter_applies_when_retry_after_is_absent() {
    let arrivals = Arrivals::default();
    let server = spawn_server(failing_then_ok(
        arrivals.clone(),
        3,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
    ))
    .await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let policy = RetryPolicy {
        max_attempts: 6,
        max_throttled_attempts: 6,
        base_delay: Duration::from_millis(400),
        max_delay: Duration::from_millis(1000),
        max_total_wait: Duration::from_secs(60),
    };
    let client = graph_client_with_policy(&server, GenerationTokenSource::new(), policy)
        .with_sleeper(sleeper.clone());

    let user: Value = client
        .get_json("/users/u1")
        .await
        .expect("user after retries");

    assert_eq!(user["id"], "u1");
    let delays = sleeper.recorded();
    assert_eq!(delays.len(), 3, "one wait per failure");
    let ceilings = [400, 800, 1000].map(Duration::from_millis);
    for (delay, ceiling) in delays.iter().zip(ceilings) {
        assert!(
            *delay <= ceiling,
            "{delay:?} above the backoff ceiling {ceiling:?}"
        );
    }
    let distinct: std::collections::HashSet<_> = delays.iter().collect();
    assert!(
        distinct.len() > 1,
        "jittered delays should differ: {delays:?}"
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_as_told_beyond_max_attempts() {
    // Graph's throttling guidance: "Continue to use the recommended
    // Retry-After delay and retry the request until it succeeds."
    let arrivals = Arrivals::default();
    let server = spawn_server(failing_then_ok(
        arrivals.clone(),
        8,
        StatusCode::TOO_MANY_REQUESTS,
        Some("0.01"),
    ))
    .await;
    let policy = RetryPolicy {
        max_attempts: 2,
        max_throttled_attempts: 20,
        ..fast_retry_policy()
    };
    let client = graph_client_with_policy(&server, GenerationTokenSource::new(), policy);

    let user: Value = client
        .get_json("/users/u1")
        .await
        .expect("still throttled after max_attempts, then served");

    assert_eq!(user["id"], "u1");
    assert_eq!(arrivals.count(), 9);
}

#[tokio::test]
async fn retries_are_bounded_and_the_error_names_the_last_status() {
    let arrivals = Arrivals::default();
    let server = spawn_server(failing_then_ok(
        arrivals.clone(),
        usize::MAX,
        StatusCode::SERVICE_UNAVAILABLE,
        Some("0.01"),
    ))
    .await;
    let client = graph_client(&server, GenerationTokenSource::new());

    let error = client
        .get_json::<Value>("/users/u1")
        .await
        .expect_err("graph never recovers");

    assert_eq!(arrivals.count(), fast_retry_policy().max_attempts as usize);
    assert!(
        matches!(error, GraphError::GaveUp { attempts: 4, .. }),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(503));
    assert!(
        error.to_string().contains("gave up after 4 attempts"),
        "{error}"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_total_wait_ends_the_request_at_once() {
    let arrivals = Arrivals::default();
    let server = spawn_server(failing_then_ok(
        arrivals.clone(),
        usize::MAX,
        StatusCode::TOO_MANY_REQUESTS,
        Some("30"),
    ))
    .await;
    let client = graph_client(&server, GenerationTokenSource::new());
    let started = Instant::now();

    let error = client
        .get_json::<Value>("/users/u1")
        .await
        .expect_err("30 s exceeds the 5 s budget");

    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(arrivals.count(), 1);
    assert!(error.is_throttled());
    let retry_after = error.api().and_then(|api_error| api_error.retry_after);
    assert_eq!(retry_after, Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn a_create_is_retried_after_429_because_it_was_not_applied() {
    let arrivals = Arrivals::default();
    let server = spawn_server(failing_then_ok(
        arrivals.clone(),
        1,
        StatusCode::TOO_MANY_REQUESTS,
        Some("0.05"),
    ))
    .await;
    let client = graph_client(&server, GenerationTokenSource::new());

    let created: Value = client
        .post_json("/users", &json!({"displayName": "Ada"}))
        .await
        .expect("create after one retry");

    assert_eq!(created["id"], "u1");
    assert_eq!(arrivals.count(), 2);
}

#[tokio::test]
async fn a_gateway_error_on_a_create_is_ambiguous_and_not_resent() {
    let arrivals = Arrivals::default();
    let server = spawn_server(failing_then_ok(
        arrivals.clone(),
        1,
        StatusCode::BAD_GATEWAY,
        None,
    ))
    .await;
    let client = graph_client(&server, GenerationTokenSource::new());

    let error = client
        .post_json::<_, Value>("/users", &json!({"displayName": "Ada"}))
        .await
        .expect_err("502 on a create");

    assert!(error.is_ambiguous(), "{error:?}");
    assert_eq!(error.status(), Some(502));
    assert_eq!(arrivals.count(), 1);
}

/// Accepts connections, reads the request, and hangs up without answering.
async fn spawn_hang_up_server() -> (String, Arrivals) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let arrivals = Arrivals::default();
    let server_arrivals = arrivals.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            server_arrivals.record();
            let mut buffer = [0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buffer).await;
            drop(stream);
        }
    });
    (format!("http://{address}"), arrivals)
}

#[tokio::test]
async fn a_dropped_connection_on_a_create_is_ambiguous_and_never_resent() {
    let (server, arrivals) = spawn_hang_up_server().await;
    let client = graph_client(&server, GenerationTokenSource::new());

    let error = client
        .post_json::<_, Value>(
            "/users/u1/contactFolders/f1/contacts",
            &json!({"displayName": "Ada"}),
        )
        .await
        .expect_err("the server hangs up");

    assert!(error.is_ambiguous(), "{error:?}");
    assert_eq!(arrivals.count(), 1, "a create must not be sent twice");
}

#[tokio::test]
async fn a_dropped_connection_on_a_read_is_retried() {
    let (server, arrivals) = spawn_hang_up_server().await;
    let client = graph_client(&server, GenerationTokenSource::new());

    let error = client
        .get_json::<Value>("/users")
        .await
        .expect_err("the server always hangs up");

    assert!(
        matches!(error, GraphError::GaveUp { attempts: 4, .. }),
        "{error:?}"
    );
    assert_eq!(arrivals.count(), 4);
    assert_eq!(client.stats().snapshot().connection_errors, 4);
}

#[tokio::test]
async fn a_refused_connection_is_retried_even_for_a_create() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let client = graph_client(&format!("http://{address}"), GenerationTokenSource::new());

    let error = client
        .post_json::<_, Value>("/users", &json!({}))
        .await
        .expect_err("nobody listens");

    assert!(
        !error.is_ambiguous(),
        "never sent, so not ambiguous: {error:?}"
    );
    assert!(
        matches!(error, GraphError::GaveUp { attempts: 4, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn unauthorized_invalidates_the_token_and_retries_once() {
    let arrivals = Arrivals::default();
    let server_arrivals = arrivals.clone();
    let router = Router::new().route(
        "/v1.0/users/u1",
        get(move |headers: axum::http::HeaderMap| {
            let arrivals = server_arrivals.clone();
            async move {
                arrivals.record();
                let authorization = headers
                    .get("authorization")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                if authorization != "Bearer token-2" {
                    return graph_error(
                        StatusCode::UNAUTHORIZED,
                        "InvalidAuthenticationToken",
                        None,
                    );
                }
                (StatusCode::OK, Json(json!({"id": "u1"}))).into_response()
            }
        }),
    );
    let server = spawn_server(router).await;
    let tokens = GenerationTokenSource::new();
    let client = graph_client(&server, tokens.clone());

    let user: Value = client
        .get_json("/users/u1")
        .await
        .expect("user with a fresh token");

    assert_eq!(user["id"], "u1");
    assert_eq!(arrivals.count(), 2);
    assert_eq!(tokens.invalidation_count(), 1);
    let reasons = tokens.invalidations.lock().expect("lock").clone();
    assert_eq!(reasons[0].status, 401);
    assert_eq!(reasons[0].code, "InvalidAuthenticationToken");
}

#[tokio::test]
async fn an_access_policy_denial_fails_at_once_without_a_fresh_token() {
    let arrivals = Arrivals::default();
    let server_arrivals = arrivals.clone();
    let router = Router::new().route(
        "/v1.0/users/u1/contactFolders",
        get(move || {
            let arrivals = server_arrivals.clone();
            async move {
                arrivals.record();
                let body = json!({"error": {"code": "ErrorAccessDenied", "message": "Access to OData is disabled."}});
                (StatusCode::FORBIDDEN, Json(body))
            }
        }),
    );
    let server = spawn_server(router).await;
    let tokens = GenerationTokenSource::new();
    let client = graph_client(&server, tokens.clone());

    let error = client
        .get_json::<Value>("/users/u1/contactFolders")
        .await
        .expect_err("the mailbox is out of the app's scope");

    assert!(error.is_access_denied_by_policy(), "{error:?}");
    assert_eq!(error.status(), Some(403));
    // The token is fine, the mailbox is outside the app's Exchange scope: a
    // fresh token cannot change the answer.
    assert_eq!(arrivals.count(), 1);
    assert_eq!(tokens.invalidation_count(), 0);
}

/// Answers `failures` times with `status` and an HTML page (a gateway's),
/// then 200.
fn html_failing_then_ok(arrivals: Arrivals, failures: usize, status: StatusCode) -> Router {
    let handler = move || {
        let arrivals = arrivals.clone();
        async move {
            if arrivals.record() <= failures {
                let page = "<html><body><h1>Gateway Time-out</h1></body></html>";
                return (status, [("content-type", "text/html")], page).into_response();
            }
            (StatusCode::OK, Json(json!({"id": "u1"}))).into_response()
        }
    };
    Router::new().route("/v1.0/users/u1", get(handler))
}

#[tokio::test]
async fn a_permanent_answer_is_not_retried_and_a_gateway_page_is() {
    for status in [400u16, 404, 409, 501, 507] {
        let arrivals = Arrivals::default();
        let status_code = StatusCode::from_u16(status).expect("status");
        let server = spawn_server(failing_then_ok(arrivals.clone(), 1, status_code, None)).await;
        let client = graph_client(&server, GenerationTokenSource::new());
        let error = client
            .get_json::<Value>("/users/u1")
            .await
            .expect_err("a permanent answer");
        assert_eq!(arrivals.count(), 1, "{status} is asked once");
        assert!(!error.is_transient(), "{status}: {error}");
    }
    for status in [StatusCode::SERVICE_UNAVAILABLE, StatusCode::GATEWAY_TIMEOUT] {
        let arrivals = Arrivals::default();
        let server = spawn_server(html_failing_then_ok(arrivals.clone(), 2, status)).await;
        let client = graph_client(&server, GenerationTokenSource::new());
        let user: Value = client
            .get_json("/users/u1")
            .await
            .expect("retried past the gateway's pages");
        assert_eq!(user["id"], "u1");
        assert_eq!(arrivals.count(), 3, "{status} with an HTML body is retried");
    }
}
