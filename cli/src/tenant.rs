//! `galsync tenant add|list|show`: Entra tenants and their app registrations
//! (`update` and `remove` are in [`crate::tenant_change`], `provision` in
//! [`crate::provision`]).

use clap::{Args, Subcommand, ValueEnum};
use galsync_proto::v1;
use serde_json::{json, Value};

use crate::connect::GlobalArgs;
use crate::error::CliResult;
use crate::ids::{require_guid, CLIENT_ID_HELP, TENANT_ID_HELP};
use crate::output::{human_time, print_fields, print_json, Table};
use crate::tenant_view::{
    auth_mode_name, print_apps, purposes_text, tenant_json, upload_setting_text,
};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Register a tenant and its app registration(s) with the auth-broker.
    Add(AddArgs),
    /// List registered tenants.
    List,
    /// Show one tenant: apps, auth modes, consent.
    Show(TenantIdArg),
    /// Change a tenant's name, hosts or app client ids; only the flags given change.
    Update(crate::tenant_change::UpdateArgs),
    /// Remove a tenant and every secret the broker holds for it; refused
    /// while a sync profile uses it (the scheduler is asked first).
    Remove(TenantIdArg),
    /// Make the tenant's app registration(s) in Entra ID: through Graph after
    /// an administrator's device-code sign-in, or with --manual as
    /// PowerShell scripts to run yourself, with the broker's certificate.
    Provision(crate::provision::ProvisionArgs),
    /// After the --manual scripts ran: find the apps they made, check them
    /// (permissions, certificate, admin consent) and record their client ids,
    /// changing nothing in Entra ID.
    Adopt(AdoptArgs),
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// Directory (tenant) ID GUID of a tenant registered with `galsync tenant add`.
    #[arg(long, env = "GALSYNC_TENANT_ID")]
    pub tenant_id: String,
    /// The scripts made two apps (`tenant provision --manual --two-apps`).
    #[arg(long)]
    pub two_apps: bool,
}

#[derive(Debug, Args)]
pub struct TenantIdArg {
    /// Directory (tenant) ID GUID (Entra admin center > Overview > Tenant ID).
    #[arg(long, env = "GALSYNC_TENANT_ID")]
    pub tenant_id: String,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Directory (tenant) ID GUID: Microsoft Entra admin center > Overview > Tenant ID.
    #[arg(long, env = "GALSYNC_TENANT_ID")]
    pub tenant_id: String,
    /// A name for people, e.g. "Contoso".
    #[arg(long)]
    pub name: String,
    /// Application (client) ID GUID of the app registration (App registrations >
    /// your app > Overview). Serves every purpose, or only reading with --write-client-id.
    #[arg(long)]
    pub client_id: String,
    /// A second app for writing contacts (least privilege: the first app then only reads).
    #[arg(long)]
    pub write_client_id: Option<String>,
    /// How the broker authenticates as the app(s).
    #[arg(long, value_enum, default_value_t = AuthModeArg::Certificate)]
    pub auth: AuthModeArg,
    /// Login host; default public cloud (https://login.microsoftonline.com).
    #[arg(long)]
    pub login_url: Option<String>,
    /// Graph host; default public cloud (https://graph.microsoft.com).
    #[arg(long)]
    pub graph_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthModeArg {
    /// A certificate the broker generates or imports (recommended).
    Certificate,
    /// A client secret (set it with `galsync secret set`).
    ClientSecret,
}

impl AuthModeArg {
    fn to_proto(self) -> v1::AuthMode {
        match self {
            AuthModeArg::Certificate => v1::AuthMode::Certificate,
            AuthModeArg::ClientSecret => v1::AuthMode::ClientSecret,
        }
    }
}

pub async fn run(globals: &GlobalArgs, command: TenantCommand) -> CliResult {
    match command {
        TenantCommand::Add(args) => add(globals, args).await,
        TenantCommand::List => list(globals).await,
        TenantCommand::Show(args) => show(globals, &args.tenant_id).await,
        TenantCommand::Update(args) => crate::tenant_change::update(globals, args).await,
        TenantCommand::Remove(args) => crate::tenant_change::remove(globals, &args.tenant_id).await,
        TenantCommand::Provision(args) if args.manual => {
            crate::provision::run_manual(globals, args).await
        }
        TenantCommand::Provision(args) => {
            let tenant_id = require_guid("tenant-id", &args.tenant_id, TENANT_ID_HELP)?;
            crate::provision_auto::run(globals, args, tenant_id).await
        }
        TenantCommand::Adopt(args) => {
            let tenant_id = require_guid("tenant-id", &args.tenant_id, TENANT_ID_HELP)?;
            crate::provision_auto::adopt(globals, tenant_id, args.two_apps).await
        }
    }
}

async fn add(globals: &GlobalArgs, args: AddArgs) -> CliResult {
    let tenant_id = require_guid("tenant-id", &args.tenant_id, TENANT_ID_HELP)?;
    let client_id = require_guid("client-id", &args.client_id, CLIENT_ID_HELP)?;
    let auth_mode = args.auth.to_proto() as i32;
    let mut apps = Vec::new();
    match &args.write_client_id {
        Some(write_client_id) => {
            let write_client_id = require_guid("write-client-id", write_client_id, CLIENT_ID_HELP)?;
            apps.push(app(&client_id, auth_mode, &[v1::TokenPurpose::Directory]));
            apps.push(app(
                &write_client_id,
                auth_mode,
                &[v1::TokenPurpose::Contacts],
            ));
        }
        None => apps.push(app(
            &client_id,
            auth_mode,
            &[v1::TokenPurpose::Directory, v1::TokenPurpose::Contacts],
        )),
    }
    let request = v1::RegisterTenantRequest {
        tenant_id: tenant_id.clone(),
        display_name: args.name,
        login_base_url: args.login_url.unwrap_or_default(),
        graph_base_url: args.graph_url.unwrap_or_default(),
        apps,
    };
    let (mut broker, target) = globals.broker()?;
    let tenant = broker
        .register_tenant(request)
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    if globals.output.is_json() {
        print_json(&tenant_json(&tenant));
        return Ok(());
    }
    println!(
        "registered tenant {} ({})",
        tenant.display_name, tenant.tenant_id
    );
    print_apps(&tenant.apps);
    println!();
    println!("next:");
    match args.auth {
        AuthModeArg::Certificate => {
            println!("  galsync cert generate --tenant-id {tenant_id}");
            println!("  galsync cert export --tenant-id {tenant_id} --out galsync.cer   (then upload it to the app)");
        }
        AuthModeArg::ClientSecret => {
            println!("  galsync secret set --tenant-id {tenant_id} --client-id {client_id}   (paste the secret on stdin)");
        }
    }
    println!(
        "  galsync consent url --tenant-id {tenant_id}   (an administrator grants the permissions)"
    );
    println!("  galsync test-connection --tenant-id {tenant_id}");
    Ok(())
}

fn app(client_id: &str, auth_mode: i32, purposes: &[v1::TokenPurpose]) -> v1::AppRegistration {
    v1::AppRegistration {
        client_id: client_id.to_owned(),
        auth_mode,
        purposes: purposes.iter().map(|purpose| *purpose as i32).collect(),
        ..Default::default()
    }
}

async fn list(globals: &GlobalArgs) -> CliResult {
    let (mut broker, target) = globals.broker()?;
    let tenants = broker
        .list_tenants(v1::ListTenantsRequest {})
        .await
        .map_err(|status| target.error(status))?
        .into_inner()
        .tenants;
    if globals.output.is_json() {
        let items: Vec<Value> = tenants.iter().map(tenant_json).collect();
        print_json(&json!({ "tenants": items }));
        return Ok(());
    }
    if tenants.is_empty() {
        println!("no tenants yet: register one with `galsync tenant add --tenant-id GUID --name NAME --client-id APP-GUID`");
        return Ok(());
    }
    let mut table = Table::new(&["TENANT ID", "NAME", "APPS", "CREATED"]);
    for tenant in &tenants {
        let apps: Vec<String> = tenant
            .apps
            .iter()
            .map(|app| {
                format!(
                    "{} ({}, {})",
                    app.client_id,
                    auth_mode_name(app.auth_mode),
                    purposes_text(&app.purposes)
                )
            })
            .collect();
        table.row(vec![
            tenant.tenant_id.clone(),
            tenant.display_name.clone(),
            apps.join("; "),
            human_time(tenant.created_at.as_ref()),
        ]);
    }
    table.print();
    Ok(())
}

async fn show(globals: &GlobalArgs, tenant_id: &str) -> CliResult {
    let tenant_id = require_guid("tenant-id", tenant_id, TENANT_ID_HELP)?;
    let (mut broker, target) = globals.broker()?;
    let tenant = broker
        .get_tenant(v1::GetTenantRequest {
            tenant_id: tenant_id.clone(),
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    let mut consents = Vec::new();
    for app in &tenant.apps {
        let consent = broker
            .get_consent_status(v1::GetConsentStatusRequest {
                tenant_id: tenant_id.clone(),
                client_id: app.client_id.clone(),
            })
            .await
            .map_err(|status| target.error(status))?
            .into_inner();
        consents.push(consent);
    }
    if globals.output.is_json() {
        let mut document = tenant_json(&tenant);
        if let Some(apps) = document.get_mut("apps").and_then(Value::as_array_mut) {
            for (app_json, consent) in apps.iter_mut().zip(&consents) {
                app_json["consent"] = crate::consent::consent_json(consent);
            }
        }
        print_json(&document);
        return Ok(());
    }
    print_fields(&[
        ("tenant", tenant.tenant_id.clone()),
        ("name", tenant.display_name.clone()),
        ("login host", tenant.login_base_url.clone()),
        ("graph host", tenant.graph_base_url.clone()),
        ("registered", human_time(tenant.created_at.as_ref())),
        (
            "key upload",
            upload_setting_text(tenant.upload_rotated_certificates),
        ),
    ]);
    println!();
    let mut table = Table::new(&["CLIENT ID", "AUTH", "PURPOSES", "CREDENTIAL", "CONSENT"]);
    for (app, consent) in tenant.apps.iter().zip(&consents) {
        table.row(vec![
            app.client_id.clone(),
            auth_mode_name(app.auth_mode).to_owned(),
            purposes_text(&app.purposes),
            credential_text(app),
            crate::consent::consent_text(consent),
        ]);
    }
    table.print();
    Ok(())
}

fn credential_text(app: &v1::AppRegistration) -> String {
    match v1::AuthMode::try_from(app.auth_mode) {
        Ok(v1::AuthMode::ClientSecret) if app.has_client_secret => "secret stored".to_owned(),
        Ok(v1::AuthMode::ClientSecret) => "no secret: galsync secret set".to_owned(),
        Ok(v1::AuthMode::Certificate) => "see galsync cert list".to_owned(),
        // The broker lists an app left in the removed consent-token mode so.
        _ => "none: galsync test-connection says how to register the app again".to_owned(),
    }
}
