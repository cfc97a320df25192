//! The scheduler's audit log: who did what to which run, profile or key,
//! and the refused calls, newest first, filtered by a GET form, in pages.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use galsync_proto::v1;

use crate::html::Page;
use crate::pages::{page, when};
use crate::session::Role;
use crate::web::{status_page, SignedIn};
use crate::AppState;

/// Entries per page.
const PAGE_SIZE: u32 = 50;

#[derive(Default, serde::Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    /// The previous page's oldest entry: show those older.
    #[serde(default)]
    before: i64,
}

/// A query string value: percent-encoded, so only the filter's own text
/// reaches the next page's link.
fn query_value(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

pub async fn audit_log(
    State(state): State<Arc<AppState>>,
    Query(query): Query<AuditQuery>,
    signed_in: SignedIn,
) -> Response {
    let mut body = Page::default();
    if signed_in.session.role < Role::Admin {
        body.markup("<p>Reading the audit log needs the admin role.</p>\n");
        return page("Audit log", &signed_in, body, false);
    }
    let message = v1::ListAuditLogRequest {
        actor: query.actor.trim().to_owned(),
        action: query.action.trim().to_owned(),
        limit: PAGE_SIZE,
        before_id: query.before,
    };
    let answer = match state.api.audit_log(&signed_in.session, message).await {
        Ok(answer) => answer,
        Err(status) => return status_page(&status, &signed_in),
    };
    body.markup("<form method=\"get\" action=\"/audit\" class=\"fields\" role=\"search\" aria-label=\"Filter the audit log\">\n<label for=\"actor\">Actor contains</label> <input id=\"actor\" name=\"actor\" value=\"")
        .text(&query.actor)
        .markup("\">\n<label for=\"action\">Action (e.g. run.deletions_approved)</label> <input id=\"action\" name=\"action\" value=\"")
        .text(&query.action)
        .markup("\">\n<button type=\"submit\">Filter</button></form>\n<p>Tokens, certificates, secrets and consent: the <a href=\"/audit/credentials\">credential audit</a>.</p>\n");
    if answer.entries.is_empty() {
        body.markup("<p>No audit entry matches.</p>\n");
        return page("Audit log", &signed_in, body, false);
    }
    body.markup("<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Actor</th><th scope=\"col\">Action</th><th scope=\"col\">Target</th><th scope=\"col\">Detail</th></tr></thead><tbody>\n");
    for entry in &answer.entries {
        body.markup("<tr><td>")
            .text(&when(entry.at.as_ref()))
            .markup("</td><td>")
            .text(&entry.actor)
            .markup("</td><td>")
            .text(&entry.action)
            .markup("</td><td>")
            .text(&entry.target)
            .markup("</td><td>")
            .text(&entry.detail)
            .markup("</td></tr>\n");
    }
    body.markup("</tbody></table></div>\n");
    if answer.next_before_id > 0 {
        let next = format!(
            "/audit?actor={}&action={}&before={}",
            query_value(query.actor.trim()),
            query_value(query.action.trim()),
            answer.next_before_id
        );
        body.markup("<p><a href=\"")
            .text(&next)
            .markup("\">Older entries</a></p>\n");
    }
    page("Audit log", &signed_in, body, false)
}
