//! A work item's states and outcomes, as the store names them: where the
//! item is in the queue, and how the writer that completed it said it went.

use galsync_proto::v1;

galsync_platform::stored_names! {
    /// Where a work item is in the queue.
    pub enum ItemState as "work item state" {
        Queued = "queued",
        Leased = "leased",
        Done = "done",
        Failed = "failed",
        Cancelled = "cancelled",
        /// An awaiting-approval item replaced by its approved re-run.
        Superseded = "superseded",
    }
}

impl ItemState {
    /// The states an item never leaves.
    pub const TERMINAL: [ItemState; 4] = [
        ItemState::Done,
        ItemState::Failed,
        ItemState::Cancelled,
        ItemState::Superseded,
    ];

    pub fn is_terminal(self) -> bool {
        Self::TERMINAL.contains(&self)
    }
}

galsync_platform::stored_names! {
    /// How the writer that completed an item said the mailbox went. An item
    /// no writer completed (queued, leased, retried, failed or cancelled by
    /// the scheduler) has none: `Option<ItemOutcome>`, stored as `""`.
    pub enum ItemOutcome as "work item outcome" {
        Succeeded = "succeeded",
        /// Some contacts failed; the rest were written.
        Partial = "partial",
        Failed = "failed",
        /// Deletes exceeded the guard and wait for approval.
        AwaitingApproval = "awaiting-approval",
        /// The run was cancelled before the mailbox finished.
        Cancelled = "cancelled",
    }
}

impl ItemOutcome {
    /// The stored text of an item's outcome: `""` when it has none.
    pub fn stored(outcome: Option<ItemOutcome>) -> &'static str {
        outcome.map_or("", ItemOutcome::as_str)
    }

    /// What a writer reported; one that said nothing succeeded.
    pub fn from_proto(outcome: v1::MailboxOutcome) -> ItemOutcome {
        match outcome {
            v1::MailboxOutcome::Succeeded | v1::MailboxOutcome::Unspecified => {
                ItemOutcome::Succeeded
            }
            v1::MailboxOutcome::Partial => ItemOutcome::Partial,
            v1::MailboxOutcome::Failed => ItemOutcome::Failed,
            v1::MailboxOutcome::AwaitingApproval => ItemOutcome::AwaitingApproval,
            v1::MailboxOutcome::Cancelled => ItemOutcome::Cancelled,
        }
    }
}

/// An item's outcome column as the store holds it, read through
/// `Option<ItemOutcome>`'s `TryFrom` (`""` is none).
#[derive(Debug, sqlx::Type)]
#[sqlx(transparent)]
pub struct StoredOutcome(String);

impl TryFrom<StoredOutcome> for Option<ItemOutcome> {
    type Error = galsync_platform::stored_name::UnknownStoredName;

    fn try_from(StoredOutcome(text): StoredOutcome) -> Result<Self, Self::Error> {
        if text.is_empty() {
            return Ok(None);
        }
        ItemOutcome::try_from(text).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_as_it_is_stored() {
        for state in ItemState::ALL {
            assert_eq!(
                ItemState::try_from(state.as_str().to_owned()).unwrap(),
                state
            );
        }
        assert!(ItemState::try_from("paused".to_owned()).is_err());
    }

    #[test]
    fn every_outcome_reads_back_as_it_is_stored() {
        for outcome in ItemOutcome::ALL.map(Some).into_iter().chain([None]) {
            let stored = StoredOutcome(ItemOutcome::stored(outcome).to_owned());
            assert_eq!(Option::<ItemOutcome>::try_from(stored).unwrap(), outcome);
        }
        assert_eq!(ItemOutcome::stored(None), "");
        assert!(Option::<ItemOutcome>::try_from(StoredOutcome("skipped".to_owned())).is_err());
    }
}
