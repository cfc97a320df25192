//! gRPC adapter: requests in, domain calls, `Status` out.

use std::sync::Arc;

use galsync_platform::{authorize, AllowedCallers};
use galsync_proto::v1;
use tonic::{Request, Response, Status};

use crate::engine::Engine;
use crate::error::Error;
use crate::sync::{failed_result, run_request};

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
            Error::LeaseLapsed { .. } => Status::aborted(message),
            // The store's and encoder's text is for the operator's log; the
            // caller gets an incident id to quote.
            Error::Store(_) | Error::Encode(_) => galsync_platform::grpc::internal_status(
                "contact-writer",
                "internal error",
                &message,
            ),
        }
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
            Some(plan) if !plan.held_deletes_only => Ok(Response::new(plan)),
            _ => Err(Status::failed_precondition(report.result.errors.join("; "))),
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
        match crate::purge::purge(&self.engine, request.get_ref(), None).await {
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
        let store: Status = Error::Store(sqlx::Error::Protocol(
            "relation \"mailbox_state\" does not exist".to_owned(),
        ))
        .into();
        assert_eq!(store.code(), tonic::Code::Internal);
        assert!(
            !store.message().contains("mailbox_state"),
            "{}",
            store.message()
        );
        assert!(store.message().contains("incident"), "{}", store.message());
    }
}
