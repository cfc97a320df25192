//! Syncing one mailbox, the writer's use case behind both the work loop
//! (work items leased from the scheduler) and the `SyncMailbox` /
//! `PlanMailbox` RPCs: a request in, a reconciliation (or a purge), a
//! report out.

use galsync_proto::v1;

use crate::engine::Engine;
use crate::error::Error;
use crate::reconcile;
use crate::request::MailboxWork;

/// A mailbox that failed on its own becomes a FAILED result, not an RPC error.
pub fn failed_result(mailbox_id: &str, error: &Error) -> v1::MailboxSyncResult {
    v1::MailboxSyncResult {
        mailbox_id: mailbox_id.to_owned(),
        outcome: v1::MailboxOutcome::Failed as i32,
        counts: Some(v1::SyncCounts::default()),
        errors: vec![error.plain_words()],
        duplicate_folder_ids: Vec::new(),
    }
}

/// Runs one `SyncMailboxRequest` (entries from the reader's snapshot),
/// publishing counts to `progress` as it writes; a request marked `purge`
/// removes the profile's contacts from a mailbox that left its targets.
pub async fn execute_request(
    engine: &Engine,
    request: &v1::SyncMailboxRequest,
    dry_run: bool,
    progress: &reconcile::Progress,
) -> Result<reconcile::Report, Error> {
    let executed = execute_counted(engine, request, dry_run, progress).await;
    let result = match &executed {
        Ok(report) => Ok(&report.result),
        Err(error) => Err(error),
    };
    engine.metrics.record(result, dry_run);
    executed
}

async fn execute_counted(
    engine: &Engine,
    request: &v1::SyncMailboxRequest,
    dry_run: bool,
    progress: &reconcile::Progress,
) -> Result<reconcile::Report, Error> {
    match MailboxWork::parse(request, dry_run)? {
        MailboxWork::Purge(purge) => {
            let result = crate::purge::purge(engine, &purge, progress.lease()).await?;
            Ok(reconcile::Report { result, plan: None })
        }
        MailboxWork::Reconcile { job, snapshot_id } => {
            let desired = engine
                .snapshots
                .desired(&snapshot_id, &job.policy.field_rules)
                .await?;
            reconcile::reconcile_desired(engine, &job, &desired, &engine.snapshots, progress).await
        }
    }
}

/// [`execute_request`] with a mailbox's own failure turned into a FAILED result.
pub async fn run_request(
    engine: &Engine,
    request: &v1::SyncMailboxRequest,
    dry_run: bool,
) -> Result<reconcile::Report, Error> {
    let mailbox_id = request.mailbox_id.clone();
    match execute_request(engine, request, dry_run, &reconcile::Progress::unobserved()).await {
        Ok(report) => Ok(report),
        Err(error) if error.is_mailbox_failure() => {
            tracing::warn!(mailbox = %mailbox_id, %error, "mailbox failed");
            Ok(reconcile::Report {
                result: failed_result(&mailbox_id, &error),
                plan: None,
            })
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_mailbox_is_a_failed_result_in_plain_words() {
        let result = failed_result(
            "m1",
            &Error::BlockedByPolicy {
                mailbox_id: "m1".to_owned(),
            },
        );
        assert_eq!(result.outcome, v1::MailboxOutcome::Failed as i32);
        assert_eq!(
            result.errors,
            vec![crate::advice::OUTSIDE_EXCHANGE_SCOPE.to_owned()]
        );
        assert!(result.errors[0].starts_with("blocked by an Exchange application access policy"));
        assert!(result.errors[0].contains("add the mailbox to the app's scope"));
    }
}
