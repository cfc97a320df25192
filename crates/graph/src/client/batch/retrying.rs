//! `$batch` with its sub-requests retried: the throttled and failed ones are
//! sent again, with those that failed because they depended on one.

use std::collections::HashSet;

use tracing::debug;

use super::gate::{hold_for_app_wide_throttle, BatchGate};
use super::{validate_batch, BatchRequest, BatchResponse};
use crate::client::GraphClient;
use crate::error::GraphError;
use crate::retry;

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

impl GraphClient {
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
                gate.recovered();
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
