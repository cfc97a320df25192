//! The auth-broker's audit log (admins): every token issued or refused,
//! certificate made, secret stored, consent recorded and refused call,
//! newest first, filtered by tenant and kind with a GET form. The broker
//! keeps the newest [`LIMIT`] a query shows.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use galsync_proto::v1;

use crate::html::Page;
use crate::pages::{page, when};
use crate::session::Role;
use crate::tenant_view::{broker_page, no_broker_page};
use crate::web::SignedIn;
use crate::AppState;

/// Events a page shows (the broker's query limit).
const LIMIT: u32 = 200;

const TITLE: &str = "Credential audit";

#[derive(Default, serde::Deserialize)]
pub struct CredentialAuditQuery {
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    kind: String,
}

pub async fn credential_audit(
    State(state): State<Arc<AppState>>,
    Query(query): Query<CredentialAuditQuery>,
    signed_in: SignedIn,
) -> Response {
    let mut body = Page::default();
    if signed_in.session.role < Role::Admin {
        body.markup("<p>Reading the credential audit needs the admin role.</p>\n");
        return page(TITLE, &signed_in, body, false);
    }
    let Some(broker) = state.broker.as_ref() else {
        return no_broker_page(&signed_in, TITLE);
    };
    let message = v1::ListAuditEventsRequest {
        tenant_id: query.tenant_id.trim().to_owned(),
        limit: LIMIT,
        kind: query.kind.trim().to_owned(),
    };
    let events = match broker.audit_events(&signed_in.session, message).await {
        Ok(events) => events,
        Err(status) => return broker_page(&status, &signed_in),
    };
    body.markup("<p>The auth-broker's own log: Graph tokens issued and refused, certificates, secrets, consent, refused calls. Changes to profiles, runs and API keys are in the <a href=\"/audit\">audit log</a>.</p>\n<form method=\"get\" action=\"/audit/credentials\" class=\"fields\" role=\"search\" aria-label=\"Filter the credential audit\">\n<label for=\"tenant_id\">Tenant ID</label> <input id=\"tenant_id\" name=\"tenant_id\" value=\"")
        .text(&query.tenant_id)
        .markup("\">\n<label for=\"kind\">Kind (e.g. token.issued, certificate.generated)</label> <input id=\"kind\" name=\"kind\" value=\"")
        .text(&query.kind)
        .markup("\">\n<button type=\"submit\">Filter</button></form>\n");
    if events.is_empty() {
        body.markup("<p>No event matches.</p>\n");
        return page(TITLE, &signed_in, body, false);
    }
    body.markup("<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Kind</th><th scope=\"col\">Caller</th><th scope=\"col\">Tenant</th><th scope=\"col\">Detail</th></tr></thead><tbody>\n");
    for event in &events {
        body.markup("<tr><td>")
            .text(&when(event.at.as_ref()))
            .markup("</td><td>")
            .text(&event.kind)
            .markup("</td><td>")
            .text(&event.caller)
            .markup("</td><td>")
            .text(&event.tenant_id)
            .markup("</td><td>")
            .text(&event.detail)
            .markup("</td></tr>\n");
    }
    body.markup("</tbody></table></div>\n");
    if events.len() as u32 >= LIMIT {
        body.markup("<p>The newest ").number(LIMIT).markup(
            " events; narrow the filter, or use <code>galsync audit --limit N</code>.</p>\n",
        );
    }
    page(TITLE, &signed_in, body, false)
}
