//! Profile administration: create, update, read, list, delete and explain.

use galsync_proto::v1;
use tonic::{Request, Response, Status};

use super::SchedulerService;
use crate::access::{Caller, Role};
use crate::error::SchedulerError;
use crate::profiles;
use crate::queue::millis_timestamp;
use crate::scheduler::decode_spec;
use crate::store::ProfileRow;

pub(super) fn profile_message(row: &ProfileRow) -> Result<v1::Profile, Status> {
    let spec = decode_spec(row)?;
    Ok(v1::Profile {
        profile_id: row.profile_id.clone(),
        spec: Some(spec),
        version: row.version as u64,
        created_at: Some(millis_timestamp(row.created_at)),
        updated_at: Some(millis_timestamp(row.updated_at)),
        next_run_at: row.next_run_at.map(millis_timestamp),
        last_run_id: row.last_run_id.clone(),
    })
}

/// A tenant-scoped caller may create or move a profile only into its tenant.
fn require_tenant_in_scope(caller: &Caller, spec: &v1::ProfileSpec) -> Result<(), Status> {
    let Some(scope) = caller.tenant.as_deref() else {
        return Ok(());
    };
    match profiles::tenant_id_field("spec.tenant_id", &spec.tenant_id) {
        Ok(tenant_id) if tenant_id == scope => Ok(()),
        Ok(tenant_id) => Err(SchedulerError::PermissionDenied(format!(
            "{} is scoped to tenant {scope}; it cannot make or change a profile of tenant {tenant_id}",
            caller.actor
        ))
        .into()),
        // The profile's own validation names the bad field.
        Err(_) => Ok(()),
    }
}

pub(super) async fn create(
    service: &SchedulerService,
    request: Request<v1::CreateProfileRequest>,
) -> Result<Response<v1::Profile>, Status> {
    let caller = service
        .caller(&request, Role::Admin, "galsync.v1.Scheduler/CreateProfile")
        .await?;
    let Some(spec) = request.into_inner().spec else {
        return Err(SchedulerError::invalid("spec", "is missing").into());
    };
    require_tenant_in_scope(&caller, &spec)?;
    let row = service.scheduler.create_profile(&caller, spec).await?;
    Ok(Response::new(profile_message(&row)?))
}

pub(super) async fn update(
    service: &SchedulerService,
    request: Request<v1::UpdateProfileRequest>,
) -> Result<Response<v1::Profile>, Status> {
    let caller = service
        .caller(&request, Role::Admin, "galsync.v1.Scheduler/UpdateProfile")
        .await?;
    let message = request.into_inner();
    let Some(spec) = message.spec else {
        return Err(SchedulerError::invalid("spec", "is missing").into());
    };
    let profile_id = profiles::id_field("profile_id", &message.profile_id)?;
    service.scheduler.profile_for(&caller, profile_id).await?;
    require_tenant_in_scope(&caller, &spec)?;
    let row = service
        .scheduler
        .update_profile(&caller, profile_id, spec, message.expected_version)
        .await?;
    Ok(Response::new(profile_message(&row)?))
}

pub(super) async fn get(
    service: &SchedulerService,
    request: Request<v1::GetProfileRequest>,
) -> Result<Response<v1::Profile>, Status> {
    let caller = service
        .caller(&request, Role::Viewer, "galsync.v1.Scheduler/GetProfile")
        .await?;
    let row = service
        .scheduler
        .profile_for(
            &caller,
            profiles::id_field("profile_id", &request.into_inner().profile_id)?,
        )
        .await?;
    Ok(Response::new(profile_message(&row)?))
}

pub(super) async fn list(
    service: &SchedulerService,
    request: Request<v1::ListProfilesRequest>,
) -> Result<Response<v1::ListProfilesResponse>, Status> {
    let caller = service
        .caller(&request, Role::Viewer, "galsync.v1.Scheduler/ListProfiles")
        .await?;
    let asked = request.into_inner().tenant_id;
    let Some(tenant_id) = caller.tenant_filter(asked.trim()) else {
        return Ok(Response::new(v1::ListProfilesResponse::default()));
    };
    let rows = service.scheduler.list_profiles(tenant_id).await?;
    let mut profiles = Vec::new();
    for row in &rows {
        profiles.push(profile_message(row)?);
    }
    Ok(Response::new(v1::ListProfilesResponse { profiles }))
}

pub(super) async fn delete(
    service: &SchedulerService,
    request: Request<v1::DeleteProfileRequest>,
) -> Result<Response<v1::DeleteProfileResponse>, Status> {
    let caller = service
        .caller(&request, Role::Admin, "galsync.v1.Scheduler/DeleteProfile")
        .await?;
    let message = request.into_inner();
    let profile_id = profiles::id_field("profile_id", &message.profile_id)?;
    service.scheduler.profile_for(&caller, profile_id).await?;
    service
        .scheduler
        .delete_profile(&caller, profile_id)
        .await?;
    Ok(Response::new(v1::DeleteProfileResponse {}))
}

pub(super) async fn explain(
    service: &SchedulerService,
    request: Request<v1::ExplainProfileRequest>,
) -> Result<Response<v1::ExplainProfileResponse>, Status> {
    let caller = service
        .caller(
            &request,
            Role::Viewer,
            "galsync.v1.Scheduler/ExplainProfile",
        )
        .await?;
    let message = request.into_inner();
    let profile_id = profiles::id_field("profile_id", &message.profile_id)?;
    service.scheduler.profile_for(&caller, profile_id).await?;
    let explanation = service.scheduler.explain_profile(profile_id).await?;
    Ok(Response::new(explanation))
}
