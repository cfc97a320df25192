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
}
