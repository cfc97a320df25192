//! ProvisionTenant: an administrator signs in once (device code, delegated,
//! only `Application.ReadWrite.All` and `AppRoleAssignment.ReadWrite.All`)
//! and galsync makes its app registration(s) through Microsoft Graph, binds
//! its certificate, grants admin consent, stores the client ids, waits out
//! Entra's replication and runs Test Connection. A second run finds what
//! exists and repairs what is missing instead of creating duplicates.
//!
//! The administrator's token lives in this function's memory only: it is
//! never stored, logged or returned, and there is no refresh token (no
//! `offline_access` is asked for).
//!
//! The sign-in is in `provision/sign_in.rs`, the app registrations in
//! Entra in `provision/entra_apps.rs`, the tenant's registration in galsync
//! in `provision/registration.rs`, the wait for Entra's replication in
//! `provision/replication.rs`.

mod entra_apps;
mod registration;
mod replication;
mod sign_in;

use chrono::{DateTime, Utc};
use galsync_platform::CallerIdentity;
use tokio::sync::mpsc;

use crate::broker::{non_empty_url, validate_guid, Broker, TENANT_ID_HELP};
use crate::connection::ConnectionCheck;
use crate::error::BrokerError;
use crate::policy::app_plans;
use crate::store::TenantRow;
use entra_apps::EntraApps;

/// "Microsoft Graph Command Line Tools", Microsoft's first-party public
/// client (the default `-ClientId` of Connect-MgGraph): it exists in every
/// tenant, so the administrator needs no app registration to sign in.
pub const MICROSOFT_GRAPH_CLI_CLIENT_ID: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";

/// What adopting tells the administrator to do about anything missing.
const ADOPT_FIX: &str = "run galsync-entra.ps1 from `galsync tenant provision --manual` again \
     (or `galsync tenant provision` to let galsync repair it), then adopt again";

#[derive(Debug, Clone)]
pub struct ProvisionRequest {
    pub tenant_id: String,
    pub display_name: String,
    /// Empty = the tenant's (or the broker's default) host.
    pub login_base_url: String,
    pub graph_base_url: String,
    pub two_apps: bool,
    /// Only find, check and record the apps; change nothing in Entra ID.
    pub adopt: bool,
    /// Provisioning only: allow uploading rotated certificates (unset = allow).
    pub upload_rotated_certificates: Option<bool>,
}

/// What the administrator sees while provisioning runs.
#[derive(Debug, Clone)]
pub enum ProvisionEvent {
    SignIn {
        user_code: String,
        verification_uri: String,
        message: String,
        expires_at: DateTime<Utc>,
    },
    Step(String),
}

#[derive(Debug, Clone)]
pub struct Provisioned {
    pub tenant: TenantRow,
    pub signed_in_as: String,
    /// What was created or repaired; empty when all was in place.
    pub changes: Vec<String>,
    pub checks: Vec<ConnectionCheck>,
    /// Whether the broker uploads rotated certificates for this tenant.
    pub upload_rotated_certificates: bool,
}

/// Sends events to the caller; a caller that went away stops provisioning.
struct Reporter<'a>(&'a mpsc::Sender<ProvisionEvent>);

impl Reporter<'_> {
    async fn send(&self, event: ProvisionEvent) -> Result<(), BrokerError> {
        self.0.send(event).await.map_err(|_| {
            BrokerError::Unavailable("the caller stopped listening; provisioning stopped".into())
        })
    }

    async fn step(&self, text: impl Into<String>) -> Result<(), BrokerError> {
        self.send(ProvisionEvent::Step(text.into())).await
    }
}

impl Broker {
    pub async fn provision_tenant(
        &self,
        caller: &CallerIdentity,
        request: ProvisionRequest,
        events: &mpsc::Sender<ProvisionEvent>,
    ) -> Result<Provisioned, BrokerError> {
        self.require_admin(caller)?;
        let report = Reporter(events);
        let tenant_id = validate_guid("tenant_id", &request.tenant_id, TENANT_ID_HELP)?;
        let registered = self.store.get_tenant(&tenant_id).await?;
        let (login_base_url, graph_base_url, tenant_name) = match &registered {
            Some(tenant) => (
                tenant.login_base_url.clone(),
                tenant.graph_base_url.clone(),
                tenant.display_name.clone(),
            ),
            None => (
                non_empty_url(
                    "login_base_url",
                    &request.login_base_url,
                    &self.settings.default_login_base_url,
                )?,
                non_empty_url(
                    "graph_base_url",
                    &request.graph_base_url,
                    &self.settings.default_graph_base_url,
                )?,
                match request.display_name.trim() {
                    "" => tenant_id.clone(),
                    name => name.to_owned(),
                },
            ),
        };
        let plans = app_plans(&tenant_id, &tenant_name, request.two_apps);
        if registered.is_some() {
            let registered_apps = self.store.list_apps(&tenant_id).await?;
            if registered_apps.len() != plans.len() {
                return Err(BrokerError::FailedPrecondition(format!(
                    "tenant {tenant_id} is registered with {} app(s); provision it with {} \
                     (--two-apps for two), or remove the tenant first to change the layout",
                    registered_apps.len(),
                    registered_apps.len()
                )));
            }
        }

        let (graph, signed_in_as) = self
            .admin_graph(
                &tenant_id,
                &login_base_url,
                &graph_base_url,
                request.adopt,
                &report,
            )
            .await?;
        let mut entra = EntraApps::open(graph, &tenant_id, request.adopt, &report).await?;
        let applications = entra.find_or_create_applications(&plans).await?;

        let tenant = self
            .store_client_ids(caller, &tenant_id, &request, &applications, &report)
            .await?;

        entra
            .bind_certificates_and_grants(self, caller, &applications)
            .await?;
        // The administrator's token is not needed any more.
        let (changes, missing) = entra.finish();
        if !missing.is_empty() {
            return Err(BrokerError::FailedPrecondition(format!(
                "{}; {ADOPT_FIX}",
                missing.join("; ")
            )));
        }

        for (plan, application, _) in &applications {
            let app = self.app(&tenant_id, &application.app_id).await?;
            self.wait_for_replication(caller, &tenant, &app, &plan.roles(), &report)
                .await?;
        }
        if !request.adopt {
            // The administrator who lets galsync create the apps lets it
            // roll their keys too, unless they said otherwise.
            let allowed = request.upload_rotated_certificates.unwrap_or(true);
            self.store
                .set_upload_rotated_certificates(&tenant_id, allowed)
                .await?;
            let setting = if allowed { "on" } else { "off" };
            report
                .step(format!(
                    "upload of rotated certificates to the app registration: {setting} \
                     (galsync tenant update --upload-rotated-certificates on|off)"
                ))
                .await?;
        }
        let upload_rotated_certificates =
            self.store.upload_rotated_certificates(&tenant_id).await?;
        let checks = self.test_connection(caller, &tenant_id, "").await?;
        let failed = checks.iter().filter(|check| !check.ok).count();
        report
            .step(format!(
                "Test Connection: {} checks, {failed} failed",
                checks.len()
            ))
            .await?;
        let detail = if changes.is_empty() {
            format!("by {signed_in_as}: everything was in place")
        } else {
            format!("by {signed_in_as}: {}", changes.join("; "))
        };
        let action = if request.adopt {
            "tenant.adopted"
        } else {
            "tenant.provisioned"
        };
        self.audit
            .record(action, caller, &tenant_id, None, &detail, None)
            .await?;
        Ok(Provisioned {
            tenant: self.tenant(&tenant_id).await?,
            signed_in_as,
            changes,
            checks,
            upload_rotated_certificates,
        })
    }
}
