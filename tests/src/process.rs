//! One child process of the suite: started from a binary with its flags, its
//! output kept in a log file (shown when a test fails), and ended the way an
//! operator or a crash ends it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A process the suite can start, kill and start again with the same flags.
#[derive(Debug)]
pub struct Process {
    name: String,
    /// A command the binary runs under (e.g. `ip netns exec NS`), or none.
    prefix: Vec<String>,
    binary: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    starts: usize,
}

impl Process {
    /// Starts `binary` with `args`; its stdout and stderr go to
    /// `<log_dir>/<name>.log`. No `GALSYNC_*` variable of the test's
    /// environment leaks in: the flags are the whole configuration.
    pub fn start(name: &str, binary: PathBuf, args: Vec<String>, log_dir: &Path) -> Process {
        Self::start_under(name, Vec::new(), binary, args, log_dir)
    }

    /// [`Process::start`], running the binary under `prefix` (a command
    /// that execs it, such as `ip netns exec NS`, so the pid stays the
    /// service's own).
    pub fn start_under(
        name: &str,
        prefix: Vec<String>,
        binary: PathBuf,
        args: Vec<String>,
        log_dir: &Path,
    ) -> Process {
        let mut process = Process {
            name: name.to_owned(),
            prefix,
            binary,
            args,
            log: log_dir.join(format!("{name}.log")),
            child: None,
            starts: 0,
        };
        process.restart();
        process
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The running child's process id (`None` once it was killed).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the process again with the same flags (after a kill), appending
    /// to the same log.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "{} is still running", self.name);
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the process log");
        let mut command = match self.prefix.split_first() {
            Some((program, prefix_args)) => {
                let mut command = Command::new(program);
                command.args(prefix_args).arg(&self.binary);
                command
            }
            None => Command::new(&self.binary),
        };
        for (variable, _) in std::env::vars() {
            if variable.starts_with("GALSYNC_") {
                command.env_remove(&variable);
            }
        }
        command
            .args(&self.args)
            .env("GALSYNC_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log);
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", self.name));
        self.child = Some(child);
        self.starts += 1;
    }

    /// `kill -9`: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits up to `limit` for the exit; SIGKILL after it.
    /// `None` when the process had to be killed.
    pub async fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the process is still alive (not exited on its own).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Up to the last `max` lines of its log that contain `needle`.
    pub fn log_lines_with(&self, needle: &str, max: usize) -> String {
        self.log_lines_with_any(&[needle], max)
    }

    /// The last `max` lines of its log that contain any of `needles`.
    pub fn log_lines_with_any(&self, needles: &[&str], max: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let found: Vec<&str> = text
            .lines()
            .filter(|line| needles.iter().any(|needle| line.contains(needle)))
            .collect();
        found[found.len().saturating_sub(max)..].join("\n")
    }

    /// The last word of the latest log line with `needle` (a link or an
    /// address the process printed), waiting up to `limit` for it.
    pub fn printed_value(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let line = self.log_lines_with(needle, 1);
            if let Some(value) = line.split_whitespace().last() {
                return value.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "{} printed no line with {needle:?} in {limit:?}:\n{}",
                self.name,
                self.log_tail(30)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
