//! The request loop every Graph call goes through: token, send, classify,
//! retry (Retry-After or backoff, bounded), one token refresh on 401/403.

use std::time::Duration;

use secrecy::ExposeSecret;
use tracing::{debug, warn};

use super::{GraphClient, GraphRequest, GraphResponse};
use crate::error::{ApiError, GraphError};
use crate::retry::{self, RetryBudget};
use crate::token::InvalidationReason;
use crate::traffic::{self, Endpoint, StatusClass};

/// What one attempt came to.
enum AttemptOutcome {
    Success(GraphResponse),
    /// An HTTP error status, with its parsed body.
    Status(ApiError),
    /// No (complete) response. `request_sent` is false only when the
    /// connection was never established, so the server cannot have seen it.
    Transport {
        source: reqwest::Error,
        request_sent: bool,
    },
}

impl GraphClient {
    pub(crate) async fn execute(
        &self,
        request: &GraphRequest,
    ) -> Result<GraphResponse, GraphError> {
        let url = self.resolve_url(&request.url)?;
        let path = url.path().to_owned();
        let method = request.method.as_str().to_owned();
        let mut budget = self.inner.retry.budget();
        let mut token_refreshed = false;
        loop {
            let past_deadline = || GraphError::PastDeadline {
                method: method.clone(),
                path: path.clone(),
            };
            // Waiting for a token sends nothing, so it is not timed against
            // the deadline.
            let token = self.inner.tokens.token().await?;
            let left = self.time_left();
            // Graph might still be working on it when the deadline comes.
            if left.is_some_and(|left| left.is_zero() || left <= self.recent_slowest()) {
                return Err(past_deadline());
            }
            budget.record_attempt();
            let started = tokio::time::Instant::now();
            let sending = self.attempt(request, &url, &path, &token);
            let outcome = match left {
                None => sending.await,
                Some(_) => tokio::select! {
                    outcome = sending => outcome,
                    () = self.deadline_passed() => {
                        // Abandoned in flight: a create may have been applied.
                        return Err(if request.idempotent {
                            past_deadline()
                        } else {
                            ambiguous(&method, &path, past_deadline())
                        });
                    }
                },
            };
            self.note_answer_time(started.elapsed());
            let (failure, retry_after) = match outcome {
                AttemptOutcome::Success(response) => return Ok(response),
                AttemptOutcome::Transport {
                    source,
                    request_sent,
                } => {
                    self.stats.record_connection_error();
                    let failure = GraphError::Connection {
                        method: method.clone(),
                        path: path.clone(),
                        source,
                    };
                    if request_sent && !request.idempotent {
                        return Err(ambiguous(&method, &path, failure));
                    }
                    (failure, None)
                }
                AttemptOutcome::Status(api_error) => {
                    let status = api_error.status;
                    if retry::fresh_token_may_help(&api_error) && !token_refreshed {
                        token_refreshed = true;
                        self.stats.record_auth_retry();
                        let reason = InvalidationReason {
                            status,
                            code: api_error.code.clone(),
                        };
                        debug!(%method, %path, %reason, "graph refused the token, retrying with a fresh one");
                        self.inner.tokens.invalidate(reason).await;
                        continue;
                    }
                    if request.throttling_to_caller && api_error.is_throttled() {
                        return Err(GraphError::Api(api_error));
                    }
                    let retryable = if request.idempotent {
                        retry::is_retryable_status(status)
                    } else {
                        retry::is_not_applied_status(status)
                    };
                    if !retryable {
                        let failure = GraphError::Api(api_error);
                        if !request.idempotent && retry::is_retryable_status(status) {
                            // A gateway error on a create: it may have been applied.
                            return Err(ambiguous(&method, &path, failure));
                        }
                        return Err(failure);
                    }
                    let retry_after = api_error.retry_after;
                    (GraphError::Api(api_error), retry_after)
                }
            };
            self.wait_before_retry(&mut budget, failure, retry_after, &method, &path)
                .await?;
        }
    }

    async fn attempt(
        &self,
        request: &GraphRequest,
        url: &url::Url,
        path: &str,
        token: &crate::token::AccessToken,
    ) -> AttemptOutcome {
        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), url.clone())
            .bearer_auth(token.value.expose_secret());
        for (name, value) in &self.inner.default_headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(id) = client_request_id() {
            builder = builder.header("client-request-id", id);
        }
        if let Some(body) = &request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, body.content_type.as_str())
                .body(body.bytes.clone());
        }
        self.stats.record_request();
        let endpoint = Endpoint::of_path(path);
        let response = match builder.send().await {
            Ok(response) => response,
            Err(source) => {
                traffic::traffic().record_request(endpoint, StatusClass::Transport);
                let request_sent = !source.is_connect();
                return AttemptOutcome::Transport {
                    source,
                    request_sent,
                };
            }
        };
        let status = response.status().as_u16();
        self.stats.record_status(status);
        traffic::traffic().record_request(endpoint, StatusClass::of_status(status));
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body.to_vec(),
            Err(source) => {
                return AttemptOutcome::Transport {
                    source,
                    request_sent: true,
                }
            }
        };
        if (200..300).contains(&status) {
            return AttemptOutcome::Success(GraphResponse {
                status,
                headers,
                body,
                path: path.to_owned(),
            });
        }
        let retry_after = retry::retry_after_header(&headers);
        AttemptOutcome::Status(ApiError::from_response(status, &body, retry_after))
    }

    async fn wait_before_retry(
        &self,
        budget: &mut RetryBudget<'_>,
        failure: GraphError,
        retry_after: Option<Duration>,
        method: &str,
        path: &str,
    ) -> Result<(), GraphError> {
        let throttled = failure.status() == Some(429);
        let Some(delay) = budget.next_delay(retry_after, throttled) else {
            return Err(GraphError::GaveUp {
                attempts: budget.attempts_made(),
                waited: budget.waited(),
                last_error: Box::new(failure),
            });
        };
        if self.time_left().is_some_and(|left| left <= delay) {
            return Err(GraphError::PastDeadline {
                method: method.to_owned(),
                path: path.to_owned(),
            });
        }
        warn!(
            method,
            path,
            attempt = budget.attempts_made(),
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            retry_after_given = retry_after.is_some(),
            error = %failure,
            "retrying graph request"
        );
        self.inner.sleeper.sleep(delay).await;
        self.stats.record_wait(delay);
        self.stats.record_retries(1);
        traffic::traffic().record_retry_wait(delay, retry_after.is_some(), 1);
        Ok(())
    }
}

fn ambiguous(method: &str, path: &str, failure: GraphError) -> GraphError {
    GraphError::Ambiguous {
        method: method.to_owned(),
        path: path.to_owned(),
        source: Box::new(failure),
    }
}

/// Graph's `client-request-id` ("a client-generated GUID" that Microsoft
/// support correlates a request by): the trace id of the span the request is
/// made in, as a GUID — for a sync, the run's id (see
/// `galsync_platform::telemetry::run_context`). None outside any trace.
fn client_request_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| {
        uuid::Uuid::from_bytes(span_context.trace_id().to_bytes())
            .hyphenated()
            .to_string()
    })
}
