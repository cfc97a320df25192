//! The real `galsync-auth-broker` binary and a store holding a sealed
//! certificate key: a lost master key or a wrong one stops the broker with
//! exit 2 and the fix named (nothing is replaced silently); the right key
//! readable by others starts it with a warning.

use std::net::SocketAddr;
use std::path::Path;

use galsync_testkit::harness::free_port;
use galsync_testkit::store_with_a_sealed_certificate;

const BINARY: &str = env!("CARGO_BIN_EXE_galsync-auth-broker");

fn broker_args(data_dir: &Path) -> Vec<String> {
    vec![
        "--data-dir".to_owned(),
        data_dir.display().to_string(),
        "--listen".to_owned(),
        format!("127.0.0.1:{}", free_port()),
        "--consent-listen".to_owned(),
        format!("127.0.0.1:{}", free_port()),
    ]
}

/// Runs the broker expecting it to refuse to start: its exit code and
/// stderr, or `None` (after stopping it) when it is still running after 20 s.
async fn run_broker(data_dir: &Path) -> (Option<i32>, String) {
    let args = broker_args(data_dir);
    let stderr_path = data_dir.join("broker-stderr.log");
    let stderr_file = std::fs::File::create(&stderr_path).unwrap();
    let mut child = std::process::Command::new(BINARY)
        .args(&args)
        .env("GALSYNC_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(stderr_file)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    (code, std::fs::read_to_string(&stderr_path).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_or_wrong_master_key_stops_the_broker_naming_the_fix() {
    let data_dir = tempfile::tempdir().unwrap();
    store_with_a_sealed_certificate(data_dir.path()).await;
    let key_path = data_dir.path().join("master.key");
    let right_key = std::fs::read_to_string(&key_path).unwrap();

    std::fs::remove_file(&key_path).unwrap();
    let (code, stderr) = run_broker(data_dir.path()).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("invalid --master-key-file"), "{stderr}");
    assert!(
        stderr.contains(
            "is missing but the store holds secrets sealed under a master key (1 certificate keys"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("restore master.key from backup, or re-enrol credentials with `galsync reset-credentials`"), "{stderr}");
    assert!(!key_path.exists(), "no new key replaced the lost one");

    std::fs::write(&key_path, "ab".repeat(32)).unwrap();
    let (code, stderr) = run_broker(data_dir.path()).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("is not the key the store's secrets are sealed under"),
        "{stderr}"
    );
    assert!(stderr.contains("galsync reset-credentials"), "{stderr}");

    std::fs::write(&key_path, &right_key).unwrap();
    std::fs::set_permissions(
        &key_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let output = start_until_serving(data_dir.path()).await;
    assert!(
        output.contains("the master key file is readable by other users"),
        "{output}"
    );
}

/// Starts the broker, waits until it serves (health answers), stops it and
/// returns everything it printed.
async fn start_until_serving(data_dir: &Path) -> String {
    let log_path = data_dir.join("broker-output.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let args = broker_args(data_dir);
    let addr: SocketAddr = args[3].parse().unwrap();
    let mut child = std::process::Command::new(BINARY)
        .args(&args)
        .env("GALSYNC_LOG", "warn")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut serving = false;
    while std::time::Instant::now() < deadline && !serving {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the broker exited with {status}: {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap();
        if let Ok(channel) = endpoint.connect().await {
            serving = galsync_testkit::harness::health_status(channel, "")
                .await
                .is_ok();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(serving, "the broker did not serve within 30 s");
    std::fs::read_to_string(&log_path).unwrap()
}
