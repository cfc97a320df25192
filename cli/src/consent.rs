//! `galsync consent url|status` and `galsync secret set|list`: how an app
//! gets its permissions and credentials. Secrets are read from
//! stdin or an environment variable, never from argv, and never printed.

use std::io::{BufRead, IsTerminal};

use clap::{Args, Subcommand};
use galsync_proto::v1;
use serde_json::{json, Value};

use crate::cert::AppArgs;
use crate::connect::GlobalArgs;
use crate::error::{CliError, CliResult};
use crate::ids::{require_guid, CLIENT_ID_HELP, TENANT_ID_HELP};
use crate::output::{human_time, json_time, print_json, printable};

#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Print the admin-consent URL an administrator opens to grant the app's permissions.
    Url(ConsentUrlArgs),
    /// Show the last recorded admin-consent outcome.
    Status(AppArgs),
}

#[derive(Debug, Args)]
pub struct ConsentUrlArgs {
    #[command(flatten)]
    pub app: AppArgs,
    /// Where Entra sends the administrator back; default: the auth-broker's own callback.
    #[arg(long)]
    pub redirect_uri: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store a client secret (read from stdin, or from --from-env VAR).
    Set(SecretSetArgs),
    /// The apps in client-secret mode: whether a secret is stored and when it expires.
    List(SecretListArgs),
}

#[derive(Debug, Args)]
pub struct SecretListArgs {
    /// Only this tenant (Directory (tenant) ID GUID).
    #[arg(long, env = "GALSYNC_TENANT_ID")]
    pub tenant_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct SecretSetArgs {
    /// Directory (tenant) ID GUID.
    #[arg(long, env = "GALSYNC_TENANT_ID")]
    pub tenant_id: String,
    /// Application (client) ID the secret belongs to.
    #[arg(long)]
    pub client_id: String,
    /// Read the secret from this environment variable instead of stdin.
    #[arg(long, value_name = "VAR")]
    pub from_env: Option<String>,
    /// When Entra expires the secret (YYYY-MM-DD), so galsync can warn ahead.
    #[arg(long, value_name = "DATE")]
    pub expires_on: Option<String>,
}

fn ids(app: &AppArgs) -> CliResult<(String, String)> {
    let tenant_id = require_guid("tenant-id", &app.tenant_id, TENANT_ID_HELP)?;
    let client_id = match &app.client_id {
        Some(client_id) => require_guid("client-id", client_id, CLIENT_ID_HELP)?,
        None => String::new(),
    };
    Ok((tenant_id, client_id))
}

pub async fn run_consent(globals: &GlobalArgs, command: ConsentCommand) -> CliResult {
    match command {
        ConsentCommand::Url(args) => consent_url(globals, args).await,
        ConsentCommand::Status(args) => consent_status(globals, args).await,
    }
}

async fn consent_url(globals: &GlobalArgs, args: ConsentUrlArgs) -> CliResult {
    let (tenant_id, client_id) = ids(&args.app)?;
    let (mut broker, target) = globals.broker()?;
    let response = broker
        .get_admin_consent_url(v1::GetAdminConsentUrlRequest {
            tenant_id: tenant_id.clone(),
            client_id,
            redirect_uri: args.redirect_uri.unwrap_or_default(),
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    let redirect_uri = url::Url::parse(&response.url)
        .ok()
        .and_then(|parsed| {
            parsed
                .query_pairs()
                .find(|(name, _)| name == "redirect_uri")
                .map(|(_, value)| value.into_owned())
        })
        .unwrap_or_default();
    if globals.output.is_json() {
        print_json(&json!({ "url": response.url, "redirect_uri": redirect_uri }));
        return Ok(());
    }
    println!(
        "open this URL as a Global Administrator (or Privileged Role Administrator) of the tenant:"
    );
    println!();
    println!("  {}", response.url);
    println!();
    println!("review the permissions the app requests and choose Accept.");
    if !redirect_uri.is_empty() {
        println!("Entra then sends the browser back to {redirect_uri}, where the auth-broker records the outcome;");
        println!("the app registration must list that address as a Web redirect URI (Authentication > Add a platform > Web).");
    }
    println!("then: galsync consent status --tenant-id {tenant_id}");
    println!("      galsync test-connection --tenant-id {tenant_id}");
    Ok(())
}

async fn consent_status(globals: &GlobalArgs, args: AppArgs) -> CliResult {
    let (tenant_id, client_id) = ids(&args)?;
    let (mut broker, target) = globals.broker()?;
    let status = broker
        .get_consent_status(v1::GetConsentStatusRequest {
            tenant_id: tenant_id.clone(),
            client_id,
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    if globals.output.is_json() {
        print_json(&consent_json(&status));
        return Ok(());
    }
    println!("{}", consent_text(&status));
    if !status.granted {
        println!("get the consent URL with `galsync consent url --tenant-id {tenant_id}`");
    }
    Ok(())
}

pub fn consent_text(status: &v1::ConsentStatus) -> String {
    if status.granted {
        return format!("granted {}", human_time(status.recorded_at.as_ref()));
    }
    if status.error.is_empty() {
        return "not recorded".to_owned();
    }
    let text = format!("refused: {} {}", status.error, status.error_description);
    printable(text.trim_end())
}

pub fn consent_json(status: &v1::ConsentStatus) -> Value {
    json!({
        "granted": status.granted,
        "error": status.error,
        "error_description": status.error_description,
        "recorded_at": json_time(status.recorded_at.as_ref()),
    })
}

pub async fn run_secret(globals: &GlobalArgs, command: SecretCommand) -> CliResult {
    let args = match command {
        SecretCommand::Set(args) => args,
        SecretCommand::List(args) => return list_secrets(globals, args).await,
    };
    let tenant_id = require_guid("tenant-id", &args.tenant_id, TENANT_ID_HELP)?;
    let client_id = require_guid("client-id", &args.client_id, CLIENT_ID_HELP)?;
    let expires_at = match &args.expires_on {
        Some(text) => Some(parse_date(text)?),
        None => None,
    };
    let secret = match &args.from_env {
        Some(variable) => std::env::var(variable).map_err(|_| {
            CliError::usage(format!(
                "invalid --from-env: the environment variable {variable} is not set"
            ))
        })?,
        None => read_secret_from_stdin().await?,
    };
    let secret = secret.trim().to_owned();
    if secret.is_empty() {
        return Err(CliError::usage(
            "the client secret is empty: paste the secret's Value (Certificates & secrets > Client secrets)",
        ));
    }
    let (mut broker, target) = globals.broker()?;
    let app = broker
        .set_client_secret(v1::SetClientSecretRequest {
            tenant_id: tenant_id.clone(),
            client_id,
            secret,
            expires_at,
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    if globals.output.is_json() {
        print_json(
            &json!({ "client_id": app.client_id, "has_client_secret": app.has_client_secret }),
        );
        return Ok(());
    }
    println!("client secret stored (sealed) for app {}", app.client_id);
    println!("check it with `galsync test-connection --tenant-id {tenant_id}`");
    Ok(())
}

async fn read_secret_from_stdin() -> CliResult<String> {
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!("paste the client secret's Value and press Enter:");
    }
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|_| CliError::failed("reading the secret from stdin was interrupted"))?
    .map_err(|error| CliError::usage(format!("cannot read the secret from stdin: {error}")))?;
    Ok(line)
}

fn parse_date(text: &str) -> CliResult<prost_types::Timestamp> {
    let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| CliError::usage(format!("invalid --expires-on `{text}`: use YYYY-MM-DD")))?;
    let seconds = date
        .and_hms_opt(0, 0, 0)
        .map(|at| at.and_utc().timestamp())
        .unwrap_or_default();
    Ok(prost_types::Timestamp { seconds, nanos: 0 })
}

async fn list_secrets(globals: &GlobalArgs, args: SecretListArgs) -> CliResult {
    let only_tenant = match &args.tenant_id {
        Some(text) => Some(require_guid("tenant-id", text, TENANT_ID_HELP)?),
        None => None,
    };
    let (mut broker, target) = globals.broker()?;
    let tenants = broker
        .list_tenants(v1::ListTenantsRequest {})
        .await
        .map_err(|status| target.error(status))?
        .into_inner()
        .tenants;
    let now = chrono::Utc::now();
    let mut rows = Vec::new();
    for tenant in &tenants {
        if only_tenant
            .as_ref()
            .is_some_and(|only| *only != tenant.tenant_id)
        {
            continue;
        }
        for app in &tenant.apps {
            if app.auth_mode != v1::AuthMode::ClientSecret as i32 {
                continue;
            }
            let expires = app
                .client_secret_expires_at
                .as_ref()
                .and_then(|at| chrono::DateTime::from_timestamp(at.seconds, 0));
            let state = match (app.has_client_secret, expires) {
                (false, _) => "no secret: galsync secret set".to_owned(),
                (true, None) => "stored, expiry unknown (set it with --expires-on)".to_owned(),
                (true, Some(at)) if at <= now => {
                    "EXPIRED: add a new secret in Entra, then galsync secret set".to_owned()
                }
                // Inside the broker's renewal window (`--cert-renewal-days`),
                // as the broker and the console warn.
                (true, Some(at)) if app.client_secret_expiring_soon => {
                    format!(
                        "expires in {} days: add a new secret in Entra, then galsync secret set",
                        (at - now).num_days()
                    )
                }
                (true, Some(_)) => "stored".to_owned(),
            };
            rows.push((
                tenant.tenant_id.clone(),
                app.client_id.clone(),
                expires,
                state,
            ));
        }
    }
    if globals.output.is_json() {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|(tenant_id, client_id, expires, state)| {
                json!({
                    "tenant_id": tenant_id,
                    "client_id": client_id,
                    "expires_on": expires.map(|at| at.format("%Y-%m-%d").to_string()),
                    "state": state,
                })
            })
            .collect();
        print_json(&json!({ "secrets": items }));
        return Ok(());
    }
    if rows.is_empty() {
        println!("no app uses client-secret mode");
        return Ok(());
    }
    let mut table = crate::output::Table::new(&["TENANT", "CLIENT ID", "EXPIRES", "STATE"]);
    for (tenant_id, client_id, expires, state) in rows {
        table.row(vec![
            tenant_id,
            client_id,
            expires
                .map(|at| at.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            state,
        ]);
    }
    table.print();
    Ok(())
}
