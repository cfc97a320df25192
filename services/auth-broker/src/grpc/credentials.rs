//! An app's credentials: certificates generated, imported, exported, listed
//! and rotated, and client secrets.

use galsync_platform::on_behalf::Role;
use galsync_proto::v1;
use tonic::{Request, Response, Status};

use super::convert::{app_message, timestamp};
use super::AuthBrokerService;
use crate::broker::millis_to_time;
use crate::certificates;
use crate::credentials::{CertificateOrder, Registration};
use crate::store::CertificateRow;
use crate::tokens::{STATE_ACTIVE, STATE_PENDING, STATE_RETIRED};

impl AuthBrokerService {
    pub(super) fn certificate_message(&self, row: &CertificateRow) -> v1::Certificate {
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

pub(super) async fn generate_certificate(
    service: &AuthBrokerService,
    request: Request<v1::GenerateCertificateRequest>,
) -> Result<Response<v1::Certificate>, Status> {
    new_certificate(
        service,
        request,
        "galsync.v1.AuthBroker/GenerateCertificate",
        Registration::ByHand,
    )
    .await
}

/// A replacement made now: like generating one, it signs only once Entra
/// accepts it, and the current certificate keeps working until then.
pub(super) async fn rotate_certificate(
    service: &AuthBrokerService,
    request: Request<v1::RotateCertificateRequest>,
) -> Result<Response<v1::Certificate>, Status> {
    new_certificate(
        service,
        request,
        "galsync.v1.AuthBroker/RotateCertificate",
        Registration::UploadWhenAllowed,
    )
    .await
}

/// The one body of GenerateCertificate and RotateCertificate; the answer's
/// `registration` says what became of an upload, when one was asked for.
async fn new_certificate<T: Into<CertificateOrder>>(
    service: &AuthBrokerService,
    request: Request<T>,
    rpc: &str,
    registration: Registration,
) -> Result<Response<v1::Certificate>, Status> {
    let caller = service.authorize(&request, rpc, Role::Admin).await?;
    let order = request.into_inner().into();
    let made = service
        .broker
        .new_certificate(&caller, &order, registration)
        .await?;
    let mut answer = service.certificate_message(&made.certificate);
    if let Some(upload) = made.upload {
        answer.registration = upload.describe(
            &made.certificate.client_id,
            &made.certificate.thumbprint_sha1,
        );
    }
    Ok(Response::new(answer))
}

pub(super) async fn import_certificate(
    service: &AuthBrokerService,
    request: Request<v1::ImportCertificateRequest>,
) -> Result<Response<v1::Certificate>, Status> {
    let caller = service
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
    let row = service
        .broker
        .import_certificate(&caller, &message.tenant_id, &message.client_id, material)
        .await?;
    Ok(Response::new(service.certificate_message(&row)))
}

pub(super) async fn export_certificate(
    service: &AuthBrokerService,
    request: Request<v1::ExportCertificateRequest>,
) -> Result<Response<v1::ExportCertificateResponse>, Status> {
    service
        .authorize(
            &request,
            "galsync.v1.AuthBroker/ExportCertificate",
            Role::Viewer,
        )
        .await?;
    let row = service
        .broker
        .certificate(&request.into_inner().certificate_id)
        .await?;
    Ok(Response::new(v1::ExportCertificateResponse {
        certificate: Some(service.certificate_message(&row)),
        pem: certificates::to_pem(&row.der),
        cer_der: row.der,
    }))
}

pub(super) async fn list_certificates(
    service: &AuthBrokerService,
    request: Request<v1::ListCertificatesRequest>,
) -> Result<Response<v1::ListCertificatesResponse>, Status> {
    service
        .authorize(
            &request,
            "galsync.v1.AuthBroker/ListCertificates",
            Role::Viewer,
        )
        .await?;
    let message = request.into_inner();
    let rows = service
        .broker
        .certificates(&message.tenant_id, &message.client_id)
        .await?;
    Ok(Response::new(v1::ListCertificatesResponse {
        certificates: rows
            .iter()
            .map(|row| service.certificate_message(row))
            .collect(),
    }))
}

pub(super) async fn set_client_secret(
    service: &AuthBrokerService,
    request: Request<v1::SetClientSecretRequest>,
) -> Result<Response<v1::AppRegistration>, Status> {
    let caller = service
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
    let app = service
        .broker
        .set_client_secret(
            &caller,
            &message.tenant_id,
            &message.client_id,
            &message.secret,
            expires_at,
        )
        .await?;
    Ok(Response::new(app_message(app, &service.broker)))
}
