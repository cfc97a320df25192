//! The pages people read: overview, runs, one run.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use galsync_proto::v1;

use crate::html::{document, Page};
use crate::plans::{held_deletions, planned_changes, PLANNED_CHANGES_SHOWN};
use crate::session::Role;
use crate::web::{status_page, SignedIn};
use crate::AppState;

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

/// Each tenant — registered at the auth-broker or named by a profile — with
/// its connection health (certificate, consent), its profiles, its newest
/// run and its next.
pub async fn overview(State(state): State<Arc<AppState>>, signed_in: SignedIn) -> Response {
    let person = &signed_in.session;
    let profiles = match state.api.profiles(person).await {
        Ok(profiles) => profiles,
        Err(status) => return status_page(&status, &signed_in),
    };
    let runs = match state.api.runs(person).await {
        Ok(runs) => runs,
        Err(status) => return status_page(&status, &signed_in),
    };
    let registered = match &state.broker {
        // One call for every tenant's health, however many there are.
        Some(broker) => match broker.tenants_with_health(person).await {
            Ok(tenants) => Some(tenants),
            Err(status) => return crate::tenants::broker_page(&status, &signed_in),
        },
        None => None,
    };
    let mut tenants: BTreeMap<&str, Vec<&v1::Profile>> = BTreeMap::new();
    for reported in registered.iter().flatten() {
        if let Some(tenant) = &reported.tenant {
            tenants.entry(tenant.tenant_id.as_str()).or_default();
        }
    }
    for profile in &profiles {
        let tenant_id = profile
            .spec
            .as_ref()
            .map_or("", |spec| spec.tenant_id.as_str());
        tenants.entry(tenant_id).or_default().push(profile);
    }
    let mut body = Page::default();
    if registered.is_none() {
        body.markup("<p class=\"notice\">")
            .text(crate::tenants::NO_BROKER)
            .markup("</p>\n");
    }
    if tenants.is_empty() {
        body.markup("<p>No tenant yet. <a href=\"/tenants\">Register one</a>, then create a sync profile for it.</p>");
        return page("Overview", &signed_in, body, false);
    }
    body.markup("<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table><thead><tr><th scope=\"col\">Tenant</th>");
    if registered.is_some() {
        body.markup("<th scope=\"col\">Certificate</th><th scope=\"col\">Client secret</th><th scope=\"col\">Admin consent</th>");
    }
    body.markup("<th scope=\"col\">Profiles</th><th scope=\"col\">Last run</th><th scope=\"col\">Started</th><th scope=\"col\">Next run</th></tr></thead><tbody>\n");
    for (tenant_id, tenant_profiles) in &tenants {
        let last_run = match last_run_of(&state, &signed_in, tenant_profiles, &runs).await {
            Ok(last_run) => last_run,
            Err(status) => return status_page(&status, &signed_in),
        };
        let next_run = tenant_profiles
            .iter()
            .filter_map(|profile| profile.next_run_at.as_ref())
            .min_by_key(|at| (at.seconds, at.nanos));
        let reported = registered.iter().flatten().find(|reported| {
            reported
                .tenant
                .as_ref()
                .is_some_and(|tenant| tenant.tenant_id == *tenant_id)
        });
        let tenant = reported.and_then(|reported| reported.tenant.as_ref());
        body.markup("<tr><td>");
        match tenant {
            Some(tenant) => {
                body.markup("<a href=\"/tenants/")
                    .text(tenant_id)
                    .markup("\">")
                    .text(&tenant.display_name)
                    .markup("</a>");
            }
            None => {
                body.text(tenant_id);
            }
        }
        body.markup("</td>");
        if registered.is_some() {
            match reported {
                Some(reported) => {
                    let health = crate::tenants::health(reported);
                    crate::tenants::health_cell(
                        &mut body,
                        &health.certificate,
                        health.certificate_needs_action,
                    );
                    crate::tenants::health_cell(
                        &mut body,
                        &health.client_secret,
                        health.client_secret_needs_action,
                    );
                    crate::tenants::health_cell(
                        &mut body,
                        &health.consent,
                        health.consent_needs_action,
                    );
                }
                None => {
                    crate::tenants::health_cell(&mut body, "not registered", true);
                    body.markup("<td>—</td><td>—</td>");
                }
            }
        }
        body.markup("<td>");
        if tenant_profiles.is_empty() {
            body.markup("none yet");
        }
        for (index, profile) in tenant_profiles.iter().enumerate() {
            if index > 0 {
                body.markup(", ");
            }
            let name = profile.spec.as_ref().map_or("", |spec| spec.name.as_str());
            body.text(name);
        }
        body.markup("</td>");
        match &last_run {
            Some(run) => {
                let state_text = state_name(run.state);
                body.markup("<td><a class=\"state-")
                    .text(state_text)
                    .markup("\" href=\"/runs/")
                    .text(&run.run_id)
                    .markup("\">")
                    .text(state_text)
                    .markup("</a></td><td>")
                    .text(&when(run.created_at.as_ref()))
                    .markup("</td>");
            }
            None => {
                body.markup("<td>never run</td><td>—</td>");
            }
        }
        body.markup("<td>")
            .text(&when(next_run))
            .markup("</td></tr>\n");
    }
    body.markup("</tbody></table></div>\n");
    page("Overview", &signed_in, body, false)
}

/// The newest of the last runs of `profiles`: from the listing of recent
/// runs when it is there, else asked for by id (a profile that last ran long
/// ago).
async fn last_run_of(
    state: &AppState,
    signed_in: &SignedIn,
    profiles: &[&v1::Profile],
    recent_runs: &[v1::Run],
) -> Result<Option<v1::Run>, tonic::Status> {
    let mut newest: Option<v1::Run> = None;
    for profile in profiles {
        if profile.last_run_id.is_empty() {
            continue;
        }
        let listed = recent_runs
            .iter()
            .find(|run| run.run_id == profile.last_run_id);
        let run = match listed {
            Some(run) => run.clone(),
            None => {
                state
                    .api
                    .run(&signed_in.session, &profile.last_run_id)
                    .await?
            }
        };
        let started = |run: &v1::Run| run.created_at.map(|at| (at.seconds, at.nanos));
        let is_newer = match &newest {
            Some(current) => started(&run) > started(current),
            None => true,
        };
        if is_newer {
            newest = Some(run);
        }
    }
    Ok(newest)
}

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
    let counts = counts_of(&run);
    let state_text = state_name(run.state);
    let mut body = Page::default();
    body.markup("<p id=\"progress\" class=\"progress\"");
    if active {
        body.markup(" data-events=\"/runs/")
            .text(&run.run_id)
            .markup("/events\"");
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
        .markup("</span> deleted</p>\n<p>Started ")
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
    let awaiting_approval = run.state == v1::RunState::AwaitingApproval as i32;
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
    page(&title, &signed_in, body, active && !awaiting_approval)
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
