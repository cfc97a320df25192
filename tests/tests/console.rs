//! The admin console in front of the real services: `galsync-console` as its
//! own process beside the cluster, its pages showing what the scheduler,
//! the directory-reader and the emulated tenant say.

use std::time::Duration;

use galsync_console::html::escape;
use galsync_e2e::{binaries, spawn_cluster, Cluster, ClusterSpec, Emulator, Process, Tenant, Up};
use galsync_proto::v1;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use galsync_testkit::browser::visit::{TenantForm, Visit, PAGE_LIMIT};
use galsync_testkit::browser::Browser;
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
    let link = process.printed_value(
        "one-time administrator sign-in link",
        Duration::from_secs(30),
    );
    (process, link)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_the_target_mailboxes_the_readers_rules_drop_in_the_console_and_the_cli() {
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

    // `galsync profile explain` says the same.
    let cli = cluster
        .galsync(&["profile", "explain", &profile.profile_id])
        .await
        .ok("profile explain");
    assert_eq!(cli["target_mailboxes"], json!(kept), "{cli:#}");
    assert_eq!(
        cli["target_rules"],
        json!([{"rule": rule, "dropped": dropped_upns.len()}]),
        "{cli:#}"
    );
    let unresolved = cli["unresolved_targets"].to_string();
    for upn in &dropped_upns {
        assert!(unresolved.contains(upn.as_str()), "{upn} in {cli:#}");
    }
}

/// How long a run against the emulated tenant may take to end.
const RUN_LIMIT: Duration = Duration::from_secs(120);

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

/// The second half of the journey, once the browser is signed in
/// and the tenant onboarded: the administrator sees the tenant's health on
/// the overview, writes a profile in the
/// editor, dry-runs it, runs it and follows it to the end, has the directory
/// trip the deletion guard and approves the held deletes, and reads the
/// approval, under `actor`, in the audit log. After each run `mailboxes_match`
/// checks every target mailbox against the directory.
async fn run_a_profile<Check, Checked>(
    visit: &Visit,
    console_url: &str,
    emulator: &Emulator,
    tenant: &Tenant,
    actor: &str,
    mailboxes_match: Check,
) where
    Check: Fn() -> Checked,
    Checked: std::future::Future<Output = ()>,
{
    let browser = &visit.browser;
    browser.goto(&format!("{console_url}/")).await;
    let overview = browser.text_of("main").await;
    assert!(
        overview.contains("Contoso") && overview.contains("granted "),
        "the onboarded tenant's health: {overview}"
    );
    visit.check("overview").await;

    browser.goto(&format!("{console_url}/profiles/new")).await;
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
    visit.check("profile").await;

    start_and_follow(browser, "/dry-run", "succeeded").await;
    let plan = browser.text_of("main").await;
    assert!(
        plan.contains("Planned changes (dry run: nothing was written)") && plan.contains("create"),
        "{plan}"
    );
    visit.check("dry-run-plan").await;

    browser.goto(&profile_url).await;
    start_and_follow(browser, "/run", "succeeded").await;
    let mailboxes = tenant.targets.len().to_string();
    assert_eq!(browser.text_of("#mailboxes_done").await, mailboxes);
    assert_eq!(browser.text_of("#mailboxes_total").await, mailboxes);
    assert_ne!(browser.text_of("#created").await, "0");
    visit.check("run-succeeded").await;
    mailboxes_match().await;

    // A third of the people the profile syncs leave (their accounts are
    // disabled): more deletes than the guard's 10 % of each mailbox.
    let synced: Vec<String> = emulator
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
        emulator
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
    start_and_follow(browser, "/run", "awaiting_approval").await;
    let held = browser.text_of("main").await;
    assert!(held.contains("Approve deletions"), "{held}");
    visit.check("run-awaiting-approval").await;
    browser.submit("form[action$='/approve']").await;
    browser
        .wait_for(
            "the approved run to end",
            "return document.getElementById('state') !== null && \
             document.getElementById('state').textContent === 'succeeded';",
            RUN_LIMIT,
        )
        .await;
    visit.check("run-approved").await;
    mailboxes_match().await;

    // The audit log, filtered with its form to the tenant's approvals.
    browser.goto(&format!("{console_url}/audit")).await;
    browser
        .execute(
            "document.getElementById('action').value = 'run.deletions_approved'; \
             document.getElementById('tenant-id').value = arguments[0]; return null;",
            json!([tenant.tenant_id]),
        )
        .await;
    browser.submit("form[action='/audit']").await;
    browser
        .wait_for(
            "the filtered audit log",
            "return location.search.indexOf('action=run.deletions_approved') !== -1 && \
             document.querySelector('table') !== null;",
            PAGE_LIMIT,
        )
        .await;
    let audit = browser.text_of("table tbody").await;
    assert!(
        audit.contains("run.deletions_approved")
            && audit.contains(&format!("{actor} via urn:galsync:service:console"))
            && !audit.contains("run.started"),
        "{audit}"
    );
    visit.check("audit-log").await;
}

/// The journey on the real services (every service its own
/// process, the emulated tenant onboarded as `galsync` does it): the
/// administrator signs in with the link the console printed and runs a
/// profile ([`run_a_profile`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_runs_a_profile_from_the_browser_on_the_real_services() {
    let test_name = "an_administrator_runs_a_profile_from_the_browser_on_the_real_services";
    let cluster = spawn_cluster(ClusterSpec::default()).await;
    let Some(visit) = Visit::open(test_name, &cluster.pki_dir.join("console.pem")).await else {
        return;
    };
    let tenant = cluster.onboard(30, 3, 59).await;
    let (_console, link) = start_console(&cluster);
    visit.sign_in(&link).await;
    run_a_profile(
        &visit,
        &console_url_of(&link),
        &cluster.emulator,
        &tenant,
        "bootstrap-admin",
        || cluster.assert_mailboxes_match(&tenant),
    )
    .await;
    visit.browser.quit().await;
}

/// The "done when", as a newcomer does it: `galsync up` on the
/// embedded defaults, the printed console URL opened in the browser, a sign-in
/// with Microsoft (the organisation's Entra, its admin group mapped to the
/// console's admin role), the tenant onboarded in the browser (registered,
/// certificate made and its `.cer` uploaded, admin consent through Entra
/// and back to galsync's callback, Test Connection green), then a profile
/// written, dry-run, run, its held deletes approved and the audit read
/// ([`run_a_profile`]). axe and a screenshot on every page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_runs_galsync_up_and_does_the_whole_journey_in_the_browser() {
    let test_name = "a_newcomer_runs_galsync_up_and_does_the_whole_journey_in_the_browser";
    if let Some(reason) = galsync_testkit::browser::unavailable() {
        galsync_testkit::browser::print_skip(test_name, &reason);
        return;
    }
    let up = Up::start(30, 3, 61).await;
    let Some(visit) = Visit::open(test_name, &up.data_dir.join("pki/console.pem")).await else {
        return;
    };
    let browser = &visit.browser;
    let console = up.console_url.as_str();
    assert!(
        up.admin_link.starts_with(&format!("{console}/sign-in/")),
        "up printed {} for the console at {console}",
        up.admin_link
    );

    // Signed in to Microsoft as the administrator; the console sends an
    // anonymous visitor to its sign-in page.
    up.emulator
        .post(
            &format!("/_admin/tenants/{}/browser-sign-in", up.tenant.tenant_id),
            json!({"upn": up.console_admin}),
        )
        .await;
    browser.goto(&format!("{console}/")).await;
    browser
        .wait_for(
            "the sign-in page",
            "return location.pathname === '/sign-in' && \
             document.querySelector('a[href=\"/auth/entra/start\"]') !== null;",
            PAGE_LIMIT,
        )
        .await;
    visit.check("sign-in").await;
    visit.sign_in_with_microsoft().await;
    let who = format!("{} (admin)", up.console_admin);
    assert!(
        browser.text_of_page().await.contains(&who),
        "{}",
        browser.text_of_page().await
    );
    visit.check("overview-first-run").await;

    // The tenant, registered as typed into the form.
    let tenants_link = browser.element("nav a[href='/tenants']").await;
    browser.click(&tenants_link).await;
    browser.wait_for_text("h1", "Tenants", PAGE_LIMIT).await;
    let tenant = &up.tenant;
    visit
        .register_tenant(&TenantForm {
            tenant_id: &tenant.tenant_id,
            name: "Contoso",
            client_id: &tenant.client_id,
            microsoft_base: &up.emulator.base_url,
        })
        .await;
    visit.check("tenant-registered").await;

    // Its certificate, the .cer as the browser downloads it uploaded as
    // the administrator would in the Entra admin center.
    visit.make_certificate().await;
    visit.check("certificate-made").await;
    let der = visit.downloaded_cer().await;
    up.emulator
        .upload_certificate(&tenant.tenant_id, &tenant.client_id, der)
        .await;

    // Admin consent: to Entra (which the administrator approves) and back
    // to the callback `up` serves.
    up.emulator
        .approve_next_consent(&tenant.tenant_id, &tenant.client_id)
        .await;
    let tenant_page = format!("{console}/tenants/{}", tenant.tenant_id);
    visit.give_consent(&tenant_page, &up.consent_callback).await;
    let consented = browser.text_of("main").await;
    assert!(consented.contains("Granted "), "{consented}");
    visit.check("tenant-consented").await;

    let result = visit.test_connection().await;
    assert!(result.contains("Every check passed."), "{result}");
    visit.check("test-connection").await;

    run_a_profile(
        &visit,
        console,
        &up.emulator,
        &up.tenant,
        &up.console_admin,
        || up.assert_mailboxes_match(),
    )
    .await;
    visit.browser.quit().await;
}
