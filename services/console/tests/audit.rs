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

#[tokio::test]
async fn the_audit_log_filters_by_tenant_through_its_profiles_runs_and_keys() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let admin = console.sign_in(&console.admin_link).await;
    let other_tenant = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    let ours = scheduler.start_writing_run("phones", TENANT).await;
    let theirs = scheduler
        .start_writing_run("fabrikam-phones", other_tenant)
        .await;
    let page = console.page(&format!("/runs/{ours}"), &admin).await;
    let csrf = csrf_token_in(&page);
    for run_id in [&ours, &theirs] {
        let cancelled = console
            .post(&format!("/runs/{run_id}/cancel"), Some(&admin), Some(&csrf))
            .await;
        assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    }
    // 51 keys for our tenant between 51 for the other and one for all.
    let mut api = scheduler.api("cli");
    for index in 0..51 {
        for (tenant_id, name) in [(TENANT, "ours"), (other_tenant, "theirs")] {
            api.create_api_key(v1::CreateApiKeyRequest {
                name: format!("{name}-{index}"),
                role: v1::ApiRole::Viewer as i32,
                tenant_id: tenant_id.to_owned(),
            })
            .await
            .unwrap();
        }
    }
    api.create_api_key(v1::CreateApiKeyRequest {
        name: "everywhere".to_owned(),
        role: v1::ApiRole::Viewer as i32,
        tenant_id: String::new(),
    })
    .await
    .unwrap();

    let everything = console
        .page(&format!("/audit?tenant_id={TENANT}&action="), &admin)
        .await;
    assert!(
        everything.contains(&format!("value=\"{TENANT}\"")),
        "{everything}"
    );
    assert_eq!(rows(&everything), 50, "{everything}");
    assert!(!everything.contains("theirs-"), "{everything}");
    assert!(!everything.contains("everywhere"), "{everything}");

    let runs = console
        .page(
            &format!("/audit?tenant_id={TENANT}&action=run.cancel_requested"),
            &admin,
        )
        .await;
    assert_eq!(rows(&runs), 1, "{runs}");
    assert!(runs.contains(&format!("<td>{ours}</td>")), "{runs}");
    let started = console
        .page(
            &format!("/audit?tenant_id={TENANT}&action=run.started"),
            &admin,
        )
        .await;
    assert_eq!(rows(&started), 1, "{started}");
    let created = console
        .page(
            &format!("/audit?tenant_id={TENANT}&action=profile.created"),
            &admin,
        )
        .await;
    assert!(created.contains("<td>phones</td>"), "{created}");
    assert!(!created.contains("fabrikam-phones"), "{created}");

    // Our 51 keys: a page of 50, then the oldest, through the Older link.
    let keys = console
        .page(
            &format!("/audit?tenant_id={TENANT}&action=api_key.created"),
            &admin,
        )
        .await;
    assert_eq!(rows(&keys), 50, "{keys}");
    assert!(
        keys.contains(&format!("<td>ours-50 as viewer for tenant {TENANT}</td>")),
        "{keys}"
    );
    let older = keys
        .split("<a href=\"")
        .find(|rest| rest.starts_with("/audit?"))
        .and_then(|rest| rest.split('"').next())
        .expect("a link to older entries")
        .replace("&amp;", "&");
    assert!(older.contains(&format!("tenant_id={TENANT}")), "{older}");
    let second = console.page(&older, &admin).await;
    assert_eq!(rows(&second), 1, "{second}");
    assert!(
        second.contains("<td>ours-0 as viewer for tenant"),
        "{second}"
    );
}
