//! `galsync test-connection` (every credential checked end to end, one line
//! per check with the fix) and `galsync audit` (the broker's audit log).

use clap::Args;
use galsync_proto::v1;
use serde_json::{json, Value};

use crate::connect::GlobalArgs;
use crate::error::{CliError, CliResult};
use crate::ids::{require_guid, TENANT_ID_HELP};
use crate::output::{human_time, json_time, print_json, Table};
use crate::tenant_view::purpose_name;

#[derive(Debug, Args)]
pub struct TestConnectionArgs {
    /// Directory (tenant) ID GUID.
    #[arg(long, env = "GALSYNC_TENANT_ID")]
    pub tenant_id: String,
    /// A mailbox (UPN) whose contact folders are probed with the contacts token.
    #[arg(long, value_name = "UPN")]
    pub mailbox: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this tenant's events.
    #[arg(long, env = "GALSYNC_TENANT_ID")]
    pub tenant_id: Option<String>,
    /// Only this kind, e.g. token.issued, token.denied, certificate.generated.
    #[arg(long)]
    pub kind: Option<String>,
    /// Newest events first, at most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

pub async fn run_test_connection(globals: &GlobalArgs, args: TestConnectionArgs) -> CliResult {
    let tenant_id = require_guid("tenant-id", &args.tenant_id, TENANT_ID_HELP)?;
    let (mut broker, target) = globals.broker()?;
    let report = broker
        .test_connection(v1::TestConnectionRequest {
            tenant_id: tenant_id.clone(),
            probe_mailbox: args.mailbox.clone().unwrap_or_default(),
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    let failed = report.checks.iter().filter(|check| !check.ok).count();
    if globals.output.is_json() {
        let checks: Vec<Value> = report
            .checks
            .iter()
            .map(|check| {
                json!({
                    "name": check.name,
                    "ok": check.ok,
                    "detail": check.detail,
                    "fix": fix_text(check, &tenant_id),
                    "error_code": check.error_code,
                })
            })
            .collect();
        print_json(
            &json!({ "tenant_id": tenant_id, "ok": report.ok && failed == 0, "checks": checks }),
        );
    } else {
        print_checks(&report.checks, &tenant_id);
        if args.mailbox.is_none() {
            println!("(add --mailbox someone@yourdomain to also check a target mailbox)");
        }
    }
    if report.ok && failed == 0 {
        if !globals.output.is_json() {
            println!("all {} checks passed", report.checks.len());
        }
        return Ok(());
    }
    Err(CliError::failed(format!(
        "{failed} of {} connection checks failed; apply the fixes above and run `galsync test-connection` again",
        report.checks.len()
    )))
}

pub(crate) fn print_checks(checks: &[v1::ConnectionCheck], tenant_id: &str) {
    let width = checks
        .iter()
        .map(|check| check.name.chars().count())
        .max()
        .unwrap_or(0);
    for check in checks {
        let mark = if check.ok { "✓" } else { "✗" };
        let padding = " ".repeat(width - check.name.chars().count());
        let code = if check.error_code.is_empty() {
            String::new()
        } else {
            format!(" [{}]", check.error_code)
        };
        println!("{mark} {}{padding}  {}{code}", check.name, check.detail);
        let fix = fix_text(check, tenant_id);
        if !check.ok && !fix.is_empty() {
            println!("  {}  fix: {fix}", " ".repeat(width));
        }
    }
}

/// The broker's fix, with the galsync command that does it where there is one.
fn fix_text(check: &v1::ConnectionCheck, tenant_id: &str) -> String {
    if check.ok {
        return String::new();
    }
    let mut fix = check.fix.clone();
    if check.error_code == "AADSTS700027" {
        fix.push_str(&format!(
            " (write it with `galsync cert export --tenant-id {tenant_id} --out galsync.cer`)"
        ));
    } else if fix.contains("admin consent") {
        fix.push_str(&format!(" (`galsync consent url --tenant-id {tenant_id}`)"));
    }
    fix.trim().to_owned()
}

pub async fn run_audit(globals: &GlobalArgs, args: AuditArgs) -> CliResult {
    let tenant_id = match &args.tenant_id {
        Some(tenant_id) => require_guid("tenant-id", tenant_id, TENANT_ID_HELP)?,
        None => String::new(),
    };
    let (mut broker, target) = globals.broker()?;
    let events = broker
        .list_audit_events(v1::ListAuditEventsRequest {
            tenant_id,
            limit: args.limit,
            kind: args.kind.unwrap_or_default(),
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner()
        .events;
    if globals.output.is_json() {
        let items: Vec<Value> = events
            .iter()
            .map(|event| {
                json!({
                    "id": event.id,
                    "at": json_time(event.at.as_ref()),
                    "kind": event.kind,
                    "caller": event.caller,
                    "tenant_id": event.tenant_id,
                    "purpose": purpose_name(event.purpose),
                    "detail": event.detail,
                    "token_expires_at": json_time(event.token_expires_at.as_ref()),
                })
            })
            .collect();
        print_json(&json!({ "events": items }));
        return Ok(());
    }
    if events.is_empty() {
        println!("no audit events");
        return Ok(());
    }
    let mut table = Table::new(&["TIME", "KIND", "CALLER", "TENANT", "PURPOSE", "DETAIL"]);
    for event in &events {
        table.row(vec![
            human_time(event.at.as_ref()),
            event.kind.clone(),
            event.caller.clone(),
            event.tenant_id.clone(),
            purpose_name(event.purpose).to_owned(),
            event.detail.clone(),
        ]);
    }
    table.print();
    Ok(())
}
