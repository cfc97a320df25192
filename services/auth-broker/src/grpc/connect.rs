//! Connecting a tenant: the admin-consent link, the consent it recorded,
//! and the connection test.

use galsync_platform::on_behalf::Role;
use galsync_proto::v1;
use tonic::{Request, Response, Status};

use super::convert::{test_connection_message, timestamp};
use super::AuthBrokerService;

pub(super) async fn get_admin_consent_url(
    service: &AuthBrokerService,
    request: Request<v1::GetAdminConsentUrlRequest>,
) -> Result<Response<v1::GetAdminConsentUrlResponse>, Status> {
    let caller = service
        .authorize(
            &request,
            "galsync.v1.AuthBroker/GetAdminConsentUrl",
            Role::Admin,
        )
        .await?;
    let message = request.into_inner();
    let (url, state) = service
        .broker
        .admin_consent_url(
            &caller,
            &message.tenant_id,
            &message.client_id,
            &message.redirect_uri,
        )
        .await?;
    Ok(Response::new(v1::GetAdminConsentUrlResponse { url, state }))
}

pub(super) async fn get_consent_status(
    service: &AuthBrokerService,
    request: Request<v1::GetConsentStatusRequest>,
) -> Result<Response<v1::ConsentStatus>, Status> {
    service
        .authorize(
            &request,
            "galsync.v1.AuthBroker/GetConsentStatus",
            Role::Viewer,
        )
        .await?;
    let message = request.into_inner();
    let outcome = service
        .broker
        .consent_status(&message.tenant_id, &message.client_id)
        .await?;
    let status = match outcome {
        Some(outcome) => v1::ConsentStatus {
            granted: outcome.granted,
            error: outcome.error,
            error_description: outcome.error_description,
            recorded_at: Some(timestamp(outcome.recorded_at)),
        },
        None => v1::ConsentStatus::default(),
    };
    Ok(Response::new(status))
}

pub(super) async fn test_connection(
    service: &AuthBrokerService,
    request: Request<v1::TestConnectionRequest>,
) -> Result<Response<v1::TestConnectionResponse>, Status> {
    let caller = service
        .authorize(
            &request,
            "galsync.v1.AuthBroker/TestConnection",
            Role::Operator,
        )
        .await?;
    let message = request.into_inner();
    let checks = service
        .broker
        .test_connection(&caller, &message.tenant_id, &message.probe_mailbox)
        .await?;
    Ok(Response::new(test_connection_message(checks)))
}
