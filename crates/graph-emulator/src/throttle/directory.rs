//! Directory throttling: each (tenant, app) pair gets a budget of requests per
//! window (`directory_requests_per_window` per scaled `directory_window`), as
//! Entra's per-app-per-tenant resource-unit budget. Past it, 429
//! `Request_ThrottledTemporarily` with a `Retry-After` until the window ends —
//! whole seconds at real time scale, decimal seconds when time is scaled down.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use uuid::Uuid;

use super::retry_after_secs;
use crate::errors::GraphError;
use crate::EmulatorConfig;

#[derive(Debug)]
struct Window {
    started: Instant,
    used: u32,
}

#[derive(Debug, Default)]
pub struct DirectoryThrottle {
    windows: Mutex<HashMap<(Uuid, String), Window>>,
}

impl DirectoryThrottle {
    /// Charges one request to (tenant, app); `Err` is the 429 to send.
    pub fn charge(
        &self,
        config: &EmulatorConfig,
        tenant_id: Uuid,
        app: &str,
    ) -> Result<(), GraphError> {
        if !config.limits_enabled {
            return Ok(());
        }
        let window_length = config.scaled(config.directory_window);
        let budget = config.directory_requests_per_window;
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let window = windows
            .entry((tenant_id, app.to_owned()))
            .or_insert(Window {
                started: now,
                used: 0,
            });
        if now.duration_since(window.started) >= window_length {
            window.started = now;
            window.used = 0;
        }
        if window.used < budget {
            window.used += 1;
            return Ok(());
        }
        let remaining = window_length.saturating_sub(now.duration_since(window.started));
        let retry_after = retry_after_secs(remaining, config.time_scale);
        Err(GraphError::throttled(
            "Request_ThrottledTemporarily",
            format!(
                "Your request is throttled temporarily. Please try after {} seconds.",
                crate::errors::format_retry_after(retry_after)
            ),
            retry_after,
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn budget_exhaustion_throttles_with_the_window_remainder() {
        let config = EmulatorConfig {
            limits_enabled: true,
            time_scale: 0.01,
            directory_requests_per_window: 2,
            directory_window: Duration::from_secs(100),
            ..EmulatorConfig::default()
        };
        let throttle = DirectoryThrottle::default();
        let tenant = Uuid::new_v4();
        assert!(throttle.charge(&config, tenant, "app").is_ok());
        assert!(throttle.charge(&config, tenant, "app").is_ok());
        let error = throttle
            .charge(&config, tenant, "app")
            .expect_err("third request exceeds the budget of two");
        assert_eq!(error.status.as_u16(), 429);
        let retry_after = error.retry_after_secs.unwrap_or_default();
        assert!(retry_after > 0.0 && retry_after <= 1.0, "{retry_after}");
        // Another app of the same tenant has its own budget.
        assert!(throttle.charge(&config, tenant, "other-app").is_ok());
    }
}
