//! One profile's page: what it syncs where and when (the source filter and
//! the targets with their attribute rules as the editor writes them), and
//! what the person's role may do with it (Explain, Edit, Dry run, Run now,
//! Delete).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use galsync_proto::v1;

use crate::html::Page;
use crate::pages::{page, when};
use crate::profile_form::attribute_rule_lines;
use crate::session::Role;
use crate::web::{status_page, SignedIn};
use crate::AppState;

fn lines_or_none(values: &[String]) -> String {
    if values.is_empty() {
        return "none".to_owned();
    }
    values.join(", ")
}

/// Attribute rules as the editor writes them, `; ` between them (a rule
/// holds commas).
fn rules_or_none(rules: &[String]) -> String {
    if rules.is_empty() {
        return "none".to_owned();
    }
    rules.join("; ")
}

/// One profile: what it syncs where and when, and what may be done with it.
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(profile_id): Path<String>,
    signed_in: SignedIn,
) -> Response {
    let profile = match state.api.profile(&signed_in.session, &profile_id).await {
        Ok(profile) => profile,
        Err(status) => return status_page(&status, &signed_in),
    };
    let spec = profile.spec.clone().unwrap_or_default();
    let source = spec.source.clone().unwrap_or_default();
    let targets = spec.targets.clone().unwrap_or_default();
    let write = spec.write.clone().unwrap_or_default();
    let mut body = Page::default();
    let rows: Vec<(&str, String)> = vec![
        ("Tenant", spec.tenant_id.clone()),
        (
            "Enabled",
            if spec.enabled { "yes" } else { "no" }.to_owned(),
        ),
        ("Version", profile.version.to_string()),
        ("Only members of", lines_or_none(&source.include_group_ids)),
        ("Never members of", lines_or_none(&source.exclude_group_ids)),
        (
            "Keep only users where",
            rules_or_none(&attribute_rule_lines(&source.rules, false)),
        ),
        (
            "Drop users where",
            rules_or_none(&attribute_rule_lines(&source.rules, true)),
        ),
        (
            "Every user mailbox",
            if targets.all_mailboxes { "yes" } else { "no" }.to_owned(),
        ),
        ("Target users", lines_or_none(&targets.users)),
        ("Target groups", lines_or_none(&targets.group_ids)),
        (
            "Only mailboxes of users where",
            rules_or_none(&attribute_rule_lines(&targets.rules, false)),
        ),
        (
            "No mailboxes of users where",
            rules_or_none(&attribute_rule_lines(&targets.rules, true)),
        ),
        (
            "Folder",
            if write.folder_name.is_empty() {
                "Company Directory".to_owned()
            } else {
                write.folder_name.clone()
            },
        ),
        (
            "Deletion mode",
            deletion_mode_name(write.deletion_mode).to_owned(),
        ),
        (
            "Deletion guard",
            format!(
                "{} %, {} contacts",
                guard_percent(write.deletion_guard_percent),
                guard_minimum(write.deletion_guard_minimum)
            ),
        ),
        ("Schedule", schedule_text(spec.schedule.as_ref())),
        ("Next run", when(profile.next_run_at.as_ref())),
    ];
    body.markup("<dl class=\"spec\">\n");
    for (term, value) in &rows {
        body.markup("<dt>")
            .markup(term)
            .markup("</dt><dd>")
            .text(value)
            .markup("</dd>\n");
    }
    body.markup("</dl>\n<div class=\"actions\"><a href=\"/profiles/")
        .text(&profile.profile_id)
        .markup("/explain\">Explain (who is kept, which mailboxes resolve)</a>");
    if signed_in.session.role >= Role::Admin {
        body.markup(" <a href=\"/profiles/")
            .text(&profile.profile_id)
            .markup("/edit\">Edit</a>");
    }
    body.markup("</div>\n");
    if signed_in.session.role >= Role::Operator {
        body.markup("<form method=\"post\" action=\"/profiles/")
            .text(&profile.profile_id)
            .markup("/dry-run\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
            .text(signed_in.session.csrf_token())
            .markup("\"><button type=\"submit\">Dry run</button> <span>plans the changes, writes nothing</span></form>\n");
        body.markup("<form method=\"post\" action=\"/profiles/")
            .text(&profile.profile_id)
            .markup("/run\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
            .text(signed_in.session.csrf_token())
            .markup("\"><button type=\"submit\">Run now</button> <span>writes the contacts to every target mailbox</span></form>\n");
    } else {
        body.markup("<p>Starting a run or a dry run needs the operator role.</p>\n");
    }
    crate::profile_delete::delete_form(&mut body, &signed_in, &profile.profile_id);
    let title = format!("Profile {}", spec.name);
    page(&title, &signed_in, body, false)
}

fn deletion_mode_name(mode: i32) -> &'static str {
    match v1::DeletionMode::try_from(mode).unwrap_or(v1::DeletionMode::Unspecified) {
        v1::DeletionMode::Unspecified | v1::DeletionMode::RemovedFromSource => {
            "delete contacts whose user left the source"
        }
        v1::DeletionMode::Never => "never delete",
        v1::DeletionMode::Mirror => "mirror",
    }
}

fn guard_percent(percent: f64) -> String {
    if percent == 0.0 {
        return "10".to_owned();
    }
    percent.to_string()
}

fn guard_minimum(minimum: u32) -> u32 {
    if minimum == 0 {
        return 50;
    }
    minimum
}

fn schedule_text(schedule: Option<&v1::Schedule>) -> String {
    let Some(schedule) = schedule else {
        return "on demand only".to_owned();
    };
    let zone = if schedule.time_zone.is_empty() {
        "UTC"
    } else {
        schedule.time_zone.as_str()
    };
    match &schedule.kind {
        Some(v1::schedule::Kind::IntervalSeconds(seconds)) => format!("every {seconds} s"),
        Some(v1::schedule::Kind::Cron(expression)) => format!("cron {expression} ({zone})"),
        None => "on demand only".to_owned(),
    }
}
