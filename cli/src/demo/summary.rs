//! What the demo shows at the end of a phase: the verification of every
//! mailbox, the Graph requests the emulator counted, the summary table.

use galsync_graph_emulator::cost::Totals;

use super::{detail, tenant, verify, RunOutcome};

pub(super) fn report_check(check: &verify::Verification) -> anyhow::Result<()> {
    if check.passed() {
        detail(format!(
            "verified: all {} mailboxes hold exactly the {} people of the directory, with current names, titles and phones",
            check.mailboxes_checked, check.expected_contacts
        ));
        return Ok(());
    }
    for problem in &check.problems {
        detail(format!("✗ {problem}"));
    }
    anyhow::bail!(
        "verification failed: {} of {} mailboxes are correct",
        check.mailboxes_correct,
        check.mailboxes_checked
    )
}

pub(super) fn summary_table(
    tenant: &tenant::DemoTenant,
    initial: &RunOutcome,
    initial_requests: &Totals,
    incremental: &RunOutcome,
    incremental_requests: &Totals,
    check: &verify::Verification,
) -> String {
    let counts = |outcome: &RunOutcome| outcome.run.counts.unwrap_or_default();
    let first = counts(initial);
    let second = counts(incremental);
    let mut table = String::new();
    table.push_str("Summary\n");
    table.push_str(&format!(
        "  {:<34} {:>16} {:>16}\n",
        "", "initial sync", "incremental"
    ));
    let mut row = |label: &str, left: String, right: String| {
        table.push_str(&format!("  {label:<34} {left:>16} {right:>16}\n"));
    };
    row(
        "time",
        format!("{:.1} s", initial.elapsed.as_secs_f64()),
        format!("{:.1} s", incremental.elapsed.as_secs_f64()),
    );
    row(
        "contacts created",
        first.created.to_string(),
        second.created.to_string(),
    );
    row(
        "contacts updated",
        first.updated.to_string(),
        second.updated.to_string(),
    );
    row(
        "contacts deleted",
        first.deleted.to_string(),
        second.deleted.to_string(),
    );
    row(
        "directory reads (Graph requests)",
        initial_requests.directory_reads.to_string(),
        incremental_requests.directory_reads.to_string(),
    );
    row(
        "contact writes (Graph requests)",
        initial_requests.contact_writes.to_string(),
        incremental_requests.contact_writes.to_string(),
    );
    row(
        "HTTP calls to Graph ($batch = 1)",
        initial_requests.http_calls.to_string(),
        incremental_requests.http_calls.to_string(),
    );
    row(
        "sub-requests inside $batch",
        initial_requests.sub_requests.to_string(),
        incremental_requests.sub_requests.to_string(),
    );
    row(
        "throttled (429) / early retries",
        format!(
            "{} / {}",
            initial_requests.throttled, initial_requests.early_retries
        ),
        format!(
            "{} / {}",
            incremental_requests.throttled, incremental_requests.early_retries
        ),
    );
    table.push_str(&format!(
        "  mailboxes verified against the directory: {}/{} · {} contacts each · {} people in the directory\n",
        check.mailboxes_correct,
        tenant.targets.len(),
        check.expected_contacts,
        tenant.seed.users
    ));
    table
}
