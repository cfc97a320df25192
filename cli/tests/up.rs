//! `galsync up` runs every service with mTLS from a fresh data directory and
//! stops cleanly on SIGTERM.

use std::time::Duration;

mod common;

use common::console::{console_link, read_lines, terminate, Running};
use galsync_platform::TlsMaterial;
use galsync_testkit::console_session::ConsoleSession;
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
    // Every port `up` takes: base to base+11.
    let port_base = galsync_platform::net::free_ports(12);
    // The console's Entra sign-in, given through the environment, reaches
    // the console `up` starts (no sign-in is finished: nothing calls Entra).
    let secret_file = std::env::temp_dir().join(format!("galsync-up-secret-{port_base}"));
    std::fs::write(&secret_file, "not-a-real-secret\n").expect("write the secret file");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_galsync"))
        .args(["up", "--port-base", &port_base.to_string(), "--data-dir"])
        .arg(&data_dir)
        .args(["--console-listen", "127.0.0.1:0"])
        .env("GALSYNC_LOG", "warn")
        .env("GALSYNC_CONSOLE_ENTRA_TENANT_ID", UP_TENANT_ID)
        .env("GALSYNC_CONSOLE_ENTRA_CLIENT_ID", UP_CLIENT_ID)
        .env("GALSYNC_CONSOLE_ENTRA_CLIENT_SECRET_FILE", &secret_file)
        .env(
            "GALSYNC_CONSOLE_ROLE_GROUP",
            "admin=g-admins,viewer=g-viewers",
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start galsync up");
    let mut child = Running(child);
    let printed_lines = read_lines(child.0.stdout.take().expect("piped stdout"));

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

    console_link_signs_in_once(&printed_lines, &data_dir).await;

    #[cfg(unix)]
    {
        let wrong = paths_others_can_read(&data_dir);
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    let status = terminate(&mut child.0, Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&data_dir);
    let _ = std::fs::remove_file(&secret_file);
}

const UP_TENANT_ID: &str = "9f1c2d3e-0000-4000-8000-000000000001";
const UP_CLIENT_ID: &str = "c0ffee00-0000-4000-8000-000000000002";

/// The admin console's one-time link, printed by `galsync up`, opens the
/// overview once over HTTPS with the PKI's certificate; a second use is refused.
async fn console_link_signs_in_once(
    printed_lines: &std::sync::mpsc::Receiver<String>,
    data_dir: &std::path::Path,
) {
    let link = console_link(printed_lines);
    let session = ConsoleSession::sign_in(&link, &data_dir.join("pki/ca.pem")).await;
    let page = session.page("/").await;
    assert!(page.contains("<h1>Overview</h1>"), "{page}");
    // `up` gives the console the auth-broker: the tenant pages work.
    assert!(!page.contains("not connected to the auth-broker"), "{page}");
    let tenants = session.page("/tenants").await;
    assert!(tenants.contains("No tenant is registered yet"), "{tenants}");
    let (http, base) = (&session.http, &session.base);
    let again = http.get(&link).send().await.expect("the console answers");
    assert_eq!(again.status(), reqwest::StatusCode::FORBIDDEN);

    // The Entra flags reached the console: its sign-in page offers
    // Microsoft, which sends the browser to the tenant's authorize endpoint.
    let sign_in = http
        .get(format!("{base}/sign-in"))
        .send()
        .await
        .expect("the sign-in page answers");
    let page = sign_in.text().await.expect("a page");
    assert!(page.contains("Sign in with Microsoft"), "{page}");
    let start = http
        .get(format!("{base}/auth/entra/start"))
        .send()
        .await
        .expect("the start answers");
    let authorize = start.headers()["location"].to_str().expect("a location");
    assert!(
        authorize.starts_with(&format!(
            "https://login.microsoftonline.com/{UP_TENANT_ID}/oauth2/v2.0/authorize?"
        )),
        "{authorize}"
    );
    assert!(
        authorize.contains(&format!("client_id={UP_CLIENT_ID}")),
        "{authorize}"
    );
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
    let occupied = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let occupied_addr = occupied.local_addr().expect("its address").to_string();
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
        bad(
            &[
                "--port-base",
                &port_base,
                "--data-dir",
                &data_dir,
                "--console-listen",
                &occupied_addr,
            ],
            "--console-listen",
        ),
        // The console's Entra sign-in flags, passed on: all of them or none.
        bad(
            &[
                "--port-base",
                &port_base,
                "--data-dir",
                &data_dir,
                "--entra-tenant-id",
                "9f1c2d3e-0000-4000-8000-000000000001",
            ],
            "--entra-client-id",
        ),
        bad(
            &[
                "--port-base",
                &port_base,
                "--data-dir",
                &data_dir,
                "--role-group",
                "admin=g1",
            ],
            "--role-group",
        ),
    ];
    assert_each_refused(env!("CARGO_BIN_EXE_galsync"), &["up"], &cases);
}
