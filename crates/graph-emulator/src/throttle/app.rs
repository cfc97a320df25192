//! Graph's global limit: one app may make at most 130,000 requests per 10
//! seconds across all tenants (throttling-limits, "global limits":
//! <https://learn.microsoft.com/graph/throttling-limits>, "Any request … per
//! app across all tenants: 130,000 requests per 10 seconds").
//!
//! The strictest reading is counted: every request — each `$batch` step and
//! the `$batch` envelope itself — takes one place in the app's sliding
//! (time-scaled) window; a request over the limit is refused with 429 and a
//! Retry-After for when the window has room again, and takes no place.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{retry_after_secs, window_room};
use crate::errors::GraphError;
use crate::EmulatorConfig;

#[derive(Debug, Default)]
pub struct GlobalLimit {
    /// Per app (client id): when each request of the current window was admitted.
    apps: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl GlobalLimit {
    /// Counts one request of `app`, or refuses it with the wait.
    pub fn admit(&self, config: &EmulatorConfig, app: &str) -> Result<(), GraphError> {
        let window = config.scaled(config.app_window);
        let now = Instant::now();
        let mut apps = self
            .apps
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let admitted = apps.entry(app.to_owned()).or_default();
        if let Err(wait) = window_room(admitted, window, config.app_requests_per_window, now) {
            return Err(GraphError::throttled(
                "TooManyRequests",
                format!(
                    "Application is over its global limit of {} requests per {} seconds across all tenants.",
                    config.app_requests_per_window,
                    config.app_window.as_secs_f64()
                ),
                retry_after_secs(wait.max(Duration::from_micros(1)), config.time_scale),
            ));
        }
        admitted.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_per_app_and_refuses_with_the_wait() {
        let limit = GlobalLimit::default();
        let config = EmulatorConfig {
            app_requests_per_window: 3,
            time_scale: 0.01,
            ..EmulatorConfig::default()
        };
        for _ in 0..3 {
            limit.admit(&config, "app-a").expect("within the limit");
        }
        let refused = limit.admit(&config, "app-a").expect_err("over the limit");
        assert_eq!(refused.code, "TooManyRequests");
        assert!(
            refused.message.contains("global limit of 3"),
            "{}",
            refused.message
        );
        let retry_after = refused.retry_after_secs.expect("retry-after");
        assert!(retry_after > 0.0 && retry_after <= 0.1, "{retry_after}");
        limit
            .admit(&config, "app-b")
            .expect("another app has its own window");
        std::thread::sleep(Duration::from_millis(110));
        limit
            .admit(&config, "app-a")
            .expect("the window has passed");
    }
}
