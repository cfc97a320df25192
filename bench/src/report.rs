//! The results as a person reads them: a Markdown table with every figure
//! beside its floor (and the naive client's), the processes' CPU and memory,
//! the writer scale-out, and an SVG chart of wall ÷ floor.

use std::fmt::Write as _;

use crate::measure::Measured;
use crate::processes;

/// Everything one bench run measured.
pub struct Results {
    pub users: u64,
    pub people: u64,
    pub mailboxes: u64,
    pub time_scale: f64,
    /// S1, S3, S4 at Graph's latency.
    pub at_latency: Vec<Measured>,
    /// The naive client's initial sync, extrapolated (seconds).
    pub baseline_secs: Option<f64>,
    pub without_limits: Option<Measured>,
    /// S5: the directory size of each row and what it measured.
    pub scale: Vec<(Measured, crate::scenarios::Directory)>,
    pub scale_out: Option<Vec<Measured>>,
}

impl Results {
    fn initial_floor(&self) -> Option<f64> {
        self.at_latency.first().map(|s1| s1.floor_secs)
    }
}

pub fn markdown(results: &Results) -> String {
    let mut out = String::new();
    let scale = results.time_scale;
    let _ = writeln!(
        out,
        "{} users ({} synced) × {} mailboxes; the emulator and each service in its own process. \
         Time scale {scale}: every time at Graph's latency is wall time at that scale (÷ {scale} for real time).\n",
        results.users, results.people, results.mailboxes
    );
    if !results.at_latency.is_empty() {
        out.push_str("| scenario | wall | floor | wall ÷ floor | bound by | writes (min) | requests (min) | round trips (min) | 429s | early retries | in flight per mailbox (of 4) | galsync CPU | emulator CPU |\n");
        out.push_str("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    }
    for result in &results.at_latency {
        let _ = writeln!(
            out,
            "| {} | {:.2} s | {:.2} s | {:.2} | {} | {} ({}) | {} ({}) | {} ({}) | {} | {} | {} | {:.2} s | {:.2} s |",
            result.scenario,
            result.wall_secs,
            result.floor_secs,
            result.ratio(),
            result.binding,
            result.contact_writes,
            result.min_writes,
            result.graph_requests,
            result.min_requests,
            result.round_trips,
            result.min_round_trips,
            result.throttled,
            result.early_retries,
            result
                .mailbox_in_flight
                .map_or(String::new(), |in_flight| format!("{in_flight:.2}")),
            processes::galsync_cpu(&result.processes).as_secs_f64(),
            emulator_cpu(result),
        );
    }
    if let (Some(baseline), Some(floor)) = (results.baseline_secs, results.initial_floor()) {
        let _ = writeln!(
            out,
            "| baseline initial sync (naive client, extrapolated) | {baseline:.2} s | {floor:.2} s | {:.2} | sequential latency | | | | | | | | |",
            baseline / floor.max(f64::EPSILON)
        );
    }
    if let Some(s2) = &results.without_limits {
        let _ = writeln!(
            out,
            "\n**S2 initial sync with Graph's limits and latency off** (only CPU binds): {} contacts in {:.2} s = {:.0} contacts/s; \
             CPU per contact written: galsync {:.1} µs, emulator {:.1} µs.\n",
            s2.contact_writes,
            s2.wall_secs,
            s2.contact_writes as f64 / s2.wall_secs.max(f64::EPSILON),
            s2.galsync_cpu_micros_per_write().unwrap_or(0.0),
            s2.emulator_cpu_micros_per_write().unwrap_or(0.0),
        );
        out.push_str(
            "| process | CPU in S2 | CPU µs per contact | peak RSS |\n|---|---:|---:|---:|\n",
        );
        for (name, sample) in &s2.processes {
            let _ = writeln!(
                out,
                "| {name} | {:.2} s | {:.1} | {:.1} MiB |",
                sample.cpu.as_secs_f64(),
                sample.cpu.as_secs_f64() * 1e6 / s2.contact_writes.max(1) as f64,
                sample.peak_rss_kib as f64 / 1024.0
            );
        }
    }
    if !results.scale.is_empty() {
        out.push_str("\n**S5 memory as the directory grows** (initial sync, Graph's limits and latency off; peak RSS of each process):\n\n");
        let names: Vec<&String> = results.scale[0].0.processes.keys().collect();
        out.push_str("| users | synced | contacts written | wall | contacts/s |");
        for name in &names {
            let _ = write!(out, " {name} |");
        }
        out.push_str("\n|---:|---:|---:|---:|---:|");
        out.push_str(&"---:|".repeat(names.len()));
        out.push('\n');
        for (row, directory) in &results.scale {
            let _ = write!(
                out,
                "| {} | {} | {} | {:.2} s | {:.0} |",
                directory.users,
                directory.people,
                row.contact_writes,
                row.wall_secs,
                row.contact_writes as f64 / row.wall_secs.max(f64::EPSILON)
            );
            for name in &names {
                let rss = row
                    .processes
                    .get(*name)
                    .map_or(0, |sample| sample.peak_rss_kib);
                let _ = write!(out, " {:.1} MiB |", rss as f64 / 1024.0);
            }
            out.push('\n');
        }
    }
    if let Some(rows) = &results.scale_out {
        out.push_str("\n**S6 writer scale-out** (initial sync at Graph's latency, stores on PostgreSQL):\n\n");
        out.push_str("| writers | wall | floor | wall ÷ floor | speed-up vs 1 | 429s | early retries | writers' CPU |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        let one = rows.first().map_or(1.0, |row| row.wall_secs);
        for row in rows {
            let writers_cpu: f64 = row
                .processes
                .iter()
                .filter(|(name, _)| name.starts_with("contact-writer"))
                .map(|(_, sample)| sample.cpu.as_secs_f64())
                .sum();
            let count = row
                .processes
                .keys()
                .filter(|name| name.starts_with("contact-writer"))
                .count();
            let _ = writeln!(
                out,
                "| {count} | {:.2} s | {:.2} s | {:.2} | {:.2} × | {} | {} | {writers_cpu:.2} s |",
                row.wall_secs,
                row.floor_secs,
                row.ratio(),
                one / row.wall_secs.max(f64::EPSILON),
                row.throttled,
                row.early_retries,
            );
        }
    }
    out
}

fn emulator_cpu(result: &Measured) -> f64 {
    result
        .processes
        .get(processes::EMULATOR)
        .map_or(0.0, |sample| sample.cpu.as_secs_f64())
}

/// A horizontal bar per scenario: wall ÷ floor on a log scale from 1 (the
/// floor) to the largest ratio, the naive client's last.
pub fn svg(results: &Results) -> String {
    let mut bars: Vec<(String, f64)> = results
        .at_latency
        .iter()
        .chain(results.scale_out.iter().flatten())
        .map(|result| (result.scenario.clone(), result.ratio()))
        .collect();
    if let (Some(baseline), Some(floor)) = (results.baseline_secs, results.initial_floor()) {
        bars.push((
            "naive client, initial sync".to_owned(),
            baseline / floor.max(f64::EPSILON),
        ));
    }
    let (label_width, plot_width, row, top) = (300.0, 560.0, 28.0, 48.0);
    let largest = bars
        .iter()
        .map(|(_, ratio)| *ratio)
        .fold(10.0_f64, f64::max);
    let decades = largest.log10().ceil().max(1.0);
    let x = |ratio: f64| label_width + plot_width * ratio.max(1.0).log10() / decades;
    let height = top + row * bars.len() as f64 + 40.0;
    let width = label_width + plot_width + 90.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">"##
    );
    let _ = writeln!(
        svg,
        r##"<title>galsync-bench: wall time ÷ Graph's floor, {} users × {} mailboxes</title>"##,
        results.users, results.mailboxes
    );
    let _ = writeln!(
        svg,
        r##"<text x="10" y="22" font-size="15" font-weight="bold">Wall time ÷ Graph's floor (1 = the least any client could take; log scale) — {} users × {} mailboxes</text>"##,
        results.users, results.mailboxes
    );
    for decade in 0..=decades as u32 {
        let ratio = 10f64.powi(decade as i32);
        let at = x(ratio);
        let _ = writeln!(
            svg,
            r##"<line x1="{at:.1}" y1="{:.1}" x2="{at:.1}" y2="{:.1}" stroke="#ccc"/><text x="{at:.1}" y="{:.1}" text-anchor="middle" fill="#555">{ratio}×</text>"##,
            top - 8.0,
            height - 30.0,
            height - 12.0
        );
    }
    for (index, (label, ratio)) in bars.iter().enumerate() {
        let y = top + row * index as f64;
        let naive = label.starts_with("naive");
        let colour = if naive { "#b55" } else { "#2a6ebb" };
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect x="{label_width}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"/><text x="{:.1}" y="{:.1}">{ratio:.2}×</text>"##,
            label_width - 8.0,
            y + 15.0,
            escape(label),
            y + 2.0,
            (x(*ratio) - label_width).max(1.0),
            row - 8.0,
            x(*ratio) + 6.0,
            y + 15.0,
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
