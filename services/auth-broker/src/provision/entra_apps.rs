//! The app registrations in Entra ID, through the administrator's Graph
//! session: each planned app found by its unique name or created, then its
//! permissions, galsync's certificate, its service principal and admin
//! consent made what galsync needs. Adopting changes nothing and lists what
//! is missing instead.

use galsync_platform::CallerIdentity;

use super::{Reporter, ADOPT_FIX};
use crate::broker::Broker;
use crate::credentials::{CertificateOrder, Registration};
use crate::error::BrokerError;
use crate::policy::AppPlan;
use crate::provision_graph::{Application, GraphPrincipal, ProvisioningGraph};
use crate::store::CertificateRow;
use crate::tokens::STATE_RETIRED;

/// A planned app as it is in Entra, with the ids of the Graph roles it needs.
pub(super) type AppInEntra = (AppPlan, Application, Vec<String>);

/// The administrator's Graph session, and what provisioning changed or
/// (adopting) found missing with it.
pub(super) struct EntraApps<'a> {
    graph: ProvisioningGraph,
    graph_principal: GraphPrincipal,
    tenant_id: &'a str,
    adopt: bool,
    report: &'a Reporter<'a>,
    changes: Vec<String>,
    /// What adopting found missing (nothing is repaired then).
    missing: Vec<String>,
}

impl<'a> EntraApps<'a> {
    /// Starts with Microsoft Graph's service principal (its app roles).
    pub(super) async fn open(
        graph: ProvisioningGraph,
        tenant_id: &'a str,
        adopt: bool,
        report: &'a Reporter<'a>,
    ) -> Result<Self, BrokerError> {
        let graph_principal = graph.microsoft_graph_principal().await?;
        Ok(Self {
            graph,
            graph_principal,
            tenant_id,
            adopt,
            report,
            changes: Vec::new(),
            missing: Vec::new(),
        })
    }

    /// Each planned app by its unique name, created when missing (adopting
    /// refuses then), requesting the Graph roles its plan needs.
    pub(super) async fn find_or_create_applications(
        &mut self,
        plans: &[AppPlan],
    ) -> Result<Vec<AppInEntra>, BrokerError> {
        let tenant_id = self.tenant_id;
        let mut applications = Vec::new();
        for plan in plans {
            let mut role_ids = Vec::new();
            for role in plan.roles() {
                let Some(id) = self.graph_principal.role_ids.get(role) else {
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
            let application = match self.graph.find_application(&plan.unique_name).await? {
                Some(found) => {
                    self.report
                        .step(format!(
                            "found app {} (client id {})",
                            plan.display_name, found.app_id
                        ))
                        .await?;
                    let added = self.graph.ensure_required_access(&found, &role_ids).await?;
                    if self.adopt && !added.is_empty() {
                        let names = role_names(&self.graph_principal.role_ids, &added);
                        self.missing
                            .push(format!("app {} does not request {names}", found.app_id));
                    } else if !added.is_empty() {
                        let names = role_names(&self.graph_principal.role_ids, &added);
                        let change =
                            format!("added {names} to the permissions of {}", found.app_id);
                        self.report.step(&change).await?;
                        self.changes.push(change);
                    }
                    found
                }
                None if self.adopt => {
                    return Err(BrokerError::FailedPrecondition(format!(
                        "no app {} (uniqueName {}) in tenant {tenant_id}: {ADOPT_FIX}",
                        plan.display_name, plan.unique_name
                    )));
                }
                None => {
                    let created = self
                        .graph
                        .create_application(&plan.unique_name, &plan.display_name, &access)
                        .await?;
                    let change = format!(
                        "created app {} (client id {})",
                        plan.display_name, created.app_id
                    );
                    self.report.step(&change).await?;
                    self.changes.push(change);
                    created
                }
            };
            applications.push((plan.clone(), application, role_ids));
        }
        Ok(applications)
    }

    /// Of each app: galsync's certificate on it (recording its object id
    /// and key id), its service principal and the admin consent to its roles.
    pub(super) async fn bind_certificates_and_grants(
        &mut self,
        broker: &Broker,
        caller: &CallerIdentity,
        applications: &[AppInEntra],
    ) -> Result<(), BrokerError> {
        let tenant_id = self.tenant_id;
        for (plan, application, role_ids) in applications {
            let certificate = broker
                .provisioning_certificate(
                    caller,
                    tenant_id,
                    &application.app_id,
                    !self.adopt,
                    self.report,
                )
                .await?;
            let added = self
                .graph
                .ensure_certificate(
                    application,
                    &certificate.der,
                    &certificate.thumbprint_sha1,
                    &certificate.subject,
                )
                .await?;
            // What rolling the app's own key later needs: the object id (a
            // proof's `iss`) and the key id of the certificate on the app.
            broker
                .store
                .set_app_object_id(tenant_id, &application.app_id, &application.object_id)
                .await?;
            if let Some(key_id) = self
                .graph
                .key_id_of(&application.object_id, &certificate.thumbprint_sha1)
                .await?
            {
                broker
                    .store
                    .set_certificate_app_key_id(&certificate.certificate_id, Some(&key_id))
                    .await?;
            }
            if self.adopt && added {
                self.missing.push(format!(
                    "app {} does not carry galsync's certificate {} (galsync.cer)",
                    application.app_id, certificate.thumbprint_sha1
                ));
            } else if added {
                let change = format!(
                    "added the certificate {} to app {}",
                    certificate.thumbprint_sha1, application.app_id
                );
                self.report.step(&change).await?;
                self.changes.push(change);
            }
            let (principal_id, created) = self
                .graph
                .ensure_service_principal(&application.app_id)
                .await?;
            if self.adopt && created {
                self.missing.push(format!(
                    "app {} has no service principal (enterprise application) in the tenant",
                    application.app_id
                ));
                continue;
            }
            if created {
                let change = format!("created the service principal of {}", application.app_id);
                self.report.step(&change).await?;
                self.changes.push(change);
            }
            let granted = self
                .graph
                .grant_missing_roles(&self.graph_principal, &principal_id, role_ids)
                .await?;
            if self.adopt && !granted.is_empty() {
                let names = role_names(&self.graph_principal.role_ids, &granted);
                self.missing.push(format!(
                    "no admin consent for {names} on app {}",
                    application.app_id
                ));
            } else if !granted.is_empty() {
                let names = role_names(&self.graph_principal.role_ids, &granted);
                let change = format!("granted {names} to {} (admin consent)", plan.display_name);
                self.report.step(&change).await?;
                self.changes.push(change);
            }
        }
        Ok(())
    }

    /// Ends the session, and the administrator's token with it: what was
    /// changed, and what adopting found missing.
    pub(super) fn finish(self) -> (Vec<String>, Vec<String>) {
        (self.changes, self.missing)
    }
}

impl Broker {
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
        let order = CertificateOrder {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            key_bits: 0,
            validity_days: 0,
        };
        let row = self
            .new_certificate(caller, &order, Registration::ByHand)
            .await?
            .certificate;
        report
            .step(format!(
                "generated certificate {} for app {client_id}",
                row.thumbprint_sha1
            ))
            .await?;
        Ok(row)
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
