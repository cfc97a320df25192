//! A person signed in to a running admin console over HTTPS through a
//! one-time link, for tests that start the console as its own process
//! (`galsync up`, `galsync demo --console`, the process cluster's console).

use std::path::Path;
use std::time::Duration;

/// A client trusting only the PKI's CA at `ca_pem`, following no redirect.
pub fn https_client(ca_pem: &Path) -> reqwest::Client {
    let ca = std::fs::read(ca_pem)
        .unwrap_or_else(|error| panic!("failed to read {}: {error}", ca_pem.display()));
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
    /// Follows `link` once with a client trusting `ca_pem`; the console
    /// answers 200 with the session cookie.
    pub async fn sign_in(link: &str, ca_pem: &Path) -> ConsoleSession {
        let http = https_client(ca_pem);
        let first = http.get(link).send().await.expect("the console answers");
        assert_eq!(first.status(), reqwest::StatusCode::OK);
        let cookie = first.headers()["set-cookie"]
            .to_str()
            .expect("an ASCII cookie")
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        ConsoleSession {
            http,
            base: console_url_of(link),
            cookie,
        }
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

/// The console's URL a sign-in link lies under.
pub fn console_url_of(link: &str) -> String {
    link.split("/sign-in/")
        .next()
        .unwrap_or_default()
        .to_owned()
}
