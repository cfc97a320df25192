//! Driving a cluster with the `galsync` CLI binary: as the CLI, as another
//! identity of the PKI, or as an integrator holding an API key.

use std::path::Path;

use serde_json::Value;

use super::{strings, Cluster};
use crate::binaries;

/// What one `galsync` invocation printed.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Stdout as JSON (`--output json`); panics with both streams otherwise.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| {
            panic!(
                "stdout is not JSON ({error}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Panics naming the command unless it exited 0; gives the JSON.
    pub fn ok(self, what: &str) -> Value {
        assert_eq!(
            self.code,
            Some(0),
            "{what}: stdout {}\nstderr {}",
            self.stdout,
            self.stderr
        );
        self.json()
    }
}

/// Runs the `galsync` binary with `args` and nothing from the test's
/// `GALSYNC_*` environment.
pub async fn cli_output(args: &[String]) -> Outcome {
    let args = args.to_vec();
    let binary = binaries::path("galsync");
    tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(binary);
        for (variable, _) in std::env::vars() {
            if variable.starts_with("GALSYNC_") {
                command.env_remove(&variable);
            }
        }
        let output = command
            .env("GALSYNC_LOG", "warn")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run galsync");
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .expect("the galsync runner")
}

impl Cluster {
    /// Runs `galsync --output json` against this cluster with the CLI's
    /// certificate.
    pub async fn galsync(&self, args: &[&str]) -> Outcome {
        self.galsync_as("cli", &self.pki_dir, args).await
    }

    /// Runs `galsync` as an integrator would: with an API key and the CA
    /// that signed the scheduler's certificate, holding no certificate of
    /// galsync's CA (`--pki-dir` points at an empty directory).
    pub async fn galsync_with_api_key(&self, api_key: &str, args: &[&str]) -> Outcome {
        let empty = self.dir().join("integrator");
        std::fs::create_dir_all(&empty).expect("the integrator's directory");
        let mut all = strings(&[
            "--scheduler-url",
            &self.scheduler.url(),
            "--pki-dir",
            &empty.display().to_string(),
            "--ca-file",
            &self.pki_dir.join("ca.pem").display().to_string(),
            "--api-key",
            api_key,
            "--output",
            "json",
        ]);
        all.extend(strings(args));
        cli_output(&all).await
    }

    /// Runs `galsync` presenting `identity`'s certificate from `pki_dir`
    /// (e.g. another service's, or another CA's).
    pub async fn galsync_as(&self, identity: &str, pki_dir: &Path, args: &[&str]) -> Outcome {
        // The CLI presents cli.pem/cli.key: lend it another identity's pair.
        let pki = if identity == "cli" {
            pki_dir.to_owned()
        } else {
            let borrowed = self.dir().join(format!("as-{identity}"));
            std::fs::create_dir_all(&borrowed).expect("a PKI directory");
            for (from, to) in [
                (format!("{identity}.pem"), "cli.pem"),
                (format!("{identity}.key"), "cli.key"),
                ("ca.pem".to_owned(), "ca.pem"),
            ] {
                std::fs::copy(pki_dir.join(from), borrowed.join(to)).expect("copy a PKI file");
            }
            borrowed
        };
        let mut all = vec![
            "--scheduler-url".to_owned(),
            self.scheduler.url(),
            "--broker-url".to_owned(),
            self.broker.url(),
            "--pki-dir".to_owned(),
            pki.display().to_string(),
            "--output".to_owned(),
            "json".to_owned(),
        ];
        all.extend(strings(args));
        cli_output(&all).await
    }
}
