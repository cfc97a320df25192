//! Graph's Outlook limits per app per mailbox: at most `mailbox_concurrency`
//! requests in flight, at most `mailbox_requests_per_window` per sliding
//! (time-scaled) window, at most 150 MB uploaded (POST, PATCH, PUT bodies)
//! per (time-scaled) 5 minutes. The faults middleware asks [`admit_request`] before
//! it runs any mailbox request, including `$batch` sub-requests, and holds the
//! returned guard until the response exists.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{retry_after_secs, window_room};
use crate::accounting::ThrottleSubject;
use crate::errors::GraphError;
use crate::{AppState, EmulatorConfig};

#[derive(Debug, Default)]
pub struct MailboxThrottle {
    subjects: Mutex<HashMap<ThrottleSubject, Arc<SubjectLimits>>>,
}

/// Bytes one app may upload to one mailbox per [`UPLOAD_WINDOW`].
pub const UPLOAD_LIMIT_BYTES: u64 = 150 * 1024 * 1024;
/// The upload window at time scale 1.
pub const UPLOAD_WINDOW: Duration = Duration::from_secs(300);

#[derive(Debug, Default)]
struct SubjectLimits {
    in_flight: AtomicU32,
    occupancy: Mutex<Occupancy>,
    /// When each request of the current window was admitted, oldest first.
    admitted: Mutex<VecDeque<Instant>>,
    uploads: Mutex<UploadWindow>,
}

/// Upload sizes of the current upload window, oldest first, and their sum.
#[derive(Debug, Default)]
struct UploadWindow {
    entries: VecDeque<(Instant, u64)>,
    total: u64,
}

/// How one mailbox's slots were used: from the first admission to the last
/// release, how long slots were held in all and how much of that was the
/// modelled latency. Held ÷ (4 × span) says how close a client kept the
/// mailbox to Graph's 4 in flight.
#[derive(Debug, Default, Clone, Copy)]
struct Occupancy {
    first: Option<Instant>,
    last: Option<Instant>,
    held: Duration,
    latency: Duration,
}

/// The mailbox slots' use summed over every mailbox since the last reset.
#[derive(Debug, Default, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlotUse {
    pub mailboxes: u64,
    /// Σ per mailbox of last release − first admission, in seconds.
    pub span_secs: f64,
    /// Σ of the time every admitted request held its slot, in seconds.
    pub held_secs: f64,
    /// Σ of the modelled latency slept while holding a slot, in seconds.
    pub latency_secs: f64,
}

/// Holds one in-flight slot of a mailbox; releases it on drop.
#[derive(Debug)]
pub struct InFlightGuard {
    limits: Arc<SubjectLimits>,
    admitted_at: Instant,
    latency: Duration,
    /// False for a refusal: its slot was never really held.
    admitted: bool,
}

impl InFlightGuard {
    /// Notes the modelled latency this request sleeps while holding the slot.
    pub fn holds_latency(&mut self, latency: Duration) {
        self.latency += latency;
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.limits.in_flight.fetch_sub(1, Ordering::AcqRel);
        if !self.admitted {
            return;
        }
        let now = Instant::now();
        let mut occupancy = self
            .limits
            .occupancy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        occupancy.first = Some(
            occupancy
                .first
                .map_or(self.admitted_at, |first| first.min(self.admitted_at)),
        );
        occupancy.last = Some(occupancy.last.map_or(now, |last| last.max(now)));
        occupancy.held += now.saturating_duration_since(self.admitted_at);
        occupancy.latency += self.latency;
    }
}

impl MailboxThrottle {
    fn limits(&self, subject: ThrottleSubject) -> Arc<SubjectLimits> {
        let mut subjects = self
            .subjects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        subjects.entry(subject).or_default().clone()
    }

    /// Takes an in-flight slot and a window slot for `subject`, or says how
    /// long to wait.
    pub fn admit(
        &self,
        config: &EmulatorConfig,
        subject: ThrottleSubject,
        upload_bytes: u64,
    ) -> Result<InFlightGuard, GraphError> {
        let limits = self.limits(subject);
        let previously_in_flight = limits.in_flight.fetch_add(1, Ordering::AcqRel);
        // From here on the guard owns the slot, so every early return frees it.
        let mut guard = InFlightGuard {
            limits,
            admitted_at: Instant::now(),
            latency: Duration::ZERO,
            admitted: false,
        };
        if previously_in_flight >= config.mailbox_concurrency {
            let wait = config.scaled(Duration::from_secs(1));
            return Err(GraphError::throttled(
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                retry_after_secs(wait, config.time_scale),
            ));
        }
        let window = config.scaled(config.mailbox_window);
        let now = Instant::now();
        let mut admitted = guard
            .limits
            .admitted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(wait) = window_room(
            &mut admitted,
            window,
            config.mailbox_requests_per_window,
            now,
        ) {
            return Err(GraphError::throttled(
                "ApplicationThrottled",
                "Application is over its MailboxRequestRate limit.",
                retry_after_secs(wait, config.time_scale),
            ));
        }
        if upload_bytes > 0 {
            check_upload(&guard.limits, config, now, upload_bytes)?;
        }
        admitted.push_back(now);
        drop(admitted);
        guard.admitted = true;
        Ok(guard)
    }

    /// How the mailboxes' slots were used since the last [`Self::reset_use`].
    pub fn slot_use(&self) -> SlotUse {
        let subjects: Vec<Arc<SubjectLimits>> = self
            .subjects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .cloned()
            .collect();
        let mut total = SlotUse::default();
        for limits in subjects {
            let occupancy = *limits
                .occupancy
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let (Some(first), Some(last)) = (occupancy.first, occupancy.last) else {
                continue;
            };
            total.mailboxes += 1;
            total.span_secs += last.saturating_duration_since(first).as_secs_f64();
            total.held_secs += occupancy.held.as_secs_f64();
            total.latency_secs += occupancy.latency.as_secs_f64();
        }
        total
    }

    /// Starts counting slot use afresh (the request counters' reset).
    pub fn reset_use(&self) {
        let subjects = self
            .subjects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for limits in subjects.values() {
            *limits
                .occupancy
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Occupancy::default();
        }
    }

    /// Requests of `subject` in flight right now.
    pub fn in_flight(&self, subject: &ThrottleSubject) -> u32 {
        let subjects = self
            .subjects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        subjects
            .get(subject)
            .map(|limits| limits.in_flight.load(Ordering::Acquire))
            .unwrap_or(0)
    }
}

/// Records `upload_bytes` in the upload window, or refuses with the time
/// until enough of the window has passed.
fn check_upload(
    limits: &SubjectLimits,
    config: &EmulatorConfig,
    now: Instant,
    upload_bytes: u64,
) -> Result<(), GraphError> {
    let window = config.scaled(UPLOAD_WINDOW);
    let mut uploads = limits
        .uploads
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    while let Some((uploaded_at, bytes)) = uploads.entries.front().copied() {
        if uploaded_at + window > now {
            break;
        }
        uploads.entries.pop_front();
        uploads.total -= bytes;
    }
    if uploads.total + upload_bytes > UPLOAD_LIMIT_BYTES {
        // Wait until enough old uploads leave the window to fit this one.
        let mut freed = 0;
        let mut wait = window;
        for (uploaded_at, bytes) in uploads.entries.iter() {
            freed += bytes;
            if uploads.total - freed + upload_bytes <= UPLOAD_LIMIT_BYTES {
                wait = (*uploaded_at + window).saturating_duration_since(now);
                break;
            }
        }
        return Err(GraphError::throttled(
            "ApplicationThrottled",
            "Application is over its IncomingBytes limit.",
            retry_after_secs(wait, config.time_scale),
        ));
    }
    uploads.entries.push_back((now, upload_bytes));
    uploads.total += upload_bytes;
    Ok(())
}

/// The throttling decision for one Graph request: `Ok(None)` when no mailbox
/// limit applies (limits off, not a mailbox call, no valid token).
pub fn admit_request(
    state: &AppState,
    subject: &ThrottleSubject,
    headers: &axum::http::HeaderMap,
) -> Result<Option<InFlightGuard>, GraphError> {
    if !state.config.limits_enabled || subject.mailbox.is_empty() || subject.app.is_empty() {
        return Ok(None);
    }
    // A mailbox addressed by UPN and by id is one mailbox.
    let mailbox = subject
        .tenant
        .parse::<uuid::Uuid>()
        .ok()
        .and_then(|tenant_id| {
            state
                .directory
                .mailbox_user(tenant_id, &subject.mailbox)
                .ok()
        })
        .unwrap_or_else(|| subject.mailbox.to_ascii_lowercase());
    let normalised = ThrottleSubject {
        tenant: subject.tenant.clone(),
        app: subject.app.clone(),
        mailbox,
    };
    let upload_bytes = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(0);
    state
        .mailboxes
        .throttle
        .admit(&state.config, normalised, upload_bytes)
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> ThrottleSubject {
        ThrottleSubject {
            tenant: "t".to_owned(),
            app: "a".to_owned(),
            mailbox: "m".to_owned(),
        }
    }

    #[test]
    fn a_fifth_request_in_flight_is_refused_until_one_finishes() {
        let throttle = MailboxThrottle::default();
        let config = EmulatorConfig::default();
        let mut guards = Vec::new();
        for _ in 0..4 {
            guards.push(
                throttle
                    .admit(&config, subject(), 0)
                    .expect("within the limit"),
            );
        }
        let refused = throttle
            .admit(&config, subject(), 0)
            .expect_err("fifth in flight");
        assert_eq!(refused.code, "ApplicationThrottled");
        assert!(refused.message.contains("MailboxConcurrency"));
        assert_eq!(throttle.in_flight(&subject()), 4);
        guards.pop();
        assert!(throttle.admit(&config, subject(), 0).is_ok());
    }

    #[test]
    fn slot_use_counts_held_time_over_the_span_and_skips_refusals() {
        let throttle = MailboxThrottle::default();
        let config = EmulatorConfig::default();
        let mut two: Vec<InFlightGuard> = (0..2)
            .map(|_| throttle.admit(&config, subject(), 0).expect("admitted"))
            .collect();
        for guard in &mut two {
            guard.holds_latency(Duration::from_millis(30));
        }
        std::thread::sleep(Duration::from_millis(40));
        drop(two);
        let mut four: Vec<InFlightGuard> = (0..4)
            .map(|_| throttle.admit(&config, subject(), 0).expect("admitted"))
            .collect();
        drop(throttle.admit(&config, subject(), 0).expect_err("a fifth"));
        std::thread::sleep(Duration::from_millis(40));
        four.clear();
        let used = throttle.slot_use();
        assert_eq!(used.mailboxes, 1);
        // Two held for the first ~40 ms, four for the next: about 3 of 4 on
        // average; the refused fifth held nothing.
        let in_flight = used.held_secs / used.span_secs;
        assert!((2.5..=3.1).contains(&in_flight), "{used:?}");
        assert!((used.latency_secs - 0.06).abs() < 1e-9, "{used:?}");
        throttle.reset_use();
        assert_eq!(throttle.slot_use(), SlotUse::default());
    }

    #[test]
    fn the_window_refuses_with_the_time_until_a_slot_frees() {
        let throttle = MailboxThrottle::default();
        let config = EmulatorConfig {
            mailbox_requests_per_window: 2,
            time_scale: 0.01,
            ..EmulatorConfig::default()
        };
        for _ in 0..2 {
            drop(
                throttle
                    .admit(&config, subject(), 0)
                    .expect("within the window"),
            );
        }
        let refused = throttle
            .admit(&config, subject(), 0)
            .expect_err("window full");
        let retry_after = refused.retry_after_secs.expect("retry-after");
        assert!(retry_after > 5.0 && retry_after <= 6.0, "{retry_after}");
        assert_eq!(throttle.in_flight(&subject()), 0);
    }

    #[test]
    fn uploads_over_150_mb_per_window_are_refused() {
        let throttle = MailboxThrottle::default();
        let config = EmulatorConfig::default();
        let hundred_mb = 100 * 1024 * 1024;
        drop(
            throttle
                .admit(&config, subject(), hundred_mb)
                .expect("first upload"),
        );
        let refused = throttle
            .admit(&config, subject(), hundred_mb)
            .expect_err("over 150 MB");
        assert!(refused.message.contains("IncomingBytes"));
        assert!(throttle.admit(&config, subject(), 1024).is_ok());
    }

    #[test]
    fn retry_after_is_whole_seconds_at_real_time() {
        assert_eq!(retry_after_secs(Duration::from_millis(1200), 1.0), 2.0);
        assert_eq!(retry_after_secs(Duration::from_micros(1500), 0.01), 0.002);
    }
}
