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

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use galsync_graph::identity::{IdentityClient, IdentityConfig, IdentityError};
use galsync_graph::{AccessToken, GraphClient, GraphClientConfig, StaticTokenSource};
use galsync_platform::CallerIdentity;
use secrecy::ExposeSecret;
use tokio::sync::mpsc;

use crate::broker::{non_empty_url, validate_guid, AppSpec, Broker, TenantSpec, TENANT_ID_HELP};
use crate::connection::ConnectionCheck;
use crate::error::BrokerError;
use crate::policy::{app_plans, AppPlan};
use crate::provision_graph::{Application, ProvisioningGraph};
use crate::store::{AppRow, CertificateRow, TenantRow};
use crate::tenants::TenantUpdate;
use crate::tokens::STATE_RETIRED;

/// "Microsoft Graph Command Line Tools", Microsoft's first-party public
/// client (the default `-ClientId` of Connect-MgGraph): it exists in every
/// tenant, so the administrator needs no app registration to sign in.
pub const MICROSOFT_GRAPH_CLI_CLIENT_ID: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";

/// The delegated permissions of the sign-in, and no more.
pub const ADMIN_SCOPES: [&str; 2] = [
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
];

/// Adopting only reads the apps, their service principals and grants.
pub const ADOPT_SCOPES: [&str; 1] = ["Application.Read.All"];

/// What adopting tells the administrator to do about anything missing.
const ADOPT_FIX: &str = "run galsync-entra.ps1 from `galsync tenant provision --manual` again \
     (or `galsync tenant provision` to let galsync repair it), then adopt again";

/// How long provisioning waits for Entra to replicate a new app and grant.
const REPLICATION_BUDGET: Duration = Duration::from_secs(300);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const LONGEST_BACKOFF: Duration = Duration::from_secs(15);

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

        let scopes: &[&str] = if request.adopt {
            &ADOPT_SCOPES
        } else {
            &ADMIN_SCOPES
        };
        let admin_token = self
            .admin_sign_in(&tenant_id, &login_base_url, scopes, &report)
            .await?;
        let signed_in_as = signed_in_upn(&admin_token);
        report.step(format!("signed in as {signed_in_as}")).await?;
        let graph = GraphClient::new(
            self.http.clone(),
            GraphClientConfig {
                base_url: format!("{graph_base_url}/v1.0"),
                ..GraphClientConfig::default()
            },
            Arc::new(StaticTokenSource::new(admin_token)),
        )
        .map_err(|error| BrokerError::Internal(error.to_string()))?;
        let graph = ProvisioningGraph {
            graph,
            signed_in_as: signed_in_as.clone(),
            repair: !request.adopt,
        };

        let mut changes = Vec::new();
        // What adopting found missing (nothing is repaired then).
        let mut missing = Vec::new();
        let graph_principal = graph.microsoft_graph_principal().await?;
        let mut applications = Vec::new();
        for plan in &plans {
            let mut role_ids = Vec::new();
            for role in plan.roles() {
                let Some(id) = graph_principal.role_ids.get(role) else {
                    return Err(BrokerError::FailedPrecondition(format!(
                        "Microsoft Graph in this tenant has no app role {role}"
                    )));
                };
                role_ids.push(id.clone());
            }
            let access = vec![serde_json::json!({
                "resourceAppId": crate::provision_graph::MICROSOFT_GRAPH_APP_ID,
                "resourceAccess": role_ids.iter()
                    .map(|id| serde_json::json!({"id": id, "type": "Role"}))
                    .collect::<Vec<_>>(),
            })];
            let application = match graph.find_application(&plan.unique_name).await? {
                Some(found) => {
                    report
                        .step(format!(
                            "found app {} (client id {})",
                            plan.display_name, found.app_id
                        ))
                        .await?;
                    let added = graph.ensure_required_access(&found, &role_ids).await?;
                    if request.adopt && !added.is_empty() {
                        let names = role_names(&graph_principal.role_ids, &added);
                        missing.push(format!("app {} does not request {names}", found.app_id));
                    } else if !added.is_empty() {
                        let names = role_names(&graph_principal.role_ids, &added);
                        let change =
                            format!("added {names} to the permissions of {}", found.app_id);
                        report.step(&change).await?;
                        changes.push(change);
                    }
                    found
                }
                None if request.adopt => {
                    return Err(BrokerError::FailedPrecondition(format!(
                        "no app {} (uniqueName {}) in tenant {tenant_id}: {ADOPT_FIX}",
                        plan.display_name, plan.unique_name
                    )));
                }
                None => {
                    let created = graph
                        .create_application(&plan.unique_name, &plan.display_name, &access)
                        .await?;
                    let change = format!(
                        "created app {} (client id {})",
                        plan.display_name, created.app_id
                    );
                    report.step(&change).await?;
                    changes.push(change);
                    created
                }
            };
            applications.push((plan.clone(), application, role_ids));
        }

        let tenant = self
            .store_client_ids(caller, &tenant_id, &request, &applications, &report)
            .await?;

        for (plan, application, role_ids) in &applications {
            let certificate = self
                .provisioning_certificate(
                    caller,
                    &tenant_id,
                    &application.app_id,
                    !request.adopt,
                    &report,
                )
                .await?;
            let added = graph
                .ensure_certificate(
                    application,
                    &certificate.der,
                    &certificate.thumbprint_sha1,
                    &certificate.subject,
                )
                .await?;
            // What rolling the app's own key later needs: the object id (a
            // proof's `iss`) and the key id of the certificate on the app.
            self.store
                .set_app_object_id(&tenant_id, &application.app_id, &application.object_id)
                .await?;
            if let Some(key_id) = graph
                .key_id_of(&application.object_id, &certificate.thumbprint_sha1)
                .await?
            {
                self.store
                    .set_certificate_app_key_id(&certificate.certificate_id, Some(&key_id))
                    .await?;
            }
            if request.adopt && added {
                missing.push(format!(
                    "app {} does not carry galsync's certificate {} (galsync.cer)",
                    application.app_id, certificate.thumbprint_sha1
                ));
            } else if added {
                let change = format!(
                    "added the certificate {} to app {}",
                    certificate.thumbprint_sha1, application.app_id
                );
                report.step(&change).await?;
                changes.push(change);
            }
            let (principal_id, created) =
                graph.ensure_service_principal(&application.app_id).await?;
            if request.adopt && created {
                missing.push(format!(
                    "app {} has no service principal (enterprise application) in the tenant",
                    application.app_id
                ));
                continue;
            }
            if created {
                let change = format!("created the service principal of {}", application.app_id);
                report.step(&change).await?;
                changes.push(change);
            }
            let granted = graph
                .grant_missing_roles(&graph_principal, &principal_id, role_ids)
                .await?;
            if request.adopt && !granted.is_empty() {
                let names = role_names(&graph_principal.role_ids, &granted);
                missing.push(format!(
                    "no admin consent for {names} on app {}",
                    application.app_id
                ));
            } else if !granted.is_empty() {
                let names = role_names(&graph_principal.role_ids, &granted);
                let change = format!("granted {names} to {} (admin consent)", plan.display_name);
                report.step(&change).await?;
                changes.push(change);
            }
        }
        // The administrator's token is not needed any more.
        drop(graph);
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

    /// The device code sign-in; the token is returned to the caller's
    /// memory and goes nowhere else.
    async fn admin_sign_in(
        &self,
        tenant_id: &str,
        login_base_url: &str,
        scopes: &[&str],
        report: &Reporter<'_>,
    ) -> Result<AccessToken, BrokerError> {
        let client_id = self.settings.admin_signin_client_id.as_str();
        let mut config = IdentityConfig::new(tenant_id.to_owned());
        config.login_base_url = login_base_url.to_owned();
        let identity = IdentityClient::new(self.http.clone(), config)
            .map_err(|error| BrokerError::Internal(error.to_string()))?;
        let device_code = identity
            .start_device_code_with_scopes(client_id, scopes)
            .await
            .map_err(|error| sign_in_error(client_id, error))?;
        report
            .send(ProvisionEvent::SignIn {
                user_code: device_code.user_code.clone(),
                verification_uri: device_code.verification_uri.clone(),
                message: device_code.message.clone().unwrap_or_default(),
                expires_at: device_code.expires_at,
            })
            .await?;
        let tokens = identity
            .wait_for_device_code(client_id, &device_code)
            .await
            .map_err(|error| sign_in_error(client_id, error))?;
        Ok(tokens.access_token)
    }

    /// Registers the tenant with the apps' client ids, or moves a registered
    /// tenant's apps to them (UpdateTenant's client id change, which takes
    /// galsync's certificates along as pending registration).
    async fn store_client_ids(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        request: &ProvisionRequest,
        applications: &[(AppPlan, Application, Vec<String>)],
        report: &Reporter<'_>,
    ) -> Result<TenantRow, BrokerError> {
        if self.store.get_tenant(tenant_id).await?.is_none() {
            let apps = applications
                .iter()
                .map(|(plan, application, _)| AppSpec {
                    client_id: application.app_id.clone(),
                    auth_mode: "certificate".to_owned(),
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

    /// The app's newest certificate that is neither retired nor expired;
    /// provisioning generates one when the app has none (`may_generate`),
    /// adopting refuses.
    async fn provisioning_certificate(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        client_id: &str,
        may_generate: bool,
        report: &Reporter<'_>,
    ) -> Result<CertificateRow, BrokerError> {
        let now = self.clock.now_millis();
        let usable = self
            .certificates(tenant_id, client_id)
            .await?
            .into_iter()
            .filter(|row| row.state != STATE_RETIRED && row.not_after > now)
            .max_by_key(|row| row.created_at);
        if let Some(row) = usable {
            return Ok(row);
        }
        if !may_generate {
            return Err(BrokerError::FailedPrecondition(format!(
                "galsync holds no certificate for app {client_id}: run `galsync cert generate \
                 --tenant-id {tenant_id}` and `galsync tenant provision --manual --force`, \
                 run galsync-entra.ps1 again, then adopt again"
            )));
        }
        let row = self
            .generate_certificate(caller, tenant_id, client_id, 0, 0)
            .await?;
        report
            .step(format!(
                "generated certificate {} for app {client_id}",
                row.thumbprint_sha1
            ))
            .await?;
        Ok(row)
    }

    /// Client credentials until the token carries `roles` (Entra replicates a
    /// new app, key and grant within seconds to minutes), with backoff.
    async fn wait_for_replication(
        &self,
        caller: &CallerIdentity,
        tenant: &TenantRow,
        app: &AppRow,
        roles: &[&str],
        report: &Reporter<'_>,
    ) -> Result<(), BrokerError> {
        let started = tokio::time::Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let outcome = match self.tokens.acquire(tenant, app).await {
                Ok((token, notes)) => {
                    self.audit_promotion(caller, &tenant.tenant_id, None, &notes)
                        .await?;
                    let missing: Vec<&str> = roles
                        .iter()
                        .copied()
                        .filter(|role| !token.roles.iter().any(|held| held == role))
                        .collect();
                    if missing.is_empty() {
                        self.tokens
                            .invalidate(&tenant.tenant_id, &app.client_id)
                            .await;
                        report
                            .step(format!(
                                "app {} signs in with its certificate and holds {}",
                                app.client_id,
                                roles.join(", ")
                            ))
                            .await?;
                        return Ok(());
                    }
                    format!("the token lacks {}", missing.join(", "))
                }
                // The fix Entra's error suggests (check the client id…) is
                // wrong while replication is under way: show only what happened.
                Err(error) => error
                    .to_string()
                    .split("; ")
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            };
            if started.elapsed() + backoff > REPLICATION_BUDGET {
                return Err(BrokerError::FailedPrecondition(format!(
                    "Entra did not replicate app {} within {} s ({outcome}); run provision \
                     again in a few minutes",
                    app.client_id,
                    REPLICATION_BUDGET.as_secs()
                )));
            }
            report
                .step(format!(
                    "waiting for Entra to replicate the grant (attempt {attempt}): {outcome}"
                ))
                .await?;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(LONGEST_BACKOFF);
            attempt += 1;
        }
    }
}

fn role_names(
    role_ids: &std::collections::BTreeMap<String, String>,
    wanted_ids: &[String],
) -> String {
    let mut names = Vec::new();
    for id in wanted_ids {
        let name = role_ids
            .iter()
            .find(|(_, role_id)| *role_id == id)
            .map(|(value, _)| value.as_str())
            .unwrap_or(id.as_str());
        names.push(name.to_owned());
    }
    names.join(", ")
}

fn sign_in_error(client_id: &str, error: IdentityError) -> BrokerError {
    match error {
        IdentityError::DeviceCodeExpired => BrokerError::FailedPrecondition(
            "the sign-in code expired before the administrator signed in; run provision again"
                .to_owned(),
        ),
        IdentityError::DeviceCodeDeclined => BrokerError::PermissionDenied(
            "the administrator declined the sign-in; nothing was changed".to_owned(),
        ),
        other => BrokerError::Credential(format!(
            "the administrator's sign-in with client {client_id} failed: {other} (if your \
             organisation blocks Microsoft Graph Command Line Tools, start the broker with \
             --admin-signin-client-id set to your own public client app)"
        )),
    }
}

/// The signed-in user's UPN from the token's payload (read unverified, for
/// the audit log and the screen; Graph verifies the token itself).
fn signed_in_upn(token: &AccessToken) -> String {
    let claims = token
        .value
        .expose_secret()
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload.trim_end_matches('='))
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .unwrap_or_default();
    for claim in ["upn", "preferred_username", "unique_name", "oid"] {
        if let Some(text) = claims[claim].as_str() {
            return text.to_owned();
        }
    }
    "an unknown administrator".to_owned()
}
