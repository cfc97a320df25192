//! `galsync run start|cancel`, `galsync runs list|show` and `galsync approve`.

use clap::{Args, Subcommand};
use galsync_proto::v1;
use serde_json::{json, Value};

mod follow;
mod view;

pub use view::{is_terminal, outcome_name, print_summary, run_duration, run_json, state_name};

use crate::connect::GlobalArgs;
use crate::error::{CliError, CliResult};
use crate::output::{human_duration, human_time, print_fields, print_json, yes_no, Table};

#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Start a run of a profile now.
    Start(StartArgs),
    /// Cancel a run; mailboxes in flight stop at a safe point.
    Cancel(RunIdArg),
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Recent runs, newest first.
    List(ListArgs),
    /// One run with its per-mailbox results.
    Show(RunIdArg),
    /// The changes a dry run planned: contacts to create, update (field: old → new) and delete.
    Plan(PlanArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Run id of a dry run (see `galsync runs list`).
    pub run_id: String,
    /// Only this mailbox (its user's object id).
    #[arg(long)]
    pub mailbox: Option<String>,
    /// Stop after this many changes (0 = all).
    #[arg(long, default_value_t = 0)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Profile id (see `galsync profile list`).
    pub profile_id: String,
    /// Stay and show progress until the run ends; the exit code tells how it ended.
    #[arg(long)]
    pub follow: bool,
    /// Only plan: report what would change without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Read the whole directory instead of the changes since the last run.
    #[arg(long)]
    pub full_read: bool,
}

#[derive(Debug, Args)]
pub struct RunIdArg {
    /// Run id (see `galsync runs list`).
    pub run_id: String,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// Run id of a run awaiting approval.
    pub run_id: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this profile's runs.
    #[arg(long)]
    pub profile: Option<String>,
    /// At most this many runs.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

pub async fn run(globals: &GlobalArgs, command: RunCommand) -> CliResult {
    match command {
        RunCommand::Start(args) => start(globals, args).await,
        RunCommand::Cancel(args) => cancel(globals, &args.run_id).await,
    }
}

pub async fn runs(globals: &GlobalArgs, command: RunsCommand) -> CliResult {
    match command {
        RunsCommand::List(args) => list(globals, args).await,
        RunsCommand::Show(args) => show(globals, &args.run_id).await,
        RunsCommand::Plan(args) => plan(globals, args).await,
    }
}

/// Reads every page of a run's planned changes (or `limit` of them).
async fn plan(globals: &GlobalArgs, args: PlanArgs) -> CliResult {
    let (mut scheduler, target) = globals.scheduler()?;
    let mut changes = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = scheduler
            .list_planned_changes(v1::ListPlannedChangesRequest {
                run_id: args.run_id.clone(),
                mailbox_id: args.mailbox.clone().unwrap_or_default(),
                page_size: 1_000,
                page_token: page_token.clone(),
            })
            .await
            .map_err(|status| target.error(status))?
            .into_inner();
        changes.extend(page.changes);
        if args.limit > 0 && changes.len() >= args.limit {
            changes.truncate(args.limit);
            break;
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    view::print_plan(&args.run_id, &changes, globals.output.is_json());
    Ok(())
}

async fn start(globals: &GlobalArgs, args: StartArgs) -> CliResult {
    let (mut scheduler, target) = globals.scheduler()?;
    let run = scheduler
        .run_profile(v1::RunProfileRequest {
            profile_id: args.profile_id.clone(),
            dry_run: args.dry_run,
            full_read: args.full_read,
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    if !args.follow {
        if globals.output.is_json() {
            print_json(&run_json(&run));
        } else {
            let kind = if run.dry_run { "dry run" } else { "run" };
            println!(
                "started {kind} {} of profile {}",
                run.run_id, run.profile_id
            );
            println!("follow it with `galsync runs show {}`", run.run_id);
        }
        return Ok(());
    }
    if !globals.output.is_json() {
        let kind = if run.dry_run { "dry run" } else { "run" };
        println!(
            "started {kind} {} of profile {}",
            run.run_id, run.profile_id
        );
    }
    let finished = follow::follow(&mut scheduler, &target, run, globals.output.is_json()).await?;
    if globals.output.is_json() {
        print_json(&run_json(&finished));
    } else {
        print_summary(&finished);
    }
    outcome(&finished)
}

/// The exit status of a run that ended: anything but success needs attention.
pub fn outcome(run: &v1::Run) -> CliResult {
    let run_id = &run.run_id;
    match v1::RunState::try_from(run.state) {
        Ok(v1::RunState::Succeeded) => Ok(()),
        Ok(v1::RunState::AwaitingApproval) => Err(CliError::failed(format!(
            "run {run_id} holds deletes for approval: review them with `galsync runs show {run_id}`, \
             release them with `galsync approve {run_id}`"
        ))),
        Ok(v1::RunState::PartiallyFailed) => Err(CliError::failed(format!(
            "run {run_id} partially failed: see the failed mailboxes with `galsync runs show {run_id}`"
        ))),
        Ok(v1::RunState::Cancelled) => Err(CliError::failed(format!("run {run_id} was cancelled"))),
        Ok(v1::RunState::Failed) => Err(CliError::failed(format!(
            "run {run_id} failed: {}",
            if run.error.is_empty() { "see `galsync runs show` for details" } else { &run.error }
        ))),
        _ => Err(CliError::failed(format!(
            "run {run_id} has not ended (state {}); check with `galsync runs show {run_id}`",
            state_name(run.state)
        ))),
    }
}

async fn cancel(globals: &GlobalArgs, run_id: &str) -> CliResult {
    let (mut scheduler, target) = globals.scheduler()?;
    let run = scheduler
        .cancel_run(v1::CancelRunRequest {
            run_id: run_id.to_owned(),
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    if globals.output.is_json() {
        print_json(&run_json(&run));
        return Ok(());
    }
    println!("run {} is {}", run.run_id, state_name(run.state));
    Ok(())
}

pub async fn approve(globals: &GlobalArgs, args: ApproveArgs) -> CliResult {
    let (mut scheduler, target) = globals.scheduler()?;
    let run = scheduler
        .approve_deletions(v1::ApproveDeletionsRequest {
            run_id: args.run_id.clone(),
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    if globals.output.is_json() {
        print_json(&run_json(&run));
        return Ok(());
    }
    println!(
        "deletes of run {} approved; the run is {}",
        run.run_id,
        state_name(run.state)
    );
    println!("follow it with `galsync runs show {}`", run.run_id);
    Ok(())
}

async fn list(globals: &GlobalArgs, args: ListArgs) -> CliResult {
    let (mut scheduler, target) = globals.scheduler()?;
    let runs = scheduler
        .list_runs(v1::ListRunsRequest {
            profile_id: args.profile.unwrap_or_default(),
            limit: args.limit,
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner()
        .runs;
    if globals.output.is_json() {
        let items: Vec<Value> = runs.iter().map(run_json).collect();
        print_json(&json!({ "runs": items }));
        return Ok(());
    }
    if runs.is_empty() {
        println!("no runs yet: start one with `galsync run start PROFILE_ID --follow`");
        return Ok(());
    }
    let mut table = Table::new(&[
        "RUN ID",
        "PROFILE",
        "STATE",
        "TRIGGER",
        "STARTED",
        "DURATION",
        "MAILBOXES",
        "CREATED",
        "UPDATED",
        "DELETED",
        "FAILED",
    ]);
    for run in &runs {
        let counts = run.counts.unwrap_or_default();
        let state = if run.dry_run {
            format!("{} (dry run)", state_name(run.state))
        } else {
            state_name(run.state).to_owned()
        };
        table.row(vec![
            run.run_id.clone(),
            run.profile_id.clone(),
            state,
            run.trigger.clone(),
            human_time(run.started_at.as_ref()),
            run_duration(run).map(human_duration).unwrap_or_default(),
            format!("{}/{}", run.mailboxes_done, run.mailboxes_total),
            counts.created.to_string(),
            counts.updated.to_string(),
            counts.deleted.to_string(),
            counts.failed.to_string(),
        ]);
    }
    table.print();
    Ok(())
}

async fn show(globals: &GlobalArgs, run_id: &str) -> CliResult {
    let (mut scheduler, target) = globals.scheduler()?;
    let run = scheduler
        .get_run(v1::GetRunRequest {
            run_id: run_id.to_owned(),
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    if globals.output.is_json() {
        print_json(&run_json(&run));
        return Ok(());
    }
    print_fields(&[
        ("run", run.run_id.clone()),
        ("profile", run.profile_id.clone()),
        ("state", state_name(run.state).to_owned()),
        ("trigger", run.trigger.clone()),
        ("dry run", yes_no(run.dry_run)),
        ("created", human_time(run.created_at.as_ref())),
        ("started", human_time(run.started_at.as_ref())),
        ("finished", human_time(run.finished_at.as_ref())),
        ("trace", run.trace_id.clone()),
    ]);
    print_summary(&run);
    if !run.mailboxes.is_empty() {
        println!();
        let mut table = Table::new(&[
            "MAILBOX", "OUTCOME", "CREATED", "UPDATED", "DELETED", "HELD", "FAILED", "ATTEMPTS",
            "ERROR",
        ]);
        for mailbox in &run.mailboxes {
            let counts = mailbox.counts.unwrap_or_default();
            table.row(vec![
                mailbox.mailbox_id.clone(),
                outcome_name(mailbox.outcome).to_owned(),
                counts.created.to_string(),
                counts.updated.to_string(),
                counts.deleted.to_string(),
                counts.deletes_awaiting_approval.to_string(),
                counts.failed.to_string(),
                mailbox.attempts.to_string(),
                mailbox.errors.first().cloned().unwrap_or_default(),
            ]);
        }
        table.print();
    }
    if run.state == v1::RunState::AwaitingApproval as i32 {
        println!();
        println!(
            "release the held deletes with `galsync approve {}`",
            run.run_id
        );
    }
    Ok(())
}
