//! A `$batch` to one mailbox with its retries: throttled and transient
//! sub-requests are sent again after the mailbox's Retry-After (or a
//! backoff); a create whose outcome is unknown is reported as uncertain.

use std::sync::atomic::Ordering;

use galsync_graph::{BatchRequest, BatchResponse};

use super::MailboxGraph;
use crate::error::Error;

/// Rounds after server errors (no Retry-After given as throttling) one
/// sub-request may take before it counts as failed.
const MAX_ROUNDS: u32 = 8;

/// Rounds after throttling. Graph's guidance is to go on retrying after each
/// Retry-After "until it succeeds" (throttling-limits, "Best practices to
/// handle throttling"); under a work item's lease the lease's deadline ends
/// the retries first (nothing is sent once it may lapse), so this only bounds
/// a direct `SyncMailbox` call.
pub(super) const MAX_THROTTLED_ROUNDS: u32 = 64;

/// The final answer to one sub-request.
#[derive(Debug, Clone)]
pub(crate) enum SubOutcome {
    Answered(BatchResponse),
    /// The connection dropped under a create.
    Uncertain,
}

/// Failed Dependency: a chained step that never ran because the step
/// before it failed (json-batching: "If an individual request fails, any
/// request that depends on that request fails with status code 424").
const FAILED_DEPENDENCY: u16 = 424;

fn is_retryable(status: u16, is_create: bool) -> bool {
    match status {
        429 | 503 | FAILED_DEPENDENCY => true,
        500 | 502 | 504 => !is_create,
        _ => false,
    }
}

/// Links `requests` into one chain, in their order: each step depends on the
/// one before it, so Graph runs them one at a time. A fully sequential batch
/// is one of the two shapes Graph accepts ("Batch should be either fully
/// sequential or fully parallel", Microsoft Q&A 1532547 on json-batching).
pub(crate) fn chain(requests: &mut [BatchRequest]) {
    let mut previous: Option<String> = None;
    for request in requests.iter_mut() {
        request.depends_on = previous.iter().cloned().collect();
        previous = Some(request.id.clone());
    }
}

/// Whether `requests` form one chain (see [`chain`]): at most one runs at a time.
pub(crate) fn is_chain(requests: &[BatchRequest]) -> bool {
    requests.len() > 1
        && requests
            .first()
            .is_some_and(|first| first.depends_on.is_empty())
        && requests
            .windows(2)
            .all(|pair| pair[1].depends_on == [pair[0].id.clone()])
}

/// Sends `requests` (≤ 20) as one batch and again for the sub-requests that
/// may be retried, honouring the mailbox pacer between rounds.
pub(crate) async fn run_batch(
    mailbox: &MailboxGraph,
    requests: &[BatchRequest],
) -> Result<Vec<SubOutcome>, Error> {
    let chained = is_chain(requests);
    let mut latest: Vec<Option<SubOutcome>> = vec![None; requests.len()];
    let mut pending: Vec<usize> = (0..requests.len()).collect();
    let mut error_rounds = 0;
    let mut throttled_rounds = 0;
    loop {
        let mut to_send: Vec<BatchRequest> = pending
            .iter()
            .map(|index| requests[*index].clone())
            .collect();
        if chained {
            // What is sent again is a chain of its own.
            chain(&mut to_send);
        }
        let mut next_pending = Vec::new();
        let mut throttled = false;
        // Steps that only waited on a failed one: they never ran.
        let mut only_dependents = true;
        match mailbox.batch(to_send).await {
            Ok(responses) => {
                for (index, response) in pending.iter().zip(responses) {
                    if let Some(api_error) = response.api_error() {
                        if api_error.is_access_denied_by_policy() {
                            return Err(Error::BlockedByPolicy {
                                mailbox_id: mailbox.mailbox_id.clone(),
                            });
                        }
                        // Refused authentication or permission holds for
                        // every request to the mailbox: it fails at once.
                        if matches!(api_error.status, 401 | 403) {
                            return Err(Error::from_graph(
                                &mailbox.mailbox_id,
                                galsync_graph::GraphError::Api(api_error),
                            ));
                        }
                    }
                    let is_create = requests[*index].method == "POST";
                    if is_retryable(response.status, is_create) {
                        throttled |= response.retry_after().is_some();
                        only_dependents &= response.status == FAILED_DEPENDENCY;
                        next_pending.push(*index);
                    }
                    latest[*index] = Some(SubOutcome::Answered(response));
                }
            }
            // Abandoned in flight at the lease's deadline: Graph may still
            // carry it out, so nothing more about this mailbox is sent, not
            // even a look-up; the lease is left to lapse and whoever holds
            // it next reads the folder (its count no longer matches).
            Err(error) if error.is_past_deadline() => {
                return Err(Error::from_graph(&mailbox.mailbox_id, error))
            }
            Err(error) if error.is_ambiguous() => {
                only_dependents = false;
                tracing::warn!(mailbox = %mailbox.mailbox_id, %error, "a batch with creates may have been applied, looking before re-creating");
                for index in &pending {
                    if requests[*index].method == "POST" {
                        latest[*index] = Some(SubOutcome::Uncertain);
                    } else {
                        next_pending.push(*index);
                    }
                }
            }
            Err(error) => return Err(Error::from_graph(&mailbox.mailbox_id, error)),
        }
        if next_pending.is_empty() {
            break;
        }
        if only_dependents {
            // The step they waited on has its own answer; they go at once,
            // and each round sends at least one step that did not wait.
            pending = next_pending;
            continue;
        }
        if throttled {
            throttled_rounds += 1;
        } else {
            error_rounds += 1;
        }
        if error_rounds >= MAX_ROUNDS || throttled_rounds >= MAX_THROTTLED_ROUNDS {
            break;
        }
        mailbox
            .tally
            .retries
            .fetch_add(next_pending.len() as u64, Ordering::Relaxed);
        if !throttled {
            mailbox.back_off(error_rounds).await;
        }
        pending = next_pending;
    }
    Ok(latest
        .into_iter()
        .map(|outcome| outcome.unwrap_or(SubOutcome::Uncertain))
        .collect())
}
