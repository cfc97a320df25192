//! The real `galsync-console` binary: configured by flags and a `--config`
//! file, it prints its URL and one-time link, serves HTTPS in front of a real
//! scheduler, stops on SIGTERM, and refuses bad configuration (a bad config
//! file too) with one line naming the flag.

mod common;

use std::io::BufRead;
use std::time::Duration;

use galsync_testkit::harness::bad_config::{assert_each_refused, bad, path_arg, BadConfigFiles};
use galsync_testkit::scheduler::MtlsScheduler;

const BINARY: &str = env!("CARGO_BIN_EXE_galsync-console");

#[tokio::test]
async fn the_binary_prints_a_link_that_signs_in_and_stops_on_sigterm() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    // The PKI and the scheduler come from a --config file, as the
    // deployments in deploy/ give them; --listen from the command line.
    let config_dir = tempfile::tempdir().unwrap();
    let config_file = config_dir.path().join("console.toml");
    std::fs::write(
        &config_file,
        format!(
            "pki-dir = \"{}\"\nscheduler-url = \"{}\"\n",
            path_arg(&scheduler.pki_dir),
            scheduler.url()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(BINARY)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--config",
            &path_arg(&config_file),
        ])
        .env("GALSYNC_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start galsync-console");
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let link = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("no link printed within 30 s");
        if line.starts_with("one-time administrator sign-in link") {
            break line.rsplit(' ').next().unwrap().to_owned();
        }
    };
    let http = common::https_client(&scheduler.pki_dir);
    let signed_in = http.get(&link).send().await.unwrap();
    assert_eq!(signed_in.status(), reqwest::StatusCode::OK);
    let cookie = common::cookie_of(&signed_in);
    let base = link.split("/sign-in/").next().unwrap();
    let overview = http
        .get(format!("{base}/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(overview.status(), reqwest::StatusCode::OK);
    assert!(overview.text().await.unwrap().contains("No tenant yet"));

    // A page following a run's live progress stays open while the run
    // lasts; it must not keep the console from stopping.
    let run_id = scheduler
        .start_writing_run("phones", galsync_testkit::scheduler::TENANT)
        .await;
    let mut events = http
        .get(format!("{base}/runs/{run_id}/events"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), reqwest::StatusCode::OK);
    let first = events.chunk().await.unwrap().expect("a first event");
    assert!(String::from_utf8_lossy(&first).contains("\"state\":\"writing\""));

    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("galsync-console did not stop within 5 s of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
    drop(events);
}
#[test]
fn bad_configuration_exits_2_naming_the_flag() {
    let files = BadConfigFiles::new();
    let pki_dir = path_arg(files.tls.ca.parent().expect("the PKI directory"));
    let missing_pki = path_arg(&files.dir.join("no-pki-here"));
    let garbage = path_arg(&files.garbage_pem);
    let key = path_arg(&files.tls.key);
    let cert = path_arg(&files.tls.cert);
    let occupied = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let occupied_addr = occupied.local_addr().expect("its address").to_string();
    // The CLI refuses a flag given twice: --listen is in each case.
    let free = "127.0.0.1:0";
    let secret_file = path_arg(&files.dir.join("entra-client-secret"));
    std::fs::write(files.dir.join("entra-client-secret"), "s3cret\n").expect("a secret file");
    let missing_secret = path_arg(&files.dir.join("no-secret-here"));
    // --config FILE (TOML, keys are flag names) as the services take it:
    // a bad value in the file names its flag, a broken file names --config.
    let config_file = |name: &str, text: &str| {
        let path = files.dir.join(name);
        std::fs::write(&path, text).expect("a config file");
        path_arg(&path)
    };
    let bad_value_file = config_file(
        "bad-value.toml",
        &format!("pki-dir = \"{pki_dir}\"\nscheduler-url = \"ftp://scheduler\"\n"),
    );
    let unknown_key_file = config_file("unknown-key.toml", "schedular-url = \"https://s:1\"\n");
    let not_toml_file = config_file("not-toml.toml", "listen = \n");
    let missing_file = path_arg(&files.dir.join("no-such-config.toml"));
    let cases = [
        bad(&["--listen", free, "--pki-dir", &missing_pki], "--pki-dir"),
        bad(
            &[
                "--listen",
                free,
                "--pki-dir",
                &pki_dir,
                "--https-cert",
                &garbage,
            ],
            "--https-key",
        ),
        bad(
            &["--listen", free, "--pki-dir", &pki_dir, "--https-key", &key],
            "--https-cert",
        ),
        bad(
            &[
                "--listen",
                free,
                "--pki-dir",
                &pki_dir,
                "--https-cert",
                &garbage,
                "--https-key",
                &key,
            ],
            "--https-cert",
        ),
        bad(
            &[
                "--listen",
                free,
                "--pki-dir",
                &pki_dir,
                "--session-idle-secs",
                "0",
            ],
            "--session-idle-secs",
        ),
        bad(
            &[
                "--listen",
                free,
                "--pki-dir",
                &pki_dir,
                "--scheduler-url",
                "ftp://scheduler",
            ],
            "--scheduler-url",
        ),
        bad(
            &["--listen", &occupied_addr, "--pki-dir", &pki_dir],
            "--listen",
        ),
        bad(
            &["--listen", free, "--config", &bad_value_file],
            "--scheduler-url",
        ),
        bad(
            &["--listen", free, "--config", &unknown_key_file],
            "--config",
        ),
        bad(&["--listen", free, "--config", &not_toml_file], "--config"),
        bad(&["--listen", free, "--config", &missing_file], "--config"),
        // Entra sign-in: all of its flags or none, each checked.
        bad(
            &[
                "--listen",
                free,
                "--pki-dir",
                &pki_dir,
                "--entra-tenant-id",
                TENANT_ID,
            ],
            "--entra-client-id",
        ),
        bad(
            &[
                "--listen",
                free,
                "--pki-dir",
                &pki_dir,
                "--role-group",
                "admin=g1",
            ],
            "--role-group",
        ),
        bad(
            &entra(free, &pki_dir, &secret_file, &["--role-group", "root=g1"]),
            "--role-group",
        ),
        bad(&entra(free, &pki_dir, &secret_file, &[]), "--role-group"),
        bad(
            &[
                "--listen",
                free,
                "--pki-dir",
                &pki_dir,
                "--role-app-role",
                "admin=GalSync.Admin",
            ],
            "--role-app-role",
        ),
        bad(
            &entra(
                free,
                &pki_dir,
                &secret_file,
                &["--role-app-role", "admin=Gal Sync"],
            ),
            "--role-app-role",
        ),
        bad(
            &entra(
                free,
                &pki_dir,
                &secret_file,
                &[
                    "--role-app-role",
                    "admin=GalSync.Admin",
                    "--entra-graph-url",
                    "http://graph.example",
                ],
            ),
            "--entra-graph-url",
        ),
        bad(
            &[
                "--listen",
                free,
                "--pki-dir",
                &pki_dir,
                "--entra-tenant-id",
                "contoso.example",
                "--entra-client-id",
                "c0ffee00-0000-4000-8000-000000000002",
                "--entra-client-secret-file",
                &secret_file,
                "--role-group",
                "admin=g1",
            ],
            "--entra-tenant-id",
        ),
        bad(
            &entra(
                free,
                &pki_dir,
                &secret_file,
                &[
                    "--role-group",
                    "admin=g1",
                    "--entra-authority",
                    "http://login.example",
                ],
            ),
            "--entra-authority",
        ),
        bad(
            &entra(
                free,
                &pki_dir,
                &missing_secret,
                &["--role-group", "admin=g1"],
            ),
            "--entra-client-secret-file",
        ),
        bad(
            &entra(
                free,
                &pki_dir,
                &secret_file,
                &["--role-group", "admin=g1", "--entra-client-cert", &cert],
            ),
            "--entra-client-cert",
        ),
        bad(
            &[
                "--listen",
                free,
                "--pki-dir",
                &pki_dir,
                "--entra-tenant-id",
                TENANT_ID,
                "--entra-client-id",
                "c0ffee00-0000-4000-8000-000000000002",
                "--entra-client-cert",
                &cert,
                "--role-group",
                "admin=g1",
            ],
            "--entra-client-key",
        ),
        bad(
            &[
                "--listen",
                free,
                "--pki-dir",
                &pki_dir,
                "--entra-tenant-id",
                TENANT_ID,
                "--entra-client-id",
                "c0ffee00-0000-4000-8000-000000000002",
                "--entra-client-cert",
                &garbage,
                "--entra-client-key",
                &key,
                "--role-group",
                "admin=g1",
            ],
            "--entra-client-cert",
        ),
    ];
    assert_each_refused(BINARY, &[], &cases);
}

const TENANT_ID: &str = "9f1c2d3e-0000-4000-8000-000000000001";

/// Arguments with every Entra flag but --role-group, and `more`.
fn entra<'a>(
    listen: &'a str,
    pki_dir: &'a str,
    secret_file: &'a str,
    more: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "--listen",
        listen,
        "--pki-dir",
        pki_dir,
        "--entra-tenant-id",
        TENANT_ID,
        "--entra-client-id",
        "c0ffee00-0000-4000-8000-000000000002",
        "--entra-client-secret-file",
        secret_file,
    ];
    args.extend_from_slice(more);
    args
}
