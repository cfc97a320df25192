//! `galsync tenant update|remove`: a registered tenant changed, or removed
//! with every secret the auth-broker holds for it.
//!
//! The broker does not know the scheduler's profiles, so `remove` asks the
//! scheduler first and removes nothing while a profile uses the tenant, or
//! while the scheduler cannot say. A profile created between that check and
//! the removal would fail its runs with the broker's "tenant … is not
//! registered" (docs/cli.md says so).

use clap::Args;
use galsync_proto::v1;
use serde_json::{json, Value};

use crate::connect::GlobalArgs;
use crate::error::{CliError, CliResult};
use crate::ids::{require_guid, CLIENT_ID_HELP, TENANT_ID_HELP};
use crate::output::{print_fields, print_json};
use crate::tenant_view::{parse_on_off, print_apps, tenant_json, upload_setting_text};

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Directory (tenant) ID GUID of the registered tenant (it cannot change).
    #[arg(long, env = "GALSYNC_TENANT_ID")]
    pub tenant_id: String,
    /// A new name for people, e.g. "Contoso".
    #[arg(long)]
    pub name: Option<String>,
    /// New Application (client) ID of the app that reads the directory (the
    /// tenant's only app when it has one). galsync's certificates move to
    /// the new app, awaiting the upload of their .cer; the old app's secret
    /// and consent are deleted.
    #[arg(long)]
    pub client_id: Option<String>,
    /// New Application (client) ID of the app that writes contacts, for a
    /// tenant registered with two apps (--write-client-id at `tenant add`).
    #[arg(long)]
    pub write_client_id: Option<String>,
    /// New login host, e.g. https://login.microsoftonline.us; "" for the public cloud.
    #[arg(long)]
    pub login_url: Option<String>,
    /// New Graph host, e.g. https://graph.microsoft.us; "" for the public cloud.
    #[arg(long)]
    pub graph_url: Option<String>,
    /// `on`: `cert rotate` and the renewal before expiry upload the new
    /// certificate to the app registration themselves (Graph addKey as the
    /// app, proven with the current certificate) and remove the old key once
    /// the new one works; `off`: you upload the .cer by hand.
    #[arg(long, value_name = "on|off", value_parser = parse_on_off)]
    pub upload_rotated_certificates: Option<bool>,
}

/// A tenant id flag as the broker and scheduler store it: lowercase, hyphenated.
fn tenant_id_flag(value: &str) -> CliResult<String> {
    let checked = require_guid("tenant-id", value, TENANT_ID_HELP)?;
    Ok(uuid::Uuid::parse_str(&checked)
        .map(|parsed| parsed.hyphenated().to_string())
        .unwrap_or(checked))
}

/// An empty host flag means the public cloud; anything else must be an http(s) URL.
fn host_flag(flag: &str, value: &Option<String>) -> CliResult<Option<String>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(Some(String::new()));
    }
    match url::Url::parse(trimmed) {
        Ok(parsed) if parsed.scheme() == "https" || parsed.scheme() == "http" => {
            Ok(Some(trimmed.to_owned()))
        }
        _ => Err(CliError::usage(format!(
            "invalid --{flag}: `{trimmed}` is not an http(s) URL; give e.g. https://login.microsoftonline.us, \
             or \"\" for the public cloud"
        ))),
    }
}

/// The current client id of the app serving `purpose`.
fn app_serving(tenant: &v1::Tenant, purpose: v1::TokenPurpose) -> Option<&v1::AppRegistration> {
    tenant
        .apps
        .iter()
        .find(|app| app.purposes.contains(&(purpose as i32)))
}

pub async fn update(globals: &GlobalArgs, args: UpdateArgs) -> CliResult {
    let tenant_id = tenant_id_flag(&args.tenant_id)?;
    let read_client_id = match &args.client_id {
        Some(value) => Some(require_guid("client-id", value, CLIENT_ID_HELP)?),
        None => None,
    };
    let write_client_id = match &args.write_client_id {
        Some(value) => Some(require_guid("write-client-id", value, CLIENT_ID_HELP)?),
        None => None,
    };
    let login_base_url = host_flag("login-url", &args.login_url)?;
    let graph_base_url = host_flag("graph-url", &args.graph_url)?;
    let nothing_given = args.name.is_none()
        && read_client_id.is_none()
        && write_client_id.is_none()
        && login_base_url.is_none()
        && graph_base_url.is_none()
        && args.upload_rotated_certificates.is_none();
    if nothing_given {
        return Err(CliError::usage(
            "nothing to change: give --name, --client-id, --write-client-id, --login-url, --graph-url \
             or --upload-rotated-certificates",
        ));
    }

    let (mut broker, target) = globals.broker()?;
    let mut client_id_changes = Vec::new();
    if read_client_id.is_some() || write_client_id.is_some() {
        let current = broker
            .get_tenant(v1::GetTenantRequest {
                tenant_id: tenant_id.clone(),
            })
            .await
            .map_err(|status| target.error(status))?
            .into_inner();
        let reader = app_serving(&current, v1::TokenPurpose::Directory);
        let writer = app_serving(&current, v1::TokenPurpose::Contacts);
        if let (Some(new_client_id), Some(app)) = (&read_client_id, reader) {
            client_id_changes.push(v1::ClientIdChange {
                client_id: app.client_id.clone(),
                new_client_id: new_client_id.clone(),
            });
        }
        if let Some(new_client_id) = &write_client_id {
            let one_app = reader.map(|app| &app.client_id) == writer.map(|app| &app.client_id);
            let Some(app) = writer.filter(|_| !one_app) else {
                return Err(CliError::usage(format!(
                    "invalid --write-client-id: tenant {tenant_id} has one app for both purposes; \
                     change its client id with --client-id"
                )));
            };
            client_id_changes.push(v1::ClientIdChange {
                client_id: app.client_id.clone(),
                new_client_id: new_client_id.clone(),
            });
        }
    }
    let response = broker
        .update_tenant(v1::UpdateTenantRequest {
            tenant_id: tenant_id.clone(),
            display_name: args.name,
            login_base_url,
            graph_base_url,
            client_id_changes: client_id_changes.clone(),
            upload_rotated_certificates: args.upload_rotated_certificates,
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    let tenant = response.tenant.unwrap_or_default();
    if globals.output.is_json() {
        let mut document = tenant_json(&tenant);
        document["changed_fields"] = json!(response.changed_fields);
        print_json(&document);
        return Ok(());
    }
    if response.changed_fields.is_empty() {
        println!(
            "tenant {} ({}) unchanged: every value given is the current one",
            tenant.display_name, tenant.tenant_id
        );
        return Ok(());
    }
    println!(
        "updated tenant {} ({}): {}",
        tenant.display_name,
        tenant.tenant_id,
        response.changed_fields.join(", ")
    );
    print_fields(&[
        ("login host", tenant.login_base_url.clone()),
        ("graph host", tenant.graph_base_url.clone()),
        (
            "key upload",
            upload_setting_text(tenant.upload_rotated_certificates),
        ),
    ]);
    print_apps(&tenant.apps);
    for change in &client_id_changes {
        let Some(app) = tenant
            .apps
            .iter()
            .find(|app| app.client_id == change.new_client_id)
        else {
            continue;
        };
        println!();
        println!(
            "app {} replaces {}: the old app's credentials and consent were deleted",
            change.new_client_id, change.client_id
        );
        print_enrol_steps(&tenant.tenant_id, &app.client_id, app.auth_mode);
    }
    Ok(())
}

/// What a replaced app needs before tokens flow again, naming the app
/// (a tenant with two apps needs --client-id on each command).
fn print_enrol_steps(tenant_id: &str, client_id: &str, auth_mode: i32) {
    let app = format!("--tenant-id {tenant_id} --client-id {client_id}");
    println!("next:");
    match v1::AuthMode::try_from(auth_mode) {
        Ok(v1::AuthMode::ClientSecret) => {
            println!("  galsync secret set {app}   (paste the secret on stdin)");
        }
        _ => {
            println!(
                "  galsync cert export {app} --out galsync.cer   (upload it to the new app; galsync kept its certificate)"
            );
        }
    }
    println!("  galsync consent url {app}   (an administrator grants the permissions)");
    println!("  galsync test-connection --tenant-id {tenant_id}");
}

pub async fn remove(globals: &GlobalArgs, tenant_id: &str) -> CliResult {
    let tenant_id = tenant_id_flag(tenant_id)?;
    let retry = format!("galsync tenant remove --tenant-id {tenant_id}");
    let (mut scheduler, scheduler_target) = globals.scheduler()?;
    let listed = scheduler
        .list_profiles(v1::ListProfilesRequest {
            tenant_id: tenant_id.clone(),
        })
        .await;
    let profiles = match listed {
        Ok(response) => response.into_inner().profiles,
        Err(status) => {
            let cause = scheduler_target.error(status);
            return Err(CliError::new(
                cause.exit_code,
                format!(
                    "nothing was removed: the scheduler must first say which profiles use tenant \
                     {tenant_id}, and it could not: {}; once it answers, run `{retry}` again",
                    cause.message
                ),
            ));
        }
    };
    if !profiles.is_empty() {
        let mut named = Vec::new();
        for profile in &profiles {
            let name = profile
                .spec
                .as_ref()
                .map(|spec| spec.name.as_str())
                .unwrap_or_default();
            named.push(format!("\"{name}\" ({})", profile.profile_id));
        }
        return Err(CliError::failed(format!(
            "tenant {tenant_id} is used by {} profile(s), so nothing was removed: {}; \
             delete each with `galsync profile delete PROFILE_ID` (or move it with \
             `galsync profile edit PROFILE_ID --tenant-id OTHER`), then run `{retry}` again",
            profiles.len(),
            named.join(", ")
        )));
    }

    let (mut broker, broker_target) = globals.broker()?;
    let removed = broker
        .remove_tenant(v1::RemoveTenantRequest {
            tenant_id: tenant_id.clone(),
        })
        .await
        .map_err(|status| broker_target.error(status))?
        .into_inner();
    let tenant = removed.tenant.clone().unwrap_or_default();
    if globals.output.is_json() {
        print_json(&removed_json(&removed));
        return Ok(());
    }
    println!(
        "removed tenant {} ({}) and every secret the auth-broker held for it",
        tenant.display_name, tenant_id
    );
    print_fields(&[
        ("apps", removed.apps.to_string()),
        (
            "certificates",
            format!("{} (with their private keys)", removed.certificate_keys),
        ),
        ("client secrets", removed.client_secrets.to_string()),
    ]);
    println!();
    println!("its audit events stay: galsync audit --tenant-id {tenant_id}");
    println!(
        "the app registration(s) and any uploaded certificate stay in Entra ID: delete them there if no longer needed"
    );
    Ok(())
}

fn removed_json(removed: &v1::RemoveTenantResponse) -> Value {
    let tenant = removed.tenant.clone().unwrap_or_default();
    json!({
        "tenant_id": tenant.tenant_id,
        "display_name": tenant.display_name,
        "removed": true,
        "deleted": {
            "apps": removed.apps,
            "certificate_keys": removed.certificate_keys,
            "client_secrets": removed.client_secrets,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_flag_is_empty_for_the_public_cloud_or_an_http_url() {
        assert_eq!(host_flag("login-url", &None).unwrap(), None);
        assert_eq!(
            host_flag("login-url", &Some(" ".to_owned())).unwrap(),
            Some(String::new())
        );
        let error = host_flag("graph-url", &Some("graph.microsoft.us".to_owned())).unwrap_err();
        assert!(error.message.starts_with("invalid --graph-url:"), "{error}");
    }

    #[test]
    fn a_tenant_id_is_sent_as_the_services_store_it() {
        assert_eq!(
            tenant_id_flag("72F988BF86F141AF91AB2D7CD011DB47").unwrap(),
            "72f988bf-86f1-41af-91ab-2d7cd011db47"
        );
    }
}
