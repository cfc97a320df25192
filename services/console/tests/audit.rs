//! The audit log page over real HTTPS in front of the mTLS scheduler
//! (tests/common): what the console did shows with the person's name,
//! filtered by a GET form, in pages.

mod common;

use common::{csrf_token_in, spawn_console};
use galsync_proto::v1;
use galsync_testkit::scheduler::{MtlsScheduler, TENANT};
use reqwest::StatusCode;

/// The rows of the page's table.
fn rows(page: &str) -> usize {
    page.split("<tbody>")
        .nth(1)
        .map_or(0, |body| body.matches("<tr>").count())
}

#[tokio::test]
async fn the_audit_log_names_the_person_filters_by_action_and_pages() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let admin = console.sign_in(&console.admin_link).await;
    let run_id = scheduler.start_writing_run("phones", TENANT).await;
    let page = console.page(&format!("/runs/{run_id}"), &admin).await;
    let cancelled = console
        .post(
            &format!("/runs/{run_id}/cancel"),
            Some(&admin),
            Some(&csrf_token_in(&page)),
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);

    let log = console.page("/audit", &admin).await;
    let cancel_row = log
        .split("<tr>")
        .find(|row| row.contains("run.cancel_requested"))
        .expect("the cancel in the log");
    assert!(
        cancel_row.contains("bootstrap-admin via urn:galsync:service:console"),
        "{cancel_row}"
    );
    assert!(cancel_row.contains(&run_id), "{cancel_row}");

    // 51 keys made by the CLI: a page of 50, then the oldest one.
    let mut api = scheduler.api("cli");
    for index in 0..51 {
        api.create_api_key(v1::CreateApiKeyRequest {
            name: format!("key-{index}"),
            role: v1::ApiRole::Viewer as i32,
            tenant_id: String::new(),
        })
        .await
        .unwrap();
    }
    let filtered = console
        .page("/audit?actor=&action=api_key.created", &admin)
        .await;
    assert!(filtered.contains("value=\"api_key.created\""), "{filtered}");
    assert_eq!(rows(&filtered), 50, "{filtered}");
    assert!(!filtered.contains("run.cancel_requested"), "{filtered}");
    assert!(
        filtered.contains("<td>key-50 as viewer for every tenant</td>"),
        "{filtered}"
    );
    let marker = "<a href=\"";
    let older = filtered
        .split(marker)
        .find(|rest| rest.starts_with("/audit?"))
        .and_then(|rest| rest.split('"').next())
        .expect("a link to older entries")
        .replace("&amp;", "&");
    let second = console.page(&older, &admin).await;
    assert_eq!(rows(&second), 1, "{second}");
    assert!(
        second.contains("<td>key-0 as viewer for every tenant</td>"),
        "{second}"
    );
    assert!(!second.contains("Older entries"), "{second}");

    let by_actor = console
        .page("/audit?actor=bootstrap-admin&action=", &admin)
        .await;
    assert!(by_actor.contains("run.cancel_requested"), "{by_actor}");
    assert!(!by_actor.contains("api_key.created"), "{by_actor}");
}

#[tokio::test]
async fn a_viewer_is_told_the_audit_log_needs_an_admin() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let viewer = console.sign_in(&console.viewer_link).await;
    let page = console.page("/audit", &viewer).await;
    assert!(page.contains("needs the admin role"), "{page}");
    assert!(!page.contains("<table>"), "{page}");
    let anonymous = console.get("/audit", None).await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
}
