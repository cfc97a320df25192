//! Graph's throttling, in one place: per app per mailbox ([`mailbox`]), per
//! app per tenant on the directory ([`directory`]) and per app across all
//! tenants ([`app`]). Each refuses with a 429 whose `Retry-After` comes from
//! [`retry_after_secs`].

pub mod app;
pub mod directory;
pub mod mailbox;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Seconds for a Retry-After header: whole seconds at real time scale,
/// milliseconds (rounded up) when the time scale makes windows short.
pub fn retry_after_secs(wait: Duration, time_scale: f64) -> f64 {
    let secs = wait.as_secs_f64();
    if time_scale >= 1.0 {
        secs.ceil().max(1.0)
    } else {
        ((secs * 1000.0).ceil() / 1000.0).max(0.001)
    }
}

/// Drops what left the sliding `window` from `admitted` (oldest first); when
/// it holds `limit` or more, says how long until the oldest leaves.
pub(crate) fn window_room(
    admitted: &mut VecDeque<Instant>,
    window: Duration,
    limit: u32,
    now: Instant,
) -> Result<(), Duration> {
    while admitted
        .front()
        .is_some_and(|admitted_at| *admitted_at + window <= now)
    {
        admitted.pop_front();
    }
    if admitted.len() >= limit as usize {
        let oldest = admitted.front().copied().unwrap_or(now);
        return Err((oldest + window).saturating_duration_since(now));
    }
    Ok(())
}
