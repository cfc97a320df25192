//! Which tenants the auth-broker knows: a profile for a tenant it does not
//! know could never run, so creating or updating one is refused at once.

use futures::future::BoxFuture;
use galsync_platform::telemetry::{traced, Traced};
use galsync_proto::v1;
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use tonic::transport::Channel;

use crate::error::SchedulerError;

pub trait TenantRegistry: Send + Sync + 'static {
    /// Ok when the broker knows `tenant_id`; `InvalidArgument` naming
    /// `field` when it does not; `Unavailable` when it cannot say.
    fn require_registered<'a>(
        &'a self,
        field: &'a str,
        tenant_id: &'a str,
    ) -> BoxFuture<'a, Result<(), SchedulerError>>;
}

/// The auth-broker over gRPC (the scheduler is one of its admin callers).
#[derive(Debug, Clone)]
pub struct BrokerTenants {
    client: AuthBrokerClient<Traced>,
    url: String,
}

impl BrokerTenants {
    pub fn new(channel: Channel, url: &str) -> Self {
        Self {
            client: AuthBrokerClient::new(traced(channel)),
            url: url.to_owned(),
        }
    }
}

impl TenantRegistry for BrokerTenants {
    fn require_registered<'a>(
        &'a self,
        field: &'a str,
        tenant_id: &'a str,
    ) -> BoxFuture<'a, Result<(), SchedulerError>> {
        Box::pin(async move {
            let request = v1::GetTenantRequest {
                tenant_id: tenant_id.to_owned(),
            };
            match self.client.clone().get_tenant(request).await {
                Ok(_) => Ok(()),
                Err(status) if status.code() == tonic::Code::NotFound => {
                    Err(SchedulerError::invalid(
                        field,
                        format!(
                            "tenant {tenant_id} is not registered with the auth-broker; \
                         register it first (`galsync tenant add --tenant-id {tenant_id} …`)"
                        ),
                    ))
                }
                Err(status) => {
                    tracing::warn!(url = %self.url, code = ?status.code(), error = %status.message(), "could not ask the auth-broker about a profile's tenant");
                    Err(SchedulerError::Unavailable(format!(
                        "could not check {field} with the auth-broker at {} ({:?}); \
                         start it or correct the scheduler's --broker-url, then try again",
                        self.url,
                        status.code()
                    )))
                }
            }
        })
    }
}
