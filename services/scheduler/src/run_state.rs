//! A run's states, as the store names them and the API shows them: the
//! run's lifecycle, shared by the scheduler, its driver and its metrics.

use std::fmt;

use galsync_proto::v1;

/// Where a run is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Queued,
    Reading,
    Writing,
    Succeeded,
    PartiallyFailed,
    Failed,
    Cancelled,
    /// Ended its writes with deletions held by the deletion guard.
    AwaitingApproval,
}

impl RunState {
    /// Every state, in lifecycle order.
    pub const ALL: [RunState; 8] = [
        RunState::Queued,
        RunState::Reading,
        RunState::Writing,
        RunState::Succeeded,
        RunState::PartiallyFailed,
        RunState::Failed,
        RunState::Cancelled,
        RunState::AwaitingApproval,
    ];

    /// The states of a run a driver still moves along.
    pub const ACTIVE: [RunState; 3] = [RunState::Queued, RunState::Reading, RunState::Writing];

    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }

    /// The name in the store, the metrics' `state` label and the logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Reading => "reading",
            RunState::Writing => "writing",
            RunState::Succeeded => "succeeded",
            RunState::PartiallyFailed => "partially-failed",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
            RunState::AwaitingApproval => "awaiting-approval",
        }
    }

    pub fn parse(text: &str) -> Option<RunState> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    pub fn to_proto(self) -> v1::RunState {
        match self {
            RunState::Queued => v1::RunState::Queued,
            RunState::Reading => v1::RunState::Reading,
            RunState::Writing => v1::RunState::Writing,
            RunState::Succeeded => v1::RunState::Succeeded,
            RunState::PartiallyFailed => v1::RunState::PartiallyFailed,
            RunState::Failed => v1::RunState::Failed,
            RunState::Cancelled => v1::RunState::Cancelled,
            RunState::AwaitingApproval => v1::RunState::AwaitingApproval,
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A stored state the scheduler does not know: the store was written by
/// something other than galsync's migrations.
#[derive(Debug, thiserror::Error)]
#[error("unknown run state {0:?} in the store")]
pub struct UnknownRunState(String);

impl TryFrom<String> for RunState {
    type Error = UnknownRunState;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        RunState::parse(&text).ok_or(UnknownRunState(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_as_it_is_stored() {
        for state in RunState::ALL {
            assert_eq!(
                RunState::try_from(state.as_str().to_owned()).unwrap(),
                state
            );
        }
        assert!(RunState::try_from("paused".to_owned()).is_err());
    }
}
