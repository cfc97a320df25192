//! Executes a mailbox's planned writes as `$batch` calls (each with its
//! retries, `mailbox::run_batch`) and classifies each answer: a create whose
//! outcome is unknown is reported as uncertain, never re-sent blindly; 404 on
//! a known contact id is reported so the caller re-plans that entry.

use std::collections::HashMap;

use galsync_graph::models::Page;
use galsync_graph::{BatchRequest, BatchResponse};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::Error;
use crate::mailbox::{chain, listed_contact, run_batch, ListedContact, MailboxGraph, SubOutcome};

/// What galsync reads of a contact it created.
#[derive(Deserialize)]
struct Created {
    id: String,
}

/// A write, its JSON body serialized once when planned.
#[derive(Debug, Clone)]
pub enum Op {
    Create {
        source_id: String,
        body: Box<RawValue>,
    },
    Update {
        source_id: String,
        contact_id: String,
        body: Box<RawValue>,
    },
    Delete {
        source_id: String,
        contact_id: String,
    },
}

impl Op {
    fn source_id(&self) -> &str {
        match self {
            Op::Create { source_id, .. }
            | Op::Update { source_id, .. }
            | Op::Delete { source_id, .. } => source_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Created {
        source_id: String,
        contact_id: String,
    },
    Updated {
        source_id: String,
    },
    Deleted {
        source_id: String,
    },
    /// The contact id is gone (404 on PATCH): re-plan the entry.
    Missing {
        source_id: String,
    },
    /// A create that may or may not have been applied: look before re-creating.
    Uncertain {
        source_id: String,
    },
    Failed {
        source_id: String,
        reason: String,
    },
}

/// How Graph runs a batch's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Side by side, up to 4 at a time: one batch holds all of its
    /// mailbox's places until its slowest write is answered.
    Parallel,
    /// One after another (each depends on the one before): the batch holds
    /// one place, so a mailbox runs 4 such batches side by side and a place
    /// frees the moment its batch ends.
    Chained,
}

/// Executes up to 20 writes as one batch (plus retries).
pub async fn execute(
    mailbox: &MailboxGraph,
    folder_id: &str,
    ops: &[Op],
    order: Order,
) -> Result<Vec<Outcome>, Error> {
    let contacts_path = mailbox.contacts_path(folder_id);
    let mut requests = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        let id = (index + 1).to_string();
        requests.push(match op {
            Op::Create { body, .. } => BatchRequest::new(id, "POST", contacts_path.clone())
                .with_raw_json_body(body.clone()),
            Op::Update {
                contact_id, body, ..
            } => BatchRequest::new(
                id,
                "PATCH",
                format!(
                    "{contacts_path}/{}",
                    galsync_graph::path::segment(contact_id)
                ),
            )
            .with_raw_json_body(body.clone()),
            Op::Delete { contact_id, .. } => BatchRequest::delete(
                id,
                format!(
                    "{contacts_path}/{}",
                    galsync_graph::path::segment(contact_id)
                ),
            ),
        });
    }
    if order == Order::Chained {
        chain(&mut requests);
    }
    let answers = run_batch(mailbox, &requests).await?;
    let mut outcomes = Vec::with_capacity(ops.len());
    for (op, answer) in ops.iter().zip(answers) {
        let source_id = op.source_id().to_owned();
        let response = match answer {
            SubOutcome::Uncertain => {
                outcomes.push(Outcome::Uncertain { source_id });
                continue;
            }
            SubOutcome::Answered(response) => response,
        };
        outcomes.push(classify(op, source_id, &response, &mailbox.mailbox_id)?);
    }
    Ok(outcomes)
}

fn classify(
    op: &Op,
    source_id: String,
    response: &BatchResponse,
    mailbox_id: &str,
) -> Result<Outcome, Error> {
    let failed = |response: &BatchResponse| {
        let reason = response
            .api_error()
            .map(|error| error.to_string())
            .unwrap_or_else(|| format!("status {}", response.status));
        Outcome::Failed {
            source_id: source_id.clone(),
            reason,
        }
    };
    let not_found = response
        .api_error()
        .is_some_and(|error| error.is_not_found());
    if let Some(error) = response.api_error() {
        if error.is_mailbox_not_enabled() {
            return Err(Error::MailboxNotEnabled {
                mailbox_id: mailbox_id.to_owned(),
                reason: error.message,
            });
        }
    }
    Ok(match op {
        Op::Create { .. } if response.is_success() => {
            // Only the id is decoded from the created contact.
            let contact_id = response
                .json::<Created>()
                .map(|created| created.id)
                .unwrap_or_default();
            Outcome::Created {
                source_id,
                contact_id,
            }
        }
        Op::Create { .. } if matches!(response.status, 500 | 502 | 504) => {
            Outcome::Uncertain { source_id }
        }
        Op::Update { .. } if response.is_success() => Outcome::Updated { source_id },
        Op::Update { .. } if not_found => Outcome::Missing { source_id },
        Op::Delete { .. } if response.is_success() || not_found => Outcome::Deleted { source_id },
        _ => failed(response),
    })
}

/// Finds the contacts galsync owns for each source id in the folder
/// (the `$filter` on the ownership property), 20 look-ups per batch.
pub async fn look_up(
    mailbox: &MailboxGraph,
    folder_id: &str,
    profile_id: &str,
    source_ids: &[String],
) -> Result<HashMap<String, Vec<ListedContact>>, Error> {
    let mut found: HashMap<String, Vec<ListedContact>> = HashMap::new();
    for chunk in source_ids.chunks(galsync_graph::MAX_BATCH_REQUESTS) {
        let requests: Vec<BatchRequest> = chunk
            .iter()
            .enumerate()
            .map(|(index, source_id)| {
                mailbox.lookup_request((index + 1).to_string(), folder_id, profile_id, source_id)
            })
            .collect();
        let answers = run_batch(mailbox, &requests).await?;
        for (source_id, answer) in chunk.iter().zip(answers) {
            let SubOutcome::Answered(response) = answer else {
                continue;
            };
            if !response.is_success() {
                // Graph's own answer keeps its status, so a permanent one
                // fails the mailbox for good and a transient one is retried.
                let source = match response.api_error() {
                    Some(api_error) => galsync_graph::GraphError::Api(api_error),
                    None => galsync_graph::GraphError::InvalidBatch {
                        reason: format!(
                            "look-up of {source_id} answered status {}",
                            response.status
                        ),
                    },
                };
                return Err(Error::from_graph(&mailbox.mailbox_id, source));
            }
            let page = response
                .json::<Page<Value>>()
                .map_err(|source| Error::from_graph(&mailbox.mailbox_id, source))?;
            // The `$filter` on the property's value vouches for the owner.
            let contacts: Vec<ListedContact> = page
                .value
                .iter()
                .map(|contact| ListedContact {
                    source_id: Some(source_id.clone()),
                    ..listed_contact(contact)
                })
                .collect();
            found.insert(source_id.clone(), contacts);
        }
    }
    Ok(found)
}
