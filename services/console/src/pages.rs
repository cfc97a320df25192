//! The pages people read: overview, runs, one run; and what every page
//! shares (a run's state as people read it, timestamps, the page frame).

use axum::response::{Html, IntoResponse, Response};
use galsync_proto::v1;

use crate::html::{document, Page};
use crate::web::SignedIn;

mod overview;
mod runs;

pub use overview::overview;
pub use runs::{run_detail, runs};

/// A run state as people read it, e.g. `writing`.
pub fn state_name(state: i32) -> &'static str {
    match v1::RunState::try_from(state).unwrap_or(v1::RunState::Unspecified) {
        v1::RunState::Unspecified => "unknown",
        v1::RunState::Queued => "queued",
        v1::RunState::Reading => "reading",
        v1::RunState::Writing => "writing",
        v1::RunState::Succeeded => "succeeded",
        v1::RunState::PartiallyFailed => "partially_failed",
        v1::RunState::Failed => "failed",
        v1::RunState::Cancelled => "cancelled",
        v1::RunState::AwaitingApproval => "awaiting_approval",
    }
}

/// Whether the run may still change (and may be cancelled).
pub fn is_active(state: i32) -> bool {
    matches!(
        v1::RunState::try_from(state),
        Ok(v1::RunState::Queued
            | v1::RunState::Reading
            | v1::RunState::Writing
            | v1::RunState::AwaitingApproval)
    )
}
/// A timestamp in UTC, or a dash.
pub(crate) fn when(timestamp: Option<&prost_types::Timestamp>) -> String {
    let Some(timestamp) = timestamp else {
        return "—".to_owned();
    };
    match chrono::DateTime::from_timestamp(timestamp.seconds, 0) {
        Some(at) => at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        None => "—".to_owned(),
    }
}

pub(crate) fn counts_of(run: &v1::Run) -> v1::SyncCounts {
    run.counts.unwrap_or_default()
}

pub(crate) fn page(title: &str, signed_in: &SignedIn, body: Page, live: bool) -> Response {
    Html(document(
        title,
        Some(signed_in.header()),
        &body.into_body(),
        live,
    ))
    .into_response()
}
