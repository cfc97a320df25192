//! `galsync profile create|edit|list|show|explain|delete`: sync profiles in
//! the scheduler.

use clap::{Args, Subcommand};
use galsync_proto::v1;
use serde_json::{json, Value};

use crate::connect::GlobalArgs;
use crate::error::{CliError, CliResult, ExitCode};
use crate::ids::{require_guid, TENANT_ID_HELP};
use crate::output::{human_time, json_time, print_fields, print_json, yes_no, Table};
use crate::profile_proto::{deletion_mode_name, from_spec, schedule_text, to_spec};
use crate::profile_spec::{read_document, ProfileDocument, ProfileFlags};

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Create a profile from flags and/or a TOML/JSON file (--file).
    Create(Box<ProfileFlags>),
    /// Change a profile: only the flags given change (target flags replace the targets).
    Edit(Box<EditArgs>),
    /// List profiles.
    List(ListArgs),
    /// Show one profile (`--output json` gives a document `--file` accepts).
    Show(ProfileIdArg),
    /// How many users each filter rule keeps or drops, and how many mailboxes resolve.
    Explain(ProfileIdArg),
    /// Delete a profile (its contacts stay in the mailboxes).
    Delete(ProfileIdArg),
}

#[derive(Debug, Args)]
pub struct ProfileIdArg {
    /// Profile id (see `galsync profile list`).
    pub profile_id: String,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Profile id (see `galsync profile list`).
    pub profile_id: String,
    #[command(flatten)]
    pub flags: ProfileFlags,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this tenant's profiles.
    #[arg(long, env = "GALSYNC_TENANT_ID")]
    pub tenant_id: Option<String>,
}

pub async fn run(globals: &GlobalArgs, command: ProfileCommand) -> CliResult {
    match command {
        ProfileCommand::Create(flags) => create(globals, *flags).await,
        ProfileCommand::Edit(args) => edit(globals, *args).await,
        ProfileCommand::List(args) => list(globals, args).await,
        ProfileCommand::Show(args) => show(globals, &args.profile_id).await,
        ProfileCommand::Explain(args) => explain(globals, &args.profile_id).await,
        ProfileCommand::Delete(args) => delete(globals, &args.profile_id).await,
    }
}

async fn create(globals: &GlobalArgs, flags: ProfileFlags) -> CliResult {
    let mut document = match &flags.file {
        Some(path) => read_document(path)?,
        None => ProfileDocument {
            enabled: true,
            ..Default::default()
        },
    };
    flags.apply(&mut document)?;
    if document.name.trim().is_empty() {
        return Err(CliError::usage(
            "give the profile a --name (e.g. --name \"Company phones\")",
        ));
    }
    document.tenant_id = require_guid("tenant-id", &document.tenant_id, TENANT_ID_HELP)?;
    let targets = &document.targets;
    if !targets.all_mailboxes && targets.users.is_empty() && targets.groups.is_empty() {
        return Err(CliError::usage(
            "choose whose mailboxes get the contacts: --targets-all, --target-group GROUP_ID or --target-user UPN",
        ));
    }
    let spec = to_spec(&document)?;
    require_registered_tenant(globals, &document.tenant_id).await?;
    let (mut scheduler, target) = globals.scheduler()?;
    let profile = scheduler
        .create_profile(v1::CreateProfileRequest { spec: Some(spec) })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    if globals.output.is_json() {
        print_json(&profile_json(&profile));
        return Ok(());
    }
    println!("created profile {}", profile.profile_id);
    print_profile(&profile);
    println!();
    println!("next:");
    println!(
        "  galsync profile explain {}        who is kept, which mailboxes resolve",
        profile.profile_id
    );
    println!(
        "  galsync run start {} --follow     the first sync",
        profile.profile_id
    );
    Ok(())
}

/// A profile for a tenant the broker does not know can never run: say so now.
/// Only a definite NOT_FOUND stops; a broker this CLI cannot reach (an API-key
/// user on another host) leaves the check to the scheduler's first run.
async fn require_registered_tenant(globals: &GlobalArgs, tenant_id: &str) -> CliResult {
    let Ok((mut broker, _target)) = globals.broker() else {
        return Ok(());
    };
    let request = v1::GetTenantRequest {
        tenant_id: tenant_id.to_owned(),
    };
    match broker.get_tenant(request).await {
        Err(status) if status.code() == tonic::Code::NotFound => Err(CliError::new(
            ExitCode::NotFound,
            format!(
                "tenant {tenant_id} is not registered with the auth-broker: \
                 run `galsync tenant add --tenant-id {tenant_id} …` first"
            ),
        )),
        Ok(_) | Err(_) => Ok(()),
    }
}

async fn edit(globals: &GlobalArgs, args: EditArgs) -> CliResult {
    let (mut scheduler, target) = globals.scheduler()?;
    let current = scheduler
        .get_profile(v1::GetProfileRequest {
            profile_id: args.profile_id.clone(),
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    let mut document = match &args.flags.file {
        Some(path) => read_document(path)?,
        None => from_spec(&current.spec.clone().unwrap_or_default()),
    };
    args.flags.apply(&mut document)?;
    let spec = to_spec(&document)?;
    let profile = scheduler
        .update_profile(v1::UpdateProfileRequest {
            profile_id: args.profile_id.clone(),
            spec: Some(spec),
            expected_version: current.version,
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    if globals.output.is_json() {
        print_json(&profile_json(&profile));
        return Ok(());
    }
    println!(
        "updated profile {} (version {})",
        profile.profile_id, profile.version
    );
    print_profile(&profile);
    Ok(())
}

async fn list(globals: &GlobalArgs, args: ListArgs) -> CliResult {
    let tenant_id = match &args.tenant_id {
        Some(tenant_id) => require_guid("tenant-id", tenant_id, TENANT_ID_HELP)?,
        None => String::new(),
    };
    let (mut scheduler, target) = globals.scheduler()?;
    let profiles = scheduler
        .list_profiles(v1::ListProfilesRequest { tenant_id })
        .await
        .map_err(|status| target.error(status))?
        .into_inner()
        .profiles;
    if globals.output.is_json() {
        let items: Vec<Value> = profiles.iter().map(profile_json).collect();
        print_json(&json!({ "profiles": items }));
        return Ok(());
    }
    if profiles.is_empty() {
        println!("no profiles yet: create one with `galsync profile create --name NAME --tenant-id GUID --targets-all`");
        return Ok(());
    }
    let mut table = Table::new(&[
        "PROFILE ID",
        "NAME",
        "TENANT",
        "ENABLED",
        "SCHEDULE",
        "NEXT RUN",
        "LAST RUN",
    ]);
    for profile in &profiles {
        let spec = profile.spec.clone().unwrap_or_default();
        table.row(vec![
            profile.profile_id.clone(),
            spec.name.clone(),
            spec.tenant_id.clone(),
            yes_no(spec.enabled),
            schedule_text(spec.schedule.as_ref()),
            human_time(profile.next_run_at.as_ref()),
            profile.last_run_id.clone(),
        ]);
    }
    table.print();
    Ok(())
}

async fn show(globals: &GlobalArgs, profile_id: &str) -> CliResult {
    let (mut scheduler, target) = globals.scheduler()?;
    let profile = scheduler
        .get_profile(v1::GetProfileRequest {
            profile_id: profile_id.to_owned(),
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    if globals.output.is_json() {
        print_json(&profile_json(&profile));
        return Ok(());
    }
    print_profile(&profile);
    Ok(())
}

async fn explain(globals: &GlobalArgs, profile_id: &str) -> CliResult {
    let (mut scheduler, target) = globals.scheduler()?;
    let explanation = scheduler
        .explain_profile(v1::ExplainProfileRequest {
            profile_id: profile_id.to_owned(),
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    let filter = explanation.filter.clone().unwrap_or_default();
    if globals.output.is_json() {
        print_json(&json!({
            "users_read": filter.users_read,
            "users_kept": filter.users_kept,
            "rules": rule_counts_json(&filter.rules),
            "target_mailboxes": explanation.target_mailboxes,
            "target_rules": rule_counts_json(&explanation.target_rules),
            "unresolved_targets": explanation.unresolved_targets,
        }));
        return Ok(());
    }
    println!("directory users read: {}", filter.users_read);
    print_rule_counts(&filter.rules);
    println!("users kept (become contacts): {}", filter.users_kept);
    println!("target mailboxes: {}", explanation.target_mailboxes);
    print_rule_counts(&explanation.target_rules);
    if !explanation.unresolved_targets.is_empty() {
        println!(
            "unresolved targets (no such user or group, no mailbox, or dropped by a rule): {}",
            explanation.unresolved_targets.join(", ")
        );
    }
    Ok(())
}

fn rule_counts_json(rules: &[v1::FilterRuleCount]) -> Vec<Value> {
    rules
        .iter()
        .map(|rule| json!({ "rule": rule.rule, "dropped": rule.dropped }))
        .collect()
}

fn print_rule_counts(rules: &[v1::FilterRuleCount]) {
    let mut table = Table::new(&["  RULE", "DROPPED"]);
    for rule in rules {
        table.row(vec![format!("  {}", rule.rule), rule.dropped.to_string()]);
    }
    if !table.is_empty() {
        table.print();
    }
}

async fn delete(globals: &GlobalArgs, profile_id: &str) -> CliResult {
    let (mut scheduler, target) = globals.scheduler()?;
    scheduler
        .delete_profile(v1::DeleteProfileRequest {
            profile_id: profile_id.to_owned(),
        })
        .await
        .map_err(|status| target.error(status))?;
    if globals.output.is_json() {
        print_json(&json!({ "profile_id": profile_id, "deleted": true }));
        return Ok(());
    }
    println!("deleted profile {profile_id}; contacts it wrote stay in the mailboxes");
    Ok(())
}

fn print_profile(profile: &v1::Profile) {
    let spec = profile.spec.clone().unwrap_or_default();
    let document = from_spec(&spec);
    let targets = &document.targets;
    let mut target_parts = Vec::new();
    if targets.all_mailboxes {
        target_parts.push("all mailboxes".to_owned());
    }
    if !targets.groups.is_empty() {
        target_parts.push(format!("members of {}", targets.groups.join(", ")));
    }
    if !targets.users.is_empty() {
        target_parts.push(targets.users.join(", "));
    }
    let source = &document.source;
    let mut source_parts = Vec::new();
    if !source.include_groups.is_empty() {
        source_parts.push(format!(
            "only members of {}",
            source.include_groups.join(", ")
        ));
    }
    if !source.exclude_groups.is_empty() {
        source_parts.push(format!(
            "not members of {}",
            source.exclude_groups.join(", ")
        ));
    }
    for rule in &source.rules {
        let verb = if rule.exclude { "drop" } else { "keep" };
        source_parts.push(format!(
            "{verb} {} {} {}",
            rule.attribute,
            rule.operator,
            rule.values.join("|")
        ));
    }
    for (included, what) in [
        (source.include_disabled, "with disabled accounts"),
        (source.include_without_mail, "with users without mail"),
        (source.include_guests, "with guests"),
        (
            source.include_resource_mailboxes,
            "with shared, room and equipment mailboxes",
        ),
    ] {
        if included {
            source_parts.push(what.to_owned());
        }
    }
    if !source.odata_prefilter.is_empty() {
        source_parts.push(format!("graph filter {}", source.odata_prefilter));
    }
    if source_parts.is_empty() {
        source_parts.push("every enabled user with mail".to_owned());
    }
    let field_rules: Vec<String> = document
        .write
        .field_rules
        .iter()
        .filter(|(_, rule)| rule.as_str() != "overwrite")
        .map(|(field, rule)| format!("{field} {rule}"))
        .collect();
    let write = &document.write;
    // The writer's defaults for a zero: 10 % and 50 contacts.
    let guard_percent = if write.deletion_guard_percent > 0.0 {
        write.deletion_guard_percent
    } else {
        10.0
    };
    let guard_minimum = if write.deletion_guard_minimum > 0 {
        write.deletion_guard_minimum
    } else {
        50
    };
    let guard = format!(
        "deletes held for approval above {guard_percent}% of a mailbox's contacts and at least {guard_minimum}"
    );
    let repair = match (write.repair, document.repair_interval.as_deref()) {
        (true, _) => "every run".to_owned(),
        (false, Some(interval)) => format!("every {interval}"),
        (false, None) => "never".to_owned(),
    };
    let folder = if document.folder.is_empty() {
        "Company Directory".to_owned()
    } else {
        document.folder.clone()
    };
    let deletion_mode = spec
        .write
        .as_ref()
        .map(|write| deletion_mode_name(write.deletion_mode))
        .unwrap_or("");
    print_fields(&[
        (
            "profile",
            format!("{} (version {})", profile.profile_id, profile.version),
        ),
        ("name", document.name.clone()),
        ("tenant", document.tenant_id.clone()),
        ("enabled", yes_no(document.enabled)),
        ("folder", folder),
        ("targets", target_parts.join("; ")),
        ("source", source_parts.join("; ")),
        ("schedule", schedule_text(spec.schedule.as_ref())),
        ("next run", human_time(profile.next_run_at.as_ref())),
        (
            "deletions",
            if deletion_mode.is_empty() {
                "removed-from-source".to_owned()
            } else {
                deletion_mode.to_owned()
            },
        ),
        ("deletion guard", guard),
        ("field rules", field_rules.join(", ")),
        ("photos", yes_no(write.write_photos)),
        ("adopt existing", yes_no(write.adopt_existing)),
        ("repair", repair),
        ("last run", profile.last_run_id.clone()),
    ]);
}

pub fn profile_json(profile: &v1::Profile) -> Value {
    let document = from_spec(&profile.spec.clone().unwrap_or_default());
    json!({
        "profile_id": profile.profile_id,
        "version": profile.version,
        "created_at": json_time(profile.created_at.as_ref()),
        "updated_at": json_time(profile.updated_at.as_ref()),
        "next_run_at": json_time(profile.next_run_at.as_ref()),
        "last_run_id": profile.last_run_id,
        "spec": serde_json::to_value(&document).unwrap_or(Value::Null),
    })
}
