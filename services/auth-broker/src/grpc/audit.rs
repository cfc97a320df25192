//! The credential audit log.

use galsync_platform::on_behalf::Role;
use galsync_proto::v1;
use tonic::{Request, Response, Status};

use super::convert::{purpose_to_proto, timestamp};
use super::AuthBrokerService;
use crate::policy::Purpose;

pub(super) async fn list_audit_events(
    service: &AuthBrokerService,
    request: Request<v1::ListAuditEventsRequest>,
) -> Result<Response<v1::ListAuditEventsResponse>, Status> {
    service
        .authorize(
            &request,
            "galsync.v1.AuthBroker/ListAuditEvents",
            Role::Admin,
        )
        .await?;
    let message = request.into_inner();
    let rows = service
        .broker
        .audit
        .list(&message.tenant_id, &message.kind, message.limit)
        .await?;
    let events = rows
        .into_iter()
        .map(|row| v1::AuditEvent {
            id: row.id,
            at: Some(timestamp(row.at)),
            kind: row.kind,
            caller: row.caller,
            tenant_id: row.tenant_id,
            purpose: Purpose::parse(&row.purpose)
                .map(|purpose| purpose_to_proto(purpose) as i32)
                .unwrap_or(0),
            detail: row.detail,
            token_expires_at: row.token_expires_at.map(timestamp),
        })
        .collect();
    Ok(Response::new(v1::ListAuditEventsResponse { events }))
}
