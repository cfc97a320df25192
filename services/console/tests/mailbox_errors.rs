//! A mailbox that failed for good shows on its run's page with the
//! writer's plain words and the fix, as the contact-writer reported them.

mod common;

use std::time::Duration;

use common::spawn_console;
use galsync_console::html::escape;
use galsync_contact_writer::advice::OUTSIDE_EXCHANGE_SCOPE;
use galsync_proto::v1;
use galsync_testkit::scheduler::{MtlsScheduler, TENANT};

#[tokio::test]
async fn a_failed_mailbox_shows_the_writers_reason_and_fix_on_the_run_page() {
    let scheduler = MtlsScheduler::start(2, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let cookie = console.sign_in(&console.operator_link).await;
    let run_id = scheduler.start_writing_run("phones", TENANT).await;
    let succeeded = scheduler.complete_one_mailbox(7).await;
    let failed = scheduler
        .fail_one_mailbox(vec![OUTSIDE_EXCHANGE_SCOPE.to_owned()])
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while scheduler.run_state(&run_id).await == v1::RunState::Writing {
        assert!(std::time::Instant::now() < deadline, "the run never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let page = console.page(&format!("/runs/{run_id}"), &cookie).await;
    assert!(
        page.contains(&format!("<td>{succeeded}</td><td>succeeded</td>")),
        "{page}"
    );
    let failed_row = page
        .split(&format!("<tr><td>{failed}</td>"))
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .unwrap_or_else(|| panic!("no row for {failed}: {page}"));
    assert!(failed_row.starts_with("<td>failed</td>"), "{failed_row}");
    assert!(
        failed_row.contains(&format!(
            "<ul class=\"error\"><li>{}</li></ul>",
            escape(OUTSIDE_EXCHANGE_SCOPE)
        )),
        "the reason and its fix beside the mailbox: {failed_row}"
    );
    assert!(OUTSIDE_EXCHANGE_SCOPE.contains("; fix: "));
}
