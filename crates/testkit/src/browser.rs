//! A small W3C WebDriver client for browser tests: Debian's `chromedriver`
//! started on a free port as a child process (killed with its browser when
//! the [`Browser`] is dropped) driving a headless `chromium`.
//!
//! Plain reqwest + serde_json against the protocol: the handful of commands
//! a page test needs, no extra crate. Every method panics, with what it was
//! doing, when the browser answers an error: a test that cannot drive its
//! browser has nothing to assert.
//!
//! TLS: the browser trusts nothing insecure in general. It is told to accept
//! exactly one public key, the one of the server under test
//! (`--ignore-certificate-errors-spki-list`, see [`spki_sha256_of_pem`]); any
//! other certificate error still fails the navigation.

pub mod axe;
pub mod visit;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Where Debian's packages put the browser and its driver; the variables
/// below point the tests at others.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM_VAR: &str = "GALSYNC_TEST_CHROMIUM";
pub const CHROMEDRIVER_VAR: &str = "GALSYNC_TEST_CHROMEDRIVER";

/// The Tab key, as WebDriver sends it.
pub const KEY_TAB: &str = "\u{E004}";
/// The Enter key, as WebDriver sends it.
pub const KEY_ENTER: &str = "\u{E007}";

/// The key WebDriver names an element reference with.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a command (not a wait) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A found element.
#[derive(Debug, Clone)]
pub struct Element(String);

/// A headless Chromium session; dropping it kills chromedriver and the browser.
pub struct Browser {
    http: reqwest::Client,
    session_url: String,
    driver: Child,
}

/// The browser's and the driver's paths.
fn binaries() -> (PathBuf, PathBuf) {
    let chromium = std::env::var(CHROMIUM_VAR).unwrap_or_else(|_| CHROMIUM.to_owned());
    let chromedriver = std::env::var(CHROMEDRIVER_VAR).unwrap_or_else(|_| CHROMEDRIVER.to_owned());
    (PathBuf::from(chromium), PathBuf::from(chromedriver))
}

/// Why browser tests cannot run here, or `None` when they can.
pub fn unavailable() -> Option<String> {
    let (chromium, chromedriver) = binaries();
    for binary in [chromium, chromedriver] {
        if !binary.exists() {
            return Some(format!(
                "{} is missing (apt-get install chromium chromium-driver)",
                binary.display()
            ));
        }
    }
    None
}

/// Prints `skipping <test_name>: <reason>` past the test harness's output
/// capture, so that CI's log (which counts these lines) shows it for a
/// passing test too.
pub fn print_skip(test_name: &str, reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "skipping {test_name}: {reason}");
}

/// The base64 SHA-256 of a PEM certificate's SubjectPublicKeyInfo, the form
/// Chromium's `--ignore-certificate-errors-spki-list` takes.
pub fn spki_sha256_of_pem(pem_path: &Path) -> String {
    use base64::Engine;
    use sha2::Digest;
    let pem = std::fs::read(pem_path)
        .unwrap_or_else(|error| panic!("failed to read {}: {error}", pem_path.display()));
    let (_, parsed) = x509_parser::pem::parse_x509_pem(&pem)
        .unwrap_or_else(|error| panic!("{} is not a PEM: {error}", pem_path.display()));
    let certificate = parsed
        .parse_x509()
        .unwrap_or_else(|error| panic!("{} is no certificate: {error}", pem_path.display()));
    let spki_der = certificate.tbs_certificate.subject_pki.raw;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(spki_der))
}

impl Browser {
    /// Starts chromedriver and a headless Chromium accepting the certificate
    /// whose public key hashes to `trusted_spki` (see [`spki_sha256_of_pem`]).
    /// `Err` says why the browser is not there (the test then skips).
    pub async fn start(trusted_spki: &str) -> Result<Browser, String> {
        if let Some(reason) = unavailable() {
            return Err(reason);
        }
        let (chromium, chromedriver) = binaries();
        let port = crate::harness::free_port();
        let mut command = Command::new(&chromedriver);
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so that drop ends the browser it starts too.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command
            .spawn()
            .map_err(|error| format!("{} cannot be started: {error}", chromedriver.display()))?;
        let http = reqwest::Client::builder()
            .timeout(COMMAND_TIMEOUT)
            .build()
            .expect("an HTTP client");
        let driver_url = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            http,
            session_url: String::new(),
            driver,
        };
        browser.wait_for_driver(&driver_url).await?;
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                    format!("--ignore-certificate-errors-spki-list={trusted_spki}"),
                ],
            },
        }}});
        let created = browser
            .command("POST", &format!("{driver_url}/session"), capabilities)
            .await
            .map_err(|error| format!("chromedriver could not start chromium: {error}"))?;
        let session_id = created["sessionId"].as_str().unwrap_or_default();
        browser.session_url = format!("{driver_url}/session/{session_id}");
        Ok(browser)
    }

    async fn wait_for_driver(&self, driver_url: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self.http.get(format!("{driver_url}/status")).send().await;
            if let Ok(response) = status {
                let body: Value = response.json().await.unwrap_or_default();
                if body["value"]["ready"] == json!(true) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err("chromedriver did not become ready within 20 s".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One WebDriver command; `Err` carries the driver's error message.
    async fn command(&self, method: &str, url: &str, body: Value) -> Result<Value, String> {
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let response = request
            .send()
            .await
            .map_err(|error| format!("{method} {url}: {error}"))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .map_err(|error| format!("{method} {url}: not JSON: {error}"))?;
        if !status.is_success() {
            return Err(format!(
                "{method} {url}: {status}: {} {}",
                answer["value"]["error"], answer["value"]["message"]
            ));
        }
        Ok(answer["value"].clone())
    }

    async fn session(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.session_url);
        self.command(method, &url, body)
            .await
            .unwrap_or_else(|error| panic!("webdriver: {error}"))
    }

    /// Navigates and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.session("POST", "/url", json!({ "url": url })).await;
    }

    pub async fn current_url(&self) -> String {
        let url = self.session("GET", "/url", Value::Null).await;
        url.as_str().unwrap_or_default().to_owned()
    }

    /// The first element matching `css`, or `None`.
    pub async fn find(&self, css: &str) -> Option<Element> {
        let body = json!({"using": "css selector", "value": css});
        let url = format!("{}/element", self.session_url);
        let found = self.command("POST", &url, body).await.ok()?;
        found[ELEMENT_KEY].as_str().map(|id| Element(id.to_owned()))
    }

    /// The first element matching `css`; panics when there is none.
    pub async fn element(&self, css: &str) -> Element {
        match self.find(css).await {
            Some(element) => element,
            None => panic!(
                "no element matches {css} on {}: {}",
                self.current_url().await,
                self.source().await
            ),
        }
    }

    pub async fn click(&self, element: &Element) {
        let path = format!("/element/{}/click", element.0);
        self.session("POST", &path, json!({})).await;
    }

    /// Types `text` into `element`; for a file input, `text` is the path
    /// of the file to choose, as a person picking it would.
    pub async fn type_into(&self, element: &Element, text: &str) {
        let path = format!("/element/{}/value", element.0);
        self.session("POST", &path, json!({ "text": text })).await;
    }

    /// The element's rendered text.
    pub async fn text(&self, element: &Element) -> String {
        let text = self
            .session("GET", &format!("/element/{}/text", element.0), Value::Null)
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// The text of the first element matching `css`.
    pub async fn text_of(&self, css: &str) -> String {
        let element = self.element(css).await;
        self.text(&element).await
    }

    /// The current document's markup.
    pub async fn source(&self) -> String {
        let source = self.session("GET", "/source", Value::Null).await;
        source.as_str().unwrap_or_default().to_owned()
    }

    /// The whole page's rendered text (`body`).
    pub async fn text_of_page(&self) -> String {
        match self.find("body").await {
            Some(body) => self.text(&body).await,
            None => String::new(),
        }
    }

    /// Submits the form `form_css` by clicking its submit button, as a person would.
    pub async fn submit(&self, form_css: &str) {
        let button = self.element(&format!("{form_css} [type=submit]")).await;
        self.click(&button).await;
    }

    /// The value of the current page's cookie `name` (HttpOnly ones too).
    pub async fn cookie(&self, name: &str) -> String {
        let cookie = self
            .session("GET", &format!("/cookie/{name}"), Value::Null)
            .await;
        cookie["value"].as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        let body = json!({"script": script, "args": args});
        self.session("POST", "/execute/sync", body).await
    }

    /// Runs `script`, which calls `arguments[arguments.length - 1]` with its answer.
    pub async fn execute_async(&self, script: &str, args: Value) -> Value {
        let body = json!({"script": script, "args": args});
        self.session("POST", "/execute/async", body).await
    }

    /// Waits until `script` (a function body) returns `true`, across
    /// navigations; panics with `what` and the page's text after `limit`.
    pub async fn wait_for(&self, what: &str, script: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        let url = format!("{}/execute/sync", self.session_url);
        let body = json!({"script": script, "args": []});
        loop {
            // An error (a page mid-navigation) is "not yet".
            if self.command("POST", &url, body.clone()).await == Ok(json!(true)) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "waited {limit:?} for {what} on {}: {}",
                    self.current_url().await,
                    self.text_of_page().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the first element matching `css` reads `expected`.
    pub async fn wait_for_text(&self, css: &str, expected: &str, limit: Duration) {
        let script = format!(
            "var element = document.querySelector({}); \
             return element !== null && element.textContent.trim() === {};",
            json!(css),
            json!(expected)
        );
        let what = format!("{css} to read {expected:?}");
        self.wait_for(&what, &script, limit).await;
    }

    /// Makes pages see `prefers-color-scheme: dark` (or light again), through
    /// Chromium's DevTools protocol; reload the page to restyle it.
    pub async fn prefer_color_scheme(&self, scheme: &str) {
        let body = json!({
            "cmd": "Emulation.setEmulatedMedia",
            "params": {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
        });
        self.session("POST", "/goog/cdp/execute", body).await;
    }

    /// Makes the page a phone's: 390 × 844 CSS pixels, touch, the mobile
    /// viewport rules (Chromium's DevTools protocol); reload to re-lay out.
    pub async fn emulate_phone(&self) {
        let body = json!({
            "cmd": "Emulation.setDeviceMetricsOverride",
            "params": {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true},
        });
        self.session("POST", "/goog/cdp/execute", body).await;
    }

    /// Whether the page scrolls sideways (wider than its layout viewport).
    /// Not `window.innerWidth`: with mobile emulation Chromium zooms out to
    /// show a page wider than the screen, and `innerWidth` grows with it.
    pub async fn scrolls_sideways(&self) -> bool {
        let wider = self
            .execute(
                "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
                json!([]),
            )
            .await;
        wider == json!(true)
    }

    /// Presses `key` (a WebDriver key, e.g. [`KEY_TAB`]) in the element that
    /// has the focus, as a keyboard would.
    pub async fn press(&self, key: &str) {
        let active = self.session("GET", "/element/active", Value::Null).await;
        let id = active[ELEMENT_KEY].as_str().unwrap_or_default().to_owned();
        self.session(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": key }),
        )
        .await;
    }

    /// Presses Tab until the focused element matches `css` (at most `limit`
    /// times); false when it never does.
    pub async fn tab_to(&self, css: &str, limit: usize) -> bool {
        let script = format!(
            "return document.activeElement !== null && document.activeElement.matches({});",
            json!(css)
        );
        for _ in 0..limit {
            self.press(KEY_TAB).await;
            if self.execute(&script, json!([])).await == json!(true) {
                return true;
            }
        }
        false
    }

    /// Saves a PNG of the viewport to `path` (its folder is made).
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let encoded = self.session("GET", "/screenshot", Value::Null).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .unwrap_or_else(|error| panic!("the screenshot is not base64: {error}"));
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)
                .unwrap_or_else(|error| panic!("failed to make {}: {error}", folder.display()));
        }
        std::fs::write(path, png)
            .unwrap_or_else(|error| panic!("failed to write {}: {error}", path.display()));
    }

    /// Ends the session (and with it the browser).
    pub async fn quit(self) {
        let _ = self.command("DELETE", &self.session_url, Value::Null).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium it started.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `target/` of the workspace (or `CARGO_TARGET_DIR`): where screenshots and
/// the axe-core cache go.
pub fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}
