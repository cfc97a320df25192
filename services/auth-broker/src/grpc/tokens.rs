//! Graph tokens for the reader and writer, and their invalidation.

use galsync_platform::caller_identity;
use galsync_proto::v1;
use tonic::{Request, Response, Status};

use super::convert::{purpose_from_proto, timestamp};
use super::AuthBrokerService;

pub(super) async fn get_graph_token(
    service: &AuthBrokerService,
    request: Request<v1::GetGraphTokenRequest>,
) -> Result<Response<v1::GraphToken>, Status> {
    let caller = caller_identity(&request);
    let message = request.into_inner();
    let issued = service
        .broker
        .graph_token(
            &caller,
            &message.tenant_id,
            purpose_from_proto(message.purpose),
        )
        .await?;
    use secrecy::ExposeSecret;
    Ok(Response::new(v1::GraphToken {
        access_token: issued.token.value.expose_secret().to_owned(),
        expires_at: Some(timestamp(issued.token.expires_at.timestamp_millis())),
        graph_base_url: format!("{}/v1.0", issued.graph_base_url),
        roles: issued.token.roles.clone(),
    }))
}

pub(super) async fn invalidate_token(
    service: &AuthBrokerService,
    request: Request<v1::InvalidateTokenRequest>,
) -> Result<Response<v1::InvalidateTokenResponse>, Status> {
    let caller = caller_identity(&request);
    let message = request.into_inner();
    let invalidated = service
        .broker
        .invalidate_token(
            &caller,
            &message.tenant_id,
            purpose_from_proto(message.purpose),
            &message.reason,
        )
        .await?;
    Ok(Response::new(v1::InvalidateTokenResponse { invalidated }))
}
