//! The console in a real browser: Debian's headless Chromium over WebDriver
//! (`galsync_testkit::browser`), in front of the same in-process console
//! and mTLS scheduler as tests/console.rs. Every page visited is checked
//! with axe-core and photographed under
//! `target/console-screenshots/<test name>/`.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's
//! `chromium chromium-driver`), or without npm for axe-core, each test
//! prints `skipping <test>: <reason>` and passes.

mod common;

use std::time::Duration;

use common::entra::EntraTenant;
use common::visit::{open_browser, staged, Staged};
use common::{spawn_entra_console, TestConsole};
use galsync_proto::v1;
use galsync_testkit::browser::visit::PAGE_LIMIT;
use galsync_testkit::browser::Browser;
use galsync_testkit::scheduler::{MtlsScheduler, TENANT};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn an_admin_signs_in_with_the_link_and_watches_a_run_reach_its_end() {
    let test_name = "an_admin_signs_in_with_the_link_and_watches_a_run_reach_its_end";
    let Some(Staged {
        scheduler,
        console,
        visit,
    }) = staged(test_name, 3).await
    else {
        return;
    };
    let browser = &visit.browser;
    browser.goto(&format!("{}/", console.url)).await;
    assert!(browser.current_url().await.ends_with("/sign-in"));
    assert_eq!(visit.heading().await, "Sign in");
    visit.check("sign-in").await;

    let run_id = scheduler.start_writing_run("phones", TENANT).await;
    visit.sign_in(&console.admin_link).await;
    assert_eq!(visit.heading().await, "Overview");
    let overview = browser.text_of("main").await;
    assert!(overview.contains(TENANT), "{overview}");
    assert!(overview.contains("phones"), "{overview}");
    assert!(
        browser
            .text_of("header")
            .await
            .contains("bootstrap-admin (admin)"),
        "the header names the person"
    );
    visit.check("overview").await;
    browser.prefer_color_scheme("dark").await;
    visit.check("overview-dark").await;
    browser.prefer_color_scheme("light").await;

    let runs_link = browser.element("nav a[href='/runs']").await;
    browser.click(&runs_link).await;
    assert_eq!(visit.heading().await, "Runs");
    visit.check("runs").await;

    let run_link = browser.element(&format!("a[href='/runs/{run_id}']")).await;
    browser.click(&run_link).await;
    assert_eq!(visit.heading().await, format!("Run {run_id}"));
    assert_eq!(browser.text_of("#state").await, "writing");
    assert_eq!(browser.text_of("#mailboxes_done").await, "0");
    assert_eq!(browser.text_of("#mailboxes_total").await, "3");
    assert_eq!(
        browser.text_of("#eta").await,
        "estimate after the first mailbox"
    );

    // A mark on this very document: if it survives, the numbers below
    // changed live (server-sent events), not by a reload.
    browser
        .execute("window.galsyncSamePage = true; return null;", json!([]))
        .await;
    scheduler.complete_one_mailbox(7).await;
    browser
        .wait_for_text("#mailboxes_done", "1", PAGE_LIMIT)
        .await;
    assert_eq!(browser.text_of("#created").await, "7");
    // The estimate follows live: two mailboxes left, as long as the first.
    browser
        .wait_for(
            "an estimate of the time left",
            "return document.getElementById('eta').textContent.endsWith(' left');",
            PAGE_LIMIT,
        )
        .await;
    assert!(browser.text_of("#rate").await.ends_with(" contacts/s"));
    // The finished mailbox joins the list on the same page.
    browser
        .wait_for(
            "the finished mailbox in the list",
            "return document.querySelectorAll('#mailboxes tbody tr').length === 1;",
            PAGE_LIMIT,
        )
        .await;
    let same_page = browser
        .execute("return window.galsyncSamePage === true;", json!([]))
        .await;
    assert_eq!(same_page, json!(true), "the progress came live, no reload");
    visit.check("run-in-progress").await;
    browser.prefer_color_scheme("dark").await;
    visit.check("run-in-progress-dark").await;
    browser.prefer_color_scheme("light").await;

    scheduler.complete_one_mailbox(5).await;
    scheduler.complete_one_mailbox(4).await;
    browser
        .wait_for_text("#state", "succeeded", PAGE_LIMIT)
        .await;
    assert_eq!(browser.text_of("#mailboxes_done").await, "3");
    assert_eq!(browser.text_of("#created").await, "16");
    // The page reloaded once the run ended, for its per-mailbox results.
    let results = browser.text_of("table").await;
    assert_eq!(results.matches("succeeded").count(), 3, "{results}");
    assert!(browser.find("form[action$='/cancel']").await.is_none());
    visit.check("run-succeeded").await;
    visit.browser.quit().await;
}

#[tokio::test]
async fn a_viewer_cannot_cancel_and_an_operator_cancels_through_the_form() {
    let test_name = "a_viewer_cannot_cancel_and_an_operator_cancels_through_the_form";
    let Some(Staged {
        scheduler,
        console,
        visit,
    }) = staged(test_name, 2).await
    else {
        return;
    };
    let browser = &visit.browser;
    let run_id = scheduler.start_writing_run("phones", TENANT).await;
    let run_url = format!("{}/runs/{run_id}", console.url);

    visit.sign_in(&console.viewer_link).await;
    browser.goto(&run_url).await;
    assert!(browser.find("form[action$='/cancel']").await.is_none());
    let main = browser.text_of("main").await;
    assert!(!main.contains("Cancel run"), "{main}");
    assert!(main.contains("needs the operator role"), "{main}");
    visit.check("run-as-viewer").await;

    // The viewer's own session token in a hand-made Cancel form: refused.
    let forged_form = "var form = document.createElement('form'); \
        form.method = 'post'; form.action = arguments[0]; \
        var token = document.querySelector('input[name=csrf_token]').cloneNode(); \
        form.appendChild(token); document.body.appendChild(form); form.submit(); return null;";
    browser
        .execute(forged_form, json!([format!("/runs/{run_id}/cancel")]))
        .await;
    browser
        .wait_for(
            "the refusal page",
            "return document.querySelector('h1') !== null && \
             document.querySelector('h1').textContent === 'Not allowed';",
            PAGE_LIMIT,
        )
        .await;
    let refusal = browser.text_of("main").await;
    assert!(refusal.contains("needs the operator role"), "{refusal}");
    visit.check("cancel-refused").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(scheduler.run_state(&run_id).await, v1::RunState::Writing);

    visit.sign_out().await;
    visit.sign_in(&console.admin_link).await;
    browser.goto(&run_url).await;
    visit.check("run-before-cancel").await;
    browser.submit("form[action$='/cancel']").await;
    browser
        .wait_for_text("#state", "cancelled", PAGE_LIMIT)
        .await;
    assert!(browser.find("form[action$='/cancel']").await.is_none());
    assert_eq!(scheduler.run_state(&run_id).await, v1::RunState::Cancelled);
    visit.check("run-cancelled").await;
    visit.browser.quit().await;
}

#[tokio::test]
async fn sign_out_returns_to_sign_in_and_the_old_session_is_refused() {
    let test_name = "sign_out_returns_to_sign_in_and_the_old_session_is_refused";
    let Some(Staged {
        scheduler,
        console,
        visit,
    }) = staged(test_name, 1).await
    else {
        return;
    };
    let browser = &visit.browser;
    let run_id = scheduler.start_writing_run("phones", TENANT).await;
    visit.sign_in(&console.admin_link).await;
    let old_cookie = session_cookie(browser).await;
    visit.sign_out().await;
    assert_eq!(visit.heading().await, "Sign in");
    visit.check("signed-out").await;

    // The link worked once: following it again does not sign in.
    browser.goto(&console.admin_link).await;
    assert!(browser.text_of_page().await.contains("used already"));
    for path in ["/", "/runs", &format!("/runs/{run_id}")] {
        browser.goto(&format!("{}{path}", console.url)).await;
        assert!(
            browser.current_url().await.contains("/sign-in"),
            "GET {path} after sign-out"
        );
    }
    refused_everywhere(&console, &old_cookie, &run_id).await;
    visit.browser.quit().await;
}

#[tokio::test]
async fn a_person_in_the_admin_group_signs_in_with_microsoft() {
    let test_name = "a_person_in_the_admin_group_signs_in_with_microsoft";
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let mut tenant = EntraTenant::start().await;
    let console = spawn_entra_console(&scheduler, &mut tenant).await;
    let Some(visit) = open_browser(test_name, &scheduler).await else {
        return;
    };
    let browser = &visit.browser;
    let ada = tenant.person(
        "Ada Lovelace",
        "ada@contoso.example",
        Some(tenant.admin_group),
    );
    // The emulator's authorize signs in whoever its admin API names.
    tenant.browser_signs_in_as(&ada).await;

    browser.goto(&format!("{}/sign-in", console.url)).await;
    visit.check("sign-in-with-microsoft").await;
    visit.sign_in_with_microsoft().await;
    assert!(
        browser
            .text_of_page()
            .await
            .contains("ada@contoso.example (admin)"),
        "{}",
        browser.text_of_page().await
    );
    visit.check("overview-after-microsoft").await;
    visit.browser.quit().await;
}

/// The browser's session cookie, `name=value` (WebDriver sees HttpOnly ones).
async fn session_cookie(browser: &Browser) -> String {
    let name = galsync_console::SESSION_COOKIE;
    let cookie = browser.cookie(name).await;
    format!("{name}={cookie}")
}

/// Every page answers the signed-out session with a redirect to sign-in.
async fn refused_everywhere(console: &TestConsole, cookie: &str, run_id: &str) {
    for path in [
        "/".to_owned(),
        "/runs".to_owned(),
        format!("/runs/{run_id}"),
        format!("/runs/{run_id}/events"),
    ] {
        let response = console.get(&path, Some(cookie)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {path}");
        assert!(
            common::location(&response).starts_with("/sign-in"),
            "GET {path}"
        );
    }
}

#[tokio::test]
async fn an_admin_approves_held_deletions_and_manages_api_keys_through_the_forms() {
    let test_name = "an_admin_approves_held_deletions_and_manages_api_keys_through_the_forms";
    let Some(Staged {
        scheduler,
        console,
        visit,
    }) = staged(test_name, 1).await
    else {
        return;
    };
    let browser = &visit.browser;
    let (run_id, mailbox) = scheduler.run_awaiting_approval("phones", TENANT, 4).await;
    visit.sign_in(&console.admin_link).await;
    browser
        .goto(&format!("{}/runs/{run_id}", console.url))
        .await;
    assert_eq!(browser.text_of("#state").await, "awaiting_approval");
    let held = browser.text_of("#held-deletions").await;
    assert!(held.contains(&mailbox), "{held}");
    assert!(held.contains("held back 4 contact deletions"), "{held}");
    visit.check("run-awaiting-approval").await;
    browser.submit("form[action$='/approve']").await;
    browser.wait_for_text("#state", "writing", PAGE_LIMIT).await;
    assert!(browser.find("#held-deletions").await.is_none());
    assert_eq!(scheduler.run_state(&run_id).await, v1::RunState::Writing);
    visit.check("run-approved").await;

    let keys_link = browser.element("nav a[href='/api-keys']").await;
    browser.click(&keys_link).await;
    assert_eq!(visit.heading().await, "API keys");
    visit.check("api-keys-empty").await;
    browser
        .execute(
            "document.getElementById('key-name').value = 'hr-onboarding'; \
             document.getElementById('key-role').value = 'operator'; return null;",
            json!([]),
        )
        .await;
    browser.submit("form[action='/api-keys']").await;
    browser
        .wait_for(
            "the new key's page",
            "return document.querySelector('h1') !== null && \
             document.querySelector('h1').textContent === 'API key created';",
            PAGE_LIMIT,
        )
        .await;
    assert!(browser
        .text_of("main")
        .await
        .contains("it will not be shown again"));
    visit.check("api-key-created").await;
    browser.goto(&format!("{}/api-keys", console.url)).await;
    assert!(browser.text_of("table").await.contains("hr-onboarding"));
    visit.check("api-keys-listed").await;
    browser.submit("form[action$='/revoke']").await;
    browser
        .wait_for(
            "the list without a Revoke form",
            "return location.pathname === '/api-keys' && \
             document.querySelector('table') !== null && \
             document.querySelector(\"form[action$='/revoke']\") === null;",
            PAGE_LIMIT,
        )
        .await;
    visit.check("api-key-revoked").await;

    let audit_link = browser.element("nav a[href='/audit']").await;
    browser.click(&audit_link).await;
    assert_eq!(visit.heading().await, "Audit log");
    let log = browser.text_of("table").await;
    for action in [
        "run.deletions_approved",
        "api_key.created",
        "api_key.revoked",
    ] {
        assert!(log.contains(action), "{action} missing: {log}");
    }
    visit.check("audit-log").await;
    visit.browser.quit().await;
}

/// A page left open on a run awaiting approval follows someone else's
/// approval (here through the API, as `galsync approve` does): it
/// reloads by itself to the run writing again, without its held deletes.
#[tokio::test]
async fn a_page_awaiting_approval_follows_an_approval_given_elsewhere() {
    let test_name = "a_page_awaiting_approval_follows_an_approval_given_elsewhere";
    let Some(Staged {
        scheduler,
        console,
        visit,
    }) = staged(test_name, 1).await
    else {
        return;
    };
    let browser = &visit.browser;
    let (run_id, _) = scheduler.run_awaiting_approval("phones", TENANT, 4).await;
    visit.sign_in(&console.admin_link).await;
    browser
        .goto(&format!("{}/runs/{run_id}", console.url))
        .await;
    assert_eq!(browser.text_of("#state").await, "awaiting_approval");
    assert!(browser.find("#held-deletions").await.is_some());

    scheduler
        .api("cli")
        .approve_deletions(v1::ApproveDeletionsRequest {
            run_id: run_id.clone(),
        })
        .await
        .expect("ApproveDeletions as the CLI");
    browser
        .wait_for(
            "the page to reload to the approved run",
            "return document.getElementById('held-deletions') === null && \
             document.getElementById('state') !== null && \
             document.getElementById('state').textContent === 'writing';",
            PAGE_LIMIT,
        )
        .await;
    assert!(browser.find("form[action$='/cancel']").await.is_some());
    visit.check("run-approved-elsewhere").await;
    visit.browser.quit().await;
}

#[tokio::test]
async fn an_admin_creates_a_profile_explains_it_and_starts_a_dry_run() {
    let test_name = "an_admin_creates_a_profile_explains_it_and_starts_a_dry_run";
    let Some(Staged {
        scheduler,
        console,
        visit,
    }) = staged(test_name, 1).await
    else {
        return;
    };
    let browser = &visit.browser;
    visit.sign_in(&console.admin_link).await;
    let profiles_link = browser.element("nav a[href='/profiles']").await;
    browser.click(&profiles_link).await;
    assert_eq!(visit.heading().await, "Profiles");
    visit.check("profiles-empty").await;
    let new_link = browser.element("a[href='/profiles/new']").await;
    browser.click(&new_link).await;
    assert_eq!(visit.heading().await, "New profile");
    visit.check("profile-new").await;
    // No name: the scheduler's refusal shows beside the Name field.
    browser
        .execute(
            "document.getElementById('name').removeAttribute('required'); \
             document.getElementById('tenant_id').value = arguments[0]; \
             document.getElementById('targets_all').checked = true; \
             document.getElementById('folder_name').value = 'Phone book'; return null;",
            json!([TENANT]),
        )
        .await;
    browser.submit("form[action='/profiles/new']").await;
    browser
        .wait_for(
            "the field error",
            "return document.getElementById('name-error') !== null;",
            PAGE_LIMIT,
        )
        .await;
    assert!(browser.text_of("#name-error").await.contains("is empty"));
    visit.check("profile-new-field-error").await;
    // A rule line the console cannot read comes back beside its text area,
    // as typed.
    browser
        .execute(
            "document.getElementById('name').value = 'phones'; \
             document.getElementById('exclude_where').value = 'department Interns'; return null;",
            json!([]),
        )
        .await;
    browser.submit("form[action='/profiles/new']").await;
    browser
        .wait_for(
            "the rule's error",
            "return document.getElementById('exclude_where-error') !== null;",
            PAGE_LIMIT,
        )
        .await;
    assert!(browser
        .text_of("#exclude_where-error")
        .await
        .starts_with("line 1, \"department Interns\", is not"));
    let typed = browser
        .execute(
            "return document.getElementById('exclude_where').value;",
            json!([]),
        )
        .await;
    assert_eq!(typed, json!("department Interns"));
    visit.check("profile-new-rule-error").await;
    browser
        .execute(
            "document.getElementById('exclude_where').value = 'department=Interns'; \
             document.getElementById('target_include_where').value = 'country=NO, SE'; return null;",
            json!([]),
        )
        .await;
    browser.submit("form[action='/profiles/new']").await;
    browser
        .wait_for(
            "the profile's page",
            "return document.querySelector('h1') !== null && \
             document.querySelector('h1').textContent === 'Profile phones';",
            PAGE_LIMIT,
        )
        .await;
    let profile = browser.text_of("main").await;
    assert!(profile.contains("Phone book"), "{profile}");
    assert!(
        profile.contains("Only mailboxes of users where\ncountry=NO,SE"),
        "the targets' rule as the editor writes it: {profile}"
    );
    visit.check("profile").await;
    // The editor of a saved profile, as its Edit link opens it.
    let profile_url = browser.current_url().await;
    browser.goto(&format!("{profile_url}/edit")).await;
    assert_eq!(visit.heading().await, "Edit profile phones");
    visit.check("profile-edit").await;
    browser.goto(&profile_url).await;
    let explain_link = browser.element("a[href$='/explain']").await;
    browser.click(&explain_link).await;
    assert_eq!(visit.heading().await, "Explain phones");
    assert!(browser
        .text_of("main")
        .await
        .contains("1 target mailboxes resolve."));
    let explained = browser.text_of("main").await;
    assert!(
        explained.contains("8 of 10 users read are kept.")
            && explained.contains("exclude department in (Interns)"),
        "{explained}"
    );
    visit.check("profile-explain").await;
    browser
        .execute("history.back(); return null;", json!([]))
        .await;
    browser
        .wait_for(
            "the profile's page again",
            "return document.querySelector(\"form[action$='/dry-run']\") !== null;",
            PAGE_LIMIT,
        )
        .await;
    browser.submit("form[action$='/dry-run']").await;
    browser
        .wait_for(
            "the dry run's page",
            "return location.pathname.indexOf('/runs/') === 0 && document.getElementById('plan') !== null;",
            PAGE_LIMIT,
        )
        .await;
    let run_path = browser
        .execute("return location.pathname;", json!([]))
        .await;
    let run_id = run_path
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("/runs/")
        .to_owned();
    let change = v1::PlannedChange {
        action: v1::planned_change::Action::Create as i32,
        source_object_id: "user-1".to_owned(),
        display_name: "Ada Lovelace".to_owned(),
        changes: Vec::new(),
    };
    scheduler.plan_one_mailbox(vec![change]).await;
    browser
        .wait_for_text("#state", "succeeded", PAGE_LIMIT)
        .await;
    assert_eq!(scheduler.run_state(&run_id).await, v1::RunState::Succeeded);
    assert!(browser.text_of("#plan").await.contains("Ada Lovelace"));
    visit.check("dry-run-plan").await;
    visit.browser.quit().await;
}

/// Keyboard alone: from the overview to a run and its Cancel, with Tab and
/// Enter, focus visible on the way. A phone: every page fits its width (wide
/// tables scroll inside their box, the page never sideways) and passes axe.
#[tokio::test]
async fn the_console_works_with_the_keyboard_alone_and_on_a_phone() {
    use galsync_testkit::browser::KEY_ENTER;
    let test_name = "the_console_works_with_the_keyboard_alone_and_on_a_phone";
    let Some(Staged {
        scheduler,
        console,
        visit,
    }) = staged(test_name, 2).await
    else {
        return;
    };
    let browser = &visit.browser;
    let run_id = scheduler.start_writing_run("phones", TENANT).await;
    scheduler.complete_one_mailbox(5).await;
    visit.sign_in(&console.admin_link).await;

    assert!(
        browser.tab_to("nav a[href='/runs']", 20).await,
        "Tab never reached Runs"
    );
    let outline = browser
        .execute(
            "return getComputedStyle(document.activeElement).outlineStyle;",
            json!([]),
        )
        .await;
    assert_eq!(outline, json!("solid"), "the focused link shows its focus");
    browser.press(KEY_ENTER).await;
    browser.wait_for_text("h1", "Runs", PAGE_LIMIT).await;
    let run_link = format!("a[href='/runs/{run_id}']");
    assert!(
        browser.tab_to(&run_link, 30).await,
        "Tab never reached the run"
    );
    browser.press(KEY_ENTER).await;
    browser
        .wait_for_text("h1", &format!("Run {run_id}"), PAGE_LIMIT)
        .await;
    assert!(
        browser.tab_to("form[action$='/cancel'] button", 30).await,
        "Tab never reached Cancel run"
    );
    browser.press(KEY_ENTER).await;
    browser
        .wait_for(
            "the run cancelled by the keyboard",
            "return document.getElementById('state') !== null && \
             document.getElementById('state').textContent === 'cancelled';",
            PAGE_LIMIT,
        )
        .await;

    browser.emulate_phone().await;
    for (path, page) in [
        ("/".to_owned(), "phone-overview"),
        ("/runs".to_owned(), "phone-runs"),
        (format!("/runs/{run_id}"), "phone-run"),
        ("/profiles".to_owned(), "phone-profiles"),
        ("/profiles/new".to_owned(), "phone-profile-editor"),
        ("/api-keys".to_owned(), "phone-api-keys"),
    ] {
        browser.goto(&format!("{}{path}", console.url)).await;
        assert!(
            !browser.scrolls_sideways().await,
            "{path} scrolls sideways on a phone"
        );
        visit.check(page).await;
    }
    visit.browser.quit().await;
}
