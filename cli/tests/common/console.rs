//! The admin console as a person reaches it from a `galsync` process: the
//! lines the process prints, and a signed-in HTTPS session from its
//! one-time link, trusting only the process's PKI.

use std::time::Duration;

/// Lines the child prints, as they come.
pub fn read_lines(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The first printed line containing `marker`, waiting up to `limit`.
pub fn line_with(
    printed_lines: &std::sync::mpsc::Receiver<String>,
    marker: &str,
    limit: Duration,
) -> String {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = printed_lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no line with {marker:?} within {limit:?}"));
        if line.contains(marker) {
            return line;
        }
    }
}

/// The console's one-time administrator link from the printed lines.
pub fn console_link(printed_lines: &std::sync::mpsc::Receiver<String>) -> String {
    line_with(
        printed_lines,
        "one-time administrator sign-in link",
        Duration::from_secs(60),
    )
    .rsplit(' ')
    .next()
    .expect("a link at the end of the line")
    .to_owned()
}

/// A child process killed when the test ends, whatever way it ends: a
/// failed assertion must not leave a `galsync` running (and holding the
/// test's output open).
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends SIGTERM and waits up to `limit` for the exit status.
pub async fn terminate(
    child: &mut std::process::Child,
    limit: Duration,
) -> std::process::ExitStatus {
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("the child's status") {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the process did not stop within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
