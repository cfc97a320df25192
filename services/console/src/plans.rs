//! What a run's writers planned: a dry run's changes field by field, and
//! the deletes the deletion guard held in a real run, with Approve and
//! Reject.

use galsync_proto::v1;

use crate::html::Page;
use crate::pages::counts_of;
use crate::session::Role;
use crate::web::SignedIn;

/// How many planned changes a dry run's page lists.
pub const PLANNED_CHANGES_SHOWN: u32 = 200;

fn action_name(action: i32) -> &'static str {
    match v1::planned_change::Action::try_from(action)
        .unwrap_or(v1::planned_change::Action::Unspecified)
    {
        v1::planned_change::Action::Unspecified => "unknown",
        v1::planned_change::Action::Create => "create",
        v1::planned_change::Action::Update => "update",
        v1::planned_change::Action::Delete => "delete",
    }
}

/// A dry run's plan: what its writers would create, update and delete,
/// field by field, a page of [`PLANNED_CHANGES_SHOWN`] at a time.
pub fn planned_changes(
    body: &mut Page,
    run_id: &str,
    plan: &v1::ListPlannedChangesResponse,
    later_page: bool,
) {
    body.markup("<section id=\"plan\" aria-labelledby=\"plan-heading\"><h2 id=\"plan-heading\">Planned changes (dry run: nothing was written)</h2>\n");
    if plan.changes.is_empty() {
        body.markup("<p>No change planned yet.</p>\n</section>\n");
        return;
    }
    body.markup("<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table><thead><tr><th scope=\"col\">Mailbox</th><th scope=\"col\">Action</th><th scope=\"col\">Contact</th><th scope=\"col\">Fields (now → planned)</th></tr></thead><tbody>\n");
    for mailbox_change in &plan.changes {
        let change = mailbox_change.change.clone().unwrap_or_default();
        body.markup("<tr><td>")
            .text(&mailbox_change.mailbox_id)
            .markup("</td><td>")
            .text(action_name(change.action))
            .markup("</td><td>")
            .text(&change.display_name)
            .markup("</td><td>");
        field_changes(body, &change.changes);
        body.markup("</td></tr>\n");
    }
    body.markup("</tbody></table></div>\n<p class=\"actions\">");
    if later_page {
        body.markup("<a href=\"/runs/")
            .text(run_id)
            .markup("#plan\">First changes</a>");
    }
    if !plan.next_page_token.is_empty() {
        body.markup("<a href=\"/runs/")
            .text(run_id)
            .markup("?plan_page=")
            .text(&percent_encode(&plan.next_page_token))
            .markup("#plan\">Next ")
            .number(PLANNED_CHANGES_SHOWN)
            .markup(" changes</a>");
    }
    body.markup("</p>\n");
    body.markup("</section>\n");
}

/// Each field a change touches: `field: "now" → "planned"`; a create has no
/// value now, a delete none planned.
fn field_changes(body: &mut Page, changes: &[v1::FieldChange]) {
    if changes.is_empty() {
        body.markup("—");
        return;
    }
    body.markup("<ul class=\"fields-changed\">");
    for change in changes {
        body.markup("<li><code>")
            .text(&change.field)
            .markup("</code>: ");
        if !change.old_value.is_empty() {
            body.markup("<del>")
                .text(&change.old_value)
                .markup("</del> → ");
        }
        if change.new_value.is_empty() {
            body.markup("(empty)");
        } else {
            body.markup("<ins>")
                .text(&change.new_value)
                .markup("</ins>");
        }
        body.markup("</li>");
    }
    body.markup("</ul>");
}

/// A value for a URL's query: everything but unreserved characters
/// percent-encoded.
fn percent_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The deletes the deletion guard held: how many per mailbox, the first
/// [`PLANNED_CHANGES_SHOWN`] held contacts by name, and Approve and Reject
/// for operators.
pub fn held_deletions(
    body: &mut Page,
    run: &v1::Run,
    held: &v1::ListPlannedChangesResponse,
    signed_in: &SignedIn,
) {
    let held_total = counts_of(run).deletes_awaiting_approval;
    body.markup("<section id=\"held-deletions\" aria-labelledby=\"held-heading\"><h2 id=\"held-heading\">Deletions held for approval</h2>\n<p>The deletion guard held back <strong>")
        .number(held_total)
        .markup("</strong> contact deletions. Nothing held is deleted until someone approves.</p>\n");
    body.markup("<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table><thead><tr><th scope=\"col\">Mailbox</th><th scope=\"col\">Deletions held</th></tr></thead><tbody>\n");
    for mailbox in &run.mailboxes {
        let held = mailbox.counts.unwrap_or_default().deletes_awaiting_approval;
        if held == 0 && mailbox.outcome != v1::MailboxOutcome::AwaitingApproval as i32 {
            continue;
        }
        body.markup("<tr><td>")
            .text(&mailbox.mailbox_id)
            .markup("</td><td>")
            .number(held)
            .markup("</td></tr>\n");
    }
    body.markup("</tbody></table></div>\n");
    held_contacts(body, held);
    if signed_in.session.role < Role::Operator {
        body.markup(
            "<p>Approving or rejecting deletions needs the operator role.</p>\n</section>\n",
        );
        return;
    }
    let csrf_token = signed_in.session.csrf_token();
    body.markup("<div class=\"actions\"><form method=\"post\" action=\"/runs/")
        .text(&run.run_id)
        .markup("/approve\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
        .text(csrf_token)
        .markup("\"><button type=\"submit\">Approve deletions</button></form>\n<form method=\"post\" action=\"/runs/")
        .text(&run.run_id)
        .markup("/cancel\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
        .text(csrf_token)
        .markup("\"><button class=\"danger\" type=\"submit\">Reject (cancel the run)</button></form></div>\n<p>Approve: the run writes these mailboxes again with the deletes allowed. Reject: the run is cancelled and nothing held is deleted.</p>\n</section>\n");
}

/// The contacts the guard would delete (the writers' list, as
/// `ListPlannedChanges` gives it for such a run).
fn held_contacts(body: &mut Page, held: &v1::ListPlannedChangesResponse) {
    if held.changes.is_empty() {
        return;
    }
    body.markup("<h3>Contacts that approving deletes</h3>\n<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table><thead><tr><th scope=\"col\">Mailbox</th><th scope=\"col\">Contact</th><th scope=\"col\">Directory object</th></tr></thead><tbody>\n");
    for mailbox_change in &held.changes {
        let change = mailbox_change.change.clone().unwrap_or_default();
        body.markup("<tr><td>")
            .text(&mailbox_change.mailbox_id)
            .markup("</td><td>")
            .text(&change.display_name)
            .markup("</td><td><code>")
            .text(&change.source_object_id)
            .markup("</code></td></tr>\n");
    }
    body.markup("</tbody></table></div>\n");
    if !held.next_page_token.is_empty() {
        body.markup("<p>The first ")
            .number(PLANNED_CHANGES_SHOWN)
            .markup("; <code>galsync runs plan RUN_ID</code> lists them all.</p>\n");
    }
}
