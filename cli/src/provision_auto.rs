//! `galsync tenant provision` without `--manual`: the auth-broker makes the
//! app registration(s) through Microsoft Graph after an administrator signs
//! in once with a device code. The CLI shows the code and the URL, then each
//! step as the broker reports it, then the Test Connection result. The
//! administrator's token never reaches the CLI or the broker's store.

use galsync_proto::v1;
use galsync_proto::v1::provision_event::Event;
use serde_json::{json, Value};

use std::path::PathBuf;

use galsync_auth_broker::policy::app_plans;

use crate::connect::GlobalArgs;
use crate::error::{CliError, CliResult};
use crate::output::print_json;
use crate::provision::render::{self, check_value, ScriptValues};
use crate::provision::{refuse_existing, write_script, ProvisionArgs, EXCHANGE_SCRIPT};

pub async fn run(globals: &GlobalArgs, args: ProvisionArgs, tenant_id: String) -> CliResult {
    // Exchange's RBAC for Applications is set in Exchange Online PowerShell,
    // which neither galsync nor Graph reaches: with --target-group the
    // automatic path writes that one script for an Exchange administrator.
    let exchange_out = match (&args.target_group, &args.out) {
        (Some(group), Some(out)) => {
            check_value("--target-group", group)?;
            if !args.force {
                refuse_existing(out, &[EXCHANGE_SCRIPT])?;
            }
            Some((group.clone(), out.clone()))
        }
        (Some(_), None) => {
            return Err(CliError::usage(
                "--target-group needs --out DIR: restricting the write app to a group is done \
                 in Exchange Online PowerShell, which galsync cannot reach, so galsync writes \
                 galsync-exchange.ps1 there for an Exchange administrator to run",
            ));
        }
        (None, Some(_)) => {
            return Err(CliError::usage(
                "--out is where --manual writes its scripts, or where --target-group writes the \
                 Exchange script; leave it out, or add one of them",
            ));
        }
        (None, None) => None,
    };
    let request = v1::ProvisionTenantRequest {
        tenant_id: tenant_id.clone(),
        display_name: args.name.clone().unwrap_or_default(),
        two_apps: args.two_apps,
        login_base_url: args.login_url.clone().unwrap_or_default(),
        graph_base_url: args.graph_url.clone().unwrap_or_default(),
        adopt: false,
        upload_rotated_certificates: args.upload_rotated_certificates,
    };
    let json_output = globals.output.is_json();
    let done = follow(globals, request).await?;
    let mut files = Vec::new();
    if let Some((target_group, out_dir)) = exchange_out {
        let tenant_name = done
            .tenant
            .as_ref()
            .map(|tenant| tenant.display_name.clone())
            .unwrap_or_default();
        let values = ScriptValues {
            tenant_id: tenant_id.clone(),
            apps: app_plans(&tenant_id, &tenant_name, args.two_apps),
            tenant_name,
            thumbprint_sha1: String::new(),
            registered_client_ids: Vec::new(),
            target_group: Some(target_group),
        };
        if let Some(script) = render::exchange_script(&values)? {
            std::fs::create_dir_all(&out_dir).map_err(|error| {
                CliError::usage(format!(
                    "invalid --out: cannot create {}: {error}",
                    out_dir.display()
                ))
            })?;
            files.push(write_script(
                &out_dir,
                EXCHANGE_SCRIPT,
                &script,
                args.force,
            )?);
        }
    }
    finish(&done, &tenant_id, false, json_output, &files)
}

/// `galsync tenant adopt`: after the `--manual` scripts ran, find the apps
/// (by the uniqueName both paths use), check them and record their client
/// ids; the administrator signs in with Application.Read.All only and
/// nothing in Entra ID changes.
pub async fn adopt(globals: &GlobalArgs, tenant_id: String, two_apps: bool) -> CliResult {
    let request = v1::ProvisionTenantRequest {
        tenant_id,
        two_apps,
        adopt: true,
        ..Default::default()
    };
    let tenant_id = request.tenant_id.clone();
    let done = follow(globals, request).await?;
    finish(&done, &tenant_id, true, globals.output.is_json(), &[])
}

/// Sends the request and shows the broker's events as they come; returns
/// the broker's result.
async fn follow(
    globals: &GlobalArgs,
    request: v1::ProvisionTenantRequest,
) -> CliResult<v1::ProvisionDone> {
    let tenant_id = request.tenant_id.clone();
    let adopt = request.adopt;
    let json_output = globals.output.is_json();
    let (mut broker, target) = globals.broker()?;
    let mut events = broker
        .provision_tenant(request)
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    // Progress goes to stderr with --output json, so stdout stays one document.
    let say = |line: String| {
        if json_output {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    let mut done = None;
    while let Some(message) = events
        .message()
        .await
        .map_err(|status| target.error(status))?
    {
        match message.event {
            Some(Event::SignIn(sign_in)) => {
                say(format!(
                    "To sign in as an administrator of tenant {tenant_id}, open {} and enter the code {}",
                    sign_in.verification_uri, sign_in.user_code
                ));
                if adopt {
                    say("(galsync asks only for Application.Read.All, changes nothing in Entra ID and keeps no token)".to_owned());
                } else {
                    say("(sign in with a Global Administrator, or an Application Administrator who is also a Privileged Role Administrator; galsync asks only for Application.ReadWrite.All and AppRoleAssignment.ReadWrite.All and keeps no token)".to_owned());
                }
            }
            Some(Event::Step(step)) => say(format!("· {}", step.text)),
            Some(Event::Done(finished)) => done = Some(finished),
            None => {}
        }
    }
    done.ok_or_else(|| {
        CliError::failed(
            "the auth-broker ended provisioning without a result; run it again (it repairs what is missing)",
        )
    })
}

/// Shows the result (and the `files` written beside it); fails when Test
/// Connection is not green.
fn finish(
    done: &v1::ProvisionDone,
    tenant_id: &str,
    adopt: bool,
    json_output: bool,
    files: &[PathBuf],
) -> CliResult {
    let report = done.test_connection.clone().unwrap_or_default();
    let failed = report.checks.iter().filter(|check| !check.ok).count();
    if json_output {
        let mut result = done_json(tenant_id, done);
        if !files.is_empty() {
            result["files"] = json!(files);
        }
        print_json(&result);
    } else {
        crate::check::print_checks(&report.checks, tenant_id);
        let apps: Vec<String> = done
            .tenant
            .iter()
            .flat_map(|tenant| tenant.apps.iter())
            .map(|app| app.client_id.clone())
            .collect();
        println!(
            "{} tenant {tenant_id} as {} (client id {})",
            if adopt { "adopted" } else { "provisioned" },
            done.signed_in_as,
            apps.join(", ")
        );
        if done.changes.is_empty() {
            println!("nothing needed creating or repairing");
        }
        for file in files {
            println!(
                "next, as an Exchange administrator (Exchange Online PowerShell): pwsh {} \
                 restricts the write app to the group's mailboxes (RBAC for Applications); then \
                 run `galsync test-connection --tenant-id {tenant_id} --mailbox <a target>`",
                file.display()
            );
        }
    }
    if report.ok && failed == 0 {
        return Ok(());
    }
    Err(CliError::failed(format!(
        "the apps are provisioned but {failed} of {} connection checks failed; apply the fixes above and run `galsync test-connection --tenant-id {tenant_id}`",
        report.checks.len()
    )))
}

fn done_json(tenant_id: &str, done: &v1::ProvisionDone) -> Value {
    let apps: Vec<Value> = done
        .tenant
        .iter()
        .flat_map(|tenant| tenant.apps.iter())
        .map(|app| {
            json!({
                "client_id": app.client_id,
                "purposes": crate::tenant_view::purpose_names(&app.purposes),
            })
        })
        .collect();
    let report = done.test_connection.clone().unwrap_or_default();
    let checks: Vec<Value> = report
        .checks
        .iter()
        .map(|check| {
            json!({
                "name": check.name,
                "ok": check.ok,
                "detail": check.detail,
                "fix": check.fix,
                "error_code": check.error_code,
            })
        })
        .collect();
    json!({
        "tenant_id": tenant_id,
        "signed_in_as": done.signed_in_as,
        "apps": apps,
        "changes": done.changes,
        "test_connection": {"ok": report.ok, "checks": checks},
    })
}
