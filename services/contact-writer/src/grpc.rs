//! gRPC adapter: requests in, domain calls, `Status` out.

use std::sync::Arc;

use galsync_platform::{authorize, AllowedCallers};
use galsync_proto::v1;
use tonic::{Request, Response, Status};

use crate::engine::Engine;
use crate::request::PurgeJob;
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
        let job = PurgeJob::from_request(request.get_ref())?;
        match crate::purge::purge(&self.engine, &job, None).await {
            Ok(result) => Ok(Response::new(result)),
            Err(error) if error.is_mailbox_failure() => {
                Ok(Response::new(failed_result(&job.mailbox_id, &error)))
            }
            Err(error) => Err(error.into()),
        }
    }
}
