//! The auth-broker's API as the console uses it: tenants, certificates,
//! client secrets, admin consent and Test Connection. Every call carries the
//! signed-in person and their role (`galsync_platform::on_behalf`), over
//! mTLS with the console's own identity; the broker decides what the role
//! allows (viewers read, operators also test connections, admins change).

use galsync_proto::v1;
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use tonic::transport::Channel;

use crate::api::on_behalf_request;
use crate::session::Session;

#[derive(Clone)]
pub struct BrokerApi {
    client: AuthBrokerClient<Channel>,
}

impl BrokerApi {
    pub fn new(channel: Channel) -> Self {
        Self {
            client: AuthBrokerClient::new(channel),
        }
    }

    /// Every tenant with its certificates and each app's consent, in one
    /// call however many tenants there are (`ListTenantHealth`).
    pub async fn tenants_with_health(
        &self,
        person: &Session,
    ) -> Result<Vec<v1::TenantHealth>, tonic::Status> {
        let request = on_behalf_request(person, v1::ListTenantHealthRequest {})?;
        Ok(self
            .client
            .clone()
            .list_tenant_health(request)
            .await?
            .into_inner()
            .tenants)
    }

    pub async fn tenant(
        &self,
        person: &Session,
        tenant_id: &str,
    ) -> Result<v1::Tenant, tonic::Status> {
        let message = v1::GetTenantRequest {
            tenant_id: tenant_id.to_owned(),
        };
        let request = on_behalf_request(person, message)?;
        Ok(self.client.clone().get_tenant(request).await?.into_inner())
    }

    /// INVALID_ARGUMENT names the field.
    pub async fn register_tenant(
        &self,
        person: &Session,
        message: v1::RegisterTenantRequest,
    ) -> Result<v1::Tenant, tonic::Status> {
        let request = on_behalf_request(person, message)?;
        Ok(self
            .client
            .clone()
            .register_tenant(request)
            .await?
            .into_inner())
    }

    /// Changes the fields given; INVALID_ARGUMENT names a bad one.
    pub async fn update_tenant(
        &self,
        person: &Session,
        message: v1::UpdateTenantRequest,
    ) -> Result<v1::UpdateTenantResponse, tonic::Status> {
        let request = on_behalf_request(person, message)?;
        Ok(self
            .client
            .clone()
            .update_tenant(request)
            .await?
            .into_inner())
    }

    /// Deletes the tenant with every secret the broker holds for it.
    pub async fn remove_tenant(
        &self,
        person: &Session,
        tenant_id: &str,
    ) -> Result<v1::RemoveTenantResponse, tonic::Status> {
        let message = v1::RemoveTenantRequest {
            tenant_id: tenant_id.to_owned(),
        };
        let request = on_behalf_request(person, message)?;
        Ok(self
            .client
            .clone()
            .remove_tenant(request)
            .await?
            .into_inner())
    }

    /// Every certificate of the tenant's apps.
    pub async fn certificates(
        &self,
        person: &Session,
        tenant_id: &str,
    ) -> Result<Vec<v1::Certificate>, tonic::Status> {
        let message = v1::ListCertificatesRequest {
            tenant_id: tenant_id.to_owned(),
            client_id: String::new(),
        };
        let request = on_behalf_request(person, message)?;
        Ok(self
            .client
            .clone()
            .list_certificates(request)
            .await?
            .into_inner()
            .certificates)
    }

    /// A new certificate for the app (2048 bits, two years, the broker's
    /// defaults); it signs once Entra accepts it.
    pub async fn generate_certificate(
        &self,
        person: &Session,
        tenant_id: &str,
        client_id: &str,
    ) -> Result<v1::Certificate, tonic::Status> {
        let message = v1::GenerateCertificateRequest {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            key_bits: 0,
            validity_days: 0,
        };
        let request = on_behalf_request(person, message)?;
        Ok(self
            .client
            .clone()
            .generate_certificate(request)
            .await?
            .into_inner())
    }

    /// A replacement; its `registration` says whether the broker uploaded
    /// it to the app or what the administrator does.
    pub async fn rotate_certificate(
        &self,
        person: &Session,
        tenant_id: &str,
        client_id: &str,
    ) -> Result<v1::Certificate, tonic::Status> {
        let message = v1::RotateCertificateRequest {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            key_bits: 0,
            validity_days: 0,
        };
        let request = on_behalf_request(person, message)?;
        Ok(self
            .client
            .clone()
            .rotate_certificate(request)
            .await?
            .into_inner())
    }

    /// Imports a certificate with its key (PKCS#12 or PEM); INVALID_ARGUMENT
    /// says what is wrong with the material, never the material.
    pub async fn import_certificate(
        &self,
        person: &Session,
        message: v1::ImportCertificateRequest,
    ) -> Result<v1::Certificate, tonic::Status> {
        let request = on_behalf_request(person, message)?;
        Ok(self
            .client
            .clone()
            .import_certificate(request)
            .await?
            .into_inner())
    }

    /// The public certificate (never its key).
    pub async fn export_certificate(
        &self,
        person: &Session,
        certificate_id: &str,
    ) -> Result<v1::ExportCertificateResponse, tonic::Status> {
        let message = v1::ExportCertificateRequest {
            certificate_id: certificate_id.to_owned(),
        };
        let request = on_behalf_request(person, message)?;
        Ok(self
            .client
            .clone()
            .export_certificate(request)
            .await?
            .into_inner())
    }

    pub async fn set_client_secret(
        &self,
        person: &Session,
        message: v1::SetClientSecretRequest,
    ) -> Result<v1::AppRegistration, tonic::Status> {
        let request = on_behalf_request(person, message)?;
        Ok(self
            .client
            .clone()
            .set_client_secret(request)
            .await?
            .into_inner())
    }

    /// The link that asks Entra for admin consent, back to the broker's own
    /// callback, with a single-use state.
    pub async fn admin_consent_url(
        &self,
        person: &Session,
        tenant_id: &str,
        client_id: &str,
    ) -> Result<String, tonic::Status> {
        let message = v1::GetAdminConsentUrlRequest {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            redirect_uri: String::new(),
        };
        let request = on_behalf_request(person, message)?;
        Ok(self
            .client
            .clone()
            .get_admin_consent_url(request)
            .await?
            .into_inner()
            .url)
    }

    pub async fn consent_status(
        &self,
        person: &Session,
        tenant_id: &str,
        client_id: &str,
    ) -> Result<v1::ConsentStatus, tonic::Status> {
        let message = v1::GetConsentStatusRequest {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
        };
        let request = on_behalf_request(person, message)?;
        Ok(self
            .client
            .clone()
            .get_consent_status(request)
            .await?
            .into_inner())
    }

    /// The broker's audit events, newest first.
    pub async fn audit_events(
        &self,
        person: &Session,
        message: v1::ListAuditEventsRequest,
    ) -> Result<Vec<v1::AuditEvent>, tonic::Status> {
        let request = on_behalf_request(person, message)?;
        Ok(self
            .client
            .clone()
            .list_audit_events(request)
            .await?
            .into_inner()
            .events)
    }

    pub async fn test_connection(
        &self,
        person: &Session,
        tenant_id: &str,
        probe_mailbox: &str,
    ) -> Result<v1::TestConnectionResponse, tonic::Status> {
        let message = v1::TestConnectionRequest {
            tenant_id: tenant_id.to_owned(),
            probe_mailbox: probe_mailbox.to_owned(),
        };
        let request = on_behalf_request(person, message)?;
        Ok(self
            .client
            .clone()
            .test_connection(request)
            .await?
            .into_inner())
    }
}
