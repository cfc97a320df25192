//! `ListTenantHealth`: every tenant's connection health in one answer, so a
//! page showing every tenant (the console's overview and tenant list) asks
//! the broker once instead of once per tenant and app. It reads what
//! `ListTenants`, `ListCertificates` and `GetConsentStatus` read, so the
//! same role may call it: a viewer.

use galsync_platform::on_behalf::Role;
use galsync_proto::v1;
use tonic::{Request, Response, Status};

use super::AuthBrokerService;
use crate::store::ConsentOutcomeRow;

use super::convert::timestamp;

pub(super) const RPC: &str = "galsync.v1.AuthBroker/ListTenantHealth";

impl AuthBrokerService {
    pub(super) async fn tenant_health(
        &self,
        request: Request<v1::ListTenantHealthRequest>,
    ) -> Result<Response<v1::ListTenantHealthResponse>, Status> {
        self.authorize(&request, RPC, Role::Viewer).await?;
        let mut tenants = Vec::new();
        for tenant_row in self.broker.tenants().await? {
            let tenant_id = tenant_row.tenant_id.clone();
            let tenant = self.tenant_message(tenant_row).await?;
            let certificate_rows = self.broker.tenant_certificates(&tenant_id).await?;
            let certificates = certificate_rows
                .iter()
                .map(|row| self.certificate_message(row))
                .collect();
            let mut consents = Vec::new();
            for app in &tenant.apps {
                let outcome = self
                    .broker
                    .recorded_consent(&tenant_id, &app.client_id)
                    .await?;
                consents.push(v1::AppConsent {
                    client_id: app.client_id.clone(),
                    status: Some(consent_message(outcome)),
                });
            }
            tenants.push(v1::TenantHealth {
                tenant: Some(tenant),
                certificates,
                consents,
            });
        }
        Ok(Response::new(v1::ListTenantHealthResponse { tenants }))
    }
}

/// A recorded consent outcome as `GetConsentStatus` answers it; all
/// defaults (not granted, no error) when none was recorded.
pub(super) fn consent_message(outcome: Option<ConsentOutcomeRow>) -> v1::ConsentStatus {
    match outcome {
        Some(outcome) => v1::ConsentStatus {
            granted: outcome.granted,
            error: outcome.error,
            error_description: outcome.error_description,
            recorded_at: Some(timestamp(outcome.recorded_at)),
        },
        None => v1::ConsentStatus::default(),
    }
}
