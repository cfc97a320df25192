//! API keys (create, list, revoke) and the audit log, for admins.

use galsync_proto::v1;
use tonic::{Request, Response, Status};

use super::SchedulerService;
use crate::access::Role;
use crate::error::SchedulerError;
use crate::queue::millis_timestamp;
use crate::store::ApiKeyRow;

/// ListAuditLog's page when the request names none, and its largest.
const AUDIT_LOG_DEFAULT_LIMIT: u32 = 100;
const AUDIT_LOG_MAX_LIMIT: u32 = 500;

pub(super) async fn create_api_key(
    service: &SchedulerService,
    request: Request<v1::CreateApiKeyRequest>,
) -> Result<Response<v1::ApiKey>, Status> {
    let caller = service
        .caller(&request, Role::Admin, "galsync.v1.Scheduler/CreateApiKey")
        .await?;
    let message = request.into_inner();
    let role = match v1::ApiRole::try_from(message.role).unwrap_or_default() {
        v1::ApiRole::Viewer => Role::Viewer,
        v1::ApiRole::Operator => Role::Operator,
        v1::ApiRole::Admin => Role::Admin,
        v1::ApiRole::Unspecified => {
            return Err(SchedulerError::invalid("role", "use VIEWER, OPERATOR or ADMIN").into())
        }
    };
    let created = service
        .scheduler
        .create_api_key(&caller, &message.name, role, &message.tenant_id)
        .await?;
    Ok(Response::new(v1::ApiKey {
        secret: created.secret,
        ..api_key_message(&created.key)
    }))
}

pub(super) async fn list_api_keys(
    service: &SchedulerService,
    request: Request<v1::ListApiKeysRequest>,
) -> Result<Response<v1::ListApiKeysResponse>, Status> {
    let caller = service
        .caller(&request, Role::Admin, "galsync.v1.Scheduler/ListApiKeys")
        .await?;
    let keys = service.scheduler.list_api_keys(&caller).await?;
    Ok(Response::new(v1::ListApiKeysResponse {
        keys: keys.iter().map(api_key_message).collect(),
    }))
}

pub(super) async fn list_audit_log(
    service: &SchedulerService,
    request: Request<v1::ListAuditLogRequest>,
) -> Result<Response<v1::ListAuditLogResponse>, Status> {
    let caller = service
        .caller(&request, Role::Admin, "galsync.v1.Scheduler/ListAuditLog")
        .await?;
    if caller.tenant.is_some() {
        return Err(Status::permission_denied(format!(
            "{} is scoped to one tenant and the audit log is not kept per tenant; use a key for every tenant",
            caller.actor
        )));
    }
    let message = request.into_inner();
    let limit = match message.limit {
        0 => AUDIT_LOG_DEFAULT_LIMIT,
        asked => asked.min(AUDIT_LOG_MAX_LIMIT),
    };
    let rows = service
        .scheduler
        .audit_log(
            message.actor.trim(),
            message.action.trim(),
            message.before_id,
            i64::from(limit),
        )
        .await?;
    let full_page = rows.len() == limit as usize;
    let mut entries = Vec::with_capacity(rows.len());
    for (id, at_millis, actor, action, target, detail) in rows {
        entries.push(v1::AuditLogEntry {
            id,
            at: Some(millis_timestamp(at_millis)),
            actor,
            action,
            target,
            detail,
        });
    }
    let next_before_id = match entries.last() {
        Some(oldest) if full_page => oldest.id,
        _ => 0,
    };
    Ok(Response::new(v1::ListAuditLogResponse {
        entries,
        next_before_id,
    }))
}

pub(super) async fn revoke_api_key(
    service: &SchedulerService,
    request: Request<v1::RevokeApiKeyRequest>,
) -> Result<Response<v1::ApiKey>, Status> {
    let caller = service
        .caller(&request, Role::Admin, "galsync.v1.Scheduler/RevokeApiKey")
        .await?;
    let key = service
        .scheduler
        .revoke_api_key(&caller, &request.into_inner().key_id)
        .await?;
    Ok(Response::new(api_key_message(&key)))
}

/// A stored key as the API shows it: never its secret or hash.
fn api_key_message(key: &ApiKeyRow) -> v1::ApiKey {
    let role = match Role::parse(&key.role) {
        Some(Role::Viewer) => v1::ApiRole::Viewer,
        Some(Role::Operator) => v1::ApiRole::Operator,
        Some(Role::Admin) => v1::ApiRole::Admin,
        None => v1::ApiRole::Unspecified,
    };
    v1::ApiKey {
        key_id: key.key_id.clone(),
        name: key.name.clone(),
        role: role as i32,
        secret: String::new(),
        tenant_id: key.tenant_id.clone(),
        created_at: Some(millis_timestamp(key.created_at)),
        created_by: key.created_by.clone(),
        revoked_at: key.revoked_at.map(millis_timestamp),
    }
}
