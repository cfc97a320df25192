//! The console over real HTTPS, in front of a real scheduler over mTLS
//! (crates/testkit's `MtlsScheduler`, a stand-in directory, no writer: the
//! test completes mailboxes itself).

mod common;

use std::time::Duration;

use common::{csrf_token_in, location, spawn_console};
use galsync_console::{CONTENT_SECURITY_POLICY, SESSION_COOKIE};
use galsync_proto::v1;
use galsync_testkit::scheduler::{profile_spec, MtlsScheduler, TENANT};
use reqwest::header::{CONTENT_SECURITY_POLICY as CSP, SET_COOKIE};
use reqwest::StatusCode;

#[tokio::test]
async fn anonymous_requests_are_sent_to_sign_in_and_every_response_has_the_csp() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    for path in [
        "/",
        "/runs",
        "/runs/some-run",
        "/runs/some-run/events",
        "/api-keys",
    ] {
        let response = console.get(path, None).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {path}");
        assert_eq!(location(&response), "/sign-in", "GET {path}");
        assert_eq!(response.headers()[CSP], CONTENT_SECURITY_POLICY);
    }
    for path in [
        "/runs/some-run/cancel",
        "/runs/some-run/approve",
        "/sign-out",
    ] {
        let response = console.post(path, None, Some("anything")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "POST {path}");
        assert_eq!(location(&response), "/sign-in", "POST {path}");
    }
    let forged_cookie = format!("{SESSION_COOKIE}=not-a-session");
    let response = console.get("/", Some(&forged_cookie)).await;
    assert!(location(&response).starts_with("/sign-in"));
    let sign_in = console.get("/sign-in", None).await;
    assert_eq!(sign_in.status(), StatusCode::OK);
    assert_eq!(sign_in.headers()[CSP], CONTENT_SECURITY_POLICY);
    assert!(sign_in
        .text()
        .await
        .unwrap()
        .contains("one-time administrator link"));
    let stylesheet = console.get("/assets/console.css", None).await;
    assert_eq!(stylesheet.status(), StatusCode::OK);
    assert_eq!(stylesheet.headers()[CSP], CONTENT_SECURITY_POLICY);
}

#[tokio::test]
async fn the_bootstrap_link_signs_in_once_with_a_strict_cookie() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let first = console.http.get(&console.admin_link).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let set_cookie = first.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(common::opens_the_overview(&first.text().await.unwrap()));
    assert!(
        set_cookie.starts_with(&format!("{SESSION_COOKIE}=")),
        "{set_cookie}"
    );
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(flag), "{flag} missing: {set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let overview = console.page("/", &cookie).await;
    assert!(overview.contains("bootstrap-admin (admin)"), "{overview}");

    let again = console.http.get(&console.admin_link).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    assert!(again.headers().get(SET_COOKIE).is_none());
    assert!(again.text().await.unwrap().contains("used already"));
}

#[tokio::test]
async fn the_overview_lists_a_tenant_created_through_the_api_with_its_last_run() {
    let scheduler = MtlsScheduler::start(2, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let cookie = console.sign_in(&console.admin_link).await;
    let empty = console.page("/", &cookie).await;
    assert!(empty.contains("No tenant yet"));

    let run_id = scheduler.start_writing_run("phones", TENANT).await;
    let overview = console.page("/", &cookie).await;
    assert!(overview.contains(TENANT), "{overview}");
    assert!(overview.contains("phones"));
    assert!(
        overview.contains(&format!("href=\"/runs/{run_id}\">writing</a>")),
        "{overview}"
    );
    let runs = console.page("/runs", &cookie).await;
    assert!(runs.contains(&run_id));
    assert!(runs.contains("<td>0 / 2</td>"), "{runs}");
}

#[tokio::test]
async fn the_run_page_shows_progress_and_cancel_needs_the_sessions_csrf_token() {
    let scheduler = MtlsScheduler::start(3, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let cookie = console.sign_in(&console.admin_link).await;
    let run_id = scheduler.start_writing_run("phones", TENANT).await;
    let mailbox = scheduler.complete_one_mailbox(7).await;

    let page = console.page(&format!("/runs/{run_id}"), &cookie).await;
    assert!(
        page.contains(
            "<span id=\"mailboxes_done\">1</span> / <span id=\"mailboxes_total\">3</span>"
        ),
        "{page}"
    );
    assert!(
        page.contains("<span id=\"created\">7</span> created"),
        "{page}"
    );
    assert!(
        page.contains(&format!("<td>{mailbox}</td><td>succeeded</td>")),
        "{page}"
    );
    // The pace: contacts a second since the run started, and the time left
    // if the two mailboxes still to do take as long as the one done.
    let eta = page
        .split("<span id=\"eta\">")
        .nth(1)
        .and_then(|rest| rest.split("</span>").next())
        .unwrap_or_default();
    assert!(
        eta.starts_with("about ") && eta.ends_with(" left"),
        "{eta}: {page}"
    );
    assert!(page.contains(" contacts/s</span>"), "{page}");
    assert!(
        page.contains("http-equiv=\"refresh\""),
        "no refresh without script"
    );
    let events = console
        .get(&format!("/runs/{run_id}/events"), Some(&cookie))
        .await;
    assert_eq!(events.status(), StatusCode::OK);
    let mut events = events;
    let first = events.chunk().await.unwrap().expect("a first event");
    let first = String::from_utf8_lossy(&first);
    assert!(first.contains("event: progress"), "{first}");
    assert!(
        first.contains("\"mailboxes_done\":1,\"mailboxes_total\":3,\"created\":7"),
        "{first}"
    );
    assert!(first.contains("\"eta\":\"about "), "{first}");
    drop(events);

    let cancel = format!("/runs/{run_id}/cancel");
    let forged = console
        .post(&cancel, Some(&cookie), Some("forged-token"))
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let missing = console.post(&cancel, Some(&cookie), None).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(scheduler.run_state(&run_id).await, v1::RunState::Writing);

    let token = csrf_token_in(&page);
    let accepted = console.post(&cancel, Some(&cookie), Some(&token)).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&accepted), format!("/runs/{run_id}"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while scheduler.run_state(&run_id).await != v1::RunState::Cancelled {
        assert!(
            std::time::Instant::now() < deadline,
            "the run was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let audit = scheduler.store.list_audit(20).await.unwrap();
    let cancel_entry = audit
        .iter()
        .find(|(_, _, action, target, _)| action == "run.cancel_requested" && target == &run_id)
        .expect("the cancel is audited");
    assert_eq!(
        cancel_entry.1,
        "bootstrap-admin via urn:galsync:service:console"
    );
}

#[tokio::test]
async fn a_viewer_cannot_cancel_and_the_scheduler_caps_the_console_at_the_persons_role() {
    let scheduler = MtlsScheduler::start(2, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let cookie = console.sign_in(&console.viewer_link).await;
    let run_id = scheduler.start_writing_run("phones", TENANT).await;
    let page = console.page(&format!("/runs/{run_id}"), &cookie).await;
    assert!(page.contains("needs the operator role"));
    assert!(!page.contains("Cancel run"));
    let token = csrf_token_in(&page);
    let refused = console
        .post(
            &format!("/runs/{run_id}/cancel"),
            Some(&cookie),
            Some(&token),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(scheduler.run_state(&run_id).await, v1::RunState::Writing);

    // The scheduler itself refuses the console a viewer's cancel.
    let mut as_console = scheduler.api("console");
    let mut request = tonic::Request::new(v1::CancelRunRequest {
        run_id: run_id.clone(),
    });
    request
        .metadata_mut()
        .insert("x-galsync-on-behalf-of", "vera".parse().unwrap());
    request
        .metadata_mut()
        .insert("x-galsync-on-behalf-of-role", "viewer".parse().unwrap());
    let status = as_console.cancel_run(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    assert!(
        status
            .message()
            .contains("vera via urn:galsync:service:console has role viewer"),
        "{status:?}"
    );
}

#[tokio::test]
async fn only_the_console_identity_may_act_on_behalf_of_a_person_and_never_above_its_own_role() {
    let scheduler = MtlsScheduler::start(1, &["cli=admin", "console=operator"]).await;
    let on_behalf = |role: &str| {
        let mut request = tonic::Request::new(v1::ListProfilesRequest::default());
        request
            .metadata_mut()
            .insert("x-galsync-on-behalf-of", "ada".parse().unwrap());
        request
            .metadata_mut()
            .insert("x-galsync-on-behalf-of-role", role.parse().unwrap());
        request
    };
    let status = scheduler
        .api("cli")
        .list_profiles(on_behalf("viewer"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert!(
        status
            .message()
            .contains("only the console identity console may"),
        "{status:?}"
    );

    let status = scheduler
        .api("console")
        .list_profiles(v1::ListProfilesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert!(
        status
            .message()
            .contains("only on behalf of a signed-in person"),
        "{status:?}"
    );

    scheduler
        .api("console")
        .list_profiles(on_behalf("admin"))
        .await
        .unwrap();
    let mut create = tonic::Request::new(v1::CreateProfileRequest {
        spec: Some(profile_spec("phones", TENANT)),
    });
    create
        .metadata_mut()
        .insert("x-galsync-on-behalf-of", "ada".parse().unwrap());
    create
        .metadata_mut()
        .insert("x-galsync-on-behalf-of-role", "admin".parse().unwrap());
    let status = scheduler
        .api("console")
        .create_profile(create)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert!(
        status
            .message()
            .contains("has role operator; this needs admin"),
        "{status:?}"
    );
}

#[tokio::test]
async fn an_idle_session_is_sent_to_sign_in_and_sign_out_ends_it() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let idle_console = spawn_console(&scheduler, 1).await;
    let cookie = idle_console.sign_in(&idle_console.admin_link).await;
    idle_console.page("/", &cookie).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let expired = idle_console.get("/", Some(&cookie)).await;
    assert_eq!(expired.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&expired), "/sign-in?ended=1");

    let console = spawn_console(&scheduler, 1800).await;
    let cookie = console.sign_in(&console.admin_link).await;
    let page = console.page("/runs", &cookie).await;
    let forged = console
        .post("/sign-out", Some(&cookie), Some("forged"))
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let signed_out = console
        .post("/sign-out", Some(&cookie), Some(&csrf_token_in(&page)))
        .await;
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    assert!(signed_out.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = console.get("/", Some(&cookie)).await;
    assert!(location(&after).starts_with("/sign-in"));
}

#[tokio::test]
async fn the_overview_shows_a_last_run_older_than_the_recent_runs_listed() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let cookie = console.sign_in(&console.admin_link).await;
    let old_run = scheduler.start_writing_run("phones", TENANT).await;
    // 50 newer runs of another tenant's profiles push it out of ListRuns' 50.
    let other_tenant = "0d7d3b0c-2a11-4c36-9a53-6f1d2f8c4f7a";
    let mut api = scheduler.api("cli");
    for index in 0..50 {
        let spec = profile_spec(&format!("other-{index}"), other_tenant);
        let profile = api
            .create_profile(v1::CreateProfileRequest { spec: Some(spec) })
            .await
            .unwrap()
            .into_inner();
        api.run_profile(v1::RunProfileRequest {
            profile_id: profile.profile_id,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let overview = console.page("/", &cookie).await;
    let tenant_row = overview
        .split("<tr>")
        .find(|row| row.contains(TENANT))
        .expect("a row for the tenant");
    assert!(
        tenant_row.contains(&format!("href=\"/runs/{old_run}\"")),
        "{tenant_row}"
    );
}

#[tokio::test]
async fn a_runs_event_stream_ends_with_its_session() {
    let scheduler = MtlsScheduler::start(2, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let cookie = console.sign_in(&console.admin_link).await;
    let run_id = scheduler.start_writing_run("phones", TENANT).await;
    let page = console.page(&format!("/runs/{run_id}"), &cookie).await;
    let mut events = console
        .get(&format!("/runs/{run_id}/events"), Some(&cookie))
        .await;
    let first = events.chunk().await.unwrap().expect("a first event");
    assert!(String::from_utf8_lossy(&first).contains("\"mailboxes_done\":0"));
    let signed_out = console
        .post("/sign-out", Some(&cookie), Some(&csrf_token_in(&page)))
        .await;
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    scheduler.complete_one_mailbox(3).await;
    let rest = tokio::time::timeout(Duration::from_secs(10), async {
        let mut rest = String::new();
        while let Some(chunk) = events.chunk().await.unwrap() {
            rest.push_str(&String::from_utf8_lossy(&chunk));
        }
        rest
    })
    .await
    .expect("the stream ended");
    assert!(!rest.contains("\"mailboxes_done\":1"), "{rest}");
}

/// Waits up to 10 s for `run_id` to reach `expected`.
async fn wait_for_state(scheduler: &MtlsScheduler, run_id: &str, expected: v1::RunState) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while scheduler.run_state(run_id).await != expected {
        assert!(
            std::time::Instant::now() < deadline,
            "run {run_id} did not reach {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn held_deletions_show_per_mailbox_and_an_operator_approves_them_with_the_form() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let (run_id, mailbox) = scheduler.run_awaiting_approval("phones", TENANT, 4).await;
    let run_page = format!("/runs/{run_id}");
    let approve = format!("/runs/{run_id}/approve");

    let viewer = console.sign_in(&console.viewer_link).await;
    let page = console.page(&run_page, &viewer).await;
    assert!(page.contains("Deletions held for approval"), "{page}");
    assert!(
        page.contains(&format!("<td>{mailbox}</td><td>4</td>")),
        "{page}"
    );
    // Which contacts approving deletes, as the writer listed them.
    assert!(page.contains("Contacts that approving deletes"), "{page}");
    for index in 1..=4 {
        assert!(
            page.contains(&format!(
                "<td>{mailbox}</td><td>Held Person {index}</td><td><code>held-user-{index}</code></td>"
            )),
            "{page}"
        );
    }
    assert!(!page.contains("Approve deletions"), "{page}");
    assert!(page.contains("needs the operator role"), "{page}");
    let refused = console
        .post(&approve, Some(&viewer), Some(&csrf_token_in(&page)))
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let admin = console.sign_in(&console.admin_link).await;
    let page = console.page(&run_page, &admin).await;
    assert!(page.contains("held back <strong>4</strong>"), "{page}");
    assert!(page.contains("Approve deletions"), "{page}");
    assert!(page.contains("Reject (cancel the run)"), "{page}");
    let forged = console
        .post(&approve, Some(&admin), Some("forged-token"))
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let missing = console.post(&approve, Some(&admin), None).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        scheduler.run_state(&run_id).await,
        v1::RunState::AwaitingApproval
    );

    let approved = console
        .post(&approve, Some(&admin), Some(&csrf_token_in(&page)))
        .await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&approved), run_page);
    assert_eq!(scheduler.run_state(&run_id).await, v1::RunState::Writing);
    let page = console.page(&run_page, &admin).await;
    assert!(
        page.contains("<strong id=\"state\">writing</strong>"),
        "{page}"
    );
    assert!(!page.contains("Approve deletions"), "{page}");
    // The run proceeds: the writer gets the mailbox again and finishes it.
    scheduler.complete_one_mailbox(0).await;
    wait_for_state(&scheduler, &run_id, v1::RunState::Succeeded).await;

    // Approving twice is the scheduler's refusal, shown as such.
    let again = console
        .post(&approve, Some(&admin), Some(&csrf_token_in(&page)))
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("not awaiting approval"));
    let audit = scheduler.store.list_audit(20).await.unwrap();
    assert!(audit.iter().any(
        |(_, actor, action, target, _)| action == "run.deletions_approved"
            && target == &run_id
            && actor == "bootstrap-admin via urn:galsync:service:console"
    ));
}

#[tokio::test]
async fn rejecting_held_deletions_cancels_the_run() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let (run_id, _) = scheduler.run_awaiting_approval("phones", TENANT, 2).await;
    let admin = console.sign_in(&console.admin_link).await;
    let page = console.page(&format!("/runs/{run_id}"), &admin).await;
    let rejected = console
        .post(
            &format!("/runs/{run_id}/cancel"),
            Some(&admin),
            Some(&csrf_token_in(&page)),
        )
        .await;
    assert_eq!(rejected.status(), StatusCode::SEE_OTHER);
    wait_for_state(&scheduler, &run_id, v1::RunState::Cancelled).await;
    let page = console.page(&format!("/runs/{run_id}"), &admin).await;
    assert!(
        page.contains("<strong id=\"state\">cancelled</strong>"),
        "{page}"
    );
    assert!(!page.contains("Approve deletions"), "{page}");
}

#[tokio::test]
async fn an_admin_creates_an_api_key_sees_its_secret_once_and_revokes_it() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let admin = console.sign_in(&console.admin_link).await;
    let page = console.page("/api-keys", &admin).await;
    assert!(page.contains("No API key yet."), "{page}");
    let token = csrf_token_in(&page);

    let forged = console
        .post_form(
            "/api-keys",
            &admin,
            &[("csrf_token", "forged"), ("name", "hr"), ("role", "viewer")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let invalid = console
        .post_form(
            "/api-keys",
            &admin,
            &[("csrf_token", &token), ("name", "hr"), ("role", "nobody")],
        )
        .await;
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    let invalid = invalid.text().await.unwrap();
    assert!(invalid.contains("id=\"create-error\""), "{invalid}");
    assert!(invalid.contains("VIEWER, OPERATOR or ADMIN"), "{invalid}");

    let created = console
        .post_form(
            "/api-keys",
            &admin,
            &[
                ("csrf_token", &token),
                ("name", "hr-onboarding"),
                ("role", "operator"),
                ("tenant_id", ""),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let created = created.text().await.unwrap();
    assert!(created.contains("it will not be shown again"), "{created}");
    let keys = scheduler
        .api("cli")
        .list_api_keys(v1::ListApiKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key.name, "hr-onboarding");
    assert_eq!(key.role, v1::ApiRole::Operator as i32);
    assert_eq!(
        key.created_by,
        "bootstrap-admin via urn:galsync:service:console"
    );
    let secret_marker = "id=\"secret\" class=\"secret\" readonly size=\"60\" value=\"";
    let secret_start = created.find(secret_marker).expect("the secret") + secret_marker.len();
    let secret = created[secret_start..].split('"').next().unwrap();
    assert!(secret.len() > 20, "{secret}");

    let listed = console.page("/api-keys", &admin).await;
    assert!(listed.contains("hr-onboarding"), "{listed}");
    assert!(!listed.contains(secret), "the list never shows the secret");
    let revoke = format!("/api-keys/{}/revoke", key.key_id);
    let forged = console.post(&revoke, Some(&admin), Some("forged")).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let revoked = console.post(&revoke, Some(&admin), Some(&token)).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&revoked), "/api-keys");
    let listed = console.page("/api-keys", &admin).await;
    assert!(!listed.contains(&revoke), "{listed}");
    let keys = scheduler
        .api("cli")
        .list_api_keys(v1::ListApiKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert!(keys[0].revoked_at.is_some());
}

#[tokio::test]
async fn a_viewer_sees_that_api_keys_need_an_admin_and_cannot_create_one() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let viewer = console.sign_in(&console.viewer_link).await;
    let page = console.page("/api-keys", &viewer).await;
    assert!(page.contains("needs the admin role"), "{page}");
    assert!(!page.contains("Create key"), "{page}");
    let refused = console
        .post_form(
            "/api-keys",
            &viewer,
            &[
                ("csrf_token", &csrf_token_in(&page)),
                ("name", "hr"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let keys = scheduler
        .api("cli")
        .list_api_keys(v1::ListApiKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert!(keys.is_empty());
}
