//! gRPC adapter: requests in, validated into domain calls, `Status` out. The
//! caller's identity always comes from its verified mTLS certificate.

use std::sync::Arc;

use galsync_platform::{authorize, caller_identity, CallerIdentity};
use galsync_proto::v1;
use galsync_proto::v1::auth_broker_server::AuthBroker;
use tonic::{Request, Response, Status};

use crate::broker::{millis_to_time, AppSpec, Broker, TenantSpec};
use crate::certificates;
use crate::policy::Purpose;
use crate::store::{AppRow, CertificateRow, TenantRow};
use crate::tokens::{STATE_ACTIVE, STATE_PENDING, STATE_RETIRED};

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
    /// identities only (`--admin-identity`). A refusal names the caller and
    /// the RPC, is logged and is audited as `access.denied`.
    async fn authorize_admin<T>(
        &self,
        request: &Request<T>,
        rpc: &str,
    ) -> Result<CallerIdentity, Status> {
        let refusal = match authorize(request, rpc, self.broker.policy.admins()) {
            Ok(caller) => return Ok(caller),
            Err(refusal) => refusal,
        };
        self.broker
            .audit
            .record("access.denied", &refusal.caller, "", None, rpc, None)
            .await?;
        Err(refusal.into())
    }

    async fn tenant_message(&self, tenant: TenantRow) -> Result<v1::Tenant, Status> {
        let apps = self.broker.apps(&tenant.tenant_id).await?;
        Ok(v1::Tenant {
            tenant_id: tenant.tenant_id,
            display_name: tenant.display_name,
            login_base_url: tenant.login_base_url,
            graph_base_url: tenant.graph_base_url,
            apps: apps.into_iter().map(app_message).collect(),
            created_at: Some(timestamp(tenant.created_at)),
        })
    }

    async fn new_certificate(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        client_id: &str,
        key_bits: u32,
        validity_days: u32,
    ) -> Result<Response<v1::Certificate>, Status> {
        let row = self
            .broker
            .generate_certificate(caller, tenant_id, client_id, key_bits, validity_days)
            .await?;
        Ok(Response::new(self.certificate_message(&row)))
    }

    fn certificate_message(&self, row: &CertificateRow) -> v1::Certificate {
        let now_millis = self.broker.clock().now_millis();
        let state = if row.not_after <= now_millis {
            v1::CertificateState::Expired
        } else {
            match row.state.as_str() {
                STATE_ACTIVE => v1::CertificateState::Active,
                STATE_PENDING => v1::CertificateState::PendingRegistration,
                STATE_RETIRED => v1::CertificateState::Retired,
                _ => v1::CertificateState::Unspecified,
            }
        };
        v1::Certificate {
            certificate_id: row.certificate_id.clone(),
            tenant_id: row.tenant_id.clone(),
            client_id: row.client_id.clone(),
            subject: row.subject.clone(),
            thumbprint_sha1: row.thumbprint_sha1.clone(),
            thumbprint_sha256: row.thumbprint_sha256.clone(),
            not_before: Some(timestamp(row.not_before)),
            not_after: Some(timestamp(row.not_after)),
            state: state as i32,
            key_bits: row.key_bits as u32,
            expiring_soon: self.broker.expiring_soon(row),
        }
    }
}

fn timestamp(millis: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
    }
}

fn app_message(app: AppRow) -> v1::AppRegistration {
    let auth_mode = match app.auth_mode.as_str() {
        "certificate" => v1::AuthMode::Certificate,
        "client-secret" => v1::AuthMode::ClientSecret,
        "consent-token" => v1::AuthMode::ConsentToken,
        _ => v1::AuthMode::Unspecified,
    };
    let purposes = app
        .purposes
        .split(',')
        .filter_map(Purpose::parse)
        .map(|purpose| purpose_to_proto(purpose) as i32)
        .collect();
    // A consent token expires after 90 days without use.
    let consent_token_expires_at = app
        .refresh_token_used_at
        .filter(|_| app.sealed_refresh_token.is_some())
        .map(|used_at| timestamp(used_at + 90 * 24 * 3600 * 1000));
    let client_secret_expires_at = app
        .client_secret_expires_at
        .filter(|_| app.sealed_client_secret.is_some())
        .map(timestamp);
    v1::AppRegistration {
        client_id: app.client_id,
        auth_mode: auth_mode as i32,
        purposes,
        has_client_secret: app.sealed_client_secret.is_some(),
        has_consent_token: app.sealed_refresh_token.is_some(),
        consent_token_expires_at,
        client_secret_expires_at,
    }
}

fn purpose_to_proto(purpose: Purpose) -> v1::TokenPurpose {
    match purpose {
        Purpose::Directory => v1::TokenPurpose::Directory,
        Purpose::Contacts => v1::TokenPurpose::Contacts,
    }
}

fn purpose_from_proto(value: i32) -> Option<Purpose> {
    match v1::TokenPurpose::try_from(value) {
        Ok(v1::TokenPurpose::Directory) => Some(Purpose::Directory),
        Ok(v1::TokenPurpose::Contacts) => Some(Purpose::Contacts),
        _ => None,
    }
}

fn auth_mode_from_proto(value: i32) -> Result<String, Status> {
    match v1::AuthMode::try_from(value) {
        Ok(v1::AuthMode::Certificate) | Ok(v1::AuthMode::Unspecified) => {
            Ok("certificate".to_owned())
        }
        Ok(v1::AuthMode::ClientSecret) => Ok("client-secret".to_owned()),
        Ok(v1::AuthMode::ConsentToken) => Ok("consent-token".to_owned()),
        Err(_) => Err(Status::invalid_argument(
            "invalid apps.auth_mode: unknown value",
        )),
    }
}

#[tonic::async_trait]
impl AuthBroker for AuthBrokerService {
    async fn register_tenant(
        &self,
        request: Request<v1::RegisterTenantRequest>,
    ) -> Result<Response<v1::Tenant>, Status> {
        let caller = self
            .authorize_admin(&request, "galsync.v1.AuthBroker/RegisterTenant")
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
        let tenant = self.broker.register_tenant(&caller, spec).await?;
        Ok(Response::new(self.tenant_message(tenant).await?))
    }

    async fn get_tenant(
        &self,
        request: Request<v1::GetTenantRequest>,
    ) -> Result<Response<v1::Tenant>, Status> {
        self.authorize_admin(&request, "galsync.v1.AuthBroker/GetTenant")
            .await?;
        let tenant = self.broker.tenant(&request.into_inner().tenant_id).await?;
        Ok(Response::new(self.tenant_message(tenant).await?))
    }

    async fn list_tenants(
        &self,
        request: Request<v1::ListTenantsRequest>,
    ) -> Result<Response<v1::ListTenantsResponse>, Status> {
        self.authorize_admin(&request, "galsync.v1.AuthBroker/ListTenants")
            .await?;
        let mut tenants = Vec::new();
        for tenant in self
            .broker
            .store
            .list_tenants()
            .await
            .map_err(crate::error::BrokerError::from)?
        {
            tenants.push(self.tenant_message(tenant).await?);
        }
        Ok(Response::new(v1::ListTenantsResponse { tenants }))
    }

    async fn generate_certificate(
        &self,
        request: Request<v1::GenerateCertificateRequest>,
    ) -> Result<Response<v1::Certificate>, Status> {
        let caller = self
            .authorize_admin(&request, "galsync.v1.AuthBroker/GenerateCertificate")
            .await?;
        let message = request.into_inner();
        self.new_certificate(
            &caller,
            &message.tenant_id,
            &message.client_id,
            message.key_bits,
            message.validity_days,
        )
        .await
    }

    async fn import_certificate(
        &self,
        request: Request<v1::ImportCertificateRequest>,
    ) -> Result<Response<v1::Certificate>, Status> {
        let caller = self
            .authorize_admin(&request, "galsync.v1.AuthBroker/ImportCertificate")
            .await?;
        let message = request.into_inner();
        let material = match message.material {
            Some(v1::import_certificate_request::Material::Pkcs12(bundle)) => {
                certificates::import_pkcs12(&bundle.der, &bundle.password)
                    .map_err(crate::error::BrokerError::from)?
            }
            Some(v1::import_certificate_request::Material::Pem(bundle)) => {
                certificates::import_pem(&bundle.certificate_pem, &bundle.private_key_pem)
                    .map_err(crate::error::BrokerError::from)?
            }
            None => {
                return Err(Status::invalid_argument(
                    "invalid material: give pkcs12 or pem",
                ))
            }
        };
        let row = self
            .broker
            .import_certificate(&caller, &message.tenant_id, &message.client_id, material)
            .await?;
        Ok(Response::new(self.certificate_message(&row)))
    }

    async fn export_certificate(
        &self,
        request: Request<v1::ExportCertificateRequest>,
    ) -> Result<Response<v1::ExportCertificateResponse>, Status> {
        self.authorize_admin(&request, "galsync.v1.AuthBroker/ExportCertificate")
            .await?;
        let row = self
            .broker
            .certificate(&request.into_inner().certificate_id)
            .await?;
        Ok(Response::new(v1::ExportCertificateResponse {
            certificate: Some(self.certificate_message(&row)),
            pem: certificates::to_pem(&row.der),
            cer_der: row.der,
        }))
    }

    async fn list_certificates(
        &self,
        request: Request<v1::ListCertificatesRequest>,
    ) -> Result<Response<v1::ListCertificatesResponse>, Status> {
        self.authorize_admin(&request, "galsync.v1.AuthBroker/ListCertificates")
            .await?;
        let message = request.into_inner();
        let rows = self
            .broker
            .certificates(&message.tenant_id, &message.client_id)
            .await?;
        Ok(Response::new(v1::ListCertificatesResponse {
            certificates: rows
                .iter()
                .map(|row| self.certificate_message(row))
                .collect(),
        }))
    }

    /// A replacement made now: like generating one, it signs only once Entra
    /// accepts it, and the current certificate keeps working until then.
    async fn rotate_certificate(
        &self,
        request: Request<v1::RotateCertificateRequest>,
    ) -> Result<Response<v1::Certificate>, Status> {
        let caller = self
            .authorize_admin(&request, "galsync.v1.AuthBroker/RotateCertificate")
            .await?;
        let message = request.into_inner();
        self.new_certificate(
            &caller,
            &message.tenant_id,
            &message.client_id,
            message.key_bits,
            message.validity_days,
        )
        .await
    }

    async fn set_client_secret(
        &self,
        request: Request<v1::SetClientSecretRequest>,
    ) -> Result<Response<v1::AppRegistration>, Status> {
        let caller = self
            .authorize_admin(&request, "galsync.v1.AuthBroker/SetClientSecret")
            .await?;
        let message = request.into_inner();
        let expires_at = message
            .expires_at
            .map(|at| millis_to_time(at.seconds * 1000 + i64::from(at.nanos / 1_000_000)));
        let app = self
            .broker
            .set_client_secret(
                &caller,
                &message.tenant_id,
                &message.client_id,
                &message.secret,
                expires_at,
            )
            .await?;
        Ok(Response::new(app_message(app)))
    }

    async fn get_admin_consent_url(
        &self,
        request: Request<v1::GetAdminConsentUrlRequest>,
    ) -> Result<Response<v1::GetAdminConsentUrlResponse>, Status> {
        let caller = self
            .authorize_admin(&request, "galsync.v1.AuthBroker/GetAdminConsentUrl")
            .await?;
        let message = request.into_inner();
        let (url, state) = self
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

    async fn get_consent_status(
        &self,
        request: Request<v1::GetConsentStatusRequest>,
    ) -> Result<Response<v1::ConsentStatus>, Status> {
        self.authorize_admin(&request, "galsync.v1.AuthBroker/GetConsentStatus")
            .await?;
        let message = request.into_inner();
        let outcome = self
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

    async fn start_device_sign_in(
        &self,
        request: Request<v1::StartDeviceSignInRequest>,
    ) -> Result<Response<v1::DeviceSignIn>, Status> {
        let caller = self
            .authorize_admin(&request, "galsync.v1.AuthBroker/StartDeviceSignIn")
            .await?;
        let message = request.into_inner();
        let row = self
            .broker
            .start_device_sign_in(&caller, &message.tenant_id, &message.client_id)
            .await?;
        Ok(Response::new(v1::DeviceSignIn {
            sign_in_id: row.sign_in_id,
            user_code: row.user_code,
            verification_uri: row.verification_uri,
            message: row.message,
            expires_at: Some(timestamp(row.expires_at)),
            interval_seconds: row.interval_seconds as u32,
        }))
    }

    async fn poll_device_sign_in(
        &self,
        request: Request<v1::PollDeviceSignInRequest>,
    ) -> Result<Response<v1::DeviceSignInStatus>, Status> {
        let caller = self
            .authorize_admin(&request, "galsync.v1.AuthBroker/PollDeviceSignIn")
            .await?;
        let row = self
            .broker
            .poll_device_sign_in(&caller, &request.into_inner().sign_in_id)
            .await?;
        let state = match row.state.as_str() {
            "pending" => v1::device_sign_in_status::State::Pending,
            "completed" => v1::device_sign_in_status::State::Completed,
            "expired" => v1::device_sign_in_status::State::Expired,
            "declined" => v1::device_sign_in_status::State::Declined,
            _ => v1::device_sign_in_status::State::Unspecified,
        };
        Ok(Response::new(v1::DeviceSignInStatus {
            state: state as i32,
            error_description: row.error_description,
        }))
    }

    async fn get_graph_token(
        &self,
        request: Request<v1::GetGraphTokenRequest>,
    ) -> Result<Response<v1::GraphToken>, Status> {
        let caller = caller_identity(&request);
        let message = request.into_inner();
        let issued = self
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

    async fn invalidate_token(
        &self,
        request: Request<v1::InvalidateTokenRequest>,
    ) -> Result<Response<v1::InvalidateTokenResponse>, Status> {
        let caller = caller_identity(&request);
        let message = request.into_inner();
        let invalidated = self
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

    async fn test_connection(
        &self,
        request: Request<v1::TestConnectionRequest>,
    ) -> Result<Response<v1::TestConnectionResponse>, Status> {
        let caller = self
            .authorize_admin(&request, "galsync.v1.AuthBroker/TestConnection")
            .await?;
        let message = request.into_inner();
        let checks = self
            .broker
            .test_connection(&caller, &message.tenant_id, &message.probe_mailbox)
            .await?;
        let ok = checks.iter().all(|check| check.ok);
        Ok(Response::new(v1::TestConnectionResponse {
            ok,
            checks: checks
                .into_iter()
                .map(|check| v1::ConnectionCheck {
                    name: check.name,
                    ok: check.ok,
                    detail: check.detail,
                    fix: check.fix,
                    error_code: check.error_code,
                })
                .collect(),
        }))
    }

    async fn list_audit_events(
        &self,
        request: Request<v1::ListAuditEventsRequest>,
    ) -> Result<Response<v1::ListAuditEventsResponse>, Status> {
        self.authorize_admin(&request, "galsync.v1.AuthBroker/ListAuditEvents")
            .await?;
        let message = request.into_inner();
        let rows = self
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
}
