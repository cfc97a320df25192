//! What kind of mailbox each user has, from Graph's documented signal:
//! `GET /users/{id}/mailboxSettings/userPurpose` (user-get-mailboxsettings,
//! example 4), whose values are `user, linked, shared, room, equipment,
//! others, unknownFutureValue` (mailboxsettings resource). It needs the
//! MailboxSettings.Read application permission (user-get-mailboxsettings,
//! Permissions).
//!
//! Each user's purpose is read once, 20 users per `$batch` call
//! (json-batching: at most 20 requests), and kept with the stored user. A
//! round that adds or changes a user clears its purpose (the reader's
//! contract), so exactly the new and changed users are read again.
//!
//! Several calls are in flight at once (`--purpose-batches-in-flight`, default
//! [`DEFAULT_BATCHES_IN_FLIGHT`]): Graph runs at most 4 sub-requests of one
//! batch at a time (throttling-limits, "Outlook service limits": "up to 4
//! requests in parallel at any point, irrespective of the target mailbox"),
//! so one call at a time leaves an initial read of N users at N/20 round
//! trips. Every sub-request addresses a different user's mailbox, so no
//! mailbox's limit of 4 concurrent requests is approached.

use std::collections::HashMap;

use futures::stream::{self, StreamExt};
use galsync_graph::{BatchGate, BatchRequest, BatchResponse, GraphClient, MAX_BATCH_REQUESTS};
use serde::Deserialize;
use tracing::info;

use crate::error::{Error, Result};
use crate::scope::ScopeState;
pub use crate::source::MailboxPurpose;
use crate::source::SourceUser;
use crate::store::Store;

/// `$batch` calls of purpose reads in flight at once unless configured:
/// 32 × 20 users, 128 sub-requests running at Graph (4 per call): about
/// 1,800 reads per second at the modelled 72 ms, a seventh of the app-wide
/// budget (130,000 requests per 10 s, throttling-limits).
pub const DEFAULT_BATCHES_IN_FLIGHT: usize = 32;

#[derive(Deserialize)]
struct PurposeValue {
    value: String,
}

fn purpose_url(user_id: &str) -> String {
    format!(
        "/users/{}/mailboxSettings/userPurpose",
        galsync_graph::path::segment(user_id)
    )
}

/// The purpose one sub-response tells, or why it could not be read.
fn purpose_from_response(tenant_id: &str, response: &BatchResponse) -> Result<MailboxPurpose> {
    if response.is_success() {
        let parsed: PurposeValue = response
            .json()
            .map_err(|error| Error::graph(tenant_id, error))?;
        return Ok(MailboxPurpose::from_graph(&parsed.value));
    }
    let Some(error) = response.api_error() else {
        return Err(Error::Internal(
            "a failed sub-request without an error".into(),
        ));
    };
    // No mailbox (MailboxNotEnabledForRESTAPI), or the user was deleted since
    // the delta round: either way not a mailbox galsync can tell apart.
    if error.status == 404 {
        return Ok(MailboxPurpose::NoMailbox);
    }
    let fix = match error.status {
        401 | 403 => {
            "grant the read app the Microsoft Graph application permission MailboxSettings.Read \
             and admin consent; if an Exchange application access policy or RBAC for \
             Applications limits the app to some mailboxes, it must include every user galsync reads"
        }
        429 | 500..=599 => "graph is throttled or unavailable; the next snapshot retries",
        _ => "",
    };
    Err(Error::UserPurpose {
        tenant_id: tenant_id.to_owned(),
        status: error.status,
        detail: format!("{} {}", error.code, error.message),
        fix,
    })
}

/// Reads the purpose of one batch of at most 20 users; `gate` is shared with
/// the calls beside it.
async fn read_batch(
    client: &GraphClient,
    gate: &BatchGate,
    tenant_id: &str,
    user_ids: &[String],
) -> Result<Vec<(String, MailboxPurpose)>> {
    let mut requests = Vec::with_capacity(user_ids.len());
    for (index, user_id) in user_ids.iter().enumerate() {
        requests.push(BatchRequest::get(index.to_string(), purpose_url(user_id)));
    }
    let outcome = client
        .batch_with_retry_gated(requests, gate)
        .await
        .map_err(|error| Error::graph(tenant_id, error))?;
    let mut purposes = Vec::with_capacity(user_ids.len());
    for (user_id, response) in user_ids.iter().zip(outcome.responses.iter()) {
        purposes.push((user_id.clone(), purpose_from_response(tenant_id, response)?));
    }
    Ok(purposes)
}

/// Before a full read replaces the scope's users: each user whose read fields
/// are what the store holds keeps its stored purpose, so a full read (forced,
/// or after `410 Gone`) reads the purpose of changed users only.
pub async fn carry_over(
    store: &Store,
    scope_key: &(String, String),
    users: &mut [SourceUser],
) -> Result<()> {
    let stored = store.scope_users(&scope_key.0, &scope_key.1).await?;
    if stored.is_empty() {
        return Ok(());
    }
    let mut stored_by_id: HashMap<String, SourceUser> = HashMap::with_capacity(stored.len());
    for user in stored {
        stored_by_id.insert(user.id.clone(), user);
    }
    for user in users.iter_mut() {
        let Some(stored_user) = stored_by_id.get_mut(&user.id) else {
            continue;
        };
        let stored_purpose = stored_user.mailbox_purpose.take();
        if *stored_user == *user {
            user.mailbox_purpose = stored_purpose;
        }
    }
    Ok(())
}

/// Reads the purpose of every user of `state` that has none (new or changed
/// in a round, or left unread by a failed attempt), stores it with the user
/// and returns the completed state. Fails, storing what it read, when Graph
/// refuses: the users left without a purpose are read by the next round.
/// At most `batches_in_flight` `$batch` calls are in flight at once.
pub async fn complete(
    client: &GraphClient,
    store: &Store,
    scope_key: &(String, String),
    state: ScopeState,
    batches_in_flight: usize,
) -> Result<ScopeState> {
    let (tenant_id, key) = (scope_key.0.as_str(), scope_key.1.as_str());
    let mut unread: Vec<String> = state
        .users
        .values()
        .filter(|user| user.mailbox_purpose.is_none())
        .map(|user| user.id.clone())
        .collect();
    if unread.is_empty() {
        return Ok(state);
    }
    unread.sort();
    let mut users: HashMap<String, SourceUser> = (*state.users).clone();
    let mut completed: Vec<SourceUser> = Vec::with_capacity(unread.len());
    let mut failure = None;
    // Up to `batches_in_flight` calls at once, a new one starting as soon as
    // any finishes (a slow call does not hold the others' places), their
    // results put back in the order of the sorted ids. A call answered
    // with an app-wide 429 holds the shared gate for its Retry-After, so no
    // call beside it starts or retries inside that wait (throttling: "wait
    // the number of seconds specified in the Retry-After header before
    // retrying"); a mailbox's own 429 is retried by its call alone.
    let gate = BatchGate::new();
    // The calls are made up front (an unpolled future sends nothing) so the
    // stream's type names no closure, which keeps the gRPC handlers `Send`.
    let calls: Vec<_> = unread
        .chunks(MAX_BATCH_REQUESTS)
        .enumerate()
        .map(|(index, chunk)| {
            let gate = &gate;
            async move { (index, read_batch(client, gate, tenant_id, chunk).await) }
        })
        .collect();
    let mut results = stream::iter(calls).buffer_unordered(batches_in_flight.max(1));
    let mut read: Vec<(usize, Vec<(String, MailboxPurpose)>)> = Vec::new();
    while let Some((index, result)) = results.next().await {
        match result {
            Ok(purposes) => read.push((index, purposes)),
            Err(error) => {
                // The calls still in flight are dropped; their users are
                // read by the next round.
                failure = Some(error);
                break;
            }
        }
    }
    drop(results);
    read.sort_unstable_by_key(|(index, _)| *index);
    for (user_id, purpose) in read.into_iter().flat_map(|(_, purposes)| purposes) {
        if let Some(user) = users.get_mut(&user_id) {
            user.mailbox_purpose = Some(purpose);
            completed.push(user.clone());
        }
    }
    // What was read is kept even when a later call failed.
    store.update_scope_users(tenant_id, key, &completed).await?;
    if let Some(error) = failure {
        return Err(error);
    }
    info!(
        tenant_id,
        users = completed.len(),
        "read the mailbox purpose of new and changed users"
    );
    Ok(state.with_users(users))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_values_map_to_purposes_and_unknown_values_are_future_ones() {
        assert_eq!(MailboxPurpose::from_graph("room"), MailboxPurpose::Room);
        assert_eq!(MailboxPurpose::from_graph("linked"), MailboxPurpose::Linked);
        assert_eq!(
            MailboxPurpose::from_graph("teamMailbox"),
            MailboxPurpose::UnknownFutureValue
        );
        assert!(MailboxPurpose::Equipment.is_resource());
        assert!(!MailboxPurpose::Others.is_resource());
        assert!(MailboxPurpose::Linked.is_personal());
        assert!(!MailboxPurpose::NoMailbox.is_personal());
    }
}
