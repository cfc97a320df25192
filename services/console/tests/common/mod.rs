//! The console served in-process over HTTPS in front of a test scheduler,
//! and an HTTPS client that trusts only the test PKI's CA.

#![allow(dead_code)]

pub mod certificate;
pub mod entra;
pub mod profile;
pub mod tenant;
pub mod visit;

use std::path::Path;
use std::time::Duration;

use galsync_console::{Config, Console, Role};
use galsync_testkit::harness::{spawn_server_on, RunningServer};
use galsync_testkit::scheduler::MtlsScheduler;
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::StatusCode;

/// A client trusting only `pki_dir`'s CA, following no redirect.
pub fn https_client(pki_dir: &Path) -> reqwest::Client {
    let ca = std::fs::read(pki_dir.join("ca.pem")).expect("the PKI's ca.pem");
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("a PEM CA"))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTPS client")
}

/// Whether a page sends the browser on to the overview at once.
pub fn opens_the_overview(page: &str) -> bool {
    page.contains("<meta http-equiv=\"refresh\" content=\"0; url=/\">")
}

/// The `name=value` part of a response's `Set-Cookie`.
pub fn cookie_of(response: &reqwest::Response) -> String {
    let set_cookie = response.headers()[SET_COOKIE]
        .to_str()
        .expect("an ASCII cookie");
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

pub struct TestConsole {
    pub url: String,
    pub admin_link: String,
    pub viewer_link: String,
    pub operator_link: String,
    pub http: reqwest::Client,
    /// Stops serving when the `TestConsole` is dropped.
    _server: RunningServer,
}

/// A console for `scheduler` with the given idle expiry, with a bootstrap
/// (admin) link and a viewer's link issued.
pub async fn spawn_console(scheduler: &MtlsScheduler, session_idle_secs: u64) -> TestConsole {
    let mut config = Config::local(scheduler.pki_dir.clone(), scheduler.url());
    config.session_idle_secs = session_idle_secs;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve_console(&config, listener, scheduler)
}

/// A console for `scheduler` and `broker` (which share the scheduler's
/// PKI: `TestBroker::start_sharing_pki`), with the tenant pages.
pub async fn spawn_tenant_console(
    scheduler: &MtlsScheduler,
    broker: &galsync_testkit::TestBroker,
) -> TestConsole {
    let mut config = Config::local(scheduler.pki_dir.clone(), scheduler.url());
    config.broker_url = Some(broker.url());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve_console(&config, listener, scheduler)
}

/// A console for `scheduler` that signs people in with `tenant`'s emulated
/// Entra ID, its app registration's redirect URI being this console's.
pub async fn spawn_entra_console(
    scheduler: &MtlsScheduler,
    tenant: &mut entra::EntraTenant,
) -> TestConsole {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bound = listener.local_addr().unwrap();
    let config = tenant
        .console_config(scheduler, &format!("https://{bound}"))
        .await;
    serve_console(&config, listener, scheduler)
}

fn serve_console(
    config: &Config,
    listener: tokio::net::TcpListener,
    scheduler: &MtlsScheduler,
) -> TestConsole {
    let bound = listener.local_addr().unwrap();
    let console = Console::new(config, bound).unwrap();
    let admin_link = console.bootstrap_link();
    let viewer_link = console.sign_in_link("vera", Role::Viewer, Duration::from_secs(60));
    let operator_link = console.sign_in_link("otto", Role::Operator, Duration::from_secs(60));
    let url = console.public_url().to_owned();
    let server = spawn_server_on(listener, move |listener, stop| {
        console.serve(listener, stop)
    });
    TestConsole {
        url,
        admin_link,
        viewer_link,
        operator_link,
        http: https_client(&scheduler.pki_dir),
        _server: server,
    }
}

impl TestConsole {
    /// Follows a sign-in link; returns the session cookie (`name=value`).
    pub async fn sign_in(&self, link: &str) -> String {
        let response = self.http.get(link).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = cookie_of(&response);
        assert!(opens_the_overview(&response.text().await.unwrap()));
        cookie
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.url));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.unwrap()
    }

    pub async fn page(&self, path: &str, cookie: &str) -> String {
        let response = self.get(path, Some(cookie)).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.unwrap()
    }

    pub async fn post(
        &self,
        path: &str,
        cookie: Option<&str>,
        csrf: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.http.post(format!("{}{path}", self.url));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let form: Vec<(&str, &str)> = csrf
            .map(|token| ("csrf_token", token))
            .into_iter()
            .collect();
        request.form(&form).send().await.unwrap()
    }
}

impl TestConsole {
    /// Posts a form with `fields` (the CSRF token among them, or not).
    pub async fn post_form(
        &self,
        path: &str,
        cookie: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .header("cookie", cookie)
            .form(fields)
            .send()
            .await
            .unwrap()
    }
}

pub fn csrf_token_in(page: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.find(marker).expect("a form with a csrf token") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// One part of a multipart form: name, file name (a file input) or none, bytes.
pub type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

/// Posts `parts` as `multipart/form-data`, as a browser sends a form with
/// a file input.
pub async fn post_multipart(
    console: &TestConsole,
    path: &str,
    cookie: &str,
    parts: &[Part<'_>],
) -> reqwest::Response {
    let boundary = "----galsync-test-7d1c0a";
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(file_name) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/x-pkcs12\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    console
        .http
        .post(format!("{}{path}", console.url))
        .header("cookie", cookie)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}
