//! Schedules: an interval, or a cron expression in a time zone; at most
//! one run a minute either way.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use galsync_proto::v1;

use super::{echo, invalid};
use crate::error::SchedulerError;

/// Shortest schedule interval accepted.
pub const MIN_INTERVAL_SECONDS: u32 = 60;

pub(super) fn validate_schedule(schedule: &v1::Schedule) -> Result<(), SchedulerError> {
    if !schedule.time_zone.trim().is_empty()
        && chrono_tz::Tz::from_str(schedule.time_zone.trim()).is_err()
    {
        return Err(invalid(
            "spec.schedule.time_zone",
            format!(
                "`{}` is not an IANA time zone such as Europe/Berlin",
                schedule.time_zone
            ),
        ));
    }
    match &schedule.kind {
        Some(v1::schedule::Kind::IntervalSeconds(seconds)) => {
            if *seconds < MIN_INTERVAL_SECONDS {
                return Err(invalid(
                    "spec.schedule.interval_seconds",
                    format!("must be at least {MIN_INTERVAL_SECONDS} seconds"),
                ));
            }
            Ok(())
        }
        Some(v1::schedule::Kind::Cron(expression)) => {
            parse_cron(expression).map(|_| ())?;
            Ok(())
        }
        None => Err(invalid(
            "spec.schedule",
            "has neither interval_seconds nor cron",
        )),
    }
}

/// Parses a cron expression; five fields (minute hour day month weekday) get
/// a seconds field of 0 prepended.
fn parse_cron(expression: &str) -> Result<cron::Schedule, SchedulerError> {
    let trimmed = expression.trim();
    let fields = trimmed.split_whitespace().count();
    let full = if fields == 5 {
        format!("0 {trimmed}")
    } else {
        trimmed.to_owned()
    };
    let schedule = cron::Schedule::from_str(&full).map_err(|error| {
        invalid(
            "spec.schedule.cron",
            format!(
                "`{}` is not a cron expression ({error}); e.g. \"0 6 * * *\" for 06:00 daily",
                echo(trimmed)
            ),
        )
    })?;
    // The same floor as interval_seconds: a cron that fires twice within a
    // minute (a seconds field such as `*` or `*/30`) is refused.
    let upcoming: Vec<DateTime<Utc>> = schedule.upcoming(Utc).take(120).collect();
    for pair in upcoming.windows(2) {
        if (pair[1] - pair[0]).num_seconds() < i64::from(MIN_INTERVAL_SECONDS) {
            return Err(invalid(
                "spec.schedule.cron",
                format!(
                    "`{}` fires more often than once a minute; schedules run at most every {MIN_INTERVAL_SECONDS} s, e.g. \"*/5 * * * *\" for every 5 minutes",
                    echo(trimmed)
                ),
            ));
        }
    }
    Ok(schedule)
}

/// The next time a schedule fires after `after`.
pub fn next_run(schedule: Option<&v1::Schedule>, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let schedule = schedule?;
    match &schedule.kind {
        Some(v1::schedule::Kind::IntervalSeconds(seconds)) => {
            Some(after + chrono::Duration::seconds(i64::from(*seconds)))
        }
        Some(v1::schedule::Kind::Cron(expression)) => {
            let parsed = parse_cron(expression).ok()?;
            let zone = chrono_tz::Tz::from_str(schedule.time_zone.trim()).unwrap_or(chrono_tz::UTC);
            let local = after.with_timezone(&zone);
            parsed
                .after(&local)
                .next()
                .map(|next| next.with_timezone(&Utc))
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_runs_in_its_time_zone() {
        let schedule = v1::Schedule {
            kind: Some(v1::schedule::Kind::Cron("0 6 * * *".to_owned())),
            time_zone: "Europe/Berlin".to_owned(),
        };
        let after = DateTime::parse_from_rfc3339("2026-01-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let next = next_run(Some(&schedule), after).unwrap();
        // 06:00 in Berlin in winter is 05:00 UTC, the next day.
        assert_eq!(next.to_rfc3339(), "2026-01-11T05:00:00+00:00");
        let interval = v1::Schedule {
            kind: Some(v1::schedule::Kind::IntervalSeconds(3600)),
            time_zone: String::new(),
        };
        assert_eq!(
            next_run(Some(&interval), after).unwrap() - after,
            chrono::Duration::hours(1)
        );
    }
}
