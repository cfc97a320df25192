//! A work item's states and outcomes, as the store names them: where the
//! item is in the queue, and how the writer that completed it said it went.

use std::fmt;

use galsync_proto::v1;

/// Where a work item is in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    Queued,
    Leased,
    Done,
    Failed,
    Cancelled,
    /// An awaiting-approval item replaced by its approved re-run.
    Superseded,
}

impl ItemState {
    /// Every state, in lifecycle order.
    pub const ALL: [ItemState; 6] = [
        ItemState::Queued,
        ItemState::Leased,
        ItemState::Done,
        ItemState::Failed,
        ItemState::Cancelled,
        ItemState::Superseded,
    ];

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

    /// The name in the store and the metrics' `state` label.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Queued => "queued",
            ItemState::Leased => "leased",
            ItemState::Done => "done",
            ItemState::Failed => "failed",
            ItemState::Cancelled => "cancelled",
            ItemState::Superseded => "superseded",
        }
    }

    pub fn parse(text: &str) -> Option<ItemState> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }
}

impl fmt::Display for ItemState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A stored state the scheduler does not know: the store was written by
/// something other than galsync's migrations.
#[derive(Debug, thiserror::Error)]
#[error("unknown work item state {0:?} in the store")]
pub struct UnknownItemState(String);

impl TryFrom<String> for ItemState {
    type Error = UnknownItemState;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        ItemState::parse(&text).ok_or(UnknownItemState(text))
    }
}

/// How the writer that completed an item said the mailbox went. An item no
/// writer completed (queued, leased, retried, failed or cancelled by the
/// scheduler) has none: `Option<ItemOutcome>`, stored as `""`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemOutcome {
    Succeeded,
    /// Some contacts failed; the rest were written.
    Partial,
    Failed,
    /// Deletes exceeded the guard and wait for approval.
    AwaitingApproval,
    /// The run was cancelled before the mailbox finished.
    Cancelled,
}

impl ItemOutcome {
    pub const ALL: [ItemOutcome; 5] = [
        ItemOutcome::Succeeded,
        ItemOutcome::Partial,
        ItemOutcome::Failed,
        ItemOutcome::AwaitingApproval,
        ItemOutcome::Cancelled,
    ];

    /// The name in the store and the metrics' `outcome` label.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemOutcome::Succeeded => "succeeded",
            ItemOutcome::Partial => "partial",
            ItemOutcome::Failed => "failed",
            ItemOutcome::AwaitingApproval => "awaiting-approval",
            ItemOutcome::Cancelled => "cancelled",
        }
    }

    /// The stored text of an item's outcome: `""` when it has none.
    pub fn stored(outcome: Option<ItemOutcome>) -> &'static str {
        outcome.map_or("", ItemOutcome::as_str)
    }

    pub fn parse(text: &str) -> Option<ItemOutcome> {
        Self::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
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

impl fmt::Display for ItemOutcome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// An item's outcome column as the store holds it, read through
/// `Option<ItemOutcome>`'s `TryFrom` (`""` is none).
#[derive(Debug, sqlx::Type)]
#[sqlx(transparent)]
pub struct StoredOutcome(String);

/// A stored outcome the scheduler does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown work item outcome {0:?} in the store")]
pub struct UnknownItemOutcome(String);

impl TryFrom<StoredOutcome> for Option<ItemOutcome> {
    type Error = UnknownItemOutcome;

    fn try_from(StoredOutcome(text): StoredOutcome) -> Result<Self, Self::Error> {
        if text.is_empty() {
            return Ok(None);
        }
        match ItemOutcome::parse(&text) {
            Some(outcome) => Ok(Some(outcome)),
            None => Err(UnknownItemOutcome(text)),
        }
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
