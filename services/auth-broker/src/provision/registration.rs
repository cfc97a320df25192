//! The tenant in galsync: registered with the client ids of the apps
//! provisioning found or made, or a registered tenant moved to them.

use galsync_platform::CallerIdentity;

use super::entra_apps::AppInEntra;
use super::{ProvisionRequest, Reporter};
use crate::auth_mode::AuthMode;
use crate::broker::{AppSpec, Broker, TenantSpec};
use crate::error::BrokerError;
use crate::store::TenantRow;
use crate::tenants::TenantUpdate;

impl Broker {
    /// Registers the tenant with the apps' client ids, or moves a registered
    /// tenant's apps to them (UpdateTenant's client id change, which takes
    /// galsync's certificates along as pending registration).
    pub(super) async fn store_client_ids(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        request: &ProvisionRequest,
        applications: &[AppInEntra],
        report: &Reporter<'_>,
    ) -> Result<TenantRow, BrokerError> {
        if self.store.get_tenant(tenant_id).await?.is_none() {
            let apps = applications
                .iter()
                .map(|(plan, application, _)| AppSpec {
                    client_id: application.app_id.clone(),
                    auth_mode: AuthMode::Certificate,
                    purposes: plan.purposes.clone(),
                })
                .collect();
            let spec = TenantSpec {
                tenant_id: tenant_id.to_owned(),
                display_name: request.display_name.clone(),
                login_base_url: request.login_base_url.clone(),
                graph_base_url: request.graph_base_url.clone(),
                apps,
            };
            let tenant = self.register_tenant(caller, spec).await?;
            report
                .step(format!("registered tenant {tenant_id} in galsync"))
                .await?;
            return Ok(tenant);
        }
        let mut client_id_changes = Vec::new();
        for (plan, application, _) in applications {
            let current = self.app_for_purpose(tenant_id, plan.purposes[0]).await?;
            if current.client_id != application.app_id {
                client_id_changes.push((current.client_id, application.app_id.clone()));
            }
        }
        if client_id_changes.is_empty() {
            return self.tenant(tenant_id).await;
        }
        for (old, new) in &client_id_changes {
            report
                .step(format!("moved galsync from app {old} to app {new}"))
                .await?;
        }
        let update = TenantUpdate {
            client_id_changes,
            ..TenantUpdate::default()
        };
        Ok(self.update_tenant(caller, tenant_id, update).await?.tenant)
    }
}
