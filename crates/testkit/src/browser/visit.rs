//! A browser visiting the admin console in a browser test: Debian's
//! headless Chromium over WebDriver trusting the console's key, axe-core on
//! every page checked, and screenshots under
//! `target/console-screenshots/<test name>/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::axe::Axe;
use super::{print_skip, spki_sha256_of_pem, target_dir, Browser};

/// How long a page may take to show what the test waits for.
pub const PAGE_LIMIT: Duration = Duration::from_secs(15);

/// A browser on a console, the accessibility check, and where the test's
/// screenshots go.
pub struct Visit {
    pub browser: Browser,
    axe: Axe,
    test_name: &'static str,
}

/// `target/console-screenshots/<test_name>`.
fn screenshot_dir(test_name: &str) -> PathBuf {
    target_dir().join("console-screenshots").join(test_name)
}

impl Visit {
    /// A browser trusting the console whose certificate is `console_pem`
    /// (its public key only), or `None` after printing why the test skips
    /// (no browser, no axe-core). This run's screenshots only: a previous
    /// run's are removed.
    pub async fn open(test_name: &'static str, console_pem: &Path) -> Option<Visit> {
        let _ = std::fs::remove_dir_all(screenshot_dir(test_name));
        let console_key = spki_sha256_of_pem(console_pem);
        let browser = match Browser::start(&console_key).await {
            Ok(browser) => browser,
            Err(reason) => {
                print_skip(test_name, &reason);
                return None;
            }
        };
        match Axe::load() {
            Ok(axe) => Some(Visit {
                browser,
                axe,
                test_name,
            }),
            Err(reason) => {
                print_skip(test_name, &reason);
                None
            }
        }
    }

    /// Checks the page the browser shows with axe and saves its screenshot
    /// as `<page>.png`.
    pub async fn check(&self, page: &str) {
        let folder = screenshot_dir(self.test_name);
        self.browser
            .screenshot(&folder.join(format!("{page}.png")))
            .await;
        self.axe
            .assert_no_serious_violations(&self.browser, page)
            .await;
    }

    pub async fn sign_in(&self, link: &str) {
        self.browser.goto(link).await;
        self.browser
            .wait_for(
                "the overview after the sign-in link",
                "return location.pathname === '/' && document.querySelector('h1') !== null;",
                PAGE_LIMIT,
            )
            .await;
    }

    /// Clicks **Sign out** and waits for the sign-in page: a click does not
    /// wait for the navigation it starts, and a next `goto` could race it.
    pub async fn sign_out(&self) {
        self.browser.submit("form.who").await;
        self.browser
            .wait_for(
                "the sign-in page after sign-out",
                "return location.pathname === '/sign-in';",
                PAGE_LIMIT,
            )
            .await;
    }

    pub async fn heading(&self) -> String {
        self.browser.text_of("h1").await
    }

    /// Clicks **Sign in with Microsoft** on the sign-in page and waits for
    /// the overview: the console, Entra's authorize (another site), the
    /// console's callback, then `/`.
    pub async fn sign_in_with_microsoft(&self) {
        let button = self.browser.element("a[href=\"/auth/entra/start\"]").await;
        assert_eq!(self.browser.text(&button).await, "Sign in with Microsoft");
        self.browser.click(&button).await;
        self.browser
            .wait_for(
                "the overview after signing in with Microsoft",
                "return location.pathname === '/' && document.querySelector('h1') !== null;",
                PAGE_LIMIT,
            )
            .await;
    }

    /// On the tenant list: registers `tenant` as typed into the form and
    /// waits for its page.
    pub async fn register_tenant(&self, tenant: &TenantForm<'_>) {
        self.browser
            .execute(
                "document.getElementById('tenant-id').value = arguments[0]; \
                 document.getElementById('tenant-name').value = arguments[1]; \
                 document.getElementById('client-id').value = arguments[2]; \
                 document.getElementById('login-base').value = arguments[3]; \
                 document.getElementById('graph-base').value = arguments[3]; return null;",
                serde_json::json!([
                    tenant.tenant_id,
                    tenant.name,
                    tenant.client_id,
                    tenant.microsoft_base
                ]),
            )
            .await;
        self.browser.submit("form[action='/tenants']").await;
        self.browser
            .wait_for_text("h1", tenant.name, PAGE_LIMIT)
            .await;
    }

    /// On a tenant's page: makes its certificate and waits for the page
    /// that offers it.
    pub async fn make_certificate(&self) {
        self.browser.submit("form[action$='/certificates']").await;
        self.browser
            .wait_for_text("h1", "Certificate made", PAGE_LIMIT)
            .await;
    }

    /// The `.cer` the page offers (its `a[download]`), as the browser
    /// downloads it: DER bytes to upload to the app registration.
    pub async fn downloaded_cer(&self) -> Vec<u8> {
        use base64::Engine;
        let cer_base64 = self
            .browser
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 fetch(document.querySelector('a[download]').href) \
                   .then(response => response.arrayBuffer()) \
                   .then(bytes => done(btoa(String.fromCharCode(...new Uint8Array(bytes)))));",
                serde_json::json!([]),
            )
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(cer_base64.as_str().expect("the .cer as base64"))
            .expect("base64")
    }

    /// On the tenant's page at `tenant_page`: follows the admin-consent link
    /// to Entra and waits until the browser is back at the auth-broker's
    /// `callback`; then opens the tenant's page again.
    pub async fn give_consent(&self, tenant_page: &str, callback: &str) {
        self.browser.goto(tenant_page).await;
        let consent_link = self.browser.element("a[href$='/consent']").await;
        self.browser.click(&consent_link).await;
        self.wait_for_consent_callback(callback).await;
        self.browser.goto(tenant_page).await;
    }

    /// Waits until the admin consent that left for Entra is back at the
    /// auth-broker's `callback` page.
    pub async fn wait_for_consent_callback(&self, callback: &str) {
        self.browser
            .wait_for(
                "the broker's consent callback",
                &format!(
                    "return location.href.indexOf('{callback}') === 0 && \
                     document.readyState === 'complete';"
                ),
                PAGE_LIMIT,
            )
            .await;
    }

    /// On a tenant's page: runs Test Connection and gives the result page's text.
    pub async fn test_connection(&self) -> String {
        self.browser.submit("form[action$='/test']").await;
        self.browser
            .wait_for_text("h1", "Test connection", PAGE_LIMIT)
            .await;
        self.browser.text_of("main").await
    }
}

/// A tenant as an administrator types it into the console's form.
pub struct TenantForm<'a> {
    pub tenant_id: &'a str,
    pub name: &'a str,
    /// galsync's app registration in the tenant.
    pub client_id: &'a str,
    /// Where its sign-in and Graph are (the emulator in tests).
    pub microsoft_base: &'a str,
}
