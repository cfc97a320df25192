//! Initial sync of N contacts into M mailboxes with the emulator's limits off:
//! contacts/s, CPU seconds and peak RSS. The emulator runs in this process,
//! so CPU and RSS include it (an upper bound for the writer).
//!
//! `cargo bench -p galsync-contact-writer --bench writer`
//! Scale: GALSYNC_BENCH_CONTACTS (default 10000), GALSYNC_BENCH_MAILBOXES (default 100),
//! GALSYNC_BENCH_PARALLEL (mailboxes at once, default 16).

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Instant;

use galsync_proto::v1;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// (user + system CPU seconds, peak RSS in MiB) of this process.
fn process_usage() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|value| value.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat; 11 and 12 after the command name.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kib = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse::<f64>().ok())
        .unwrap_or(0.0);
    (cpu, peak_kib / 1024.0)
}

fn main() {
    let contacts = env_number("GALSYNC_BENCH_CONTACTS", 10_000);
    let mailboxes = env_number("GALSYNC_BENCH_MAILBOXES", 100);
    let parallel = env_number("GALSYNC_BENCH_PARALLEL", 16);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        // Limits off on both sides: the writer's own pacing would otherwise hold
        // each mailbox to Graph's 10,000 requests per 10 minutes.
        let mut settings = common::settings();
        settings.pacing.requests_per_window = u32::MAX / 2;
        let harness = Arc::new(common::Harness::start(common::no_limits(), settings).await);
        let targets = harness.add_mailboxes(mailboxes);
        let entries = Arc::new(common::directory(contacts));
        let (cpu_before, _) = process_usage();
        let started = Instant::now();
        let semaphore = Arc::new(tokio::sync::Semaphore::new(parallel));
        let mut tasks = Vec::new();
        for mailbox in targets {
            let harness = Arc::clone(&harness);
            let entries = Arc::clone(&entries);
            let semaphore = Arc::clone(&semaphore);
            tasks.push(tokio::spawn(async move {
                let _permit = semaphore.acquire_owned().await.expect("semaphore");
                let report = harness.sync(&mailbox, &entries, v1::WritePolicy::default()).await;
                report.result.counts.map(|counts| counts.created).unwrap_or(0)
            }));
        }
        let mut created = 0u64;
        for task in tasks {
            created += task.await.expect("sync task");
        }
        let elapsed = started.elapsed().as_secs_f64();
        let (cpu_after, peak_rss_mib) = process_usage();
        let cpu = cpu_after - cpu_before;
        println!("contact-writer initial sync: {contacts} contacts x {mailboxes} mailboxes ({parallel} at once), limits off");
        println!("  created          {created}");
        println!("  elapsed          {elapsed:.1} s");
        println!("  contacts/s       {:.0}", created as f64 / elapsed);
        println!("  cpu seconds      {cpu:.1} (writer + in-process emulator), {:.1} µs per contact", cpu * 1e6 / created.max(1) as f64);
        println!("  peak rss         {peak_rss_mib:.0} MiB (writer + emulator holding every contact)");
    });
}
