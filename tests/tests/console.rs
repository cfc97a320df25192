//! The admin console in front of the real services: `galsync-console` as its
//! own process beside the cluster, its pages showing what the scheduler,
//! the directory-reader and the emulated tenant say.

use std::time::{Duration, Instant};

use galsync_console::html::escape;
use galsync_e2e::{binaries, spawn_cluster, Cluster, ClusterSpec, Process};
use galsync_proto::v1;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use galsync_testkit::browser::{self, axe::Axe, Browser};
use galsync_testkit::console_session::{console_url_of, ConsoleSession};
use serde_json::json;
use v1::attribute_rule::Operator;

/// `galsync-console` as its own process in front of the cluster's scheduler
/// and auth-broker, with the cluster's PKI; gives it and the one-time
/// administrator link it printed.
fn start_console(cluster: &Cluster) -> (Process, String) {
    let process = Process::start(
        "console",
        binaries::path("galsync-console"),
        vec![
            "--listen".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--pki-dir".to_owned(),
            cluster.pki_dir.display().to_string(),
            "--scheduler-url".to_owned(),
            cluster.scheduler.url(),
            "--broker-url".to_owned(),
            cluster.broker.url(),
        ],
        cluster.dir(),
    );
    let marker = "one-time administrator sign-in link";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = process.log_lines_with(marker, 1);
        if let Some(link) = line.split_whitespace().last().filter(|_| !line.is_empty()) {
            return (process, link.to_owned());
        }
        assert!(
            Instant::now() < deadline,
            "the console printed no link in 30 s:\n{}",
            process.log_tail(20)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_the_target_mailboxes_the_readers_rules_drop_with_the_rule() {
    let cluster = spawn_cluster(ClusterSpec::default()).await;
    let tenant = cluster.onboard(30, 4, 47).await;

    // The targets' rule drops every target of the first target's department.
    let users = cluster.emulator.users(&tenant.tenant_id).await;
    let department_of = |object_id: &str| -> String {
        let user = users
            .iter()
            .find(|user| user["id"].as_str() == Some(object_id))
            .expect("the target is a directory user");
        user["department"].as_str().unwrap_or_default().to_owned()
    };
    let first_target = tenant.targets.keys().next().expect("a target");
    let department = department_of(first_target);
    assert!(
        !department.is_empty(),
        "the seed gives targets a department"
    );
    let mut dropped_upns = Vec::new();
    for (object_id, upn) in &tenant.targets {
        if department_of(object_id) == department {
            dropped_upns.push(upn.clone());
        }
    }
    let kept = tenant.targets.len() - dropped_upns.len();

    let spec = v1::ProfileSpec {
        name: "Phones but one department".to_owned(),
        tenant_id: tenant.tenant_id.clone(),
        targets: Some(v1::TargetSelector {
            users: tenant.targets.values().cloned().collect(),
            rules: vec![v1::AttributeRule {
                attribute: "department".to_owned(),
                operator: Operator::Equals as i32,
                values: vec![department.clone()],
                exclude: true,
            }],
            ..Default::default()
        }),
        enabled: true,
        ..Default::default()
    };
    let mut scheduler =
        SchedulerClient::new(cluster.channel_as(&cluster.scheduler, &cluster.pki_dir, "cli"));
    let profile = scheduler
        .create_profile(v1::CreateProfileRequest { spec: Some(spec) })
        .await
        .expect("CreateProfile")
        .into_inner();

    let (_console, link) = start_console(&cluster);
    let session = ConsoleSession::sign_in(&link, &cluster.pki_dir.join("ca.pem")).await;
    let explain = session
        .page(&format!("/profiles/{}/explain", profile.profile_id))
        .await;
    let rule = format!("exclude department eq '{department}'");
    assert!(
        explain.contains(&format!("<strong>{kept}</strong> target mailboxes resolve")),
        "{explain}"
    );
    assert!(
        explain.contains(&format!(
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(&rule),
            dropped_upns.len()
        )),
        "the targets' rule with the mailboxes it dropped: {explain}"
    );
    for upn in &dropped_upns {
        let reason = format!("user {upn}: dropped by the targets' rule {rule}");
        assert!(
            explain.contains(&format!("<li>{}</li>", escape(&reason))),
            "{reason} in {explain}"
        );
    }
}

/// How long a page may take to show what the test waits for, and a run
/// against the emulated tenant to end.
const PAGE_LIMIT: Duration = Duration::from_secs(15);
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Saves the page's screenshot as `<page>.png` and checks it with axe.
async fn check(browser: &Browser, axe: &Axe, screenshots: &std::path::Path, page: &str) {
    browser
        .screenshot(&screenshots.join(format!("{page}.png")))
        .await;
    axe.assert_no_serious_violations(browser, page).await;
}

/// Submits the page's form whose action ends with `action_end` and waits
/// for the run page it opens to reach `state` (the page reloads itself when
/// a run ends, and follows it live before).
async fn start_and_follow(browser: &Browser, action_end: &str, state: &str) {
    browser
        .submit(&format!("form[action$='{action_end}']"))
        .await;
    let reached = format!(
        "return location.pathname.startsWith('/runs/') && \
         document.getElementById('state') !== null && \
         document.getElementById('state').textContent === '{state}';"
    );
    browser
        .wait_for(&format!("the run to be {state}"), &reached, RUN_LIMIT)
        .await;
}

/// The journey on the real services (every service its own
/// process, the emulated tenant onboarded as `galsync` does it): the
/// administrator signs in with the link the console printed, sees the
/// tenant's health, writes a profile in the editor, dry-runs it, runs it and
/// follows it to the end, has the directory trip the deletion guard and
/// approves the held deletes, and reads the approval in the audit log.
/// Every target mailbox matches the directory after each run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_runs_a_profile_from_the_browser_on_the_real_services() {
    let test_name = "an_administrator_runs_a_profile_from_the_browser_on_the_real_services";
    if let Some(reason) = browser::unavailable() {
        browser::print_skip(test_name, &reason);
        return;
    }
    let axe = match Axe::load() {
        Ok(axe) => axe,
        Err(reason) => {
            browser::print_skip(test_name, &reason);
            return;
        }
    };
    let screenshots = browser::target_dir()
        .join("console-screenshots")
        .join(test_name);
    let _ = std::fs::remove_dir_all(&screenshots);
    let cluster = spawn_cluster(ClusterSpec::default()).await;
    let tenant = cluster.onboard(30, 3, 59).await;
    let (_console, link) = start_console(&cluster);
    let console_key = browser::spki_sha256_of_pem(&cluster.pki_dir.join("console.pem"));
    let browser = Browser::start(&console_key)
        .await
        .expect("the browser starts");
    let base = console_url_of(&link);

    browser.goto(&link).await;
    browser
        .wait_for(
            "the overview after the sign-in link",
            "return location.pathname === '/' && document.querySelector('h1') !== null;",
            PAGE_LIMIT,
        )
        .await;
    let overview = browser.text_of("main").await;
    assert!(
        overview.contains("Contoso") && overview.contains("granted "),
        "the onboarded tenant's health: {overview}"
    );
    check(&browser, &axe, &screenshots, "overview").await;

    browser.goto(&format!("{base}/profiles/new")).await;
    let target_users: Vec<&str> = tenant.targets.values().map(String::as_str).collect();
    browser
        .execute(
            "document.getElementById('name').value = 'Company phones'; \
             document.getElementById('tenant_id').value = arguments[0]; \
             document.getElementById('target_users').value = arguments[1]; \
             document.getElementById('folder_name').value = 'Company Directory'; \
             document.getElementById('deletion_guard_minimum').value = '1'; return null;",
            json!([tenant.tenant_id, target_users.join("\n")]),
        )
        .await;
    browser.submit("form[action='/profiles/new']").await;
    browser
        .wait_for_text("h1", "Profile Company phones", PAGE_LIMIT)
        .await;
    let profile_url = browser.current_url().await;
    check(&browser, &axe, &screenshots, "profile").await;

    start_and_follow(&browser, "/dry-run", "succeeded").await;
    let plan = browser.text_of("main").await;
    assert!(
        plan.contains("Planned changes (dry run: nothing was written)") && plan.contains("create"),
        "{plan}"
    );
    check(&browser, &axe, &screenshots, "dry-run-plan").await;

    browser.goto(&profile_url).await;
    start_and_follow(&browser, "/run", "succeeded").await;
    assert_eq!(browser.text_of("#mailboxes_done").await, "3");
    assert_eq!(browser.text_of("#mailboxes_total").await, "3");
    assert_ne!(browser.text_of("#created").await, "0");
    check(&browser, &axe, &screenshots, "run-succeeded").await;
    cluster.assert_mailboxes_match(&tenant).await;

    // A third of the people the profile syncs leave (their accounts are
    // disabled): more deletes than the guard's 10 % of each mailbox.
    let synced: Vec<String> = cluster
        .emulator
        .users(&tenant.tenant_id)
        .await
        .iter()
        .filter(|user| {
            user["accountEnabled"].as_bool() == Some(true)
                && user["userType"].as_str() == Some("Member")
                && user["mail"].is_string()
        })
        .filter_map(|user| user["id"].as_str().map(str::to_owned))
        .filter(|id| !tenant.targets.contains_key(id))
        .collect();
    for user_id in synced.iter().take(synced.len() / 3) {
        cluster
            .emulator
            .post(
                &format!(
                    "/_admin/tenants/{}/directory/users/{user_id}/disable",
                    tenant.tenant_id
                ),
                json!({}),
            )
            .await;
    }
    browser.goto(&profile_url).await;
    start_and_follow(&browser, "/run", "awaiting_approval").await;
    let held = browser.text_of("main").await;
    assert!(held.contains("Approve deletions"), "{held}");
    check(&browser, &axe, &screenshots, "run-awaiting-approval").await;
    browser.submit("form[action$='/approve']").await;
    browser
        .wait_for(
            "the approved run to end",
            "return document.getElementById('state') !== null && \
             document.getElementById('state').textContent === 'succeeded';",
            RUN_LIMIT,
        )
        .await;
    check(&browser, &axe, &screenshots, "run-approved").await;
    cluster.assert_mailboxes_match(&tenant).await;

    browser.goto(&format!("{base}/audit")).await;
    let audit = browser.text_of("table").await;
    assert!(
        audit.contains("run.deletions_approved")
            && audit.contains("bootstrap-admin via urn:galsync:service:console"),
        "{audit}"
    );
    check(&browser, &axe, &screenshots, "audit-log").await;
    browser.quit().await;
}
