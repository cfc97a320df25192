//! Domain values to and from the `galsync.v1` messages of the AuthBroker
//! service.

use galsync_proto::v1;
use tonic::Status;

use crate::auth_mode::AuthMode;
use crate::broker::Broker;
use crate::connection::ConnectionCheck;
use crate::credentials::CertificateOrder;
use crate::policy::Purpose;
use crate::provision::ProvisionEvent;
use crate::store::{AppRow, TenantRow};

pub(super) fn timestamp(millis: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
    }
}

pub(super) fn test_connection_message(checks: Vec<ConnectionCheck>) -> v1::TestConnectionResponse {
    let ok = checks.iter().all(|check| check.ok);
    v1::TestConnectionResponse {
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
    }
}

pub(super) fn provision_event_message(event: ProvisionEvent) -> v1::ProvisionEvent {
    use v1::provision_event::Event;
    let event = match event {
        ProvisionEvent::SignIn {
            user_code,
            verification_uri,
            message,
            expires_at,
        } => Event::SignIn(v1::ProvisionSignIn {
            user_code,
            verification_uri,
            message,
            expires_at: Some(timestamp(expires_at.timestamp_millis())),
        }),
        ProvisionEvent::Step(text) => Event::Step(v1::ProvisionStep { text }),
    };
    v1::ProvisionEvent { event: Some(event) }
}

pub(super) fn tenant_with_apps(
    tenant: TenantRow,
    apps: Vec<AppRow>,
    upload_rotated_certificates: bool,
    broker: &Broker,
) -> v1::Tenant {
    v1::Tenant {
        upload_rotated_certificates,
        tenant_id: tenant.tenant_id,
        display_name: tenant.display_name,
        login_base_url: tenant.login_base_url,
        graph_base_url: tenant.graph_base_url,
        apps: apps
            .into_iter()
            .map(|app| app_message(app, broker))
            .collect(),
        created_at: Some(timestamp(tenant.created_at)),
    }
}

/// A row count for a `uint32` field.
pub(super) fn count(rows: i64) -> u32 {
    u32::try_from(rows).unwrap_or(u32::MAX)
}

/// The app as the API shows it; `broker` says whether its secret is in the
/// renewal window.
pub(super) fn app_message(app: AppRow, broker: &Broker) -> v1::AppRegistration {
    // An app in the removed consent-token mode has no AuthMode value any more:
    // it is listed as unspecified, and its token requests say what to do.
    let auth_mode = match app.auth_mode {
        AuthMode::Certificate => v1::AuthMode::Certificate,
        AuthMode::ClientSecret => v1::AuthMode::ClientSecret,
        AuthMode::ConsentToken => v1::AuthMode::Unspecified,
    };
    let purposes = app
        .purposes
        .split(',')
        .filter_map(Purpose::parse)
        .map(|purpose| purpose_to_proto(purpose) as i32)
        .collect();
    let stored_secret_expires_at = app
        .client_secret_expires_at
        .filter(|_| app.sealed_client_secret.is_some());
    let client_secret_expiring_soon =
        stored_secret_expires_at.is_some_and(|at| broker.secret_expiring_soon(at));
    let client_secret_expires_at = stored_secret_expires_at.map(timestamp);
    v1::AppRegistration {
        client_id: app.client_id,
        auth_mode: auth_mode as i32,
        purposes,
        has_client_secret: app.sealed_client_secret.is_some(),
        client_secret_expires_at,
        client_secret_expiring_soon,
    }
}

pub(super) fn purpose_to_proto(purpose: Purpose) -> v1::TokenPurpose {
    match purpose {
        Purpose::Directory => v1::TokenPurpose::Directory,
        Purpose::Contacts => v1::TokenPurpose::Contacts,
    }
}

pub(super) fn purpose_from_proto(value: i32) -> Option<Purpose> {
    match v1::TokenPurpose::try_from(value) {
        Ok(v1::TokenPurpose::Directory) => Some(Purpose::Directory),
        Ok(v1::TokenPurpose::Contacts) => Some(Purpose::Contacts),
        _ => None,
    }
}

/// The number `AUTH_MODE_CONSENT_TOKEN` had, now reserved: a client built
/// before the mode was removed may still send it.
const REMOVED_AUTH_MODE_CONSENT_TOKEN: i32 = 3;

pub(super) fn auth_mode_from_proto(value: i32) -> Result<AuthMode, Status> {
    if value == REMOVED_AUTH_MODE_CONSENT_TOKEN {
        return Err(crate::error::BrokerError::invalid(
            "apps.auth_mode",
            crate::auth_mode::CONSENT_TOKEN_MODE_REMOVED,
        )
        .into());
    }
    match v1::AuthMode::try_from(value) {
        Ok(v1::AuthMode::Certificate) | Ok(v1::AuthMode::Unspecified) => Ok(AuthMode::Certificate),
        Ok(v1::AuthMode::ClientSecret) => Ok(AuthMode::ClientSecret),
        Err(_) => Err(Status::invalid_argument(
            "invalid apps.auth_mode: unknown value",
        )),
    }
}

impl From<v1::GenerateCertificateRequest> for CertificateOrder {
    fn from(message: v1::GenerateCertificateRequest) -> Self {
        CertificateOrder {
            tenant_id: message.tenant_id,
            client_id: message.client_id,
            key_bits: message.key_bits,
            validity_days: message.validity_days,
        }
    }
}

impl From<v1::RotateCertificateRequest> for CertificateOrder {
    fn from(message: v1::RotateCertificateRequest) -> Self {
        CertificateOrder {
            tenant_id: message.tenant_id,
            client_id: message.client_id,
            key_bits: message.key_bits,
            validity_days: message.validity_days,
        }
    }
}
