//! The scheduler's audit log: who did what to which run, profile or key,
//! and the refused calls, newest first, filtered by a GET form (actor,
//! action, tenant), in pages.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use galsync_proto::v1;

use crate::audit_tenant::{entries_of_tenant, TenantTargets};
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
    /// A tenant's directory ID: only entries about its profiles, their
    /// runs and its API keys ([`crate::audit_tenant`]).
    #[serde(default)]
    tenant_id: String,
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
    let tenant_id = query.tenant_id.trim();
    let answer = if tenant_id.is_empty() {
        state.api.audit_log(&signed_in.session, message).await
    } else {
        let person = &signed_in.session;
        match TenantTargets::load(&state.api, person, tenant_id).await {
            Ok(targets) => {
                entries_of_tenant(&state.api, person, &targets, message, PAGE_SIZE as usize).await
            }
            Err(status) => Err(status),
        }
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(status) => return status_page(&status, &signed_in),
    };
    body.markup("<form method=\"get\" action=\"/audit\" class=\"fields\" role=\"search\" aria-label=\"Filter the audit log\">\n<label for=\"actor\">Actor contains</label> <input id=\"actor\" name=\"actor\" value=\"")
        .text(&query.actor)
        .markup("\">\n<label for=\"action\">Action (e.g. run.deletions_approved)</label> <input id=\"action\" name=\"action\" value=\"")
        .text(&query.action)
        .markup("\">\n<label for=\"tenant-id\">Tenant ID (its profiles, runs and API keys)</label> <input id=\"tenant-id\" name=\"tenant_id\" value=\"")
        .text(&query.tenant_id)
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
            "/audit?actor={}&action={}&tenant_id={}&before={}",
            query_value(query.actor.trim()),
            query_value(query.action.trim()),
            query_value(tenant_id),
            answer.next_before_id
        );
        body.markup("<p><a href=\"")
            .text(&next)
            .markup("\">Older entries</a></p>\n");
    }
    page("Audit log", &signed_in, body, false)
}
