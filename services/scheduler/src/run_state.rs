//! A run's states, as the store names them and the API shows them: the
//! run's lifecycle, shared by the scheduler, its driver and its metrics.

use galsync_proto::v1;

galsync_platform::stored_names! {
    /// Where a run is in its lifecycle.
    pub enum RunState as "run state" {
        Queued = "queued",
        Reading = "reading",
        Writing = "writing",
        Succeeded = "succeeded",
        PartiallyFailed = "partially-failed",
        Failed = "failed",
        Cancelled = "cancelled",
        /// Ended its writes with deletions held by the deletion guard.
        AwaitingApproval = "awaiting-approval",
    }
}

impl RunState {
    /// The states of a run a driver still moves along.
    pub const ACTIVE: [RunState; 3] = [RunState::Queued, RunState::Reading, RunState::Writing];

    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
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
