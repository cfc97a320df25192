//! Core admin routes: request counters, fault rules, the clock, the cost model, the floor.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::faults::FaultRule;
use crate::floor::{Floor, Scenario};
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/_admin/requests",
            get(list_requests).delete(reset_requests),
        )
        .route(
            "/_admin/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_admin/clock/advance", post(advance_clock))
        .route("/_admin/cost-model", get(cost_model))
        .route("/_admin/floor", post(floor))
        .route("/_admin/health", get(|| async { "ok" }))
}

async fn list_requests(State(state): State<AppState>) -> Json<serde_json::Value> {
    let counters = state.accounting.snapshot();
    let total: u64 = counters.iter().map(|counter| counter.count).sum();
    Json(json!({
        "total": total,
        "totals": state.accounting.totals(),
        "early_retries": state.accounting.early_retry_total(),
        // How long after their 429 the early retries arrived, in ms buckets.
        "early_retry_delays": crate::accounting::EARLY_RETRY_BUCKETS_MILLIS
            .iter()
            .map(|bound| format!("<{bound}"))
            .chain([format!(">={}", crate::accounting::EARLY_RETRY_BUCKETS_MILLIS[3])])
            .zip(state.accounting.early_retry_delays().into_iter().map(serde_json::Value::from))
            .collect::<serde_json::Map<_, _>>(),
        // How close clients kept each mailbox to its 4 requests in flight.
        "mailbox_slots": state.mailboxes.throttle.slot_use(),
        "counters": counters,
    }))
}

async fn reset_requests(State(state): State<AppState>) -> Json<serde_json::Value> {
    state.accounting.reset();
    state.mailboxes.throttle.reset_use();
    Json(json!({"reset": true}))
}

async fn list_faults(State(state): State<AppState>) -> Json<Vec<FaultRule>> {
    Json(state.faults.list())
}

async fn add_fault(State(state): State<AppState>, Json(rule): Json<FaultRule>) -> Json<FaultRule> {
    Json(state.faults.add(rule))
}

async fn clear_faults(State(state): State<AppState>) -> Json<serde_json::Value> {
    state.faults.clear();
    Json(json!({"cleared": true}))
}

#[derive(Debug, Deserialize)]
struct AdvanceClock {
    seconds: i64,
}

async fn advance_clock(
    State(state): State<AppState>,
    Json(body): Json<AdvanceClock>,
) -> Json<serde_json::Value> {
    state.clock.advance(chrono::Duration::seconds(body.seconds));
    Json(json!({"now": state.clock.now().to_rfc3339()}))
}

/// The limits and latencies this emulator applies, as a benchmark reports them.
async fn cost_model(State(state): State<AppState>) -> Json<serde_json::Value> {
    let config = &state.config;
    Json(json!({
        "limits_enabled": config.limits_enabled,
        "time_scale": config.time_scale,
        "mailbox_concurrency": config.mailbox_concurrency,
        "mailbox_requests_per_window": config.mailbox_requests_per_window,
        "mailbox_window_secs": config.mailbox_window.as_secs_f64(),
        "app_requests_per_window": config.app_requests_per_window,
        "app_window_secs": config.app_window.as_secs_f64(),
        "directory_requests_per_window": config.directory_requests_per_window,
        "directory_window_secs": config.directory_window.as_secs_f64(),
        "latency": config.latency.ops,
    }))
}

/// The least wall time a scenario needs under this emulator's settings.
async fn floor(State(state): State<AppState>, Json(scenario): Json<Scenario>) -> Json<Floor> {
    Json(scenario.floor(&state.config))
}
