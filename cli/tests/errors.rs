//! Errors an administrator meets before anything works: services not running,
//! no PKI, the wrong identity. Each has its exit code and the fix in words.

mod common;

use common::{galsync, strings, TestBroker};
use galsync_testkit::fresh_pki;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_service_exits_3_with_the_hint() {
    let (_dir, pki_dir) = fresh_pki();
    let pki = pki_dir.display().to_string();
    let port = galsync_testkit::harness::free_port();
    let url = format!("https://127.0.0.1:{port}");

    let broker = galsync(
        strings(&["--broker-url", &url, "--pki-dir", &pki, "tenant", "list"]),
        Vec::new(),
    )
    .await;
    assert_eq!(broker.code, Some(3), "{broker:?}");
    assert!(
        broker.stderr.contains(&format!(
            "cannot reach the auth-broker at {url}: is `galsync up` running? (or set --broker-url)"
        )),
        "{}",
        broker.stderr
    );

    let scheduler = galsync(
        strings(&["--pki-dir", &pki, "runs", "list"]),
        vec![("GALSYNC_SCHEDULER_URL".to_owned(), url.clone())],
    )
    .await;
    assert_eq!(scheduler.code, Some(3), "{scheduler:?}");
    assert!(
        scheduler
            .stderr
            .contains(&format!("cannot reach the scheduler at {url}: is `galsync up` running? (or set --scheduler-url)")),
        "{}",
        scheduler.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_pki_exits_2_and_says_how_to_make_it() {
    let empty = tempfile::tempdir().unwrap();
    let missing = empty.path().join("pki");
    let outcome = galsync(
        strings(&[
            "--pki-dir",
            &missing.display().to_string(),
            "tenant",
            "list",
        ]),
        Vec::new(),
    )
    .await;
    assert_eq!(outcome.code, Some(2), "{outcome:?}");
    assert!(
        outcome.stderr.contains(&format!(
            "no client certificate in {}: run `galsync pki init` or `galsync up` first",
            missing.display()
        )),
        "{}",
        outcome.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_admin_identity_exits_4() {
    let broker = TestBroker::start().await;
    // Present the contact-writer's certificate as the CLI's: valid mTLS, but not an admin.
    std::fs::copy(
        broker.pki_dir().join("contact-writer.pem"),
        broker.pki_dir().join("cli.pem"),
    )
    .unwrap();
    std::fs::copy(
        broker.pki_dir().join("contact-writer.key"),
        broker.pki_dir().join("cli.key"),
    )
    .unwrap();
    let outcome = broker.galsync(&["audit"]).await;
    assert_eq!(outcome.code, Some(4), "{outcome:?}");
    assert!(
        outcome.stderr.contains("the auth-broker refused"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("contact-writer"),
        "{}",
        outcome.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_documents_the_exit_codes() {
    let outcome = galsync(strings(&["--help"]), Vec::new()).await;
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    for line in [
        "3  a galsync service cannot be reached",
        "5  not found",
        "galsync run start PROFILE_ID --follow",
    ] {
        assert!(
            outcome.stdout.contains(line),
            "--help lacks `{line}`:\n{}",
            outcome.stdout
        );
    }
    let usage = galsync(strings(&["profile", "create", "--interval"]), Vec::new()).await;
    assert_eq!(usage.code, Some(2), "{usage:?}");
}
