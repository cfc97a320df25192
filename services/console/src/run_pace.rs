//! How fast a run writes and when it should end: the rate of contacts
//! written since it started, and the time left if the mailboxes still to do
//! take as long as the ones done so far did.

use std::time::{Duration, SystemTime};

use galsync_proto::v1;

/// What the run page shows beside the counters; plain text of digits and
/// fixed words, so it needs no escaping in HTML or JSON.
#[derive(Debug, PartialEq, Eq)]
pub struct Pace {
    /// e.g. `12.5 contacts/s`.
    pub rate: String,
    /// e.g. `about 2 min left`, or why there is no estimate.
    pub eta: String,
}

/// The pace of `run` as of `now`. An ended run's rate is over its whole
/// length and it has nothing left.
pub fn pace(run: &v1::Run, active: bool, now: SystemTime) -> Pace {
    let Some(started) = run
        .started_at
        .as_ref()
        .or(run.created_at.as_ref())
        .and_then(system_time)
    else {
        return Pace {
            rate: "— contacts/s".to_owned(),
            eta: "no estimate yet".to_owned(),
        };
    };
    let until = match (active, run.finished_at.as_ref().and_then(system_time)) {
        (false, Some(finished)) => finished,
        _ => now,
    };
    let elapsed = until.duration_since(started).unwrap_or_default();
    let counts = run.counts.unwrap_or_default();
    let written = counts.created + counts.updated + counts.deleted;
    let rate = format!("{} contacts/s", per_second(written, elapsed));
    let eta = if !active {
        "ended".to_owned()
    } else if run.mailboxes_done == 0 {
        "estimate after the first mailbox".to_owned()
    } else {
        let left = run.mailboxes_total.saturating_sub(run.mailboxes_done);
        let per_mailbox = elapsed.as_secs_f64() / f64::from(run.mailboxes_done);
        let remaining = Duration::from_secs_f64(per_mailbox * f64::from(left));
        format!("{} left", about(remaining))
    };
    Pace { rate, eta }
}

fn system_time(timestamp: &prost_types::Timestamp) -> Option<SystemTime> {
    SystemTime::try_from(*timestamp).ok()
}

/// One decimal under ten a second, whole numbers above.
fn per_second(written: u64, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    if seconds < 0.5 {
        return "—".to_owned();
    }
    let rate = written as f64 / seconds;
    if rate < 10.0 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.0}")
    }
}

/// A duration as a person would say it: seconds under a minute, minutes
/// (rounded up) under an hour, then hours and minutes.
fn about(remaining: Duration) -> String {
    let seconds = remaining.as_secs();
    if seconds < 60 {
        return format!("about {} s", seconds.max(1));
    }
    let minutes = seconds.div_ceil(60);
    if minutes < 60 {
        return format!("about {minutes} min");
    }
    format!("about {} h {} min", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(done: u32, total: u32, created: u64, started: i64) -> v1::Run {
        v1::Run {
            started_at: Some(prost_types::Timestamp {
                seconds: started,
                nanos: 0,
            }),
            mailboxes_done: done,
            mailboxes_total: total,
            counts: Some(v1::SyncCounts {
                created,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn the_mailboxes_left_take_as_long_as_the_ones_done() {
        let one_of_three_in_a_minute = run(1, 3, 30, 1_000);
        assert_eq!(
            pace(&one_of_three_in_a_minute, true, at(1_060)),
            Pace {
                rate: "0.5 contacts/s".to_owned(),
                eta: "about 2 min left".to_owned(),
            }
        );
        let ninety_of_a_hundred = run(90, 100, 9_000, 1_000);
        assert_eq!(
            pace(&ninety_of_a_hundred, true, at(1_090)),
            Pace {
                rate: "100 contacts/s".to_owned(),
                eta: "about 10 s left".to_owned(),
            }
        );
        let one_of_two_hundred = run(1, 200, 10, 0);
        assert_eq!(
            pace(&one_of_two_hundred, true, at(60)).eta,
            "about 3 h 19 min left"
        );
    }

    #[test]
    fn no_estimate_before_the_first_mailbox_and_none_left_once_ended() {
        let nothing_done = run(0, 3, 0, 1_000);
        assert_eq!(
            pace(&nothing_done, true, at(1_030)).eta,
            "estimate after the first mailbox"
        );
        let mut ended = run(3, 3, 60, 1_000);
        ended.finished_at = Some(prost_types::Timestamp {
            seconds: 1_030,
            nanos: 0,
        });
        assert_eq!(
            pace(&ended, false, at(5_000)),
            Pace {
                rate: "2.0 contacts/s".to_owned(),
                eta: "ended".to_owned(),
            }
        );
    }
}
