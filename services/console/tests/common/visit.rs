//! A browser visiting the console in a browser test: Debian's headless
//! Chromium over WebDriver (`galsync_testkit::browser`) trusting the test
//! console's key, axe-core on every page checked, and screenshots under
//! `target/console-screenshots/<test name>/`.

use std::time::Duration;

use galsync_testkit::browser::axe::Axe;
use galsync_testkit::browser::{print_skip, spki_sha256_of_pem, target_dir, Browser};
use galsync_testkit::scheduler::MtlsScheduler;

use super::{spawn_console, TestConsole};

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
fn screenshot_dir(test_name: &str) -> std::path::PathBuf {
    target_dir().join("console-screenshots").join(test_name)
}

/// A browser trusting the console's certificate (its public key only), or
/// `None` after printing why the test skips.
pub async fn open_browser(test_name: &'static str, scheduler: &MtlsScheduler) -> Option<Visit> {
    // This run's screenshots only, not a previous run's.
    let _ = std::fs::remove_dir_all(screenshot_dir(test_name));
    let console_key = spki_sha256_of_pem(&scheduler.pki_dir.join("console.pem"));
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

/// What most tests start with: a scheduler with `mailboxes` target
/// mailboxes, a console in front of it, and a browser on the console.
pub struct Staged {
    pub scheduler: MtlsScheduler,
    pub console: TestConsole,
    pub visit: Visit,
}

/// [`Staged`], or `None` (the skip printed) without a browser.
pub async fn staged(test_name: &'static str, mailboxes: usize) -> Option<Staged> {
    let scheduler = MtlsScheduler::start(mailboxes, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let visit = open_browser(test_name, &scheduler).await?;
    Some(Staged {
        scheduler,
        console,
        visit,
    })
}

impl Visit {
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
}
