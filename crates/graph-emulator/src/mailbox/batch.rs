//! `POST /v1.0/$batch`: up to 20 sub-requests, each dispatched through the
//! full router (so authentication, permissions, faults, accounting and
//! throttling apply to each on its own), at most 4 at a time whatever their
//! mailboxes, `dependsOn` honoured (424 after a failed dependency), answers
//! in completion order and never in request order.
//!
//! throttling-limits (Outlook service limits for JSON batching,
//! <https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits>):
//! "the service executes up to 4 requests in parallel at any point,
//! irrespective of the target mailbox". Each step is admitted by the mailbox
//! throttle like a request of its own, so it holds one of its mailbox's 4
//! concurrency slots while it runs.
//!
//! json-batching (<https://learn.microsoft.com/graph/json-batching>):
//! "Responses to the batched requests might appear in a different order. The
//! id property can be used to correlate individual requests and responses."

use std::collections::{HashMap, HashSet};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use futures::stream::{FuturesUnordered, StreamExt};
use rand::seq::SliceRandom;
use serde_json::{json, Map, Value};
use tower::ServiceExt;

use super::batch_request::{parse_batch, SubRequest};

use crate::accounting::{classify, ThrottleSubject};
use crate::auth::{authenticate, GraphCaller};
use crate::errors::GraphError;
use crate::faults::BATCH_SUBREQUEST_HEADER;
use crate::AppState;

/// Sub-requests of one batch that run at the same time, whatever their
/// mailboxes (throttling-limits: "up to 4 requests in parallel at any point,
/// irrespective of the target mailbox").
pub const BATCH_PARALLELISM: usize = 4;
/// Largest sub-response body the batch reads back.
const MAX_SUBRESPONSE_BYTES: usize = 16 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1.0/$batch", post(batch))
}

/// One answered sub-request, or the connection dropped under it.
enum Outcome {
    Answered(Value),
    ConnectionDropped,
}

async fn batch(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let caller = match authenticate(&state, &headers) {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    let requests = match parse_batch(&body) {
        Ok(requests) => requests,
        Err(error) => return error.into_response(),
    };
    check_early_retries(&state, &caller, &requests);
    let authorization = headers.get(header::AUTHORIZATION).cloned();
    let mut outcomes = Vec::with_capacity(requests.len());
    // Lowercased id → status of the finished sub-request.
    let mut finished: HashMap<String, u16> = HashMap::new();
    let mut pending: Vec<usize> = (0..requests.len()).collect();
    let mut running = FuturesUnordered::new();
    loop {
        let mut progressed = true;
        while progressed {
            progressed = false;
            let mut ready: Vec<usize> = pending
                .iter()
                .copied()
                .filter(|index| {
                    requests[*index]
                        .depends_on
                        .iter()
                        .all(|dependency| finished.contains_key(&dependency.to_ascii_lowercase()))
                })
                .collect();
            // Graph runs independent requests in whatever order suits it.
            ready.shuffle(&mut rand::thread_rng());
            for index in ready {
                let request = &requests[index];
                let failed_dependency = request.depends_on.iter().any(|dependency| {
                    finished
                        .get(&dependency.to_ascii_lowercase())
                        .is_some_and(|status| *status >= 400)
                });
                if failed_dependency {
                    pending.retain(|candidate| *candidate != index);
                    finished.insert(request.id.to_ascii_lowercase(), 424);
                    outcomes.push(Outcome::Answered(failed_dependency_response(&request.id)));
                    progressed = true;
                    continue;
                }
                if running.len() >= BATCH_PARALLELISM {
                    continue;
                }
                pending.retain(|candidate| *candidate != index);
                running.push(dispatch(
                    state.clone(),
                    authorization.clone(),
                    request.clone(),
                ));
            }
        }
        match running.next().await {
            Some((id, status, outcome)) => {
                finished.insert(id, status);
                outcomes.push(outcome);
            }
            None => break,
        }
    }
    let mut responses = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        match outcome {
            Outcome::Answered(response) => responses.push(response),
            Outcome::ConnectionDropped => return dropped_connection(),
        }
    }
    note_delivered_throttling(&state, &caller, &requests, &responses);
    out_of_request_order(&requests, &mut responses);
    Json(json!({ "responses": responses })).into_response()
}

/// Remembers the Retry-After of each throttled sub-response the client is
/// about to receive, so a later batch for that mailbox sent before it elapsed
/// counts as an early retry (see [`check_early_retries`]).
fn note_delivered_throttling(
    state: &AppState,
    caller: &GraphCaller,
    requests: &[SubRequest],
    responses: &[Value],
) {
    for response in responses {
        if response["status"] != 429 {
            continue;
        }
        let Some(secs) = response["headers"]["Retry-After"]
            .as_str()
            .and_then(|text| text.parse::<f64>().ok())
        else {
            continue;
        };
        let Some(request) = requests
            .iter()
            .find(|request| Some(request.id.as_str()) == response["id"].as_str())
        else {
            continue;
        };
        state.accounting.note_throttled(
            ThrottleSubject {
                tenant: caller.claims.tid.clone(),
                app: caller.claims.appid.clone(),
                mailbox: subject_mailbox(&request.url),
            },
            std::time::Duration::from_secs_f64(secs.max(0.0)),
        );
    }
}

/// The mailbox (or "" for the directory) a sub-request's relative URL addresses.
fn subject_mailbox(url: &str) -> String {
    let path = url.split('?').next().unwrap_or("");
    let separator = if path.starts_with('/') { "" } else { "/" };
    classify(&format!("/v1.0{separator}{path}")).1
}

/// json-batching: "Responses to the batched requests might appear in a
/// different order." The strictest reading: a batch of two or more is never
/// answered in request order, so a client that pairs answers by position
/// fails every time, not once in a while.
fn out_of_request_order(requests: &[SubRequest], responses: &mut [Value]) {
    if responses.len() < 2 || responses.len() != requests.len() {
        return;
    }
    let in_request_order = requests
        .iter()
        .zip(responses.iter())
        .all(|(request, response)| response["id"].as_str() == Some(request.id.as_str()));
    if in_request_order {
        responses.rotate_left(1);
    }
}

/// Counts, once per mailbox (or directory) the batch addresses, a batch sent
/// before a Retry-After for it elapsed. Sub-requests are not checked one by
/// one: a 429 inside a batch cannot reach the client before its siblings left.
fn check_early_retries(state: &AppState, caller: &GraphCaller, requests: &[SubRequest]) {
    let subjects: HashSet<String> = requests
        .iter()
        .map(|request| subject_mailbox(&request.url))
        .collect();
    for mailbox in subjects {
        state.accounting.check_retry(&ThrottleSubject {
            tenant: caller.claims.tid.clone(),
            app: caller.claims.appid.clone(),
            mailbox,
        });
    }
}

fn failed_dependency_response(id: &str) -> Value {
    json!({
        "id": id,
        "status": 424,
        "headers": {"Content-Type": "application/json"},
        "body": {"error": {"code": "FailedDependency", "message": "Dependent request failed."}},
    })
}

/// Runs one sub-request through the full router.
async fn dispatch(
    state: AppState,
    authorization: Option<HeaderValue>,
    request: SubRequest,
) -> (String, u16, Outcome) {
    let lowered_id = request.id.to_ascii_lowercase();
    let Some(router) = state.router.get().cloned() else {
        let error = GraphError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "router not ready",
        );
        return (
            lowered_id,
            500,
            Outcome::Answered(sub_response(
                &request.id,
                500,
                Map::new(),
                Some(error.body()),
            )),
        );
    };
    let separator = if request.url.starts_with('/') {
        ""
    } else {
        "/"
    };
    let uri = format!("/v1.0{separator}{}", encode_uri(&request.url));
    let mut builder = Request::builder().method(request.method.clone()).uri(uri);
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder = builder.header(BATCH_SUBREQUEST_HEADER, "1");
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = &request.body {
        builder = builder.header(header::CONTENT_LENGTH, body.len());
    }
    let body = request
        .body
        .clone()
        .map(Body::from)
        .unwrap_or_else(Body::empty);
    let http_request = match builder.body(body) {
        Ok(http_request) => http_request,
        Err(_) => {
            let error = GraphError::bad_request("Invalid request URL.");
            return (
                lowered_id,
                400,
                Outcome::Answered(sub_response(
                    &request.id,
                    400,
                    Map::new(),
                    Some(error.body()),
                )),
            );
        }
    };
    let Ok(response) = router.oneshot(http_request).await;
    let status = response.status().as_u16();
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_SUBRESPONSE_BYTES).await else {
        return (lowered_id, status, Outcome::ConnectionDropped);
    };
    let mut headers = Map::new();
    for name in [
        header::CONTENT_TYPE,
        header::RETRY_AFTER,
        header::LOCATION,
        header::ETAG,
    ] {
        if let Some(value) = parts
            .headers
            .get(&name)
            .and_then(|value| value.to_str().ok())
        {
            headers.insert(
                canonical_header_name(&name),
                Value::String(value.to_owned()),
            );
        }
    }
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let body = if bytes.is_empty() {
        None
    } else if is_json {
        serde_json::from_slice(&bytes).ok()
    } else {
        Some(Value::String(
            base64::engine::general_purpose::STANDARD.encode(&bytes),
        ))
    };
    (
        lowered_id,
        status,
        Outcome::Answered(sub_response(&request.id, status, headers, body)),
    )
}

/// Percent-encodes what may not appear in a URI as is (Graph accepts batch
/// urls like `/users?$filter=city eq null`); existing escapes are kept.
fn encode_uri(url: &str) -> String {
    let mut encoded = String::with_capacity(url.len());
    for byte in url.bytes() {
        let allowed = byte.is_ascii_alphanumeric() || b"-._~:/?@!$&()*+,;=%".contains(&byte);
        if allowed {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn canonical_header_name(name: &HeaderName) -> String {
    match name.as_str() {
        "content-type" => "Content-Type".to_owned(),
        "retry-after" => "Retry-After".to_owned(),
        "location" => "Location".to_owned(),
        "etag" => "ETag".to_owned(),
        other => other.to_owned(),
    }
}

fn sub_response(id: &str, status: u16, headers: Map<String, Value>, body: Option<Value>) -> Value {
    let mut response = json!({"id": id, "status": status, "headers": headers});
    if let Some(body) = body {
        response["body"] = body;
    }
    response
}

/// A response whose body fails at once, so the client sees the connection
/// drop, as it would if a sub-request's connection were cut.
fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "fault injected: connection dropped after a batch sub-request was applied",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-length", "1000")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::encode_uri;

    #[test]
    fn batch_urls_with_spaces_and_quotes_become_valid_uris() {
        let encoded = encode_uri(
            "/users/a@b.example/contactFolders?$filter=displayName eq 'Company Directory'",
        );
        let built = axum::http::Request::builder()
            .uri(format!("/v1.0{encoded}"))
            .body(());
        assert!(built.is_ok(), "{encoded}: {:?}", built.err());
    }
}
