//! gRPC adapter: requests in, validated into domain calls, `Status` out. The
//! caller's identity always comes from its verified mTLS certificate.

use std::sync::Arc;

use galsync_platform::access::check;
use galsync_platform::on_behalf::Role;
use galsync_platform::{caller_identity, CallerIdentity};
use galsync_proto::v1;
use galsync_proto::v1::auth_broker_server::AuthBroker;
use tonic::{Request, Response, Status};

use crate::broker::Broker;

// One module a use case; each RPC below hands its request to the module's
// function of the same name.
mod audit;
mod connect;
mod convert;
mod credentials;
mod tenant_health;
mod tenants;
mod tokens;

/// The `galsync.v1.AuthBroker` service.
#[derive(Clone)]
pub struct AuthBrokerService {
    broker: Arc<Broker>,
}

impl AuthBrokerService {
    pub fn new(broker: Arc<Broker>) -> Self {
        Self { broker }
    }

    /// Tenants, certificates, consent and the audit log are for admin
    /// identities (`--admin-identity`), and for people signed in to the
    /// console (`--console-identity`) as their role allows: `least`. A
    /// refusal names the caller and the RPC, is logged and is audited as
    /// `access.denied`.
    async fn authorize<T>(
        &self,
        request: &Request<T>,
        rpc: &str,
        least: Role,
    ) -> Result<CallerIdentity, Status> {
        self.broker.count_call(rpc);
        let policy = &self.broker.policy;
        let (caller, refusal) = match policy.caller(request) {
            Ok(caller) if policy.may(&caller, least) => return Ok(caller),
            Ok(CallerIdentity::Person(person)) => {
                let role = person.role;
                let caller = CallerIdentity::Person(person);
                let refusal = format!("{caller} has role {role}; {rpc} needs {least}");
                tracing::warn!(caller = %caller, rpc, "refused a person's call below the role it needs");
                (caller, refusal)
            }
            // `check` logs its refusal.
            Ok(caller) => match check(caller.clone(), rpc, policy.admins()) {
                Ok(caller) => return Ok(caller),
                Err(refusal) => (caller, refusal.to_string()),
            },
            Err(refusal) => {
                let caller = caller_identity(request);
                tracing::warn!(caller = %caller, rpc, refusal = %refusal, "refused an on-behalf-of claim");
                (caller, format!("{rpc} refused: {refusal}"))
            }
        };
        self.broker
            .audit
            .record("access.denied", &caller, "", None, rpc, None)
            .await?;
        Err(Status::permission_denied(refusal))
    }
}

#[tonic::async_trait]
impl AuthBroker for AuthBrokerService {
    async fn provision_tenant(
        &self,
        request: Request<v1::ProvisionTenantRequest>,
    ) -> Result<Response<tonic::codegen::BoxStream<v1::ProvisionEvent>>, Status> {
        tenants::provision_tenant(self, request).await
    }

    async fn register_tenant(
        &self,
        request: Request<v1::RegisterTenantRequest>,
    ) -> Result<Response<v1::Tenant>, Status> {
        tenants::register_tenant(self, request).await
    }

    async fn get_tenant(
        &self,
        request: Request<v1::GetTenantRequest>,
    ) -> Result<Response<v1::Tenant>, Status> {
        tenants::get_tenant(self, request).await
    }

    async fn list_tenants(
        &self,
        request: Request<v1::ListTenantsRequest>,
    ) -> Result<Response<v1::ListTenantsResponse>, Status> {
        tenants::list_tenants(self, request).await
    }

    async fn list_tenant_health(
        &self,
        request: Request<v1::ListTenantHealthRequest>,
    ) -> Result<Response<v1::ListTenantHealthResponse>, Status> {
        self.tenant_health(request).await
    }

    async fn update_tenant(
        &self,
        request: Request<v1::UpdateTenantRequest>,
    ) -> Result<Response<v1::UpdateTenantResponse>, Status> {
        tenants::update_tenant(self, request).await
    }

    async fn remove_tenant(
        &self,
        request: Request<v1::RemoveTenantRequest>,
    ) -> Result<Response<v1::RemoveTenantResponse>, Status> {
        tenants::remove_tenant(self, request).await
    }

    async fn generate_certificate(
        &self,
        request: Request<v1::GenerateCertificateRequest>,
    ) -> Result<Response<v1::Certificate>, Status> {
        credentials::generate_certificate(self, request).await
    }

    async fn import_certificate(
        &self,
        request: Request<v1::ImportCertificateRequest>,
    ) -> Result<Response<v1::Certificate>, Status> {
        credentials::import_certificate(self, request).await
    }

    async fn export_certificate(
        &self,
        request: Request<v1::ExportCertificateRequest>,
    ) -> Result<Response<v1::ExportCertificateResponse>, Status> {
        credentials::export_certificate(self, request).await
    }

    async fn list_certificates(
        &self,
        request: Request<v1::ListCertificatesRequest>,
    ) -> Result<Response<v1::ListCertificatesResponse>, Status> {
        credentials::list_certificates(self, request).await
    }

    async fn rotate_certificate(
        &self,
        request: Request<v1::RotateCertificateRequest>,
    ) -> Result<Response<v1::Certificate>, Status> {
        credentials::rotate_certificate(self, request).await
    }

    async fn set_client_secret(
        &self,
        request: Request<v1::SetClientSecretRequest>,
    ) -> Result<Response<v1::AppRegistration>, Status> {
        credentials::set_client_secret(self, request).await
    }

    async fn get_admin_consent_url(
        &self,
        request: Request<v1::GetAdminConsentUrlRequest>,
    ) -> Result<Response<v1::GetAdminConsentUrlResponse>, Status> {
        connect::get_admin_consent_url(self, request).await
    }

    async fn get_consent_status(
        &self,
        request: Request<v1::GetConsentStatusRequest>,
    ) -> Result<Response<v1::ConsentStatus>, Status> {
        connect::get_consent_status(self, request).await
    }

    async fn get_graph_token(
        &self,
        request: Request<v1::GetGraphTokenRequest>,
    ) -> Result<Response<v1::GraphToken>, Status> {
        tokens::get_graph_token(self, request).await
    }

    async fn invalidate_token(
        &self,
        request: Request<v1::InvalidateTokenRequest>,
    ) -> Result<Response<v1::InvalidateTokenResponse>, Status> {
        tokens::invalidate_token(self, request).await
    }

    async fn test_connection(
        &self,
        request: Request<v1::TestConnectionRequest>,
    ) -> Result<Response<v1::TestConnectionResponse>, Status> {
        connect::test_connection(self, request).await
    }

    async fn list_audit_events(
        &self,
        request: Request<v1::ListAuditEventsRequest>,
    ) -> Result<Response<v1::ListAuditEventsResponse>, Status> {
        audit::list_audit_events(self, request).await
    }
}
