//! A run's states as the store and the API name them: the run's lifecycle,
//! shared by the scheduler, its driver and its metrics.

pub const STATE_QUEUED: &str = "queued";
pub const STATE_READING: &str = "reading";
pub const STATE_WRITING: &str = "writing";
pub const STATE_SUCCEEDED: &str = "succeeded";
pub const STATE_PARTIALLY_FAILED: &str = "partially-failed";
pub const STATE_FAILED: &str = "failed";
pub const STATE_CANCELLED: &str = "cancelled";
pub const STATE_AWAITING_APPROVAL: &str = "awaiting-approval";
pub const ACTIVE_STATES: &[&str] = &[STATE_QUEUED, STATE_READING, STATE_WRITING];
