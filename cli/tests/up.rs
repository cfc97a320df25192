//! `galsync up` runs every service with mTLS from a fresh data directory and
//! stops cleanly on SIGTERM.

use std::time::Duration;

use galsync_platform::TlsMaterial;
use galsync_testkit::harness::{free_port, health_status};
use tonic::transport::Endpoint;
use tonic_health::pb::health_check_response::ServingStatus;

/// Stores hold the whole directory and the master key opens every
/// credential: galsync makes its directories 0700 and its files 0600.
#[cfg(unix)]
fn paths_others_can_read(data_dir: &std::path::Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut expected = vec![
        (data_dir.to_owned(), 0o700),
        (data_dir.join("pki"), 0o700),
        (data_dir.join("pki/auth-broker.key"), 0o600),
        (data_dir.join("master.key"), 0o600),
    ];
    for service in [
        "scheduler",
        "auth-broker",
        "directory-reader",
        "contact-writer",
    ] {
        for suffix in ["db", "db-wal", "db-shm"] {
            expected.push((data_dir.join(format!("{service}.{suffix}")), 0o600));
        }
    }
    let mut wrong = Vec::new();
    for (path, wanted_mode) in expected {
        match std::fs::metadata(&path) {
            Ok(metadata) => {
                let mode = metadata.permissions().mode() & 0o777;
                if mode != wanted_mode {
                    wrong.push(format!(
                        "{} is {mode:o}, not {wanted_mode:o}",
                        path.display()
                    ));
                }
            }
            Err(error) => wrong.push(format!("{}: {error}", path.display())),
        }
    }
    wrong
}

#[tokio::test]
async fn up_serves_all_four_services_over_mtls_and_stops_on_sigterm() {
    let data_dir = std::env::temp_dir().join(format!("galsync-up-{}", free_port()));
    // Four consecutive free ports: probe until a base with all four free is found.
    let port_base = loop {
        let base = free_port();
        if base < 65000
            && (1..4)
                .all(|offset| std::net::TcpListener::bind(("127.0.0.1", base + offset)).is_ok())
        {
            break base;
        }
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_galsync"))
        .args(["up", "--port-base", &port_base.to_string(), "--data-dir"])
        .arg(&data_dir)
        .env("GALSYNC_LOG", "warn")
        .spawn()
        .expect("start galsync up");

    // The CLI's own certificate from the generated PKI authenticates us.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let tls = loop {
        if let Ok(material) = TlsMaterial::from_pki_dir(&data_dir.join("pki"), "cli") {
            break material;
        }
        assert!(std::time::Instant::now() < deadline, "no PKI after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let services = [
        (port_base, "galsync.v1.Scheduler"),
        (port_base + 1, "galsync.v1.AuthBroker"),
        (port_base + 2, "galsync.v1.DirectoryReader"),
        (port_base + 3, "galsync.v1.ContactWriter"),
    ];
    for (port, name) in services {
        let status = loop {
            let endpoint = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
                .unwrap()
                .tls_config(tls.client_config("localhost"))
                .unwrap();
            if let Ok(channel) = endpoint.connect().await {
                if let Ok(status) = health_status(channel, name).await {
                    break status;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name} not healthy after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(status, ServingStatus::Serving, "{name}");
    }

    // Plaintext callers are refused: the services require mTLS.
    let plaintext = Endpoint::from_shared(format!("http://127.0.0.1:{port_base}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plaintext {
        assert!(
            health_status(channel, "").await.is_err(),
            "plaintext call was answered"
        );
    }

    #[cfg(unix)]
    {
        let wrong = paths_others_can_read(&data_dir);
        if !wrong.is_empty() {
            let _ = child.kill();
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let stop_deadline = std::time::Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < stop_deadline,
            "galsync up did not stop within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// `galsync up` with a bad value stops before it serves: exit 2, one line
/// naming the flag (docs/cli.md, exit codes).
#[test]
fn up_with_bad_configuration_exits_2_naming_the_flag() {
    use galsync_testkit::harness::bad_config::{
        assert_each_refused, bad, path_arg, BadConfigFiles,
    };
    let files = BadConfigFiles::new();
    let data_dir = files.fresh_data_dir();
    let under_file = path_arg(&files.regular_file.join("data"));
    let regular_file = path_arg(&files.regular_file);
    // A base whose ports are free, so a case that starts anyway is noticed.
    let port_base = free_port().min(65_000).to_string();
    // The CLI refuses a flag given twice: each case gives both.
    let cases = [
        bad(
            &["--data-dir", &data_dir, "--port-base", "65530"],
            "--port-base",
        ),
        bad(
            &["--data-dir", &data_dir, "--port-base", "0"],
            "--port-base",
        ),
        bad(
            &["--data-dir", &data_dir, "--port-base", "seventy"],
            "--port-base",
        ),
        bad(
            &["--port-base", &port_base, "--data-dir", &under_file],
            "--data-dir",
        ),
        bad(
            &["--port-base", &port_base, "--data-dir", &regular_file],
            "--data-dir",
        ),
    ];
    assert_each_refused(env!("CARGO_BIN_EXE_galsync"), &["up"], &cases);
}
