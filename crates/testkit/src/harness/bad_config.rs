//! Bad configuration against a real binary: every case must stop the binary
//! before it serves, with exit code 2 and one line on stderr naming the flag
//! (docs/configuration.md#errors). One table per binary; the cases every
//! service shares are in [`shared_service_cases`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a case may run before it counts as "started anyway".
const CASE_LIMIT: Duration = Duration::from_secs(20);

/// Files the cases point flags at, in a directory removed on drop.
pub struct BadConfigFiles {
    pub dir: PathBuf,
    /// A regular file: nothing can be created under it.
    pub regular_file: PathBuf,
    /// A file whose PEM block has a body that is not base64.
    pub garbage_pem: PathBuf,
    /// A file that is not a SQLite database.
    pub not_a_database: PathBuf,
    /// A two-byte master key (a key is 32 bytes as 64 hex characters).
    pub short_key: PathBuf,
    /// Working mTLS files (made by the internal PKI) for the TLS cases.
    pub tls: galsync_platform::pki::ServiceTlsFiles,
}

impl BadConfigFiles {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "galsync-bad-config-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        let regular_file = dir.join("regular-file");
        std::fs::write(&regular_file, "not a directory").expect("write a file");
        let garbage_pem = dir.join("garbage.pem");
        std::fs::write(
            &garbage_pem,
            "-----BEGIN CERTIFICATE-----\nthis is !! not base64\n-----END CERTIFICATE-----\n",
        )
        .expect("write a file");
        let not_a_database = dir.join("not-a-database.db");
        std::fs::write(&not_a_database, "x".repeat(4096)).expect("write a file");
        let short_key = dir.join("short.key");
        std::fs::write(&short_key, "ab").expect("write a file");
        let pki_dir = dir.join("pki");
        galsync_platform::pki::init_dir(&pki_dir, &[]).expect("make a PKI");
        let tls = galsync_platform::pki::ServiceTlsFiles::in_dir(&pki_dir, "scheduler");
        Self {
            dir,
            regular_file,
            garbage_pem,
            not_a_database,
            short_key,
            tls,
        }
    }

    /// A fresh, empty data directory.
    pub fn fresh_data_dir(&self) -> String {
        path_arg(
            &self
                .dir
                .join(format!("data-{}", uuid::Uuid::new_v4().simple())),
        )
    }
}

impl Default for BadConfigFiles {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for BadConfigFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A path as a command-line argument.
pub fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// One bad configuration: the arguments, and the flag the error must name.
#[derive(Debug, Clone)]
pub struct BadFlag {
    pub args: Vec<String>,
    /// E.g. `--lease-secs`.
    pub flag: &'static str,
}

/// A case from string arguments.
pub fn bad(args: &[&str], flag: &'static str) -> BadFlag {
    BadFlag {
        args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        flag,
    }
}

/// The cases every service binary shares: the data directory, the store and
/// the TLS files.
pub fn shared_service_cases(files: &BadConfigFiles) -> Vec<BadFlag> {
    let under_file = path_arg(&files.regular_file.join("data"));
    let store_under_file = format!("sqlite://{}", path_arg(&files.regular_file.join("x.db")));
    let not_a_database = format!("sqlite://{}", path_arg(&files.not_a_database));
    let garbage = path_arg(&files.garbage_pem);
    let cert = path_arg(&files.tls.cert);
    let key = path_arg(&files.tls.key);
    let ca = path_arg(&files.tls.ca);
    let tls = |cert: &str, key: &str, ca: &str| {
        vec![
            "--tls-cert".to_owned(),
            cert.to_owned(),
            "--tls-key".to_owned(),
            key.to_owned(),
            "--tls-ca".to_owned(),
            ca.to_owned(),
        ]
    };
    vec![
        bad(&["--data-dir", &under_file], "--data-dir"),
        bad(
            &["--data-dir", &path_arg(&files.regular_file)],
            "--data-dir",
        ),
        bad(&["--store-url", &store_under_file], "--store-url"),
        bad(&["--store-url", &not_a_database], "--store-url"),
        BadFlag {
            args: tls(&garbage, &key, &ca),
            flag: "--tls-cert",
        },
        BadFlag {
            args: tls(&cert, &garbage, &ca),
            flag: "--tls-key",
        },
        BadFlag {
            args: tls(&cert, &key, &garbage),
            flag: "--tls-ca",
        },
        BadFlag {
            args: tls(&key, &key, &ca),
            flag: "--tls-cert",
        },
        bad(&["--request-timeout-secs", "0"], "--request-timeout-secs"),
    ]
}

/// Runs `binary` with `common_args` then each case's arguments (later
/// arguments win), and asserts each exits 2 with one stderr line naming the
/// case's flag. Every case runs; the panic lists all that failed.
pub fn assert_each_refused(binary: &str, common_args: &[&str], cases: &[BadFlag]) {
    let mut failures = Vec::new();
    for case in cases {
        let mut args: Vec<String> = common_args.iter().map(|arg| (*arg).to_owned()).collect();
        args.extend(case.args.iter().cloned());
        let outcome = run_within(binary, &args, CASE_LIMIT);
        if let Some(problem) = refusal_problem(&outcome, case.flag) {
            failures.push(format!(
                "{} → {problem}; stderr: {}",
                case.args.join(" "),
                outcome.stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad configurations were not refused as documented:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// How a run of a binary ended.
#[derive(Debug)]
pub struct Outcome {
    /// `None` when it was killed (signal or time limit).
    pub code: Option<i32>,
    pub stderr: String,
    pub timed_out: bool,
}

/// What is wrong with `outcome` as the refusal of a bad `flag`, if anything.
fn refusal_problem(outcome: &Outcome, flag: &str) -> Option<String> {
    if outcome.timed_out {
        return Some(format!(
            "still running after {} s (started anyway)",
            CASE_LIMIT.as_secs()
        ));
    }
    if outcome.code != Some(2) {
        return Some(format!("exit code {:?}, not 2", outcome.code));
    }
    let lines: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    if lines.len() != 1 {
        return Some(format!("{} lines on stderr, not 1", lines.len()));
    }
    let named = lines[0]
        .split(|character: char| !(character.is_ascii_alphanumeric() || character == '-'))
        .any(|word| word == flag);
    if !named {
        return Some(format!("the error does not name {flag}"));
    }
    if !lines[0].starts_with("error: ") {
        return Some("the line does not start with `error: `".to_owned());
    }
    None
}

/// Runs `binary` with `args`, killing it after `limit`.
pub fn run_within(binary: &str, args: &[String], limit: Duration) -> Outcome {
    use std::io::Read;
    let mut child = std::process::Command::new(binary)
        .args(args)
        .env("GALSYNC_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {binary}: {error}"));
    // Read stderr meanwhile, so a chatty child never blocks on a full pipe.
    let mut stderr_pipe = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait for the killed child");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = reader.join().unwrap_or_default();
    Outcome {
        code: if timed_out { None } else { status.code() },
        stderr,
        timed_out,
    }
}
