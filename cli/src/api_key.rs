//! `galsync api-key create|list|revoke`: keys for integrators and MSPs, who
//! call the public API with `authorization: Bearer gsk_…` and need no
//! certificate of galsync's internal CA.

use clap::{Args, Subcommand, ValueEnum};
use galsync_proto::v1;
use serde_json::{json, Value};

use crate::connect::GlobalArgs;
use crate::error::CliResult;
use crate::ids::{require_guid, TENANT_ID_HELP};
use crate::output::{human_time, json_time, print_fields, print_json, printable, Table};

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Make a key; its secret is printed once and stored only as a hash.
    Create(CreateArgs),
    /// The keys (never their secrets), revoked ones included.
    List,
    /// Revoke a key: its next call is refused.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Who the key is for, e.g. hr-onboarding (letters, digits, `-`, `_`, `.`).
    #[arg(long)]
    pub name: String,
    /// What the key may do: viewer reads, operator also starts, cancels and
    /// approves runs, admin also changes profiles and keys.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// Scope the key to one tenant (Directory (tenant) ID GUID): it sees and
    /// changes nothing of another. Default: every tenant.
    #[arg(long)]
    pub tenant_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The key's id, as `galsync api-key list` shows it.
    pub key_id: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Viewer,
    Operator,
    Admin,
}

impl RoleArg {
    fn to_proto(self) -> v1::ApiRole {
        match self {
            RoleArg::Viewer => v1::ApiRole::Viewer,
            RoleArg::Operator => v1::ApiRole::Operator,
            RoleArg::Admin => v1::ApiRole::Admin,
        }
    }
}

pub async fn run(globals: &GlobalArgs, command: ApiKeyCommand) -> CliResult {
    match command {
        ApiKeyCommand::Create(args) => create(globals, args).await,
        ApiKeyCommand::List => list(globals).await,
        ApiKeyCommand::Revoke(args) => revoke(globals, args).await,
    }
}

async fn create(globals: &GlobalArgs, args: CreateArgs) -> CliResult {
    let tenant_id = match &args.tenant_id {
        Some(tenant_id) => require_guid("tenant-id", tenant_id, TENANT_ID_HELP)?,
        None => String::new(),
    };
    let (mut scheduler, target) = globals.scheduler()?;
    let key = scheduler
        .create_api_key(v1::CreateApiKeyRequest {
            name: args.name,
            role: args.role.to_proto() as i32,
            tenant_id,
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    if globals.output.is_json() {
        let mut value = key_json(&key);
        value["secret"] = json!(key.secret);
        print_json(&value);
        return Ok(());
    }
    print_fields(&key_fields(&key));
    println!();
    println!("secret: {}", key.secret);
    println!();
    println!("Keep the secret now: galsync stores only its hash and cannot show it again.");
    println!(
        "Use it as `authorization: Bearer <secret>`, or `galsync --api-key <secret> …` (GALSYNC_API_KEY);"
    );
    println!(
        "a caller without a galsync client certificate also needs the CA to trust: --ca-file ca.pem."
    );
    Ok(())
}

async fn list(globals: &GlobalArgs) -> CliResult {
    let (mut scheduler, target) = globals.scheduler()?;
    let keys = scheduler
        .list_api_keys(v1::ListApiKeysRequest {})
        .await
        .map_err(|status| target.error(status))?
        .into_inner()
        .keys;
    if globals.output.is_json() {
        let items: Vec<Value> = keys.iter().map(key_json).collect();
        print_json(&json!({ "api_keys": items }));
        return Ok(());
    }
    if keys.is_empty() {
        println!(
            "no API keys yet: make one with `galsync api-key create --name NAME --role viewer`"
        );
        return Ok(());
    }
    let mut table = Table::new(&[
        "KEY ID", "NAME", "ROLE", "TENANT", "CREATED", "BY", "REVOKED",
    ]);
    for key in &keys {
        table.row(vec![
            key.key_id.clone(),
            printable(&key.name),
            role_name(key.role).to_owned(),
            scope_text(key),
            human_time(key.created_at.as_ref()),
            printable(&key.created_by),
            key.revoked_at
                .as_ref()
                .map_or_else(|| "-".to_owned(), |at| human_time(Some(at))),
        ]);
    }
    table.print();
    Ok(())
}

async fn revoke(globals: &GlobalArgs, args: RevokeArgs) -> CliResult {
    let (mut scheduler, target) = globals.scheduler()?;
    let key = scheduler
        .revoke_api_key(v1::RevokeApiKeyRequest {
            key_id: args.key_id,
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    if globals.output.is_json() {
        print_json(&key_json(&key));
        return Ok(());
    }
    println!(
        "revoked API key {} ({}) at {}: its next call is refused",
        key.key_id,
        printable(&key.name),
        human_time(key.revoked_at.as_ref())
    );
    Ok(())
}

fn role_name(role: i32) -> &'static str {
    match v1::ApiRole::try_from(role).unwrap_or_default() {
        v1::ApiRole::Viewer => "viewer",
        v1::ApiRole::Operator => "operator",
        v1::ApiRole::Admin => "admin",
        v1::ApiRole::Unspecified => "unknown",
    }
}

fn scope_text(key: &v1::ApiKey) -> String {
    if key.tenant_id.is_empty() {
        "all".to_owned()
    } else {
        key.tenant_id.clone()
    }
}

fn key_fields(key: &v1::ApiKey) -> Vec<(&'static str, String)> {
    vec![
        ("key id", key.key_id.clone()),
        ("name", printable(&key.name)),
        ("role", role_name(key.role).to_owned()),
        ("tenant", scope_text(key)),
        ("created", human_time(key.created_at.as_ref())),
        ("created by", printable(&key.created_by)),
    ]
}

/// A key for `--output json`, without its secret.
fn key_json(key: &v1::ApiKey) -> Value {
    json!({
        "key_id": key.key_id,
        "name": key.name,
        "role": role_name(key.role),
        "tenant_id": key.tenant_id,
        "created_at": json_time(key.created_at.as_ref()),
        "created_by": key.created_by,
        "revoked_at": json_time(key.revoked_at.as_ref()),
    })
}
