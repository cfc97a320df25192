//! gRPC adapter: requests in, domain calls, `Status` out.

use std::sync::Arc;

use galsync_platform::{authorize, AllowedCallers};
use galsync_proto::v1;
use tonic::{Request, Response, Status};

use crate::engine::Engine;
use crate::error::Error;
use crate::reconcile::{self, MailboxJob};

/// The `galsync.v1.ContactWriter` service. Every RPC writes to (or plans
/// writes to) a mailbox, so only the scheduler, which applies profiles, roles
/// and the deletion guard, may call it: `drivers` names who that is.
#[derive(Debug, Clone)]
pub struct ContactWriterService {
    engine: Arc<Engine>,
    drivers: AllowedCallers,
}

impl ContactWriterService {
    pub fn new(engine: Arc<Engine>, drivers: AllowedCallers) -> Self {
        Self { engine, drivers }
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        match error {
            Error::InvalidRequest(_) => Status::invalid_argument(message),
            Error::SnapshotNotFound { .. } => Status::not_found(message),
            Error::BlockedByPolicy { .. } | Error::MailboxNotEnabled { .. } => {
                Status::failed_precondition(message)
            }
            Error::Graph { .. } | Error::SnapshotUnavailable { .. } | Error::GraphSetup { .. } => {
                Status::unavailable(message)
            }
            Error::Cancelled => Status::cancelled(message),
            Error::Store(_) | Error::Encode(_) => Status::internal(message),
        }
    }
}

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
    if request.purge {
        if dry_run {
            return Err(Error::InvalidRequest(
                "a purge is not planned: dry runs do not purge removed targets".to_owned(),
            ));
        }
        let purge = v1::PurgeMailboxRequest {
            tenant_id: request.tenant_id.clone(),
            mailbox_id: request.mailbox_id.clone(),
            folder_name: request
                .policy
                .as_ref()
                .map(|policy| policy.folder_name.clone())
                .unwrap_or_default(),
            profile_id: request.profile_id.clone(),
        };
        let result = crate::purge::purge(engine, &purge).await?;
        return Ok(reconcile::Report { result, plan: None });
    }
    let job = MailboxJob::from_request(request, dry_run)?;
    if request.snapshot_id.is_empty() {
        return Err(Error::InvalidRequest("snapshot_id is required".to_owned()));
    }
    let desired = engine
        .snapshots
        .desired(&request.snapshot_id, &job.policy.field_rules)
        .await?;
    reconcile::reconcile_desired(engine, &job, &desired, &engine.snapshots, progress).await
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

#[tonic::async_trait]
impl v1::contact_writer_server::ContactWriter for ContactWriterService {
    async fn sync_mailbox(
        &self,
        request: Request<v1::SyncMailboxRequest>,
    ) -> Result<Response<v1::MailboxSyncResult>, Status> {
        authorize(
            &request,
            "galsync.v1.ContactWriter/SyncMailbox",
            &self.drivers,
        )?;
        let report = run_request(&self.engine, request.get_ref(), false).await?;
        Ok(Response::new(report.result))
    }

    async fn plan_mailbox(
        &self,
        request: Request<v1::SyncMailboxRequest>,
    ) -> Result<Response<v1::MailboxPlan>, Status> {
        authorize(
            &request,
            "galsync.v1.ContactWriter/PlanMailbox",
            &self.drivers,
        )?;
        let report = run_request(&self.engine, request.get_ref(), true).await?;
        match report.plan {
            Some(plan) => Ok(Response::new(plan)),
            None => Err(Status::failed_precondition(report.result.errors.join("; "))),
        }
    }

    async fn purge_mailbox(
        &self,
        request: Request<v1::PurgeMailboxRequest>,
    ) -> Result<Response<v1::MailboxSyncResult>, Status> {
        authorize(
            &request,
            "galsync.v1.ContactWriter/PurgeMailbox",
            &self.drivers,
        )?;
        let mailbox_id = request.get_ref().mailbox_id.clone();
        match crate::purge::purge(&self.engine, request.get_ref()).await {
            Ok(result) => Ok(Response::new(result)),
            Err(error) if error.is_mailbox_failure() => {
                Ok(Response::new(failed_result(&mailbox_id, &error)))
            }
            Err(error) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_the_status_a_caller_can_act_on() {
        let invalid: Status = Error::InvalidRequest("mailbox_id is required".to_owned()).into();
        assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
        let blocked: Status = Error::BlockedByPolicy {
            mailbox_id: "m1".to_owned(),
        }
        .into();
        assert_eq!(blocked.code(), tonic::Code::FailedPrecondition);
        assert!(blocked
            .message()
            .contains("blocked by an Exchange application access policy"));
        let gone: Status = Error::SnapshotNotFound {
            snapshot_id: "s1".to_owned(),
        }
        .into();
        assert_eq!(gone.code(), tonic::Code::NotFound);
        let reader_down: Status = Error::SnapshotUnavailable {
            snapshot_id: "s1".to_owned(),
            reason: "connection refused".to_owned(),
        }
        .into();
        assert_eq!(reader_down.code(), tonic::Code::Unavailable);
    }

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
