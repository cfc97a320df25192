//! The `galsync-graph-emulator` binary as users start it: `--help`, a bad
//! flag refused with exit 2, and a running server answering Entra discovery
//! and the admin API on the address given, stopping cleanly on Ctrl-C.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_galsync-graph-emulator");

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn help_lists_the_flags_and_a_bad_time_scale_exits_2_naming_it() {
    let help = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--listen",
        "--no-limits",
        "--time-scale",
        "--token-lifetime-secs",
        "--latency",
        "--latency-op",
        "--app-requests-per-10s",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}:\n{text}");
    }
    exits_2_naming(&["--time-scale", "0"], "--time-scale");
    exits_2_naming(&["--latency-op", "contact-write=1:2"], "--latency-op");
    exits_2_naming(&["--latency", "fast"], "--latency");
}

/// Starts the emulator with `args` and a free `--listen`; it must exit 2 and
/// name `flag`. A binary that starts anyway is killed after 10 s and fails the test.
fn exits_2_naming(args: &[&str], flag: &str) {
    let mut bad = Command::new(BINARY)
        .args(args)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = bad.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = bad.kill();
            panic!("{args:?} was accepted: the emulator started anyway");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut bad.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(flag), "{stderr}");
}

#[tokio::test]
async fn the_binary_serves_discovery_and_the_admin_api_and_stops_on_ctrl_c() {
    let port = free_port();
    let mut child = Command::new(BINARY)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--no-limits",
            "--time-scale",
            "0.01",
            "--latency",
            "graph",
            "--latency-op",
            "contact-create=50:200",
        ])
        .env_remove("GALSYNC_EMULATOR_LISTEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    let created = loop {
        match http
            .post(format!("{base}/_admin/tenants"))
            .json(&serde_json::json!({"domains": ["contoso.example"]}))
            .send()
            .await
        {
            Ok(response) => break response,
            Err(_) if started.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(error) => {
                let _ = child.kill();
                panic!("the emulator did not answer: {error}");
            }
        }
    };
    assert!(created.status().is_success(), "{}", created.status());
    let discovery = http
        .get(format!(
            "{base}/contoso.example/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(discovery.status(), 200);
    let document: serde_json::Value = discovery.json().await.unwrap();
    assert!(
        document["token_endpoint"]
            .as_str()
            .is_some_and(|endpoint| endpoint.starts_with(&base)),
        "{document}"
    );

    // The cost model it runs with: Graph's latencies, one of them overridden.
    let model: serde_json::Value = http
        .get(format!("{base}/_admin/cost-model"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        model["latency"]["contact-create"]["median_ms"], 50.0,
        "{model}"
    );
    assert_eq!(
        model["latency"]["contact-update"]["median_ms"], 90.0,
        "{model}"
    );
    assert_eq!(model["time_scale"], 0.01, "{model}");

    // Ctrl-C: SIGINT ends it with exit 0.
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running 5 s after Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}
