//! The emulator's clock: real time plus an offset tests can move forward (to
//! expire tokens and assertions) without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Default)]
pub struct Clock {
    offset_millis: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_millis.load(Ordering::Relaxed))
    }

    /// Seconds since the Unix epoch, as JWT claims count them.
    pub fn unix_now(&self) -> i64 {
        self.now().timestamp()
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        self.offset_millis
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}
