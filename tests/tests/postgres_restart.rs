//! Scenario 6 of the process-level suite: PostgreSQL, which every service's
//! store is on, goes down for a few seconds in the middle of a run and comes
//! back. Every service reconnects and the run ends with every mailbox exactly
//! matching the directory.
//!
//! Its own test binary, with one test: restarting the server would fail any
//! other PostgreSQL-backed test running beside it.

use std::process::Command;
use std::time::Duration;

use galsync_e2e::{spawn_cluster, ClusterSpec};

/// The local PostgreSQL cluster to restart (`pg_ctlcluster VERSION NAME`),
/// or why this machine cannot.
fn local_cluster() -> Result<(String, String), String> {
    let dsn = std::env::var(galsync_testkit::harness::POSTGRES_DSN_VAR)
        .map_err(|_| format!("{} is not set", galsync_testkit::harness::POSTGRES_DSN_VAR))?;
    if !(dsn.contains("@127.0.0.1") || dsn.contains("@localhost")) {
        return Err("the test PostgreSQL is not on this machine".to_owned());
    }
    if Command::new("pg_ctlcluster")
        .arg("--help")
        .output()
        .is_err()
    {
        return Err("pg_ctlcluster is not installed".to_owned());
    }
    let versions = std::fs::read_dir("/etc/postgresql")
        .map_err(|error| format!("/etc/postgresql: {error}"))?;
    let version = versions
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .max()
        .ok_or("no cluster under /etc/postgresql")?;
    Ok((version, "main".to_owned()))
}

fn pg_ctlcluster(cluster: &(String, String), action: &str) {
    let output = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &cluster.0, &cluster.1, action])
        .args(if action == "stop" {
            &["--mode", "fast"][..]
        } else {
            &[][..]
        })
        .output()
        .expect("pg_ctlcluster runs");
    assert!(
        output.status.success(),
        "pg_ctlcluster {action}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Starts the server again if the test fails while it is down.
struct Restart(Option<(String, String)>);

impl Drop for Restart {
    fn drop(&mut self) {
        if let Some(cluster) = self.0.take() {
            let _ = Command::new("pg_ctlcluster")
                .args(["--skip-systemctl-redirect", &cluster.0, &cluster.1, "start"])
                .output();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_down_for_seconds_mid_run_loses_nothing() {
    let cluster_id = match local_cluster() {
        Ok(found) => found,
        Err(reason) => {
            println!("skipping postgresql_down_for_seconds_mid_run_loses_nothing: {reason}");
            return;
        }
    };
    let cluster = spawn_cluster(ClusterSpec::slow_graph(2)).await;
    let tenant = cluster.onboard(60, 6, 17).await;
    let profile_id = cluster.create_profile(&tenant, &[]).await;
    let run_id = cluster.start_run(&profile_id).await;
    cluster.wait_run_state(&run_id, "writing").await;
    // Some mailboxes are being written: a create takes 300–600 ms here.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut restart = Restart(Some(cluster_id.clone()));
    pg_ctlcluster(&cluster_id, "stop");
    tokio::time::sleep(Duration::from_secs(5)).await;
    pg_ctlcluster(&cluster_id, "start");
    restart.0 = None;

    let run = cluster
        .wait_run_end(&run_id, Duration::from_secs(240))
        .await;
    assert_eq!(run["state"], "succeeded", "{run:#}");
    assert_eq!(
        run["mailboxes_succeeded"].as_u64(),
        Some(tenant.targets.len() as u64),
        "{run:#}"
    );
    cluster.assert_mailboxes_match(&tenant).await;
    let requests = cluster.emulator.get("/_admin/requests").await;
    assert_eq!(requests["early_retries"], 0, "retried before Retry-After");
}
