//! The runs: the newest with their state and counts, and one run with its
//! live progress, its cancel button, its mailboxes and a dry run's plan.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use galsync_proto::v1;

use super::{counts_of, is_active, page, state_name, when};
use crate::html::Page;
use crate::plans::{held_deletions, planned_changes, PLANNED_CHANGES_SHOWN};
use crate::session::Role;
use crate::web::{status_page, SignedIn};
use crate::AppState;

/// The newest runs with their state and counts.
pub async fn runs(State(state): State<Arc<AppState>>, signed_in: SignedIn) -> Response {
    let person = &signed_in.session;
    let runs = match state.api.runs(person).await {
        Ok(runs) => runs,
        Err(status) => return status_page(&status, &signed_in),
    };
    let profiles = match state.api.profiles(person).await {
        Ok(profiles) => profiles,
        Err(status) => return status_page(&status, &signed_in),
    };
    let mut profile_names: HashMap<&str, &str> = HashMap::new();
    for profile in &profiles {
        let name = profile.spec.as_ref().map_or("", |spec| spec.name.as_str());
        profile_names.insert(profile.profile_id.as_str(), name);
    }
    let mut body = Page::default();
    if runs.is_empty() {
        body.markup("<p>No run yet.</p>");
        return page("Runs", &signed_in, body, false);
    }
    body.markup("<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table><thead><tr><th scope=\"col\">Run</th><th scope=\"col\">Profile</th><th scope=\"col\">State</th><th scope=\"col\">Mailboxes done</th><th scope=\"col\">Created</th><th scope=\"col\">Updated</th><th scope=\"col\">Deleted</th><th scope=\"col\">Failed</th><th scope=\"col\">Started</th></tr></thead><tbody>\n");
    for run in &runs {
        let counts = counts_of(run);
        let profile_name = profile_names
            .get(run.profile_id.as_str())
            .copied()
            .unwrap_or(run.profile_id.as_str());
        let state_text = state_name(run.state);
        body.markup("<tr><td><a href=\"/runs/")
            .text(&run.run_id)
            .markup("\">")
            .text(&run.run_id)
            .markup("</a></td><td>")
            .text(profile_name)
            .markup("</td><td class=\"state-")
            .text(state_text)
            .markup("\">")
            .text(state_text)
            .markup("</td><td>")
            .number(run.mailboxes_done)
            .markup(" / ")
            .number(run.mailboxes_total)
            .markup("</td><td>")
            .number(counts.created)
            .markup("</td><td>")
            .number(counts.updated)
            .markup("</td><td>")
            .number(counts.deleted)
            .markup("</td><td>")
            .number(counts.failed)
            .markup("</td><td>")
            .text(&when(run.created_at.as_ref()))
            .markup("</td></tr>\n");
    }
    body.markup("</tbody></table></div>\n");
    page("Runs", &signed_in, body, false)
}

/// Which page of a dry run's plan the run page shows.
#[derive(serde::Deserialize, Default)]
pub struct RunQuery {
    /// The API's `next_page_token` of the previous page; absent: the first.
    #[serde(default)]
    plan_page: String,
}

/// One run: live progress while it is active, cancel, per-mailbox results.
pub async fn run_detail(
    State(state): State<Arc<AppState>>,
    Path(run_id): Path<String>,
    Query(query): Query<RunQuery>,
    signed_in: SignedIn,
) -> Response {
    let run = match state.api.run(&signed_in.session, &run_id).await {
        Ok(run) => run,
        Err(status) => return status_page(&status, &signed_in),
    };
    let active = is_active(run.state);
    let awaiting_approval = run.state == v1::RunState::AwaitingApproval as i32;
    let counts = counts_of(&run);
    let state_text = state_name(run.state);
    // A run awaiting approval moves only when someone acts: no estimate.
    let moving = active && !awaiting_approval;
    let pace = crate::run_pace::pace(&run, moving, std::time::SystemTime::now());
    let mut body = Page::default();
    body.markup("<p id=\"progress\" class=\"progress\"");
    // Followed while active; a page showing held deletes is followed too,
    // so it reloads once someone, here or anywhere, acts on them.
    if active {
        body.markup(" data-events=\"/runs/")
            .text(&run.run_id)
            .markup("/events?shown=")
            .text(state_text)
            .markup("\"");
    }
    body.markup(" aria-live=\"polite\">State <strong id=\"state\">")
        .text(state_text)
        .markup("</strong> · <span id=\"mailboxes_done\">")
        .number(run.mailboxes_done)
        .markup("</span> / <span id=\"mailboxes_total\">")
        .number(run.mailboxes_total)
        .markup("</span> mailboxes done · contacts <span id=\"created\">")
        .number(counts.created)
        .markup("</span> created, <span id=\"updated\">")
        .number(counts.updated)
        .markup("</span> updated, <span id=\"deleted\">")
        .number(counts.deleted)
        .markup("</span> deleted · <span id=\"rate\">")
        .text(&pace.rate)
        .markup("</span>");
    if moving {
        body.markup(" · <span id=\"eta\">")
            .text(&pace.eta)
            .markup("</span>");
    }
    body.markup("</p>\n<p>Started ")
        .text(&when(run.created_at.as_ref()))
        .markup(" · trigger ")
        .text(&run.trigger)
        .markup(" · <a href=\"/runs/")
        .text(&run.run_id)
        .markup("\">Refresh</a></p>\n");
    if !run.error.is_empty() {
        body.markup("<p class=\"error\">")
            .text(&run.error)
            .markup("</p>\n");
    }
    if awaiting_approval {
        let held = match state
            .api
            .planned_changes(&signed_in.session, &run.run_id, PLANNED_CHANGES_SHOWN, "")
            .await
        {
            Ok(held) => held,
            Err(status) => return status_page(&status, &signed_in),
        };
        held_deletions(&mut body, &run, &held, &signed_in);
    } else if active {
        if signed_in.session.role >= Role::Operator {
            body.markup("<form method=\"post\" action=\"/runs/")
                .text(&run.run_id)
                .markup("/cancel\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
                .text(signed_in.session.csrf_token())
                .markup("\"><button class=\"danger\" type=\"submit\">Cancel run</button></form>\n");
        } else {
            body.markup("<p>Cancelling a run needs the operator role.</p>\n");
        }
    }
    mailbox_table(&mut body, &run);
    if run.dry_run {
        let plan = match state
            .api
            .planned_changes(
                &signed_in.session,
                &run.run_id,
                PLANNED_CHANGES_SHOWN,
                &query.plan_page,
            )
            .await
        {
            Ok(plan) => plan,
            Err(status) => return status_page(&status, &signed_in),
        };
        planned_changes(&mut body, &run.run_id, &plan, !query.plan_page.is_empty());
    }
    let title = format!("Run {}", run.run_id);
    // A run awaiting approval changes only when someone acts on it.
    page(&title, &signed_in, body, moving)
}

fn outcome_name(outcome: i32) -> &'static str {
    match v1::MailboxOutcome::try_from(outcome).unwrap_or(v1::MailboxOutcome::Unspecified) {
        v1::MailboxOutcome::Unspecified => "unknown",
        v1::MailboxOutcome::Succeeded => "succeeded",
        v1::MailboxOutcome::Partial => "partial",
        v1::MailboxOutcome::Failed => "failed",
        v1::MailboxOutcome::AwaitingApproval => "awaiting_approval",
        v1::MailboxOutcome::Cancelled => "cancelled",
    }
}

/// The finished mailboxes, in a section the page's script replaces with a
/// fresh copy whenever another mailbox is done.
fn mailbox_table(body: &mut Page, run: &v1::Run) {
    body.markup("<section id=\"mailboxes\" aria-live=\"polite\"><h2>Mailboxes</h2>\n");
    mailbox_rows(body, run);
    body.markup("</section>\n");
}

fn mailbox_rows(body: &mut Page, run: &v1::Run) {
    if run.mailboxes.is_empty() {
        body.markup("<p>No mailbox has finished yet.</p>\n");
        return;
    }
    body.markup("<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table><thead><tr><th scope=\"col\">Mailbox</th><th scope=\"col\">Outcome</th><th scope=\"col\">Created</th><th scope=\"col\">Updated</th><th scope=\"col\">Deleted</th><th scope=\"col\">Failed</th><th scope=\"col\">Attempts</th><th scope=\"col\">Errors</th></tr></thead><tbody>\n");
    for mailbox in &run.mailboxes {
        let counts = mailbox.counts.unwrap_or_default();
        body.markup("<tr><td>")
            .text(&mailbox.mailbox_id)
            .markup("</td><td>")
            .text(outcome_name(mailbox.outcome))
            .markup("</td><td>")
            .number(counts.created)
            .markup("</td><td>")
            .number(counts.updated)
            .markup("</td><td>")
            .number(counts.deleted)
            .markup("</td><td>")
            .number(counts.failed)
            .markup("</td><td>")
            .number(mailbox.attempts)
            .markup("</td><td>");
        if !mailbox.errors.is_empty() {
            body.markup("<ul class=\"error\">");
            for error in &mailbox.errors {
                body.markup("<li>").text(error).markup("</li>");
            }
            body.markup("</ul>");
        }
        body.markup("</td></tr>\n");
    }
    body.markup("</tbody></table></div>\n");
}
