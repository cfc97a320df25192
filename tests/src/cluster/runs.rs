//! Profiles and runs through the CLI, and waiting for a run to get somewhere.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Cluster, Tenant};

impl Cluster {
    /// `galsync profile create` for `tenant`'s targets (by UPN), run on
    /// demand; `extra` flags are appended. Gives the profile id.
    pub async fn create_profile(&self, tenant: &Tenant, extra: &[&str]) -> String {
        let mut args = vec![
            "profile",
            "create",
            "--name",
            "Company phones",
            "--tenant-id",
            &tenant.tenant_id,
            "--on-demand",
        ];
        for upn in tenant.targets.values() {
            args.extend(["--target-user", upn.as_str()]);
        }
        args.extend(extra);
        let profile = self.galsync(&args).await.ok("profile create");
        profile["profile_id"]
            .as_str()
            .expect("a profile id")
            .to_owned()
    }

    /// `galsync run start`: gives the run id at once.
    pub async fn start_run(&self, profile_id: &str) -> String {
        let run = self
            .galsync(&["run", "start", profile_id])
            .await
            .ok("run start");
        run["run_id"].as_str().expect("a run id").to_owned()
    }

    /// `galsync runs show`, or `None` while the scheduler cannot answer.
    pub async fn show_run(&self, run_id: &str) -> Option<Value> {
        let outcome = self.galsync(&["runs", "show", run_id]).await;
        (outcome.code == Some(0)).then(|| outcome.json())
    }

    /// Polls `runs show` until `done(run)` holds (`limit` at most).
    pub async fn wait_run_until(
        &self,
        run_id: &str,
        limit: Duration,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + limit;
        let mut last = Value::Null;
        loop {
            if let Some(run) = self.show_run(run_id).await {
                if done(&run) {
                    return run;
                }
                last = run;
            }
            assert!(
                Instant::now() < deadline,
                "the run did not reach \"{what}\" in {limit:?}; last seen {last:#}\n{}",
                self.log_tails(15)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits (a minute at most) until the run is in `state`, e.g. "writing".
    pub async fn wait_run_state(&self, run_id: &str, state: &str) -> Value {
        self.wait_run_until(run_id, Duration::from_secs(60), state, |run| {
            run["state"] == state
        })
        .await
    }

    /// Waits until the run ended (succeeded, failed, cancelled, …).
    pub async fn wait_run_end(&self, run_id: &str, limit: Duration) -> Value {
        self.wait_run_until(run_id, limit, "ended", |run| {
            !matches!(
                run["state"].as_str(),
                Some("queued" | "reading" | "writing")
            )
        })
        .await
    }

    /// Starts a run of `profile_id` and waits (two minutes at most) until it
    /// ended; asserts it succeeded.
    pub async fn run_to_success(&self, profile_id: &str) -> Value {
        let run_id = self.start_run(profile_id).await;
        let run = self.wait_run_end(&run_id, Duration::from_secs(120)).await;
        assert_eq!(run["state"], "succeeded", "{run:#}");
        run
    }
}
