//! Core admin API (`/_admin/…`): request counters, fault rules, the clock.
//! Identity, directory and mailbox admin routes live in their own modules.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::faults::FaultRule;
use crate::AppState;

pub fn routes() -> Router<AppState> {
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
        .route("/_admin/health", get(|| async { "ok" }))
}

async fn list_requests(State(state): State<AppState>) -> Json<serde_json::Value> {
    let counters = state.accounting.snapshot();
    let total: u64 = counters.iter().map(|counter| counter.count).sum();
    Json(json!({
        "total": total,
        "early_retries": state.accounting.early_retry_total(),
        "counters": counters,
    }))
}

async fn reset_requests(State(state): State<AppState>) -> Json<serde_json::Value> {
    state.accounting.reset();
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
