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

/// A client trusting only `data_dir/pki/ca.pem`, following no redirect.
pub fn https_client(data_dir: &std::path::Path) -> reqwest::Client {
    let ca = std::fs::read(data_dir.join("pki/ca.pem")).expect("the PKI's ca.pem");
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("a PEM CA"))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTPS client")
}

/// A signed-in session: the console's base URL and the cookie.
pub struct ConsoleSession {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: String,
}

impl ConsoleSession {
    /// Follows `link` once; the console answers 200 with the session cookie.
    pub async fn sign_in(link: &str, data_dir: &std::path::Path) -> ConsoleSession {
        let http = https_client(data_dir);
        let first = http.get(link).send().await.expect("the console answers");
        assert_eq!(first.status(), reqwest::StatusCode::OK);
        let cookie = first.headers()["set-cookie"]
            .to_str()
            .expect("an ASCII cookie")
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        let base = link
            .split("/sign-in/")
            .next()
            .unwrap_or_default()
            .to_owned();
        ConsoleSession { http, base, cookie }
    }

    /// A page's HTML; it must answer 200.
    pub async fn page(&self, path: &str) -> String {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"));
        assert_eq!(response.status(), reqwest::StatusCode::OK, "GET {path}");
        response.text().await.expect("a page")
    }
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
