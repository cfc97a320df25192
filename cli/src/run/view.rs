//! How runs look: the end-of-run summary, state and outcome names, and the
//! stable JSON shape of a run.

use galsync_proto::v1;
use serde_json::{json, Value};

use crate::output::{human_duration, json_time, print_fields, to_datetime};

/// The end-of-run summary `run start --follow` and `runs show` print.
pub fn print_summary(run: &v1::Run) {
    let counts = run.counts.unwrap_or_default();
    let took = run_duration(run)
        .map(|seconds| format!(" in {}", human_duration(seconds)))
        .unwrap_or_default();
    let kind = if run.dry_run { "dry run" } else { "run" };
    println!("{kind} {} {}{took}", run.run_id, state_name(run.state));
    let mut lines = vec![
        ("mailboxes", mailboxes_line(run)),
        (
            "contacts",
            format!(
                "created {}, updated {}, deleted {}, unchanged {}, failed {}",
                counts.created, counts.updated, counts.deleted, counts.unchanged, counts.failed
            ),
        ),
        (
            "graph",
            format!(
                "{} requests ({} batched), {} retries",
                counts.graph_requests, counts.batched_requests, counts.retries
            ),
        ),
    ];
    if counts.deletes_awaiting_approval > 0 {
        lines.push(("held deletes", counts.deletes_awaiting_approval.to_string()));
    }
    if run.repair {
        lines.push((
            "repair",
            format!(
                "restored {} contacts edited or deleted outside galsync",
                counts.restored
            ),
        ));
    }
    if !run.error.is_empty() {
        lines.push(("error", run.error.clone()));
    }
    if run.dry_run && is_terminal(run.state) {
        lines.push((
            "planned changes",
            format!("galsync runs plan {}", run.run_id),
        ));
    }
    print_fields(&lines);
}

/// E.g. `20 (12 succeeded, 0 failed, 8 cancelled)`; mailboxes that have
/// not ended show as `12/20 (…)`, partial and awaiting-approval ones are
/// named only when there are some.
pub fn mailboxes_line(run: &v1::Run) -> String {
    let count_of = |outcome: v1::MailboxOutcome| {
        run.mailboxes
            .iter()
            .filter(|mailbox| mailbox.outcome == outcome as i32)
            .count()
    };
    let mut parts = vec![
        format!("{} succeeded", run.mailboxes_succeeded),
        format!("{} failed", run.mailboxes_failed),
        format!("{} cancelled", run.mailboxes_cancelled),
    ];
    let partial = count_of(v1::MailboxOutcome::Partial);
    if partial > 0 {
        parts.push(format!("{partial} partial"));
    }
    let awaiting = count_of(v1::MailboxOutcome::AwaitingApproval);
    if awaiting > 0 {
        parts.push(format!("{awaiting} awaiting approval"));
    }
    let total = if run.mailboxes_done == run.mailboxes_total {
        run.mailboxes_total.to_string()
    } else {
        format!("{}/{}", run.mailboxes_done, run.mailboxes_total)
    };
    format!("{total} ({})", parts.join(", "))
}

pub fn run_duration(run: &v1::Run) -> Option<u64> {
    let started = to_datetime(run.started_at.as_ref())?;
    let finished = to_datetime(run.finished_at.as_ref()).unwrap_or_else(chrono::Utc::now);
    u64::try_from((finished - started).num_seconds()).ok()
}

pub fn state_name(value: i32) -> &'static str {
    match v1::RunState::try_from(value) {
        Ok(v1::RunState::Queued) => "queued",
        Ok(v1::RunState::Reading) => "reading",
        Ok(v1::RunState::Writing) => "writing",
        Ok(v1::RunState::Succeeded) => "succeeded",
        Ok(v1::RunState::PartiallyFailed) => "partially-failed",
        Ok(v1::RunState::Failed) => "failed",
        Ok(v1::RunState::Cancelled) => "cancelled",
        Ok(v1::RunState::AwaitingApproval) => "awaiting-approval",
        _ => "unknown",
    }
}

pub fn is_terminal(value: i32) -> bool {
    !matches!(
        v1::RunState::try_from(value),
        Ok(v1::RunState::Queued)
            | Ok(v1::RunState::Reading)
            | Ok(v1::RunState::Writing)
            | Ok(v1::RunState::Unspecified)
            | Err(_)
    )
}

pub fn outcome_name(value: i32) -> &'static str {
    match v1::MailboxOutcome::try_from(value) {
        Ok(v1::MailboxOutcome::Succeeded) => "succeeded",
        Ok(v1::MailboxOutcome::Partial) => "partial",
        Ok(v1::MailboxOutcome::Failed) => "failed",
        Ok(v1::MailboxOutcome::AwaitingApproval) => "awaiting-approval",
        Ok(v1::MailboxOutcome::Cancelled) => "cancelled",
        _ => "unknown",
    }
}

pub fn counts_json(counts: Option<&v1::SyncCounts>) -> Value {
    let counts = counts.cloned().unwrap_or_default();
    json!({
        "created": counts.created,
        "updated": counts.updated,
        "deleted": counts.deleted,
        "unchanged": counts.unchanged,
        "failed": counts.failed,
        "graph_requests": counts.graph_requests,
        "batched_requests": counts.batched_requests,
        "retries": counts.retries,
        "deletes_awaiting_approval": counts.deletes_awaiting_approval,
        "photos_written": counts.photos_written,
        "restored": counts.restored,
    })
}

pub fn run_json(run: &v1::Run) -> Value {
    let mailboxes: Vec<Value> = run
        .mailboxes
        .iter()
        .map(|mailbox| {
            json!({
                "mailbox_id": mailbox.mailbox_id,
                "outcome": outcome_name(mailbox.outcome),
                "counts": counts_json(mailbox.counts.as_ref()),
                "errors": mailbox.errors,
                "attempts": mailbox.attempts,
            })
        })
        .collect();
    let read_stats = run.read_stats.clone().unwrap_or_default();
    json!({
        "run_id": run.run_id,
        "profile_id": run.profile_id,
        "state": state_name(run.state),
        "trigger": run.trigger,
        "dry_run": run.dry_run,
        "repair": run.repair,
        "snapshot_id": run.snapshot_id,
        "trace_id": run.trace_id,
        "created_at": json_time(run.created_at.as_ref()),
        "started_at": json_time(run.started_at.as_ref()),
        "finished_at": json_time(run.finished_at.as_ref()),
        "mailboxes_total": run.mailboxes_total,
        "mailboxes_done": run.mailboxes_done,
        "mailboxes_succeeded": run.mailboxes_succeeded,
        "mailboxes_failed": run.mailboxes_failed,
        "mailboxes_cancelled": run.mailboxes_cancelled,
        "counts": counts_json(run.counts.as_ref()),
        "mailboxes": mailboxes,
        "error": run.error,
        "read_stats": {
            "mode": read_stats.mode,
            "graph_requests": read_stats.graph_requests,
            "retries": read_stats.retries,
            "users_read": read_stats.users_read,
            "users_dropped_by_filter": read_stats.users_dropped_by_filter,
            "photos_fetched": read_stats.photos_fetched,
        },
    })
}

fn action_name(action: i32) -> &'static str {
    match v1::planned_change::Action::try_from(action) {
        Ok(v1::planned_change::Action::Create) => "create",
        Ok(v1::planned_change::Action::Update) => "update",
        Ok(v1::planned_change::Action::Delete) => "delete",
        _ => "unknown",
    }
}

/// A dry run's planned changes: one line per contact, each changed field as
/// `field: old → new`.
pub fn print_plan(run_id: &str, changes: &[v1::MailboxChange], json_output: bool) {
    if json_output {
        let items: Vec<Value> = changes
            .iter()
            .map(|entry| {
                let change = entry.change.clone().unwrap_or_default();
                json!({
                    "mailbox_id": entry.mailbox_id,
                    "action": action_name(change.action),
                    "source_object_id": change.source_object_id,
                    "display_name": change.display_name,
                    "fields": change.changes.iter().map(|field| json!({
                        "field": field.field,
                        "old": field.old_value,
                        "new": field.new_value,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        crate::output::print_json(&json!({ "run_id": run_id, "changes": items }));
        return;
    }
    if changes.is_empty() {
        println!(
            "run {run_id} planned no change (or is not a dry run: only dry runs keep their plan)"
        );
        return;
    }
    let mut table = crate::output::Table::new(&["MAILBOX", "ACTION", "CONTACT", "FIELDS"]);
    for entry in changes {
        let change = entry.change.clone().unwrap_or_default();
        let fields: Vec<String> = change
            .changes
            .iter()
            .map(|field| {
                format!(
                    "{}: {} → {}",
                    field.field,
                    shown_value(&field.old_value),
                    shown_value(&field.new_value)
                )
            })
            .collect();
        table.row(vec![
            entry.mailbox_id.clone(),
            action_name(change.action).to_owned(),
            change.display_name.clone(),
            fields.join("; "),
        ]);
    }
    table.print();
}

fn shown_value(value: &str) -> String {
    if value.is_empty() {
        "(empty)".to_owned()
    } else {
        format!("\"{value}\"")
    }
}
