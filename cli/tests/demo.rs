//! `galsync demo` end to end on a small tenant: the real binary walks the
//! whole journey and verifies every mailbox against the directory.

mod common;

use std::time::Duration;

use common::console::{console_link, line_with, read_lines, terminate, Running};
use galsync_testkit::console_session::ConsoleSession;

#[test]
fn demo_walks_the_journey_and_verifies_every_mailbox() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_galsync"))
        .args(["demo", "--users", "300", "--mailboxes", "8"])
        .env("GALSYNC_LOG", "warn")
        .output()
        .expect("run galsync demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed:\n{stdout}\n{stderr}");
    for step in [
        "Generated certificate",
        "Uploaded galsync.cer",
        "Admin consent granted",
        "✓ graph:mailbox",
        "Initial sync",
        "Incremental sync",
    ] {
        assert!(
            stdout.contains(step),
            "the narration lacks {step:?}:\n{stdout}"
        );
    }
    assert_eq!(
        stdout
            .matches("verified: all 8 mailboxes hold exactly")
            .count(),
        2,
        "both syncs verified:\n{stdout}"
    );
    assert!(
        stdout.contains("mailboxes verified against the directory: 8/8"),
        "{stdout}"
    );
    // Each sync reads the directory delta once (the target list reuses the
    // snapshot's round) and looks the target group up once.
    let reads = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("directory reads"))
        .expect("the summary counts directory reads");
    let per_sync: Vec<&str> = reads.split_whitespace().rev().take(2).collect();
    assert_eq!(per_sync, ["2", "2"], "{reads}");
    let seeded_resources = number_before(&stdout, " shared/room/equipment mailboxes — galsync");
    let dropped_resources = number_after(&stdout, "exclude shared/room/equipment mailboxes");
    assert_eq!(
        dropped_resources, seeded_resources,
        "the profile drops exactly the seeded shared, room and equipment mailboxes:\n{stdout}"
    );
    assert!(seeded_resources > 0, "{stdout}");
}

/// The number printed right before `marker` on its line, e.g. "… 5 shared/room/…".
fn number_before(text: &str, marker: &str) -> u64 {
    let line = text
        .lines()
        .find(|line| line.contains(marker))
        .unwrap_or_else(|| panic!("no line with {marker:?}:\n{text}"));
    let before = &line[..line.find(marker).unwrap_or(0)];
    let word = before.split_whitespace().last().unwrap_or("");
    word.parse()
        .unwrap_or_else(|_| panic!("no number before {marker:?} in {line:?}"))
}

/// The last number on the line that contains `marker`, e.g. "… drops 5".
fn number_after(text: &str, marker: &str) -> u64 {
    let line = text
        .lines()
        .find(|line| line.contains(marker))
        .unwrap_or_else(|| panic!("no line with {marker:?}:\n{text}"));
    let word = line.split_whitespace().last().unwrap_or("");
    word.parse()
        .unwrap_or_else(|_| panic!("no number at the end of {line:?}"))
}

/// `galsync demo --console`: the console starts with the demo, and after the
/// journey it stays up with the emulated tenant — registered, certificate
/// active, consent granted, the profile's last run succeeded — until SIGTERM.
#[tokio::test]
async fn demo_with_the_console_keeps_it_up_on_the_demo_tenant_until_stopped() {
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_galsync"))
        .args(["demo", "--users", "60", "--mailboxes", "2", "--console"])
        .args(["--console-listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .env("GALSYNC_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start galsync demo --console");
    let mut child = Running(child);
    let printed_lines = read_lines(child.0.stdout.take().expect("piped stdout"));
    let link = console_link(&printed_lines);
    line_with(
        &printed_lines,
        "the admin console stays up",
        Duration::from_secs(180),
    );
    let session = ConsoleSession::sign_in(&link, &data_dir.path().join("pki/ca.pem")).await;
    let overview = session.page("/").await;
    assert!(overview.contains("Contoso (emulated)"), "{overview}");
    assert!(overview.contains("<td>expires in 7"), "{overview}");
    assert!(overview.contains("<td>granted "), "{overview}");
    assert!(overview.contains(">succeeded</a>"), "{overview}");
    let runs = session.page("/runs").await;
    assert_eq!(runs.matches(">succeeded<").count(), 2, "{runs}");

    let status = terminate(&mut child.0, Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0));
}
