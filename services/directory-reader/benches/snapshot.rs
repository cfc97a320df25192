//! A 50,000-user emulated tenant through the real service (gRPC + mTLS, the
//! broker's tokens, the emulator over HTTP): full snapshot wall time, Graph
//! requests, peak memory, and the no-op delta round. Prints, asserts nothing
//! about time. Run: `cargo bench -p galsync-directory-reader --bench snapshot`.
//! Peak memory (VmHWM) is the whole process: emulator, broker and reader.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::Harness;
use galsync_graph_emulator::seeding::SeedOptions;
use galsync_proto::v1;

const USERS: usize = 50_000;

fn peak_memory_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .unwrap_or("VmHWM: 0 kB");
    let kib: f64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let harness = Harness::start().await;
        let seeding = Instant::now();
        let summary = harness.seed(SeedOptions { users: USERS, ..SeedOptions::default() });
        println!("seeded {USERS} users in {:.2?} (peak memory so far {:.0} MiB)", seeding.elapsed(), peak_memory_mib());

        let before = harness.graph_requests();
        let full = Instant::now();
        let snapshot = harness.take(v1::SourceFilter::default()).await;
        let full_time = full.elapsed();
        let full_requests = harness.graph_requests() - before;
        println!(
            "full snapshot: {} entries (expected {}) in {:.2?}; graph requests {} ({} /users pages, {} /users/delta); peak memory {:.0} MiB",
            snapshot.entry_count,
            summary.default_included,
            full_time,
            full_requests,
            harness.requests_to("/users"),
            harness.requests_to("/users/delta"),
            peak_memory_mib()
        );

        let before = harness.graph_requests();
        let delta = Instant::now();
        let again = harness.take(v1::SourceFilter::default()).await;
        println!(
            "no-op delta round: {:.2?}; graph requests {}; same snapshot id: {}",
            delta.elapsed(),
            harness.graph_requests() - before,
            again.snapshot_id == snapshot.snapshot_id
        );

        let streaming = Instant::now();
        let entries = harness.entries(&snapshot.snapshot_id).await;
        println!("streamed {} entries in {:.2?}; peak memory {:.0} MiB", entries.len(), streaming.elapsed(), peak_memory_mib());
    });
}
