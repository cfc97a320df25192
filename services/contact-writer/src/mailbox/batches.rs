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

fn is_retryable(status: u16, is_create: bool) -> bool {
    match status {
        429 | 503 => true,
        500 | 502 | 504 => !is_create,
        _ => false,
    }
}

/// Sends `requests` (≤ 20) as one batch and again for the sub-requests that
/// may be retried, honouring the mailbox pacer between rounds.
pub(crate) async fn run_batch(
    mailbox: &MailboxGraph,
    requests: &[BatchRequest],
) -> Result<Vec<SubOutcome>, Error> {
    let mut latest: Vec<Option<SubOutcome>> = vec![None; requests.len()];
    let mut pending: Vec<usize> = (0..requests.len()).collect();
    let mut error_rounds = 0;
    let mut throttled_rounds = 0;
    loop {
        let to_send: Vec<BatchRequest> = pending
            .iter()
            .map(|index| requests[*index].clone())
            .collect();
        let mut next_pending = Vec::new();
        let mut throttled = false;
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
                        next_pending.push(*index);
                    }
                    latest[*index] = Some(SubOutcome::Answered(response));
                }
            }
            Err(error) if error.is_ambiguous() => {
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
