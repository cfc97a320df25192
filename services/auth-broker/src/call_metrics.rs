//! Calls to the broker's administration RPCs (tenants, certificates,
//! consent, Test Connection, the audit log), counted per RPC as
//! `galsync_broker_calls_total{rpc="galsync.v1.AuthBroker/…"}` whether the
//! caller was allowed or refused: how hard the console and the CLI lean on
//! the broker (a page view of the console's overview is one call). Token
//! requests have their own counters (`galsync_broker_tokens_*_total`).

use std::sync::atomic::Ordering;

use galsync_platform::metrics::series;

use crate::broker::Broker;

const CALLS: &str = "galsync_broker_calls_total";

impl Broker {
    /// Counts one call of `rpc`, a fully qualified method name the broker
    /// serves (never a name a caller chose, so the series stay few).
    pub(crate) fn count_call(&self, rpc: &str) {
        self.metrics
            .counter(
                &series(CALLS, "rpc", rpc),
                "administration calls the auth-broker answered, by rpc",
            )
            .fetch_add(1, Ordering::Relaxed);
    }
}
