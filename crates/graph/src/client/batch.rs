//! JSON `$batch`: up to 20 sub-requests per call, responses in any order,
//! each sub-request throttled on its own.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tracing::debug;

use super::{GraphClient, GraphRequest};
use crate::error::{ApiError, GraphError};
use crate::retry;

/// Graph's limit of sub-requests per `$batch` call.
pub const MAX_BATCH_REQUESTS: usize = 20;

/// One sub-request. `url` is relative to the version root (`/users/{id}/…`).
#[derive(Debug, Clone, Serialize)]
pub struct BatchRequest {
    pub id: String,
    pub method: String,
    pub url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The JSON body, serialized once when the sub-request is made: sending
    /// it again (a throttled sub-request) copies text, not a tree of values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Box<RawValue>>,
    #[serde(rename = "dependsOn", skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

impl BatchRequest {
    pub fn new(id: impl Into<String>, method: &str, url: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            method: method.to_ascii_uppercase(),
            url: url.into(),
            headers: BTreeMap::new(),
            body: None,
            depends_on: Vec::new(),
        }
    }

    pub fn get(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(id, "GET", url)
    }

    pub fn delete(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(id, "DELETE", url)
    }

    pub fn post(id: impl Into<String>, url: impl Into<String>, body: serde_json::Value) -> Self {
        Self::new(id, "POST", url).with_json_body(body)
    }

    pub fn patch(id: impl Into<String>, url: impl Into<String>, body: serde_json::Value) -> Self {
        Self::new(id, "PATCH", url).with_json_body(body)
    }

    /// Sets a JSON body and the `Content-Type` Graph requires with it.
    pub fn with_json_body(self, body: serde_json::Value) -> Self {
        // Writing a `Value` as text cannot fail: its keys are strings and it
        // holds no non-finite numbers.
        match serde_json::value::to_raw_value(&body) {
            Ok(raw) => self.with_raw_json_body(raw),
            Err(_) => self,
        }
    }

    /// Sets a body already serialized (e.g. straight from a typed struct,
    /// without building a `Value`) and the `Content-Type` Graph requires.
    pub fn with_raw_json_body(mut self, body: Box<RawValue>) -> Self {
        let has_content_type = self
            .headers
            .keys()
            .any(|name| name.eq_ignore_ascii_case("content-type"));
        if !has_content_type {
            self.headers
                .insert("Content-Type".to_owned(), "application/json".to_owned());
        }
        self.body = Some(body);
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    pub fn with_depends_on(mut self, ids: Vec<String>) -> Self {
        self.depends_on = ids;
        self
    }

    /// POST creates; everything else Graph treats as safe to repeat.
    pub fn is_idempotent(&self) -> bool {
        self.method != "POST"
    }
}

/// The response to one sub-request. The body stays JSON text until a caller
/// decodes it into what it needs ([`BatchResponse::json`]): a created
/// contact's id, not a tree of its every field.
#[derive(Debug, Clone, Deserialize)]
pub struct BatchResponse {
    pub id: String,
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Box<RawValue>>,
}

impl BatchResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The sub-response's own `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        let (_, value) = self
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))?;
        retry::parse_retry_after(value)
    }

    /// The Graph error of a failed sub-request.
    pub fn api_error(&self) -> Option<ApiError> {
        if self.is_success() {
            return None;
        }
        let body = self.body.as_ref().map_or("", |body| body.get());
        Some(ApiError::from_response(
            self.status,
            body.as_bytes(),
            self.retry_after(),
        ))
    }

    /// Decodes the body of a successful sub-request (`null` when absent).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, GraphError> {
        let body = self.body.as_ref().map_or("null", |body| body.get());
        serde_json::from_str(body).map_err(|source| GraphError::Decode {
            path: format!("$batch response {}", self.id),
            source,
        })
    }
}

#[derive(Serialize)]
struct BatchBody<'a> {
    requests: &'a [BatchRequest],
}

#[derive(Deserialize)]
struct BatchResponseBody {
    #[serde(default)]
    responses: Vec<BatchResponse>,
}

/// The result of [`GraphClient::batch_with_retry`].
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    /// One response per request, in request order: the last one received.
    pub responses: Vec<BatchResponse>,
    /// `$batch` HTTP calls made.
    pub calls: u32,
    /// Sub-requests sent again.
    pub retried_sub_requests: u32,
    /// True when throttled or failed sub-requests remained when the retry
    /// budget ran out; their responses show why.
    pub gave_up: bool,
}

/// Shared by `$batch` calls that run side by side: when Graph throttles the
/// app as a whole (a 429 that names no mailbox limit, see
/// [`ApiError::is_app_wide_throttle`]) in one of them, none of them calls
/// Graph again — first call or retry — before that `Retry-After` has passed
/// (throttling: "wait the number of seconds specified in the Retry-After
/// header before retrying"). Without it, the calls still in flight would keep
/// starting new batches inside the wait and meet 429 after 429. When the wait
/// is over the calls go one at a time until one is answered without such a
/// throttle, so the calls that waited do not all reach Graph at once.
#[derive(Debug, Clone, Default)]
pub struct BatchGate {
    not_before: Arc<Mutex<Option<Instant>>>,
    /// Set by a hold, cleared by the first call through `probe` that Graph
    /// answers without throttling the app.
    recovering: Arc<AtomicBool>,
    probe: Arc<tokio::sync::Mutex<()>>,
}

impl BatchGate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Holds every call behind the gate for `wait` from now; a longer hold
    /// already in place is kept.
    pub fn hold_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut not_before = self
            .not_before
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if not_before.is_none_or(|current| current < until) {
            *not_before = Some(until);
        }
        self.recovering.store(true, Ordering::SeqCst);
    }

    /// Waits until this call may go: the hold has passed and, while the gate
    /// recovers from a hold, no other call is on its way. The guard, when
    /// given, is kept until the call's answer is known.
    async fn enter(
        &self,
        sleeper: &dyn crate::retry::Sleeper,
    ) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let held = self.wait_left();
        if !held.is_zero() {
            sleeper.sleep(held).await;
        }
        if !self.recovering.load(Ordering::SeqCst) {
            return None;
        }
        let guard = self.probe.clone().lock_owned().await;
        let held = self.wait_left();
        if !held.is_zero() {
            sleeper.sleep(held).await;
        }
        Some(guard)
    }

    /// How long a call must still wait; zero when the gate is open.
    pub fn wait_left(&self) -> Duration {
        let not_before = self
            .not_before
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        not_before.map_or(Duration::ZERO, |until| {
            until.saturating_duration_since(Instant::now())
        })
    }
}

impl GraphClient {
    /// Sends up to 20 sub-requests in one `$batch` call and returns their
    /// responses in request order, matched by id. The call itself is retried
    /// like any request; sub-requests are not (see [`Self::batch_with_retry`]).
    pub async fn batch(
        &self,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, GraphError> {
        validate_batch(&requests)?;
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let relative_requests: Vec<BatchRequest> = requests
            .into_iter()
            .map(|request| self.relative_to_base(request))
            .collect();
        let idempotent = relative_requests.iter().all(BatchRequest::is_idempotent);
        let http_request = GraphRequest::new(reqwest::Method::POST, "/$batch")
            .with_json(&BatchBody {
                requests: &relative_requests,
            })?
            .with_idempotent(idempotent);
        let response = self.execute(&http_request).await?;
        let body: BatchResponseBody = response.json()?;
        self.stats
            .record_batch_sub_requests(relative_requests.len() as u64);
        let mut by_id: HashMap<String, BatchResponse> = HashMap::new();
        for sub_response in body.responses {
            self.stats.record_status(sub_response.status);
            crate::traffic::traffic().record_sub_response(sub_response.status);
            by_id.insert(sub_response.id.clone(), sub_response);
        }
        let mut ordered = Vec::with_capacity(relative_requests.len());
        for request in &relative_requests {
            match by_id.remove(&request.id) {
                Some(sub_response) => ordered.push(sub_response),
                None => {
                    return Err(GraphError::BatchResponseMissing {
                        id: request.id.clone(),
                    })
                }
            }
        }
        Ok(ordered)
    }

    /// [`Self::batch`], then re-sends the sub-requests that failed with 429
    /// or 5xx (creates only on 429/503, when Graph did not apply them), and
    /// those that failed with 424 because of one, after the longest
    /// `Retry-After` among them (backoff when none), within the retry policy.
    pub async fn batch_with_retry(
        &self,
        requests: Vec<BatchRequest>,
    ) -> Result<BatchOutcome, GraphError> {
        self.batch_with_retry_gated(requests, &BatchGate::new())
            .await
    }

    /// [`Self::batch_with_retry`] for one of several calls in flight at once:
    /// each call (the first and every retry) waits for `gate` to open, and a
    /// sub-response that throttles the whole app holds `gate` for its
    /// `Retry-After`, so the calls beside this one wait too.
    pub async fn batch_with_retry_gated(
        &self,
        requests: Vec<BatchRequest>,
        gate: &BatchGate,
    ) -> Result<BatchOutcome, GraphError> {
        validate_batch(&requests)?;
        let mut latest: Vec<Option<BatchResponse>> = vec![None; requests.len()];
        let mut pending: Vec<usize> = (0..requests.len()).collect();
        let mut budget = self.inner.retry.budget();
        let mut calls = 0;
        let mut retried_sub_requests = 0;
        let mut gave_up = false;
        while !pending.is_empty() {
            let probe = gate.enter(self.inner.sleeper.as_ref()).await;
            budget.record_attempt();
            let to_send = requests_for_round(&requests, &pending);
            let responses = self.batch(to_send).await?;
            calls += 1;
            for (index, sub_response) in pending.iter().zip(responses) {
                latest[*index] = Some(sub_response);
            }
            let throttled_app = hold_for_app_wide_throttle(gate, &latest, &pending);
            if probe.is_some() && !throttled_app {
                gate.recovering.store(false, Ordering::SeqCst);
            }
            drop(probe);
            let to_retry = sub_requests_to_retry(&requests, &latest, &pending);
            if to_retry.is_empty() {
                break;
            }
            let longest_retry_after = to_retry
                .iter()
                .filter_map(|index| latest[*index].as_ref()?.retry_after())
                .max();
            let throttled = to_retry
                .iter()
                .all(|index| latest[*index].as_ref().is_some_and(|r| r.status == 429));
            let Some(delay) = budget.next_delay(longest_retry_after, throttled) else {
                gave_up = true;
                break;
            };
            debug!(
                retrying = to_retry.len(),
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "retrying throttled or failed batch sub-requests"
            );
            self.inner.sleeper.sleep(delay).await;
            self.stats.record_wait(delay);
            self.stats.record_retries(to_retry.len() as u64);
            crate::traffic::traffic().record_retry_wait(
                delay,
                longest_retry_after.is_some(),
                to_retry.len() as u64,
            );
            retried_sub_requests += to_retry.len() as u32;
            pending = to_retry;
        }
        let responses = latest.into_iter().flatten().collect();
        Ok(BatchOutcome {
            responses,
            calls,
            retried_sub_requests,
            gave_up,
        })
    }

    /// `$batch` wants URLs relative to the version root.
    fn relative_to_base(&self, mut request: BatchRequest) -> BatchRequest {
        if let Some(relative) = request.url.strip_prefix(self.base_url()) {
            request.url = relative.to_owned();
        }
        request
    }
}

/// Holds `gate` for the longest `Retry-After` among the sub-responses just
/// received that throttle the app as a whole; true when there was one.
fn hold_for_app_wide_throttle(
    gate: &BatchGate,
    latest: &[Option<BatchResponse>],
    pending: &[usize],
) -> bool {
    let longest = pending
        .iter()
        .filter_map(|index| latest[*index].as_ref()?.api_error())
        .filter(ApiError::is_app_wide_throttle)
        .filter_map(|error| error.retry_after)
        .max();
    if let Some(wait) = longest {
        gate.hold_for(wait);
        return true;
    }
    false
}

fn validate_batch(requests: &[BatchRequest]) -> Result<(), GraphError> {
    if requests.len() > MAX_BATCH_REQUESTS {
        return Err(GraphError::BatchTooLarge {
            count: requests.len(),
            max: MAX_BATCH_REQUESTS,
        });
    }
    let mut ids = HashSet::new();
    for request in requests {
        if request.id.is_empty() {
            return Err(GraphError::InvalidBatch {
                reason: "a request has an empty id".to_owned(),
            });
        }
        if !ids.insert(request.id.as_str()) {
            return Err(GraphError::InvalidBatch {
                reason: format!("request id {} is used twice", request.id),
            });
        }
    }
    for request in requests {
        for dependency in &request.depends_on {
            if !ids.contains(dependency.as_str()) {
                return Err(GraphError::InvalidBatch {
                    reason: format!(
                        "request {} depends on {dependency}, which is not in the batch",
                        request.id
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The pending requests, with dependencies on requests that already
/// succeeded (and are not re-sent) dropped.
fn requests_for_round(requests: &[BatchRequest], pending: &[usize]) -> Vec<BatchRequest> {
    let pending_ids: HashSet<&str> = pending
        .iter()
        .map(|index| requests[*index].id.as_str())
        .collect();
    let mut round = Vec::with_capacity(pending.len());
    for index in pending {
        let mut request = requests[*index].clone();
        request
            .depends_on
            .retain(|dependency| pending_ids.contains(dependency.as_str()));
        round.push(request);
    }
    round
}

fn sub_requests_to_retry(
    requests: &[BatchRequest],
    latest: &[Option<BatchResponse>],
    pending: &[usize],
) -> Vec<usize> {
    let status_of = |index: usize| latest[index].as_ref().map(|response| response.status);
    let mut retry_ids: HashSet<&str> = HashSet::new();
    for index in pending {
        let Some(status) = status_of(*index) else {
            continue;
        };
        let retryable = if requests[*index].is_idempotent() {
            retry::is_retryable_status(status)
        } else {
            retry::is_not_applied_status(status)
        };
        if retryable {
            retry_ids.insert(requests[*index].id.as_str());
        }
    }
    // A 424 (failed dependency) is retried with the request it depends on.
    loop {
        let mut added = false;
        for index in pending {
            let request = &requests[*index];
            if status_of(*index) != Some(424) || retry_ids.contains(request.id.as_str()) {
                continue;
            }
            let depends_on_retried = request
                .depends_on
                .iter()
                .any(|dependency| retry_ids.contains(dependency.as_str()));
            if depends_on_retried {
                retry_ids.insert(request.id.as_str());
                added = true;
            }
        }
        if !added {
            break;
        }
    }
    pending
        .iter()
        .copied()
        .filter(|index| retry_ids.contains(requests[*index].id.as_str()))
        .collect()
}
