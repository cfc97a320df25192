//! `galsync tenant provision --manual`: the app registration(s) of a tenant as
//! PowerShell scripts an administrator reads and runs, with the broker's
//! certificate beside them. galsync itself changes nothing in the tenant.
//!
//! Microsoft's documentation of what the scripts do (also cited in them):
//! - keyCredentials: <https://learn.microsoft.com/graph/api/application-update>,
//!   <https://learn.microsoft.com/graph/api/application-addkey> (needs an existing key)
//! - admin consent as app role assignments:
//!   <https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignments>
//! - RBAC for Applications in Exchange Online:
//!   <https://learn.microsoft.com/Exchange/permissions-exo/application-rbac>,
//!   <https://learn.microsoft.com/powershell/module/exchange/new-serviceprincipal>,
//!   <https://learn.microsoft.com/powershell/module/exchange/test-serviceprincipalauthorization>

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use galsync_proto::v1;
use serde_json::{json, Value};

pub mod render;

use crate::cert::{current_certificate_id, export_certificate};
use crate::connect::GlobalArgs;
use crate::error::{CliError, CliResult};
use crate::ids::{require_guid, TENANT_ID_HELP};
use crate::output::{print_json, printable};
use galsync_auth_broker::policy::app_plans;
use render::{check_value, ScriptValues};

pub const ENTRA_SCRIPT: &str = "galsync-entra.ps1";
pub const EXCHANGE_SCRIPT: &str = "galsync-exchange.ps1";
pub const CERTIFICATE_FILE: &str = "galsync.cer";

/// A UTF-8 byte order mark: Windows PowerShell 5.1 reads a .ps1 without one
/// as the ANSI code page, which would garble "–" in the app names and any
/// non-ASCII tenant name.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// Directory (tenant) ID GUID of a tenant registered with `galsync tenant add`.
    #[arg(long, env = "GALSYNC_TENANT_ID")]
    pub tenant_id: String,
    /// Write PowerShell scripts to run yourself, instead of galsync creating
    /// the apps after an administrator's device-code sign-in.
    #[arg(long, env = "GALSYNC_PROVISION_MANUAL")]
    pub manual: bool,
    /// A name for people, e.g. "Contoso", for a tenant not registered yet
    /// (automatic path; default: the tenant id).
    #[arg(long, env = "GALSYNC_PROVISION_NAME")]
    pub name: Option<String>,
    /// Login host for a tenant not registered yet; default public cloud.
    #[arg(long, env = "GALSYNC_PROVISION_LOGIN_URL")]
    pub login_url: Option<String>,
    /// Graph host for a tenant not registered yet; default public cloud.
    #[arg(long, env = "GALSYNC_PROVISION_GRAPH_URL")]
    pub graph_url: Option<String>,
    /// The directory for the scripts and galsync.cer (made when missing).
    #[arg(long, env = "GALSYNC_PROVISION_OUT", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite files already in --out.
    #[arg(long, env = "GALSYNC_PROVISION_FORCE")]
    pub force: bool,
    /// Two apps (least privilege): one that reads the directory, one that writes contacts.
    #[arg(long, env = "GALSYNC_PROVISION_TWO_APPS")]
    pub two_apps: bool,
    /// The group whose members' mailboxes galsync writes to (object id or
    /// name): writes galsync-exchange.ps1 into --out, an Exchange Online
    /// script that restricts the write app to them with RBAC for Applications
    /// (Exchange Online PowerShell, which galsync cannot reach itself).
    #[arg(long, env = "GALSYNC_PROVISION_TARGET_GROUP", value_name = "GROUP")]
    pub target_group: Option<String>,
    /// Automatic path: whether `cert rotate` may upload rotated certificates
    /// to the apps itself (addKey, proven with the current certificate).
    /// Default on: the administrator who lets galsync create the apps lets
    /// it roll their keys; change it later with `galsync tenant update`.
    #[arg(
        long,
        env = "GALSYNC_PROVISION_UPLOAD_ROTATED_CERTIFICATES",
        value_name = "on|off",
        value_parser = crate::tenant_view::parse_on_off
    )]
    pub upload_rotated_certificates: Option<bool>,
}

/// The manual path (`--manual`): the scripts an administrator runs; the
/// automatic path is [`crate::provision_auto::run`].
pub async fn run_manual(globals: &GlobalArgs, args: ProvisionArgs) -> CliResult {
    if args.upload_rotated_certificates.is_some() {
        return Err(CliError::usage(
            "--upload-rotated-certificates is for the automatic path; after --manual and \
             `galsync tenant adopt`, set it with `galsync tenant update --upload-rotated-certificates on`",
        ));
    }
    let Some(out_dir) = args.out.clone() else {
        return Err(CliError::usage(
            "--manual needs --out DIR: the directory for the scripts and galsync.cer",
        ));
    };
    let tenant_id = require_guid("tenant-id", &args.tenant_id, TENANT_ID_HELP)?;
    if let Some(group) = &args.target_group {
        check_value("--target-group", group)?;
    }
    let mut file_names = vec![ENTRA_SCRIPT, CERTIFICATE_FILE];
    if args.target_group.is_some() {
        file_names.push(EXCHANGE_SCRIPT);
    }
    if !args.force {
        refuse_existing(&out_dir, &file_names)?;
    }

    let (mut broker, target) = globals.broker()?;
    let tenant = broker
        .get_tenant(v1::GetTenantRequest {
            tenant_id: tenant_id.clone(),
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    check_value(
        "tenant name (change it with `galsync tenant update --name`)",
        &tenant.display_name,
    )?;
    let Some(certificate_id) = current_certificate_id(&mut broker, &target, &tenant_id, "").await?
    else {
        return Err(CliError::failed(format!(
            "tenant {tenant_id} has no certificate to upload yet, so nothing was written: \
             make one with `galsync cert generate --tenant-id {tenant_id}`, then run this again"
        )));
    };
    let exported = export_certificate(&mut broker, &target, certificate_id).await?;
    let certificate = exported.certificate.unwrap_or_default();

    let values = ScriptValues {
        tenant_id: tenant_id.clone(),
        tenant_name: tenant.display_name.clone(),
        thumbprint_sha1: certificate.thumbprint_sha1.clone(),
        apps: app_plans(&tenant_id, &tenant.display_name, args.two_apps),
        registered_client_ids: tenant
            .apps
            .iter()
            .map(|app| app.client_id.clone())
            .collect(),
        target_group: args.target_group.clone(),
    };
    let entra_script = render::entra_script(&values)?;
    let exchange_script = render::exchange_script(&values)?;

    std::fs::create_dir_all(&out_dir).map_err(|error| {
        CliError::usage(format!(
            "invalid --out: cannot create {}: {error}",
            out_dir.display()
        ))
    })?;
    let mut written = Vec::new();
    written.push(write_file(
        &out_dir,
        CERTIFICATE_FILE,
        &exported.cer_der,
        args.force,
    )?);
    written.push(write_script(
        &out_dir,
        ENTRA_SCRIPT,
        &entra_script,
        args.force,
    )?);
    if let Some(script) = &exchange_script {
        written.push(write_script(&out_dir, EXCHANGE_SCRIPT, script, args.force)?);
    }

    if globals.output.is_json() {
        print_json(&summary_json(&values, &written));
        return Ok(());
    }
    print_summary(&values, &written, &out_dir);
    Ok(())
}

/// Nothing is written when any file is there already (no half-written set).
pub(crate) fn refuse_existing(out_dir: &Path, file_names: &[&str]) -> CliResult {
    let existing: Vec<String> = file_names
        .iter()
        .map(|name| out_dir.join(name))
        .filter(|path| path.exists())
        .map(|path| path.display().to_string())
        .collect();
    if existing.is_empty() {
        return Ok(());
    }
    Err(CliError::usage(format!(
        "{} already exist(s), so nothing was written: choose another --out, or add --force to overwrite",
        existing.join(", ")
    )))
}

pub(crate) fn write_script(
    dir: &Path,
    name: &str,
    script: &str,
    force: bool,
) -> CliResult<PathBuf> {
    let mut bytes = UTF8_BOM.to_vec();
    bytes.extend_from_slice(script.as_bytes());
    write_file(dir, name, &bytes, force)
}

/// Writes a file; without `force`, only a new one (a file appearing since the
/// first check is not overwritten either).
fn write_file(dir: &Path, name: &str, bytes: &[u8], force: bool) -> CliResult<PathBuf> {
    let path = dir.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let result = options
        .open(&path)
        .and_then(|mut file| file.write_all(bytes));
    result.map_err(|error| {
        CliError::usage(format!(
            "invalid --out: cannot write {}: {error}",
            path.display()
        ))
    })?;
    Ok(path)
}

fn summary_json(values: &ScriptValues, written: &[PathBuf]) -> Value {
    let apps: Vec<Value> = values
        .apps
        .iter()
        .map(|app| {
            let purposes: Vec<&str> = app
                .purposes
                .iter()
                .map(|purpose| purpose.as_str())
                .collect();
            json!({
                "display_name": app.display_name,
                "purposes": purposes,
                "permissions": app.roles(),
            })
        })
        .collect();
    let files: Vec<String> = written
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    json!({
        "tenant_id": values.tenant_id,
        "thumbprint_sha1": values.thumbprint_sha1,
        "target_group": values.target_group,
        "apps": apps,
        "files": files,
    })
}

fn print_summary(values: &ScriptValues, written: &[PathBuf], out_dir: &Path) {
    for path in written {
        println!("wrote {}", printable(&path.display().to_string()));
    }
    println!("certificate SHA-1 thumbprint: {}", values.thumbprint_sha1);
    for app in &values.apps {
        println!(
            "app \"{}\": {}",
            printable(&app.display_name),
            app.roles().join(", ")
        );
    }
    let dir = printable(&out_dir.display().to_string());
    println!();
    println!("next (read each script first; each step is explained in it):");
    println!("  1. Install-Module Microsoft.Graph -Scope CurrentUser");
    println!("  2. as a Privileged Role Administrator: pwsh {dir}/{ENTRA_SCRIPT}");
    if values.target_group.is_some() {
        println!("  3. Install-Module ExchangeOnlineManagement -Scope CurrentUser");
        println!("  4. as an Exchange administrator: pwsh {dir}/{EXCHANGE_SCRIPT}");
    } else {
        println!("  (with --target-group GROUP, also an Exchange Online script that restricts");
        println!("   writing contacts to that group's mailboxes; without it the app may write in every mailbox)");
    }
    println!("the script prints the client id(s) and the galsync command that records them");
}
