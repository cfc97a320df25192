//! The console's browser tests' start: a test console in front of a test
//! scheduler, and a browser visiting it (`galsync_testkit::browser::visit`).

use galsync_testkit::scheduler::MtlsScheduler;

pub use galsync_testkit::browser::visit::Visit;

use super::{spawn_console, TestConsole};

/// A browser trusting the test scheduler's console certificate, or `None`
/// after printing why the test skips.
pub async fn open_browser(test_name: &'static str, scheduler: &MtlsScheduler) -> Option<Visit> {
    Visit::open(test_name, &scheduler.pki_dir.join("console.pem")).await
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
