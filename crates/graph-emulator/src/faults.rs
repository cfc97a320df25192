//! Fault and latency injection by rule, and the middleware that applies faults
//! and accounts every request.

use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::accounting::{classify, RequestKey, ThrottleSubject};
use crate::errors::GraphError;
use crate::AppState;

/// Header the `$batch` handler sets on sub-requests it dispatches internally.
pub const BATCH_SUBREQUEST_HEADER: &str = "x-emulator-batch-subrequest";

/// One fault rule. A request matches when every given condition holds; a
/// matching request fires the rule on the `nth` match only, else with
/// probability `rate`, else always — at most `times` times.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultRule {
    /// Set by the emulator when the rule is added.
    pub id: String,
    /// Substring the request path must contain, e.g. `/contacts`.
    pub path_contains: Option<String>,
    /// HTTP method, e.g. `POST`.
    pub method: Option<String>,
    /// Status to answer instead of running the request (400, 403, 429, 500,
    /// 502, 503, 504; others answer `UnknownError`).
    pub status: Option<u16>,
    /// Retry-After seconds to send with `status`.
    pub retry_after: Option<f64>,
    /// Probability in 0..=1 that a matching request fires.
    pub rate: Option<f64>,
    /// Fire only on the Nth matching request (1-based).
    pub nth: Option<u64>,
    /// Fire at most this many times.
    pub times: Option<u64>,
    /// Delay before the request runs.
    pub latency_ms: Option<u64>,
    /// Run the request (its effect is applied) and then drop the connection
    /// without a response, as a crash or a network cut would.
    pub abort_after_apply: bool,
    /// Run the request (its effect is applied) and then answer `status`
    /// instead of its response, as a gateway timing out on a slow backend does.
    pub status_after_apply: bool,
    /// Answer `status` with an HTML page instead of a Graph error body, as a
    /// gateway or proxy in front of Graph does.
    pub html_body: bool,
    /// Also apply to `$batch` sub-requests (default true).
    pub include_batched: Option<bool>,
    /// Matches so far (read-only).
    pub matched: u64,
    /// Times fired so far (read-only).
    pub fired: u64,
}

#[derive(Debug)]
pub struct Faults {
    rules: Mutex<Vec<FaultRule>>,
    rng: Mutex<rand::rngs::StdRng>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            rules: Mutex::new(Vec::new()),
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(0x6a15_c0de)),
        }
    }
}

/// What to do with one request.
#[derive(Debug, Default)]
struct Decision {
    latency: Duration,
    respond: Option<InjectedAnswer>,
    abort_after_apply: bool,
}

/// The status a fired rule answers with, and how.
#[derive(Debug, Clone, Copy)]
struct InjectedAnswer {
    status: u16,
    retry_after: Option<f64>,
    after_apply: bool,
    html_body: bool,
}

impl Faults {
    pub fn add(&self, mut rule: FaultRule) -> FaultRule {
        rule.id = uuid::Uuid::new_v4().simple().to_string();
        rule.matched = 0;
        rule.fired = 0;
        self.lock_rules().push(rule.clone());
        rule
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.lock_rules().clone()
    }

    pub fn clear(&self) {
        self.lock_rules().clear();
    }

    /// Seeds the random source so `rate` rules fire reproducibly.
    pub fn reseed(&self, seed: u64) {
        *self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            rand::rngs::StdRng::seed_from_u64(seed);
    }

    fn lock_rules(&self) -> std::sync::MutexGuard<'_, Vec<FaultRule>> {
        self.rules
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn decide(&self, method: &str, path: &str, batched: bool) -> Decision {
        let mut decision = Decision::default();
        let mut rules = self.lock_rules();
        if rules.is_empty() {
            return decision;
        }
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for rule in rules.iter_mut() {
            if batched && rule.include_batched == Some(false) {
                continue;
            }
            if let Some(fragment) = &rule.path_contains {
                if !path.contains(fragment.as_str()) {
                    continue;
                }
            }
            if let Some(rule_method) = &rule.method {
                if !rule_method.eq_ignore_ascii_case(method) {
                    continue;
                }
            }
            rule.matched += 1;
            if rule.times.is_some_and(|times| rule.fired >= times) {
                continue;
            }
            let fires = match (rule.nth, rule.rate) {
                (Some(nth), _) => rule.matched == nth,
                (None, Some(rate)) => rng.gen::<f64>() < rate,
                (None, None) => true,
            };
            if !fires {
                continue;
            }
            // A status rule shadowed by an earlier one that already answers
            // this request changes nothing: it did not fire.
            let shadowed = rule.status.is_some()
                && decision.respond.is_some()
                && rule.latency_ms.is_none()
                && !rule.abort_after_apply;
            if shadowed {
                continue;
            }
            rule.fired += 1;
            if let Some(latency) = rule.latency_ms {
                decision.latency += Duration::from_millis(latency);
            }
            if decision.respond.is_none() {
                if let Some(status) = rule.status {
                    decision.respond = Some(InjectedAnswer {
                        status,
                        retry_after: rule.retry_after,
                        after_apply: rule.status_after_apply,
                        html_body: rule.html_body,
                    });
                }
            }
            decision.abort_after_apply |= rule.abort_after_apply;
        }
        decision
    }
}

fn injected_error(answer: InjectedAnswer) -> Response {
    let InjectedAnswer {
        status,
        retry_after,
        html_body,
        ..
    } = answer;
    // errors (learn.microsoft.com/graph/errors) lists the codes of 400 and
    // 403: invalidRequest "the request is malformed or incorrect",
    // accessDenied "the caller doesn't have permission to perform the action".
    if html_body {
        return html_error(status, retry_after);
    }
    let (code, message) = match status {
        400 => ("invalidRequest", "The request is malformed or incorrect."),
        403 => (
            "accessDenied",
            "The caller doesn't have permission to perform the action.",
        ),
        429 => ("TooManyRequests", "Too many requests."),
        500 => ("InternalServerError", "An internal server error occurred."),
        502 => ("BadGateway", "Bad gateway."),
        503 => (
            "ServiceUnavailable",
            "The service is temporarily unavailable.",
        ),
        504 => ("GatewayTimeout", "The gateway timed out."),
        _ => ("UnknownError", "An injected error."),
    };
    let status_code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut error = GraphError::new(status_code, code, message);
    error.retry_after_secs = retry_after;
    error.into_response()
}

/// A gateway's HTML error page (no Graph error body, no request id).
fn html_error(status: u16, retry_after: Option<f64>) -> Response {
    let status_code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = status_code.canonical_reason().unwrap_or("Error");
    let page = format!(
        "<!DOCTYPE html><html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1><p>The gateway did not get a response in time.</p></body></html>"
    );
    let mut builder = Response::builder()
        .status(status_code)
        .header(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8");
    if let Some(secs) = retry_after {
        builder = builder.header(
            axum::http::header::RETRY_AFTER,
            crate::errors::format_retry_after(secs),
        );
    }
    builder
        .body(Body::from(page))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A response whose body fails at once: hyper then drops the connection
/// without completing the response.
fn aborted_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "fault injected: connection dropped after the request was applied",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-length", "1000")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Applies fault rules, detects early retries, and counts the request.
pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/_admin") || path.starts_with("/common/discovery") {
        return next.run(request).await;
    }
    let method = request.method().as_str().to_owned();
    let batched = request.headers().contains_key(BATCH_SUBREQUEST_HEADER);
    let (endpoint, mailbox) = classify(&path);
    let (mut tenant, app) = token_subject(&state, request.headers());
    if endpoint.starts_with("/{tenant}/") {
        tenant = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .to_owned();
    }
    let subject = ThrottleSubject {
        tenant: tenant.clone(),
        app: app.clone(),
        mailbox: mailbox.clone(),
    };
    let is_graph = path.starts_with("/v1.0") || path.starts_with("/beta");
    // A batch's sub-requests left the client together: `$batch` checks them
    // for early retries once, when the batch arrives.
    if is_graph && !batched {
        state.accounting.check_retry(&subject);
    }

    // The app-wide limit first, then the per-app-per-mailbox limits: the
    // in-flight slot is held (modelled and injected latency included) until
    // the response exists.
    let throttle_slot = if is_graph {
        admit_app(&state, &app).and_then(|()| {
            crate::throttle::mailbox::admit_request(&state, &subject, request.headers())
        })
    } else {
        Ok(None)
    };
    let response = match throttle_slot {
        Err(throttled) => throttled.into_response(),
        Ok(mut slot) => {
            let decision = state.faults.decide(&method, &path, batched);
            let modelled = state
                .config
                .scaled(state.config.latency.draw(&method, &endpoint));
            if let Some(slot) = slot.as_mut() {
                slot.holds_latency(modelled);
            }
            let wait = decision.latency + modelled;
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            let response = match decision.respond {
                Some(answer) if answer.after_apply => {
                    // The effect happens; only the answer is lost.
                    let _applied = next.run(request).await;
                    injected_error(answer)
                }
                Some(answer) => injected_error(answer),
                None => {
                    let response = next.run(request).await;
                    if decision.abort_after_apply {
                        aborted_response()
                    } else {
                        response
                    }
                }
            };
            drop(slot);
            response
        }
    };

    // A batched sub-request's 429 reaches the client only if its batch is
    // answered: the batch notes it then (`mailbox/batch.rs`), so a Retry-After
    // lost with a dropped connection is not one the client could honour.
    if is_graph && !batched && response.status() == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.parse::<f64>().ok());
        if let Some(secs) = retry_after {
            state
                .accounting
                .note_throttled(subject, Duration::from_secs_f64(secs.max(0.0)));
        }
    }
    state.accounting.record(RequestKey {
        tenant,
        app,
        mailbox,
        endpoint,
        method,
        status: response.status().as_u16(),
        batched,
    });
    response
}

/// Counts a request of `app` against Graph's app-wide limit, when limits are on.
fn admit_app(state: &AppState, app: &str) -> Result<(), crate::errors::GraphError> {
    if !state.config.limits_enabled || app.is_empty() {
        return Ok(());
    }
    state.global_limit.admit(&state.config, app)
}

/// Tenant and app of a request's bearer token, when it carries a valid one.
fn token_subject(state: &AppState, headers: &axum::http::HeaderMap) -> (String, String) {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.strip_prefix("Bearer "));
    match token.and_then(|token| state.signer.verify(token, state.clock.unix_now()).ok()) {
        Some(claims) => (claims.tid, claims.appid),
        None => (String::new(), String::new()),
    }
}
