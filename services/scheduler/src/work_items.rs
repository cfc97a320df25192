//! What a run's work items add up to: its counts, how its mailboxes ended,
//! each mailbox's result as the API shows it.

use galsync_proto::v1;
use prost::Message;

use crate::item_state::{ItemOutcome, ItemState};
use crate::store::WorkItemRow;

/// Why an item of a cancelled run ended.
pub const CANCELLED_REASON: &str = "the run was cancelled";

/// Sum of the counts of finished items and the progress of items in flight
/// or stopped part way (a cancelled run's): the writes that happened.
pub fn run_counts(items: &[WorkItemRow]) -> v1::SyncCounts {
    let mut total = v1::SyncCounts::default();
    for item in items {
        if item.state == ItemState::Superseded {
            continue;
        }
        if let Some(counts) = item_counts(item) {
            add_counts(&mut total, &counts);
        }
    }
    total
}

/// An item's counts: its result's, or the progress it last reported.
fn item_counts(item: &WorkItemRow) -> Option<v1::SyncCounts> {
    match (&item.result, &item.progress) {
        (Some(result), _) => v1::MailboxSyncResult::decode(result.as_slice())
            .ok()
            .and_then(|result| result.counts),
        (None, Some(progress)) => v1::SyncCounts::decode(progress.as_slice()).ok(),
        (None, None) => None,
    }
}

/// How the mailboxes of a run that ended, ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MailboxTally {
    pub done: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub cancelled: usize,
}

/// Counts the ended items by how they ended (superseded ones are not mailboxes of the run).
pub fn mailbox_tally(items: &[WorkItemRow]) -> MailboxTally {
    let mut tally = MailboxTally::default();
    for item in items {
        if item.state == ItemState::Superseded || !item.state.is_terminal() {
            continue;
        }
        tally.done += 1;
        if item.state == ItemState::Cancelled || item.outcome == Some(ItemOutcome::Cancelled) {
            tally.cancelled += 1;
        } else if item.state == ItemState::Failed || item.outcome == Some(ItemOutcome::Failed) {
            tally.failed += 1;
        } else if item.outcome == Some(ItemOutcome::Succeeded) {
            tally.succeeded += 1;
        }
    }
    tally
}

fn add_counts(total: &mut v1::SyncCounts, counts: &v1::SyncCounts) {
    total.created += counts.created;
    total.updated += counts.updated;
    total.deleted += counts.deleted;
    total.unchanged += counts.unchanged;
    total.failed += counts.failed;
    total.graph_requests += counts.graph_requests;
    total.batched_requests += counts.batched_requests;
    total.retries += counts.retries;
    total.deletes_awaiting_approval += counts.deletes_awaiting_approval;
    total.photos_written += counts.photos_written;
    total.restored += counts.restored;
}

/// A finished item as the API shows it.
pub fn mailbox_result(item: &WorkItemRow) -> v1::MailboxResult {
    let result = item
        .result
        .as_deref()
        .and_then(|bytes| v1::MailboxSyncResult::decode(bytes).ok());
    let outcome = match item.state {
        ItemState::Failed => v1::MailboxOutcome::Failed as i32,
        ItemState::Cancelled => v1::MailboxOutcome::Cancelled as i32,
        _ => result.as_ref().map(|result| result.outcome).unwrap_or(0),
    };
    let mut errors = result
        .as_ref()
        .map(|result| result.errors.clone())
        .unwrap_or_default();
    if !item.last_error.is_empty() && !errors.contains(&item.last_error) {
        errors.push(item.last_error.clone());
    }
    v1::MailboxResult {
        mailbox_id: item.mailbox_id.clone(),
        outcome,
        counts: item_counts(item),
        errors,
        attempts: item.attempt as u32,
    }
}

/// A queued item of `run_id` for one mailbox.
pub(crate) fn new_work_item(
    run_id: &str,
    mailbox_id: &str,
    request: v1::SyncMailboxRequest,
    dry_run: bool,
    max_attempts: u32,
    now: i64,
) -> WorkItemRow {
    WorkItemRow {
        work_item_id: uuid::Uuid::new_v4().to_string(),
        run_id: run_id.to_owned(),
        mailbox_id: mailbox_id.to_owned(),
        request: request.encode_to_vec(),
        dry_run,
        state: ItemState::Queued,
        attempt: 0,
        max_attempts: i64::from(max_attempts),
        available_at: now,
        lease_token: None,
        lease_expires_at: None,
        worker_id: String::new(),
        result: None,
        outcome: None,
        last_error: String::new(),
        progress: None,
    }
}
