//! Shares `$batch` calls between the mailboxes of one tenant.
//!
//! A mailbox with less than a full batch to send hands its sub-requests to
//! the tenant's coalescer, which waits a moment (the linger) for other
//! mailboxes' and sends them in one call: one changed user in 100 mailboxes
//! costs a handful of HTTP calls, not 100. Graph runs a batch's sub-requests
//! against each target mailbox on its own (the 4-in-flight limit and
//! `Retry-After` stay per mailbox), and every mailbox has paced its own
//! sub-requests before handing them over. Full batches, and every batch
//! while only one mailbox of the tenant is being reconciled, go straight out.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use galsync_graph::{BatchRequest, BatchResponse, GraphClient, GraphError, MAX_BATCH_REQUESTS};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

type Reply = Result<Vec<BatchResponse>, GraphError>;

/// One mailbox's sub-requests waiting for a shared call.
struct Submission {
    /// The mailbox's client: the one with the earliest deadline sends the
    /// call, so its run counts the HTTP request.
    graph: GraphClient,
    requests: Vec<BatchRequest>,
    reply: oneshot::Sender<Reply>,
}

/// The coalescer of one tenant.
#[derive(Debug)]
pub struct Coalescer {
    linger: Duration,
    active: AtomicUsize,
    submissions: mpsc::UnboundedSender<Submission>,
}

/// Counts one mailbox as being reconciled while held.
#[derive(Debug)]
pub struct Active(Arc<Coalescer>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Coalescer {
    /// A coalescer waiting up to `linger` for partners (zero: never shares).
    /// Must be called inside a Tokio runtime: it spawns the collector.
    pub fn new(linger: Duration) -> Arc<Self> {
        let (submissions, receiver) = mpsc::unbounded_channel();
        if !linger.is_zero() {
            tokio::spawn(collect(receiver, linger));
        }
        Arc::new(Self {
            linger,
            active: AtomicUsize::new(0),
            submissions,
        })
    }

    /// Marks a mailbox reconciliation as running until the guard drops.
    pub fn enter(self: &Arc<Self>) -> Active {
        self.active.fetch_add(1, Ordering::AcqRel);
        Active(Arc::clone(self))
    }

    /// Sends `requests` as one `$batch`, sharing the call with other
    /// mailboxes' when that saves a round trip. The responses come back in
    /// the order of `requests`, with their ids.
    pub async fn batch(&self, graph: &GraphClient, requests: Vec<BatchRequest>) -> Reply {
        let shareable = !self.linger.is_zero()
            && requests.len() < MAX_BATCH_REQUESTS
            && self.active.load(Ordering::Acquire) > 1
            && requests.iter().all(|request| request.depends_on.is_empty());
        if !shareable {
            return graph.batch(requests).await;
        }
        let (reply, answer) = oneshot::channel();
        let submission = Submission {
            graph: graph.clone(),
            requests,
            reply,
        };
        if let Err(mpsc::error::SendError(submission)) = self.submissions.send(submission) {
            return submission.graph.batch(submission.requests).await;
        }
        answer.await.unwrap_or_else(|_| {
            // The sending task ended without an answer: what it sent may
            // have been applied, so creates must be looked up.
            Err(GraphError::Ambiguous {
                method: "POST".to_owned(),
                path: "/$batch".to_owned(),
                source: Box::new(GraphError::InvalidBatch {
                    reason: "the shared batch ended without an answer".to_owned(),
                }),
            })
        })
    }
}

/// Groups submissions arriving within the linger into calls of at most 20
/// sub-requests and sends each group on its own task.
async fn collect(mut receiver: mpsc::UnboundedReceiver<Submission>, linger: Duration) {
    let mut carried: Option<Submission> = None;
    loop {
        let first = match carried.take() {
            Some(submission) => submission,
            None => match receiver.recv().await {
                Some(submission) => submission,
                None => return,
            },
        };
        let deadline = Instant::now() + linger;
        let mut size = first.requests.len();
        let mut group = vec![first];
        while size < MAX_BATCH_REQUESTS {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(next)) if size + next.requests.len() <= MAX_BATCH_REQUESTS => {
                    size += next.requests.len();
                    group.push(next);
                }
                Ok(Some(next)) => {
                    carried = Some(next);
                    break;
                }
                Ok(None) | Err(_) => break,
            }
        }
        tokio::spawn(send(group));
    }
}

/// Sends a group as one call and hands each submission its own responses.
async fn send(group: Vec<Submission>) {
    // The call ends by the earliest deadline (lease) of the mailboxes in it,
    // so no mailbox's writes land after its lease; that mailbox's run counts
    // the HTTP request.
    let Some(graph) = group
        .iter()
        .map(|submission| &submission.graph)
        .min_by_key(|graph| {
            let deadline = graph.deadline();
            (deadline.is_none(), deadline)
        })
        .cloned()
    else {
        return;
    };
    let mut combined = Vec::with_capacity(MAX_BATCH_REQUESTS);
    let mut spans: Vec<Range<usize>> = Vec::with_capacity(group.len());
    for submission in &group {
        let start = combined.len();
        for request in &submission.requests {
            let mut request = request.clone();
            request.id = (combined.len() + 1).to_string();
            combined.push(request);
        }
        spans.push(start..combined.len());
    }
    match graph.batch(combined).await {
        // The earliest lease was too near its end for the call to go out:
        // nothing was sent, and each mailbox sends its own under its lease.
        Err(GraphError::PastDeadline { .. }) if group.len() > 1 => {
            for submission in group {
                tokio::spawn(async move {
                    let reply = submission.graph.batch(submission.requests).await;
                    let _ = submission.reply.send(reply);
                });
            }
        }
        Ok(responses) => {
            for (submission, span) in group.into_iter().zip(spans) {
                let own = responses[span]
                    .iter()
                    .zip(&submission.requests)
                    .map(|(response, request)| BatchResponse {
                        id: request.id.clone(),
                        ..response.clone()
                    })
                    .collect();
                let _ = submission.reply.send(Ok(own));
            }
        }
        Err(error) => {
            for submission in group {
                let _ = submission.reply.send(Err(shared_error(&error)));
            }
        }
    }
}

/// A copy of a call's failure for each mailbox that shared it, keeping what
/// callers decide on: Graph's answer, and whether it may have been applied.
fn shared_error(error: &GraphError) -> GraphError {
    match error {
        GraphError::Api(api_error) => GraphError::Api(api_error.clone()),
        GraphError::PastDeadline { method, path } => GraphError::PastDeadline {
            method: method.clone(),
            path: path.clone(),
        },
        GraphError::Ambiguous {
            method,
            path,
            source,
        } => GraphError::Ambiguous {
            method: method.clone(),
            path: path.clone(),
            source: Box::new(shared_error(source)),
        },
        GraphError::GaveUp {
            attempts,
            waited,
            last_error,
        } => GraphError::GaveUp {
            attempts: *attempts,
            waited: *waited,
            last_error: Box::new(shared_error(last_error)),
        },
        other => GraphError::InvalidBatch {
            reason: format!("a batch shared with other mailboxes failed: {other}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use galsync_graph::ApiError;

    #[test]
    fn a_shared_failure_keeps_graphs_answer_and_its_ambiguity() {
        let throttled = GraphError::Api(ApiError {
            status: 429,
            code: "TooManyRequests".to_owned(),
            message: "slow down".to_owned(),
            request_id: None,
            retry_after: Some(Duration::from_millis(1500)),
        });
        let copy = shared_error(&throttled);
        assert!(copy.is_throttled());
        assert_eq!(
            copy.api().and_then(|api| api.retry_after),
            Some(Duration::from_millis(1500))
        );
        let ambiguous = GraphError::Ambiguous {
            method: "POST".to_owned(),
            path: "/$batch".to_owned(),
            source: Box::new(GraphError::InvalidBatch {
                reason: "connection reset".to_owned(),
            }),
        };
        assert!(shared_error(&ambiguous).is_ambiguous());
        let not_sent = GraphError::PastDeadline {
            method: "POST".to_owned(),
            path: "/$batch".to_owned(),
        };
        assert!(shared_error(&not_sent).is_past_deadline());
        let other = shared_error(&GraphError::MissingDeltaLink);
        assert!(!other.is_ambiguous());
        assert!(other.to_string().contains("shared with other mailboxes"));
    }
}
