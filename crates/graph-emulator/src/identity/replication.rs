//! The replication delay: how long a write through Graph (a new application,
//! service principal, key credential or app role assignment) takes to reach
//! Entra's token endpoint.
//!
//! Entra ID is a replicated directory: right after provisioning, the token
//! endpoint can still answer AADSTS700016 ("Application … was not found in
//! the directory … if you've just created the app, wait a few minutes") for
//! a new app, AADSTS700027 for a new key, or issue tokens without a newly
//! granted role
//! (https://learn.microsoft.com/entra/identity-platform/reference-error-codes,
//! https://learn.microsoft.com/graph/permissions-grant-via-msgraph). The
//! emulator makes that window explicit and always present, so a client that
//! asks for a token straight after provisioning fails here as it can there.
//! Graph reads are not delayed.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::IdentityStore;

/// The default delay at time scale 1.
pub const DEFAULT_REPLICATION_DELAY: Duration = Duration::from_secs(5);

impl IdentityStore {
    /// Sets the delay (already time-scaled).
    pub fn set_replication_delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.replication_delay_ms.store(millis, Ordering::Relaxed);
    }

    /// The delay (time-scaled).
    pub fn replication_delay(&self) -> Duration {
        Duration::from_millis(self.replication_delay_ms.load(Ordering::Relaxed))
    }

    /// When a write made now reaches the token endpoint, in Unix milliseconds.
    pub fn replicated_from_ms(&self) -> i64 {
        let delay_ms = i64::try_from(self.replication_delay_ms.load(Ordering::Relaxed))
            .unwrap_or(i64::MAX / 4);
        self.now_ms().saturating_add(delay_ms)
    }
}
