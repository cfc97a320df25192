//! `galsync demo` end to end on a small tenant: the real binary walks the
//! whole journey and verifies every mailbox against the directory.

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
