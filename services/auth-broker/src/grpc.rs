//! gRPC adapter: requests in, validated into domain calls, `Status` out. The
//! caller's identity always comes from its verified mTLS certificate.

use std::sync::Arc;

use galsync_platform::access::check;
use galsync_platform::on_behalf::Role;
use galsync_platform::{caller_identity, CallerIdentity};
use galsync_proto::v1;
use galsync_proto::v1::auth_broker_server::AuthBroker;
use tonic::{Request, Response, Status};

use crate::broker::{millis_to_time, AppSpec, Broker, TenantSpec};
use crate::certificates;
use crate::policy::Purpose;
use crate::provision::{ProvisionEvent, ProvisionRequest};
use crate::store::{CertificateRow, TenantRow};
use crate::tenants::TenantUpdate;
use crate::tokens::{STATE_ACTIVE, STATE_PENDING, STATE_RETIRED};

mod convert;
mod tenant_health;

use convert::{
    app_message, auth_mode_from_proto, count, provision_event_message, purpose_from_proto,
    purpose_to_proto, tenant_with_apps, test_connection_message, timestamp,
};

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

    async fn tenant_message(&self, tenant: TenantRow) -> Result<v1::Tenant, Status> {
        let apps = self.broker.apps(&tenant.tenant_id).await?;
        let upload = self
            .broker
            .store
            .upload_rotated_certificates(&tenant.tenant_id)
            .await
            .map_err(crate::error::BrokerError::from)?;
        Ok(tenant_with_apps(tenant, apps, upload))
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
            registration: String::new(),
        }
    }
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

#[tonic::async_trait]
impl AuthBroker for AuthBrokerService {
    async fn provision_tenant(
        &self,
        request: Request<v1::ProvisionTenantRequest>,
    ) -> Result<Response<tonic::codegen::BoxStream<v1::ProvisionEvent>>, Status> {
        let caller = self
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
            self.broker.clone(),
            caller,
            provision_request,
            out,
        ));
        let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn register_tenant(
        &self,
        request: Request<v1::RegisterTenantRequest>,
    ) -> Result<Response<v1::Tenant>, Status> {
        let caller = self
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
        let tenant = self.broker.register_tenant(&caller, spec).await?;
        Ok(Response::new(self.tenant_message(tenant).await?))
    }

    async fn get_tenant(
        &self,
        request: Request<v1::GetTenantRequest>,
    ) -> Result<Response<v1::Tenant>, Status> {
        self.authorize(&request, "galsync.v1.AuthBroker/GetTenant", Role::Viewer)
            .await?;
        let tenant = self.broker.tenant(&request.into_inner().tenant_id).await?;
        Ok(Response::new(self.tenant_message(tenant).await?))
    }

    async fn list_tenants(
        &self,
        request: Request<v1::ListTenantsRequest>,
    ) -> Result<Response<v1::ListTenantsResponse>, Status> {
        self.authorize(&request, "galsync.v1.AuthBroker/ListTenants", Role::Viewer)
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
        let caller = self
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
        let updated = self
            .broker
            .update_tenant(&caller, &message.tenant_id, update)
            .await?;
        Ok(Response::new(v1::UpdateTenantResponse {
            tenant: Some(self.tenant_message(updated.tenant).await?),
            changed_fields: updated
                .changed_fields
                .iter()
                .map(|field| (*field).to_owned())
                .collect(),
        }))
    }

    async fn remove_tenant(
        &self,
        request: Request<v1::RemoveTenantRequest>,
    ) -> Result<Response<v1::RemoveTenantResponse>, Status> {
        let caller = self
            .authorize(&request, "galsync.v1.AuthBroker/RemoveTenant", Role::Admin)
            .await?;
        let removed = self
            .broker
            .remove_tenant(&caller, &request.into_inner().tenant_id)
            .await?;
        let sealed = removed.removed.sealed;
        Ok(Response::new(v1::RemoveTenantResponse {
            tenant: Some(tenant_with_apps(removed.tenant, removed.apps, false)),
            apps: count(removed.removed.apps),
            certificate_keys: count(sealed.certificate_keys),
            client_secrets: count(sealed.client_secrets),
        }))
    }

    async fn generate_certificate(
        &self,
        request: Request<v1::GenerateCertificateRequest>,
    ) -> Result<Response<v1::Certificate>, Status> {
        let caller = self
            .authorize(
                &request,
                "galsync.v1.AuthBroker/GenerateCertificate",
                Role::Admin,
            )
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
            .authorize(
                &request,
                "galsync.v1.AuthBroker/ImportCertificate",
                Role::Admin,
            )
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
        self.authorize(
            &request,
            "galsync.v1.AuthBroker/ExportCertificate",
            Role::Viewer,
        )
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
        self.authorize(
            &request,
            "galsync.v1.AuthBroker/ListCertificates",
            Role::Viewer,
        )
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
            .authorize(
                &request,
                "galsync.v1.AuthBroker/RotateCertificate",
                Role::Admin,
            )
            .await?;
        let message = request.into_inner();
        let rotated = self
            .broker
            .rotate_certificate(
                &caller,
                &message.tenant_id,
                &message.client_id,
                message.key_bits,
                message.validity_days,
            )
            .await?;
        let mut answer = self.certificate_message(&rotated.certificate);
        answer.registration = rotated.upload.describe(
            &rotated.certificate.client_id,
            &rotated.certificate.thumbprint_sha1,
        );
        Ok(Response::new(answer))
    }

    async fn set_client_secret(
        &self,
        request: Request<v1::SetClientSecretRequest>,
    ) -> Result<Response<v1::AppRegistration>, Status> {
        let caller = self
            .authorize(
                &request,
                "galsync.v1.AuthBroker/SetClientSecret",
                Role::Admin,
            )
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
            .authorize(
                &request,
                "galsync.v1.AuthBroker/GetAdminConsentUrl",
                Role::Admin,
            )
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
        self.authorize(
            &request,
            "galsync.v1.AuthBroker/GetConsentStatus",
            Role::Viewer,
        )
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
            .authorize(
                &request,
                "galsync.v1.AuthBroker/TestConnection",
                Role::Operator,
            )
            .await?;
        let message = request.into_inner();
        let checks = self
            .broker
            .test_connection(&caller, &message.tenant_id, &message.probe_mailbox)
            .await?;
        Ok(Response::new(test_connection_message(checks)))
    }

    async fn list_audit_events(
        &self,
        request: Request<v1::ListAuditEventsRequest>,
    ) -> Result<Response<v1::ListAuditEventsResponse>, Status> {
        self.authorize(
            &request,
            "galsync.v1.AuthBroker/ListAuditEvents",
            Role::Admin,
        )
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
