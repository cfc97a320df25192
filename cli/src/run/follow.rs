//! `run start --follow`: streams `WatchRun` and shows progress — a live line
//! (mailboxes done/total, contacts written, rate, ETA) on a terminal, plain
//! lines otherwise — then returns the finished run for the summary.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use galsync_proto::v1;

use super::view::{is_terminal, outcome_name, state_name};
use crate::connect::SchedulerApi;
use crate::error::{CliError, CliResult, ExitCode, Target};
use crate::output::human_duration;

/// Follows `run` until it ends and returns its final record.
pub async fn follow(
    scheduler: &mut SchedulerApi,
    target: &Target,
    run: v1::Run,
    quiet: bool,
) -> CliResult<v1::Run> {
    let run_id = run.run_id.clone();
    let mut stream = scheduler
        .watch_run(v1::WatchRunRequest {
            run_id: run_id.clone(),
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    let mut display = ProgressDisplay::new(quiet);
    let mut last_state = run.state;
    let mut last_progress: Option<v1::RunProgress> = None;
    loop {
        let event = match stream.message().await {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(status) => {
                display.finish_line();
                let error = target.error(status);
                // A stream cut by an unreachable scheduler stays exit 3.
                let exit_code = if error.exit_code == ExitCode::Unreachable {
                    ExitCode::Unreachable
                } else {
                    ExitCode::Failed
                };
                return Err(CliError::new(
                    exit_code,
                    format!(
                        "lost the progress of run {run_id}: {}; the run goes on, check it with `galsync runs show {run_id}`",
                        error.message
                    ),
                ));
            }
        };
        last_state = event.state;
        match event.detail {
            Some(v1::run_event::Detail::StateChanged(state)) => {
                last_state = state;
                display.line(&format!("state: {}", state_name(state)));
            }
            Some(v1::run_event::Detail::MailboxDone(result)) => display.mailbox_done(&result),
            Some(v1::run_event::Detail::Progress(progress)) => {
                display.progress(&progress);
                last_progress = Some(progress);
            }
            None => {}
        }
        if is_terminal(last_state) {
            break;
        }
    }
    display.finish_line();
    // The stored run is the authority on the final counts; fall back to what
    // the stream said when it cannot be read.
    match scheduler
        .get_run(v1::GetRunRequest {
            run_id: run_id.clone(),
        })
        .await
    {
        Ok(response) => Ok(response.into_inner()),
        Err(status) => {
            tracing::debug!(code = ?status.code(), "cannot read the finished run; summarising the stream");
            let mut summary = run;
            summary.state = last_state;
            if let Some(progress) = last_progress {
                summary.mailboxes_done = progress.mailboxes_done;
                summary.mailboxes_total = progress.mailboxes_total;
                summary.counts = progress.counts;
            }
            Ok(summary)
        }
    }
}

struct ProgressDisplay {
    quiet: bool,
    live: bool,
    started: Instant,
    live_line_shown: bool,
    last_plain_print: Option<Instant>,
    first_done: Option<u32>,
}

impl ProgressDisplay {
    fn new(quiet: bool) -> Self {
        Self {
            quiet,
            live: !quiet && std::io::stdout().is_terminal(),
            started: Instant::now(),
            live_line_shown: false,
            last_plain_print: None,
            first_done: None,
        }
    }

    fn line(&mut self, text: &str) {
        if self.quiet {
            return;
        }
        self.finish_line();
        println!("{text}");
    }

    fn mailbox_done(&mut self, result: &v1::MailboxResult) {
        let counts = result.counts.unwrap_or_default();
        let failed = result.outcome == v1::MailboxOutcome::Failed as i32;
        // On a terminal only failures interrupt the live line.
        if self.live && !failed {
            return;
        }
        let mut text = format!(
            "mailbox {}: {} (created {}, updated {}, deleted {})",
            result.mailbox_id,
            outcome_name(result.outcome),
            counts.created,
            counts.updated,
            counts.deleted
        );
        if let Some(error) = result.errors.first() {
            text.push_str(&format!(": {error}"));
        }
        self.line(&text);
    }

    fn progress(&mut self, progress: &v1::RunProgress) {
        if self.quiet {
            return;
        }
        let text = progress_text(
            progress,
            self.started.elapsed(),
            *self.first_done.get_or_insert(progress.mailboxes_done),
        );
        if self.live {
            let mut stdout = std::io::stdout().lock();
            let _ = write!(stdout, "\r\x1b[2K{text}");
            let _ = stdout.flush();
            self.live_line_shown = true;
            return;
        }
        let all_done = progress.mailboxes_done >= progress.mailboxes_total;
        let due = self
            .last_plain_print
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(2));
        if due || all_done {
            println!("{text}");
            self.last_plain_print = Some(Instant::now());
        }
    }

    fn finish_line(&mut self) {
        if self.live_line_shown {
            println!();
            self.live_line_shown = false;
        }
    }
}

/// `37/100 mailboxes · 12345 contacts written · 410/s · ETA 1m 20s`
fn progress_text(progress: &v1::RunProgress, elapsed: Duration, first_done: u32) -> String {
    let counts = progress.counts.unwrap_or_default();
    let written = counts.created + counts.updated + counts.deleted;
    let seconds = elapsed.as_secs_f64().max(0.001);
    let rate = written as f64 / seconds;
    let done_while_watching = progress.mailboxes_done.saturating_sub(first_done);
    let remaining = progress
        .mailboxes_total
        .saturating_sub(progress.mailboxes_done);
    let eta = if remaining == 0 {
        "done".to_owned()
    } else if done_while_watching == 0 {
        "ETA …".to_owned()
    } else {
        let per_mailbox = seconds / f64::from(done_while_watching);
        format!(
            "ETA {}",
            human_duration((per_mailbox * f64::from(remaining)).round() as u64)
        )
    };
    format!(
        "{}/{} mailboxes · {written} contacts written · {rate:.0}/s · {eta}",
        progress.mailboxes_done, progress.mailboxes_total
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_shows_rate_and_eta() {
        let progress = v1::RunProgress {
            mailboxes_done: 30,
            mailboxes_total: 100,
            counts: Some(v1::SyncCounts {
                created: 900,
                updated: 100,
                ..Default::default()
            }),
        };
        let text = progress_text(&progress, Duration::from_secs(10), 10);
        assert_eq!(
            text,
            "30/100 mailboxes · 1000 contacts written · 100/s · ETA 35s"
        );
    }
}
