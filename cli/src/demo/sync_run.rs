//! One run of the demo's profile, followed to its end with live progress.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use galsync_proto::v1;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use tonic::transport::Channel;

/// What a finished run reported.
pub struct RunOutcome {
    pub run: v1::Run,
    pub elapsed: Duration,
}

pub async fn sync(
    scheduler: &mut SchedulerClient<Channel>,
    profile_id: &str,
) -> anyhow::Result<RunOutcome> {
    let started = Instant::now();
    let run = scheduler
        .run_profile(v1::RunProfileRequest {
            profile_id: profile_id.to_owned(),
            ..Default::default()
        })
        .await
        .context("starting the run failed")?
        .into_inner();
    let mut events = scheduler
        .watch_run(v1::WatchRunRequest {
            run_id: run.run_id.clone(),
        })
        .await?
        .into_inner();
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut last_print = Instant::now() - Duration::from_secs(10);
    while let Some(event) = events.message().await? {
        match event.detail {
            Some(v1::run_event::Detail::StateChanged(state)) => {
                let state = v1::RunState::try_from(state).unwrap_or_default();
                if interactive {
                    print!("\r\x1b[2K");
                }
                println!(
                    "      run {}: {} ({:.1} s)",
                    short(&run.run_id),
                    state
                        .as_str_name()
                        .trim_start_matches("RUN_STATE_")
                        .to_lowercase(),
                    started.elapsed().as_secs_f64()
                );
            }
            Some(v1::run_event::Detail::Progress(progress)) => {
                let due = last_print.elapsed()
                    >= if interactive {
                        Duration::from_millis(200)
                    } else {
                        Duration::from_secs(5)
                    };
                if due || progress.mailboxes_done == progress.mailboxes_total {
                    last_print = Instant::now();
                    print_progress(&progress, started.elapsed(), interactive);
                }
            }
            _ => {}
        }
    }
    if interactive {
        println!();
    }
    let run = scheduler
        .get_run(v1::GetRunRequest { run_id: run.run_id })
        .await?
        .into_inner();
    if run.state != v1::RunState::Succeeded as i32 {
        let errors: Vec<String> = run
            .mailboxes
            .iter()
            .flat_map(|mailbox| mailbox.errors.clone())
            .take(3)
            .collect();
        anyhow::bail!(
            "the run ended {:?}: {} {}",
            v1::RunState::try_from(run.state).unwrap_or_default(),
            run.error,
            errors.join("; ")
        );
    }
    Ok(RunOutcome {
        run,
        elapsed: started.elapsed(),
    })
}

fn print_progress(progress: &v1::RunProgress, elapsed: Duration, interactive: bool) {
    let counts = progress.counts.unwrap_or_default();
    let written = counts.created + counts.updated + counts.deleted;
    let rate = written as f64 / elapsed.as_secs_f64().max(0.001);
    let remaining = progress
        .mailboxes_total
        .saturating_sub(progress.mailboxes_done);
    let eta = if progress.mailboxes_done == 0 {
        "…".to_owned()
    } else {
        let per_mailbox = elapsed.as_secs_f64() / f64::from(progress.mailboxes_done);
        format!("{:.0} s", per_mailbox * f64::from(remaining))
    };
    let line = format!(
        "      {}/{} mailboxes · {} contacts written · {:.0}/s · ETA {}",
        progress.mailboxes_done, progress.mailboxes_total, written, rate, eta
    );
    if interactive {
        print!("\r\x1b[2K{line}");
        let _ = std::io::stdout().flush();
    } else {
        println!("{line}");
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
