//! The one retry policy every Graph and token request goes through: honour
//! `Retry-After` exactly, otherwise exponential backoff with full jitter,
//! bounded in attempts and in total wait.
//!
//! A 429 that says when to come back is not a failed attempt: Graph's
//! throttling guidance (<https://learn.microsoft.com/graph/throttling>, "Best
//! practices to handle throttling") says "If the request fails again with a
//! 429 error code, you are still being throttled. Continue to use the
//! recommended Retry-After delay and retry the request until it succeeds."
//! Those retries are bounded by the total wait and by their own, larger count;
//! `max_attempts` bounds every other failure.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rand::Rng;

use crate::error::is_transient_status;

/// How persistently a request is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts that failed for any reason but throttling, the first
    /// included (default 6).
    pub max_attempts: u32,
    /// Attempts answered 429 with a `Retry-After`, which are retried as the
    /// server says until `max_total_wait` runs out or this many were made
    /// (default 60): a guard against a server that keeps saying "now".
    pub max_throttled_attempts: u32,
    /// Backoff ceiling of the first retry when no `Retry-After` was given;
    /// doubles per retry (default 500 ms).
    pub base_delay: Duration,
    /// Cap of a single backoff delay (not of `Retry-After`, which is obeyed
    /// as given) (default 30 s).
    pub max_delay: Duration,
    /// Total time one request may spend waiting between attempts; a
    /// `Retry-After` beyond what is left ends the request (default 5 min).
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            max_throttled_attempts: 60,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total_wait: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// Starts counting attempts and waits for one request.
    pub(crate) fn budget(&self) -> RetryBudget<'_> {
        RetryBudget {
            policy: self,
            attempts_made: 0,
            throttled_attempts: 0,
            waited: Duration::ZERO,
        }
    }

    /// Full-jitter backoff before retry number `retry_number` (1-based):
    /// uniform in `[0, min(max_delay, base_delay × 2^(retry_number-1))]`.
    pub fn backoff_delay(&self, retry_number: u32) -> Duration {
        let exponent = retry_number.saturating_sub(1).min(20);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        if ceiling.is_zero() {
            return Duration::ZERO;
        }
        let ceiling_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::thread_rng().gen_range(0..=ceiling_nanos))
    }
}

/// Attempts and waiting spent on one request.
#[derive(Debug)]
pub(crate) struct RetryBudget<'policy> {
    policy: &'policy RetryPolicy,
    attempts_made: u32,
    /// Of `attempts_made`, those answered 429 with a `Retry-After`.
    throttled_attempts: u32,
    waited: Duration,
}

impl RetryBudget<'_> {
    pub(crate) fn record_attempt(&mut self) {
        self.attempts_made += 1;
    }

    pub(crate) fn attempts_made(&self) -> u32 {
        self.attempts_made
    }

    pub(crate) fn waited(&self) -> Duration {
        self.waited
    }

    /// The wait before the next attempt, or `None` when the budget is spent.
    /// `retry_after` (the server's word) wins over backoff and is never
    /// shortened; `throttled` says the last attempt was answered 429, which
    /// with a `Retry-After` counts against `max_throttled_attempts` only.
    pub(crate) fn next_delay(
        &mut self,
        retry_after: Option<Duration>,
        throttled: bool,
    ) -> Option<Duration> {
        let paced = throttled && retry_after.is_some();
        if paced {
            self.throttled_attempts += 1;
        }
        let failed_attempts = self.attempts_made - self.throttled_attempts;
        if self.throttled_attempts >= self.policy.max_throttled_attempts
            || (!paced && failed_attempts >= self.policy.max_attempts)
        {
            return None;
        }
        let delay = match retry_after {
            Some(server_delay) => server_delay,
            None => self.policy.backoff_delay(failed_attempts),
        };
        let total_after_wait = self.waited.saturating_add(delay);
        if total_after_wait > self.policy.max_total_wait {
            return None;
        }
        self.waited = total_after_wait;
        Some(delay)
    }
}

/// Waits between attempts; injectable so tests can observe or skip waits.
pub trait Sleeper: Send + Sync + 'static {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Sleeps on the tokio timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

pub(crate) fn default_sleeper() -> Arc<dyn Sleeper> {
    Arc::new(TokioSleeper)
}

/// Longest `Retry-After` we accept as meaningful; beyond it the total-wait
/// bound ends the request anyway.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses a `Retry-After` value: delay-seconds, decimal allowed ("0.35"), or
/// an HTTP-date (a date in the past means "now"). `None` when unparseable.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return None;
    }
    if let Ok(seconds) = trimmed.parse::<f64>() {
        if !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        let delay = Duration::try_from_secs_f64(seconds).ok()?;
        return Some(delay.min(MAX_RETRY_AFTER));
    }
    let date = chrono::DateTime::parse_from_rfc2822(trimmed).ok()?;
    let until = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    let delay = until.to_std().unwrap_or(Duration::ZERO);
    Some(delay.min(MAX_RETRY_AFTER))
}

/// `Retry-After` from response headers, if present and valid.
pub(crate) fn retry_after_header(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value)
}

pub(crate) fn is_retryable_status(status: u16) -> bool {
    is_transient_status(status)
}

/// Whether a 401/403 may go away with a freshly issued token (a role just
/// consented, a revoked token). Not when Exchange keeps the app out of the
/// mailbox (an application access policy or RBAC for Applications scope):
/// the token is fine, the mailbox is outside the app's scope.
pub(crate) fn fresh_token_may_help(api_error: &crate::error::ApiError) -> bool {
    matches!(api_error.status, 401 | 403) && !api_error.is_access_denied_by_policy()
}

/// Statuses after which Graph did not apply the request, so even a create
/// may be retried.
pub(crate) fn is_not_applied_status(status: u16) -> bool {
    matches!(status, 429 | 503)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_decimal_seconds() {
        assert_eq!(parse_retry_after("0.35"), Some(Duration::from_millis(350)));
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
    }

    #[test]
    fn retry_after_rejects_garbage_and_negative_values() {
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("NaN"), None);
        assert_eq!(parse_retry_after(""), None);
    }

    #[test]
    fn retry_after_accepts_http_dates() {
        let in_ten_seconds = chrono::Utc::now() + chrono::Duration::seconds(10);
        let header = in_ten_seconds
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let delay = parse_retry_after(&header).unwrap_or_default();
        assert!(delay > Duration::from_secs(8) && delay <= Duration::from_secs(10));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn backoff_stays_within_the_doubling_ceiling() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            ..RetryPolicy::default()
        };
        for _ in 0..200 {
            assert!(policy.backoff_delay(1) <= Duration::from_millis(100));
            assert!(policy.backoff_delay(2) <= Duration::from_millis(200));
            assert!(policy.backoff_delay(6) <= Duration::from_millis(350));
        }
    }

    #[test]
    fn budget_refuses_a_retry_after_beyond_the_total_wait() {
        let policy = RetryPolicy {
            max_total_wait: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        let mut budget = policy.budget();
        budget.record_attempt();
        assert_eq!(
            budget.next_delay(Some(Duration::from_millis(600)), true),
            Some(Duration::from_millis(600))
        );
        budget.record_attempt();
        assert_eq!(
            budget.next_delay(Some(Duration::from_millis(600)), true),
            None
        );
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for status in [429, 500, 502, 503, 504, 509] {
            assert!(is_transient_status(status), "{status}");
        }
        for status in [400, 401, 403, 404, 405, 409, 410, 412, 413, 422, 501, 507] {
            assert!(!is_transient_status(status), "{status}");
        }
    }

    #[test]
    fn a_fresh_token_cannot_open_a_mailbox_outside_the_app_scope() {
        let body = |message: &str| {
            serde_json::json!({"error": {"code": "ErrorAccessDenied", "message": message}})
                .to_string()
        };
        let scope = crate::error::ApiError::from_response(
            403,
            body("Access to OData is disabled.").as_bytes(),
            None,
        );
        let missing_role = crate::error::ApiError::from_response(
            403,
            body("Access is denied. Check credentials and try again.").as_bytes(),
            None,
        );
        assert!(!fresh_token_may_help(&scope));
        assert!(fresh_token_may_help(&missing_role));
    }

    #[test]
    fn budget_ends_after_max_attempts() {
        let policy = RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        };
        let mut budget = policy.budget();
        budget.record_attempt();
        assert!(budget.next_delay(Some(Duration::ZERO), false).is_some());
        budget.record_attempt();
        assert!(budget.next_delay(None, false).is_none());
    }

    #[test]
    fn a_429_with_retry_after_is_retried_past_max_attempts_until_its_own_bound() {
        let policy = RetryPolicy {
            max_attempts: 2,
            max_throttled_attempts: 10,
            ..RetryPolicy::default()
        };
        let mut budget = policy.budget();
        for throttled in 1..10 {
            budget.record_attempt();
            assert!(
                budget
                    .next_delay(Some(Duration::from_millis(1)), true)
                    .is_some(),
                "throttled attempt {throttled} ended the request"
            );
        }
        budget.record_attempt();
        assert!(budget
            .next_delay(Some(Duration::from_millis(1)), true)
            .is_none());
        let mut budget = policy.budget();
        budget.record_attempt();
        assert!(
            budget.next_delay(None, true).is_some(),
            "429 without Retry-After backs off"
        );
        budget.record_attempt();
        assert!(
            budget.next_delay(None, true).is_none(),
            "without Retry-After a 429 counts as a failed attempt"
        );
    }
}
