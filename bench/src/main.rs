//! `galsync-bench`: galsync against Graph's cost model — modelled latency,
//! 4 requests in flight per mailbox, the per-mailbox window and the app-wide
//! limit, all time-scaled — run the way production runs it: the Graph
//! emulator in its own process, each service in its own, mTLS between them,
//! the tenant onboarded with the `galsync` CLI. Every figure is printed
//! beside the floor the emulator computes for the same scenario, and beside
//! a naive client.
//!
//! ```text
//! cargo run --release -p galsync-bench -- --quick
//! cargo run --release -p galsync-bench -- --users 2000 --mailboxes 200 --time-scale 1
//! ```
//!
//! Scenarios: S1 initial sync, S3 no-op resync, S4 one changed user and the
//! naive client at Graph's latency; S2 the initial sync with Graph's limits
//! off (CPU per contact and peak RSS per process); S6 1, 2 and 4 writer
//! processes over PostgreSQL (when `GALSYNC_TEST_POSTGRES_URL` names one).
//! Results go to `--out` as JSON, Markdown and an SVG chart. Figures never
//! fail the command: a benchmark reports, it does not judge.

mod baseline;
mod measure;
mod processes;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use serde_json::json;

use crate::measure::to_json;
use crate::report::Results;
use crate::scenarios::Sizes;

/// Measure galsync, as it runs in production, against Graph's modelled
/// latency and limits.
#[derive(Debug, Parser)]
#[command(name = "galsync-bench", version, about)]
struct Args {
    /// Users in the emulated directory.
    #[arg(long, default_value_t = 2000)]
    users: usize,
    /// Target mailboxes.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    mailboxes: u64,
    /// Time scale of the emulator (latency, windows, Retry-After): 0.05 runs
    /// a 60 s Graph job in 3 s.
    #[arg(long, default_value_t = 0.05, value_parser = galsync_graph_emulator::parse_time_scale)]
    time_scale: f64,
    /// Small sizes that finish in about a minute (CI runs these): 300 users
    /// × 10 mailboxes, S5 with 300 and 600 users × 2 mailboxes, S6 with 1 and
    /// 2 writers.
    #[arg(long)]
    quick: bool,
    /// Scenarios to run, comma-separated: `s1` (S1 initial sync, then S3
    /// no-op resync, S4 one changed user and the naive client on the same
    /// cluster), `s2` (limits off), `s5` (memory as the directory grows),
    /// `s6` (writer scale-out).
    #[arg(long, value_delimiter = ',', default_value = "s1,s2,s5,s6", value_parser = ["s1", "s2", "s5", "s6"])]
    scenarios: Vec<String>,
    /// Directory sizes of the S5 rows, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10000,50000", value_parser = clap::value_parser!(u64).range(50..))]
    scale_users: Vec<u64>,
    /// Target mailboxes of the S5 rows.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    scale_mailboxes: u64,
    /// Writer processes of each S6 row, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4", value_parser = clap::value_parser!(u64).range(1..=16))]
    writers: Vec<u64>,
    /// A flag for every contact-writer, e.g. `--writer-arg=--batch-linger-ms=0`
    /// (repeatable; none: the product's defaults).
    #[arg(long = "writer-arg", allow_hyphen_values = true)]
    writer_args: Vec<String>,
    /// Where the JSON, Markdown and SVG results go.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// Seed of the synthetic directory.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("galsync-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    if args.users < 50 {
        anyhow::bail!("invalid --users {}: use at least 50", args.users);
    }
    let sizes = if args.quick {
        Sizes {
            users: 300,
            mailboxes: 10,
            time_scale: args.time_scale,
            seed: args.seed,
            writer_args: args.writer_args.clone(),
            scale_out: vec![1, 2],
            scale_users: vec![300, 600],
            scale_mailboxes: 2,
        }
    } else {
        Sizes {
            users: args.users,
            mailboxes: args.mailboxes as usize,
            time_scale: args.time_scale,
            seed: args.seed,
            writer_args: args.writer_args.clone(),
            scale_out: args.writers.iter().map(|&count| count as usize).collect(),
            scale_users: args
                .scale_users
                .iter()
                .map(|&users| users as usize)
                .collect(),
            scale_mailboxes: args.scale_mailboxes as usize,
        }
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("invalid --out {}: cannot create it", args.out.display()))?;
    println!(
        "galsync-bench — {} users × {} mailboxes at Graph's modelled latency, time scale {}; the emulator and every service in its own process",
        sizes.users, sizes.mailboxes, sizes.time_scale
    );
    let wanted = |name: &str| args.scenarios.iter().any(|scenario| scenario == name);
    let mut results = Results {
        users: 0,
        people: 0,
        mailboxes: sizes.mailboxes as u64,
        time_scale: sizes.time_scale,
        at_latency: Vec::new(),
        baseline_secs: None,
        without_limits: None,
        scale: Vec::new(),
        scale_out: None,
    };
    let mut directory = scenarios::Directory::default();
    if wanted("s1") {
        let measured = scenarios::at_graph_latency(&sizes).await?;
        directory = measured.directory;
        results.baseline_secs = Some(
            measured.baseline_per_contact_secs
                * (measured.directory.people * results.mailboxes) as f64,
        );
        results.at_latency = measured.scenarios;
    }
    if wanted("s2") {
        let (measured, of) = scenarios::without_limits(&sizes).await?;
        results.without_limits = Some(measured);
        directory = of;
    }
    if wanted("s5") {
        results.scale = scenarios::scale(&sizes).await?;
    }
    if wanted("s6") {
        if let Some((rows, of)) = scenarios::scale_out(&sizes).await? {
            results.scale_out = Some(rows);
            directory = of;
        }
    }
    results.users = directory.users;
    results.people = directory.people;

    let stem = args
        .out
        .join(format!("bench-{}x{}", sizes.users, sizes.mailboxes));
    let json = json!({
        "users": results.users,
        "people_synced": results.people,
        "mailboxes": results.mailboxes,
        "time_scale": results.time_scale,
        "writer_args": args.writer_args,
        "scenarios": to_json(&results.at_latency),
        "baseline_initial_sync_secs_extrapolated": results.baseline_secs,
        "without_limits": to_json(&results.without_limits),
        "scale": results.scale.iter().map(|(measured, directory)| json!({
            "users": directory.users,
            "people_synced": directory.people,
            "measured": to_json(measured),
        })).collect::<Vec<_>>(),
        "scale_out": to_json(&results.scale_out),
    });
    let markdown = report::markdown(&results);
    let files = [
        (
            stem.with_extension("json"),
            serde_json::to_string_pretty(&json)?,
        ),
        (stem.with_extension("md"), markdown.clone()),
        (stem.with_extension("svg"), report::svg(&results)),
    ];
    for (path, contents) in &files {
        std::fs::write(path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("\n{markdown}");
    println!(
        "results: {}",
        files
            .iter()
            .map(|(path, _)| path.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
