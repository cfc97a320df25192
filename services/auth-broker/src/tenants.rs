//! A registered tenant changed (name, hosts, app client ids) or removed with
//! every secret of it. Both are for admins and both are audited, with the
//! names of what changed and the counts of what went, never a secret.

use galsync_platform::CallerIdentity;

use crate::broker::{non_empty_url, not_registered, validate_guid, Broker, CLIENT_ID_HELP};
use crate::error::BrokerError;
use crate::master_key::SealedInventory;
use crate::store::RemovedTenant;
use crate::store::{AppRow, TenantRow};

/// What a caller asks to change; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    pub display_name: Option<String>,
    /// `Some("")` = the public cloud host.
    pub login_base_url: Option<String>,
    pub graph_base_url: Option<String>,
    /// (current client id, new client id) per app.
    pub client_id_changes: Vec<(String, String)>,
    /// Allow or stop uploading rotated certificates to the app registration.
    pub upload_rotated_certificates: Option<bool>,
}

/// The tenant after an update, and what changed.
#[derive(Debug, Clone)]
pub struct TenantUpdated {
    pub tenant: TenantRow,
    /// `display_name`, `login_base_url`, `graph_base_url`, `apps.client_id`,
    /// `upload_rotated_certificates`.
    pub changed_fields: Vec<&'static str>,
    /// Credentials of the old client ids, deleted with them.
    pub deleted: SealedInventory,
}

/// A removed tenant as it was, and what went with it.
#[derive(Debug, Clone)]
pub struct TenantRemoved {
    pub tenant: TenantRow,
    pub apps: Vec<AppRow>,
    pub removed: RemovedTenant,
}

impl Broker {
    /// Changes only what `update` gives. A value equal to the current one
    /// is no change; an update that changes nothing is not audited.
    pub async fn update_tenant(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        update: TenantUpdate,
    ) -> Result<TenantUpdated, BrokerError> {
        self.require_admin(caller)?;
        let current = self.tenant(tenant_id).await?;
        let nothing_given = update.display_name.is_none()
            && update.login_base_url.is_none()
            && update.graph_base_url.is_none()
            && update.client_id_changes.is_empty()
            && update.upload_rotated_certificates.is_none();
        if nothing_given {
            return Err(BrokerError::invalid(
                "update",
                "nothing to change; give display_name, login_base_url, graph_base_url, client_id_changes \
                 or upload_rotated_certificates",
            ));
        }
        let mut changed = current.clone();
        if let Some(display_name) = &update.display_name {
            if display_name.trim().is_empty() {
                return Err(BrokerError::invalid(
                    "display_name",
                    "is empty; give a name for people, e.g. Contoso, or leave it out to keep the current one",
                ));
            }
            changed.display_name = display_name.trim().to_owned();
        }
        if let Some(login_base_url) = &update.login_base_url {
            changed.login_base_url = non_empty_url(
                "login_base_url",
                login_base_url,
                &self.settings.default_login_base_url,
            )?;
        }
        if let Some(graph_base_url) = &update.graph_base_url {
            changed.graph_base_url = non_empty_url(
                "graph_base_url",
                graph_base_url,
                &self.settings.default_graph_base_url,
            )?;
        }
        let apps = self.store.list_apps(&current.tenant_id).await?;
        let client_id_changes = validate_client_id_changes(&apps, &update.client_id_changes)?;

        let mut changed_fields = Vec::new();
        if changed.display_name != current.display_name {
            changed_fields.push("display_name");
        }
        if changed.login_base_url != current.login_base_url {
            changed_fields.push("login_base_url");
        }
        if changed.graph_base_url != current.graph_base_url {
            changed_fields.push("graph_base_url");
        }
        if !client_id_changes.is_empty() {
            changed_fields.push("apps.client_id");
        }
        let upload_allowed_now = self
            .store
            .upload_rotated_certificates(&current.tenant_id)
            .await?;
        let upload_change = update
            .upload_rotated_certificates
            .filter(|allowed| *allowed != upload_allowed_now);
        if upload_change.is_some() {
            changed_fields.push("upload_rotated_certificates");
        }
        if changed_fields.is_empty() {
            return Ok(TenantUpdated {
                tenant: current,
                changed_fields,
                deleted: SealedInventory::default(),
            });
        }
        let deleted = self
            .store
            .update_tenant(&changed, &client_id_changes)
            .await?;
        if let Some(allowed) = upload_change {
            self.store
                .set_upload_rotated_certificates(&current.tenant_id, allowed)
                .await?;
        }
        // Cached tokens came from the old hosts or for the old apps.
        for app in &apps {
            self.tokens
                .invalidate(&current.tenant_id, &app.client_id)
                .await;
        }
        let mut detail = format!("changed {}", changed_fields.join(", "));
        for (client_id, new_client_id) in &client_id_changes {
            detail.push_str(&format!("; app {client_id} is now {new_client_id}"));
        }
        if let Some(allowed) = upload_change {
            let setting = if allowed { "on" } else { "off" };
            detail.push_str(&format!("; upload_rotated_certificates {setting}"));
        }
        if deleted.total() > 0 {
            detail.push_str(&format!("; deleted the old apps' {}", deleted.describe()));
        }
        self.audit
            .record(
                "tenant.updated",
                caller,
                &current.tenant_id,
                None,
                &detail,
                None,
            )
            .await?;
        Ok(TenantUpdated {
            tenant: changed,
            changed_fields,
            deleted,
        })
    }

    /// Deletes the tenant with its apps and every sealed secret of it, drops
    /// its cached tokens and audits `tenant.removed`. Whether sync profiles
    /// still use it is the caller's to check: the broker does not know them.
    pub async fn remove_tenant(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
    ) -> Result<TenantRemoved, BrokerError> {
        self.require_admin(caller)?;
        let tenant = self.tenant(tenant_id).await?;
        let apps = self.store.list_apps(&tenant.tenant_id).await?;
        let Some(removed) = self.store.remove_tenant(&tenant.tenant_id).await? else {
            return Err(not_registered(&tenant.tenant_id));
        };
        self.tokens.forget_tenant(&tenant.tenant_id).await;
        self.audit
            .record(
                "tenant.removed",
                caller,
                &tenant.tenant_id,
                None,
                &format!(
                    "{} ({} app(s)); deleted {}",
                    tenant.display_name,
                    removed.apps,
                    removed.sealed.describe()
                ),
                None,
            )
            .await?;
        Ok(TenantRemoved {
            tenant,
            apps,
            removed,
        })
    }
}

/// Each change names a current app of the tenant by its client id and gives
/// a new GUID that no app of the tenant has. Gives the changes normalised.
fn validate_client_id_changes(
    apps: &[AppRow],
    changes: &[(String, String)],
) -> Result<Vec<(String, String)>, BrokerError> {
    let mut validated: Vec<(String, String)> = Vec::new();
    for (client_id, new_client_id) in changes {
        let client_id = validate_guid("client_id_changes.client_id", client_id, CLIENT_ID_HELP)?;
        let new_client_id = validate_guid(
            "client_id_changes.new_client_id",
            new_client_id,
            CLIENT_ID_HELP,
        )?;
        if !apps.iter().any(|app| app.client_id == client_id) {
            let registered: Vec<&str> = apps.iter().map(|app| app.client_id.as_str()).collect();
            return Err(BrokerError::invalid(
                "client_id_changes.client_id",
                format!(
                    "the tenant has no app {client_id}; its apps are {}",
                    registered.join(", ")
                ),
            ));
        }
        if new_client_id == client_id {
            continue;
        }
        let taken = apps.iter().any(|app| app.client_id == new_client_id)
            || validated.iter().any(|(_, new)| *new == new_client_id);
        if taken {
            return Err(BrokerError::invalid(
                "client_id_changes.new_client_id",
                format!("the tenant already has an app {new_client_id}; give each app its own client id"),
            ));
        }
        if validated.iter().any(|(current, _)| *current == client_id) {
            return Err(BrokerError::invalid(
                "client_id_changes.client_id",
                format!("app {client_id} is named twice; change it once"),
            ));
        }
        validated.push((client_id, new_client_id));
    }
    Ok(validated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth_mode::AuthMode;

    fn app(client_id: &str) -> AppRow {
        AppRow {
            tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".to_owned(),
            client_id: client_id.to_owned(),
            auth_mode: AuthMode::Certificate,
            purposes: "directory,contacts".to_owned(),
            sealed_client_secret: None,
            client_secret_expires_at: None,
        }
    }

    const READ: &str = "11111111-2222-3333-4444-555555555555";
    const WRITE: &str = "66666666-7777-8888-9999-000000000000";
    const NEW: &str = "0b8f6a2e-1c5d-4d7e-8f90-a1b2c3d4e5f6";

    fn field_of(error: BrokerError) -> &'static str {
        match error {
            BrokerError::InvalidArgument { field, .. } => field,
            other => panic!("not an invalid argument: {other}"),
        }
    }

    #[test]
    fn a_new_client_id_must_be_a_guid_no_app_has() {
        let apps = [app(READ), app(WRITE)];
        let not_guid = validate_client_id_changes(&apps, &[(READ.into(), "contoso".into())]);
        assert_eq!(
            field_of(not_guid.unwrap_err()),
            "client_id_changes.new_client_id"
        );
        let taken = validate_client_id_changes(&apps, &[(READ.into(), WRITE.into())]);
        assert_eq!(
            field_of(taken.unwrap_err()),
            "client_id_changes.new_client_id"
        );
        let unknown = validate_client_id_changes(&apps, &[(NEW.into(), READ.into())]);
        assert_eq!(
            field_of(unknown.unwrap_err()),
            "client_id_changes.client_id"
        );
    }

    #[test]
    fn the_same_client_id_is_no_change_and_case_does_not_matter() {
        let apps = [app(READ)];
        let same = validate_client_id_changes(&apps, &[(READ.into(), READ.into())]).unwrap();
        assert!(same.is_empty());
        let changed =
            validate_client_id_changes(&apps, &[(READ.into(), NEW.to_uppercase())]).unwrap();
        assert_eq!(changed, vec![(READ.to_owned(), NEW.to_owned())]);
    }
}
