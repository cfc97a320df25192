//! Tenants: provision, register, read, update and remove them.

use std::sync::Arc;

use galsync_platform::on_behalf::Role;
use galsync_platform::CallerIdentity;
use galsync_proto::v1;
use tonic::{Request, Response, Status};

use super::convert::{
    auth_mode_from_proto, count, provision_event_message, purpose_from_proto, tenant_with_apps,
    test_connection_message,
};
use super::AuthBrokerService;
use crate::broker::{AppSpec, Broker, TenantSpec};
use crate::provision::{ProvisionEvent, ProvisionRequest};
use crate::store::TenantRow;
use crate::tenants::TenantUpdate;

impl AuthBrokerService {
    pub(super) async fn tenant_message(&self, tenant: TenantRow) -> Result<v1::Tenant, Status> {
        let apps = self.broker.apps(&tenant.tenant_id).await?;
        let upload = self
            .broker
            .uploads_rotated_certificates(&tenant.tenant_id)
            .await?;
        Ok(tenant_with_apps(tenant, apps, upload, &self.broker))
    }
}

pub(super) async fn provision_tenant(
    service: &AuthBrokerService,
    request: Request<v1::ProvisionTenantRequest>,
) -> Result<Response<tonic::codegen::BoxStream<v1::ProvisionEvent>>, Status> {
    let caller = service
        .authorize(
            &request,
            "galsync.v1.AuthBroker/ProvisionTenant",
            Role::Admin,
        )
        .await?;
    let message = request.into_inner();
    let provision_request = ProvisionRequest {
        tenant_id: message.tenant_id,
        display_name: message.display_name,
        login_base_url: message.login_base_url,
        graph_base_url: message.graph_base_url,
        two_apps: message.two_apps,
        adopt: message.adopt,
        upload_rotated_certificates: message.upload_rotated_certificates,
    };
    let (out, receiver) = tokio::sync::mpsc::channel(16);
    tokio::spawn(run_provisioning(
        service.broker.clone(),
        caller,
        provision_request,
        out,
    ));
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
    Ok(Response::new(Box::pin(stream)))
}

pub(super) async fn register_tenant(
    service: &AuthBrokerService,
    request: Request<v1::RegisterTenantRequest>,
) -> Result<Response<v1::Tenant>, Status> {
    let caller = service
        .authorize(
            &request,
            "galsync.v1.AuthBroker/RegisterTenant",
            Role::Admin,
        )
        .await?;
    let message = request.into_inner();
    let mut apps = Vec::new();
    for app in message.apps {
        let mut purposes = Vec::new();
        for value in &app.purposes {
            match purpose_from_proto(*value) {
                Some(purpose) => purposes.push(purpose),
                None => {
                    return Err(Status::invalid_argument(
                        "invalid apps.purposes: use DIRECTORY or CONTACTS",
                    ))
                }
            }
        }
        apps.push(AppSpec {
            client_id: app.client_id,
            auth_mode: auth_mode_from_proto(app.auth_mode)?,
            purposes,
        });
    }
    let spec = TenantSpec {
        tenant_id: message.tenant_id,
        display_name: message.display_name,
        login_base_url: message.login_base_url,
        graph_base_url: message.graph_base_url,
        apps,
    };
    let tenant = service.broker.register_tenant(&caller, spec).await?;
    Ok(Response::new(service.tenant_message(tenant).await?))
}

pub(super) async fn get_tenant(
    service: &AuthBrokerService,
    request: Request<v1::GetTenantRequest>,
) -> Result<Response<v1::Tenant>, Status> {
    service
        .authorize(&request, "galsync.v1.AuthBroker/GetTenant", Role::Viewer)
        .await?;
    let tenant = service
        .broker
        .tenant(&request.into_inner().tenant_id)
        .await?;
    Ok(Response::new(service.tenant_message(tenant).await?))
}

pub(super) async fn list_tenants(
    service: &AuthBrokerService,
    request: Request<v1::ListTenantsRequest>,
) -> Result<Response<v1::ListTenantsResponse>, Status> {
    service
        .authorize(&request, "galsync.v1.AuthBroker/ListTenants", Role::Viewer)
        .await?;
    let mut tenants = Vec::new();
    for tenant in service.broker.tenants().await? {
        tenants.push(service.tenant_message(tenant).await?);
    }
    Ok(Response::new(v1::ListTenantsResponse { tenants }))
}

pub(super) async fn update_tenant(
    service: &AuthBrokerService,
    request: Request<v1::UpdateTenantRequest>,
) -> Result<Response<v1::UpdateTenantResponse>, Status> {
    let caller = service
        .authorize(&request, "galsync.v1.AuthBroker/UpdateTenant", Role::Admin)
        .await?;
    let message = request.into_inner();
    let update = TenantUpdate {
        display_name: message.display_name,
        login_base_url: message.login_base_url,
        graph_base_url: message.graph_base_url,
        client_id_changes: message
            .client_id_changes
            .into_iter()
            .map(|change| (change.client_id, change.new_client_id))
            .collect(),
        upload_rotated_certificates: message.upload_rotated_certificates,
    };
    let updated = service
        .broker
        .update_tenant(&caller, &message.tenant_id, update)
        .await?;
    Ok(Response::new(v1::UpdateTenantResponse {
        tenant: Some(service.tenant_message(updated.tenant).await?),
        changed_fields: updated
            .changed_fields
            .iter()
            .map(|field| (*field).to_owned())
            .collect(),
    }))
}

pub(super) async fn remove_tenant(
    service: &AuthBrokerService,
    request: Request<v1::RemoveTenantRequest>,
) -> Result<Response<v1::RemoveTenantResponse>, Status> {
    let caller = service
        .authorize(&request, "galsync.v1.AuthBroker/RemoveTenant", Role::Admin)
        .await?;
    let removed = service
        .broker
        .remove_tenant(&caller, &request.into_inner().tenant_id)
        .await?;
    let sealed = removed.removed.sealed;
    Ok(Response::new(v1::RemoveTenantResponse {
        tenant: Some(tenant_with_apps(
            removed.tenant,
            removed.apps,
            false,
            &service.broker,
        )),
        apps: count(removed.removed.apps),
        certificate_keys: count(sealed.certificate_keys),
        client_secrets: count(sealed.client_secrets),
    }))
}

/// Runs provisioning, forwarding its events to `out`; the last item is
/// `Done` or the error status.
async fn run_provisioning(
    broker: Arc<Broker>,
    caller: CallerIdentity,
    request: ProvisionRequest,
    out: tokio::sync::mpsc::Sender<Result<v1::ProvisionEvent, Status>>,
) {
    let (events, mut received) = tokio::sync::mpsc::channel::<ProvisionEvent>(16);
    let forward_out = out.clone();
    let forwarding = tokio::spawn(async move {
        while let Some(event) = received.recv().await {
            if forward_out
                .send(Ok(provision_event_message(event)))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let outcome = broker.provision_tenant(&caller, request, &events).await;
    drop(events);
    let _ = forwarding.await;
    let last = match outcome {
        Ok(provisioned) => match broker.apps(&provisioned.tenant.tenant_id).await {
            Ok(apps) => Ok(v1::ProvisionEvent {
                event: Some(v1::provision_event::Event::Done(v1::ProvisionDone {
                    tenant: Some(tenant_with_apps(
                        provisioned.tenant,
                        apps,
                        provisioned.upload_rotated_certificates,
                        &broker,
                    )),
                    signed_in_as: provisioned.signed_in_as,
                    changes: provisioned.changes,
                    test_connection: Some(test_connection_message(provisioned.checks)),
                })),
            }),
            Err(error) => Err(Status::from(error)),
        },
        Err(error) => Err(Status::from(error)),
    };
    // The caller may have gone; nothing is left to tell it then.
    let _ = out.send(last).await;
}
