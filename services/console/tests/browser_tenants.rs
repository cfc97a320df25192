//! The tenant pages in a real browser (tests/common/visit.rs): onboarding a
//! tenant (register, certificate, its `.cer` uploaded to the emulated app,
//! admin consent, Test Connection), once with clicks and once with the
//! keyboard alone, and the tenant pages on a phone.

mod common;

use common::tenant::Onboarding;
use common::visit::{open_browser, Visit};
use common::TestConsole;
use galsync_testkit::approve_next_consent;
use galsync_testkit::browser::visit::{TenantForm, PAGE_LIMIT};
use galsync_testkit::browser::KEY_ENTER;
use galsync_testkit::scheduler::MtlsScheduler;
use serde_json::json;

/// Uploads the `.cer` the certificate page offers, as the browser downloads
/// it, to the emulated app as the administrator would in the Entra admin
/// center.
async fn upload_the_downloaded_cer(visit: &Visit, setup: &Onboarding) {
    let der = visit.downloaded_cer().await;
    setup
        .emulator
        .state
        .identity
        .upload_certificate(&setup.client_id, &der)
        .expect("the emulated app takes the downloaded .cer");
}

/// The broker's consent callback page.
fn consent_callback(setup: &Onboarding) -> String {
    format!("http://{}/consent/callback", setup.broker.consent_addr())
}

/// What the onboarding tests start with: a scheduler with one target
/// mailbox, the emulated tenant and its app with a broker that knows nothing
/// of it yet, a console in front of both, and a browser signed in to it as
/// the admin.
struct OnboardingVisit {
    /// Held so the scheduler lives as long as the test.
    scheduler: MtlsScheduler,
    setup: Onboarding,
    console: TestConsole,
    visit: Visit,
}

/// [`OnboardingVisit`], or `None` (the skip printed) without a browser.
async fn onboarding_visit(test_name: &'static str) -> Option<OnboardingVisit> {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let setup = common::tenant::onboarding(&scheduler).await;
    let console = common::spawn_tenant_console(&scheduler, &setup.broker).await;
    let visit = open_browser(test_name, &scheduler).await?;
    visit.sign_in(&console.admin_link).await;
    Some(OnboardingVisit {
        scheduler,
        setup,
        console,
        visit,
    })
}

#[tokio::test]
async fn an_admin_onboards_a_tenant_certificate_consent_and_test_connection() {
    let test_name = "an_admin_onboards_a_tenant_certificate_consent_and_test_connection";
    let Some(OnboardingVisit {
        scheduler,
        setup,
        console,
        visit,
    }) = onboarding_visit(test_name).await
    else {
        return;
    };
    let browser = &visit.browser;
    let tenant_id = setup.tenant_id.to_string();
    let base = setup.emulator.base_url();
    let tenants_link = browser.element("nav a[href='/tenants']").await;
    browser.click(&tenants_link).await;
    assert_eq!(visit.heading().await, "Tenants");
    visit.check("tenants-empty").await;

    // Register, as typed into the form.
    visit
        .register_tenant(&TenantForm {
            tenant_id: &tenant_id,
            name: "Contoso",
            client_id: &setup.client_id,
            microsoft_base: &base,
        })
        .await;
    assert!(browser.text_of("main").await.contains("Not granted yet."));
    visit.check("tenant-registered").await;

    // The certificate, then its .cer as the browser downloads it, uploaded
    // as the administrator would in the Entra admin center.
    visit.make_certificate().await;
    assert!(browser
        .text_of("main")
        .await
        .contains("pending registration"));
    visit.check("certificate-made").await;
    upload_the_downloaded_cer(&visit, &setup).await;

    // Admin consent: the link leaves for Entra (the emulator, which
    // approves) and comes back to the broker's callback page.
    approve_next_consent(&setup.emulator, setup.tenant_id, &setup.client_id);
    visit
        .give_consent(
            &format!("{}/tenants/{tenant_id}", console.url),
            &consent_callback(&setup),
        )
        .await;
    assert!(
        browser.text_of("main").await.contains("Granted "),
        "{}",
        browser.text_of("main").await
    );
    visit.check("tenant-consented").await;

    // Test Connection, green.
    let result = visit.test_connection().await;
    assert!(result.contains("Every check passed."), "{result}");
    visit.check("test-connection").await;

    // The overview: the tenant's health at a glance.
    browser.goto(&format!("{}/", console.url)).await;
    let overview = browser.text_of("main").await;
    assert!(overview.contains("Contoso"), "{overview}");
    assert!(overview.contains("expires in 7"), "{overview}");
    assert!(overview.contains("granted "), "{overview}");
    visit.check("overview-tenant-health").await;
    // A run of a profile for the tenant (its one mailbox done): the overview
    // shows it beside the tenant's health (the README's screenshot).
    let tenant_id = setup.tenant_id.to_string();
    let run_id = scheduler
        .start_writing_run("Company phones", &tenant_id)
        .await;
    scheduler.complete_one_mailbox(7).await;
    let deadline = std::time::Instant::now() + PAGE_LIMIT;
    while scheduler.run_state(&run_id).await != galsync_proto::v1::RunState::Succeeded {
        assert!(std::time::Instant::now() < deadline, "the run never ended");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    browser.goto(&format!("{}/", console.url)).await;
    let overview = browser.text_of("main").await;
    assert!(
        overview.contains("Company phones") && overview.contains("succeeded"),
        "{overview}"
    );
    visit.check("overview-with-a-run").await;
    // The broker's audit of what was just done, as an administrator reads it.
    browser
        .goto(&format!("{}/audit/credentials", console.url))
        .await;
    assert_eq!(visit.heading().await, "Credential audit");
    let audit = browser.text_of("main").await;
    assert!(audit.contains("connection.tested"), "{audit}");
    visit.check("credential-audit").await;
    visit.browser.quit().await;
}

/// Keyboard alone: register a tenant by typing into the form, make its
/// certificate, follow the consent link and run Test Connection with Tab
/// and Enter. A phone: the tenant list and the tenant's page fit its width
/// (the page never scrolls sideways) and pass axe.
#[tokio::test]
async fn a_tenant_is_onboarded_with_the_keyboard_alone_and_its_pages_fit_a_phone() {
    let test_name = "a_tenant_is_onboarded_with_the_keyboard_alone_and_its_pages_fit_a_phone";
    let Some(OnboardingVisit {
        scheduler: _scheduler,
        setup,
        console,
        visit,
    }) = onboarding_visit(test_name).await
    else {
        return;
    };
    let browser = &visit.browser;
    let tenant_id = setup.tenant_id.to_string();
    let base = setup.emulator.base_url();

    assert!(
        browser.tab_to("nav a[href='/tenants']", 20).await,
        "Tab never reached Tenants"
    );
    browser.press(KEY_ENTER).await;
    browser.wait_for_text("h1", "Tenants", PAGE_LIMIT).await;
    for (field, typed) in [
        ("#tenant-id", tenant_id.as_str()),
        ("#tenant-name", "Contoso"),
        ("#client-id", setup.client_id.as_str()),
        ("#login-base", base.as_str()),
        ("#graph-base", base.as_str()),
    ] {
        assert!(browser.tab_to(field, 30).await, "Tab never reached {field}");
        browser.press(typed).await;
    }
    assert!(
        browser.tab_to("form[action='/tenants'] button", 10).await,
        "Tab never reached Register tenant"
    );
    browser.press(KEY_ENTER).await;
    browser.wait_for_text("h1", "Contoso", PAGE_LIMIT).await;
    visit.check("keyboard-tenant-registered").await;

    assert!(
        browser
            .tab_to("form[action$='/certificates'] button", 60)
            .await,
        "Tab never reached Generate certificate"
    );
    browser.press(KEY_ENTER).await;
    browser
        .wait_for_text("h1", "Certificate made", PAGE_LIMIT)
        .await;
    visit.check("keyboard-certificate-made").await;
    upload_the_downloaded_cer(&visit, &setup).await;
    let back = format!("a[href='/tenants/{tenant_id}']");
    assert!(
        browser.tab_to(&back, 40).await,
        "Tab never reached Back to the tenant"
    );
    browser.press(KEY_ENTER).await;
    browser.wait_for_text("h1", "Contoso", PAGE_LIMIT).await;

    approve_next_consent(&setup.emulator, setup.tenant_id, &setup.client_id);
    assert!(
        browser.tab_to("a[href$='/consent']", 60).await,
        "Tab never reached the admin consent link"
    );
    browser.press(KEY_ENTER).await;
    visit
        .wait_for_consent_callback(&consent_callback(&setup))
        .await;
    browser
        .goto(&format!("{}/tenants/{tenant_id}", console.url))
        .await;
    assert!(
        browser.tab_to("form[action$='/test'] button", 80).await,
        "Tab never reached Test connection"
    );
    browser.press(KEY_ENTER).await;
    browser
        .wait_for_text("h1", "Test connection", PAGE_LIMIT)
        .await;
    let result = browser.text_of("main").await;
    assert!(result.contains("Every check passed."), "{result}");

    browser.emulate_phone().await;
    for (path, page) in [
        ("/tenants".to_owned(), "phone-tenants"),
        (format!("/tenants/{tenant_id}"), "phone-tenant"),
        ("/".to_owned(), "phone-overview-tenant-health"),
    ] {
        browser.goto(&format!("{}{path}", console.url)).await;
        assert!(
            !browser.scrolls_sideways().await,
            "{path} scrolls sideways on a phone"
        );
        visit.check(page).await;
    }
    browser
        .goto(&format!("{}/tenants/{tenant_id}", console.url))
        .await;
    visit.test_connection().await;
    assert!(
        !browser.scrolls_sideways().await,
        "Test connection's result scrolls sideways on a phone"
    );
    visit.check("phone-test-connection").await;
    visit.browser.quit().await;
}

/// An admin renames a tenant with its settings form, imports a `.pfx`
/// chosen in the file input with its password, then removes the tenant
/// through the confirmation page, typing its ID; each page checked by axe.
#[tokio::test]
async fn an_admin_renames_a_tenant_imports_a_pfx_and_removes_the_tenant() {
    let test_name = "an_admin_renames_a_tenant_imports_a_pfx_and_removes_the_tenant";
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let setup = common::tenant::onboarding(&scheduler).await;
    setup.register_only().await;
    let console = common::spawn_tenant_console(&scheduler, &setup.broker).await;
    let Some(visit) = open_browser(test_name, &scheduler).await else {
        return;
    };
    let browser = &visit.browser;
    let tenant_id = setup.tenant_id.to_string();
    visit.sign_in(&console.admin_link).await;
    browser
        .goto(&format!("{}/tenants/{tenant_id}", console.url))
        .await;
    browser.wait_for_text("h1", "Contoso", PAGE_LIMIT).await;
    visit.check("tenant-settings").await;
    browser
        .execute(
            "document.getElementById('settings-name').value = 'Contoso Ltd'; return null;",
            json!([]),
        )
        .await;
    browser.submit("form[action$='/settings']").await;
    browser.wait_for_text("h1", "Contoso Ltd", PAGE_LIMIT).await;

    // Import a .pfx: the file chosen in the file input, its password typed.
    let certificate = common::certificate::material(&tenant_id);
    let pfx_dir = tempfile::tempdir().unwrap();
    let pfx_path = pfx_dir.path().join("contoso.pfx");
    std::fs::write(&pfx_path, common::certificate::pfx_of(&certificate)).unwrap();
    let summary = browser.element("details.import summary").await;
    browser.click(&summary).await;
    let file_input = browser.element("input[name='pfx']").await;
    browser
        .type_into(&file_input, pfx_path.to_str().unwrap())
        .await;
    let password = browser.element("input[name='password']").await;
    browser
        .type_into(&password, common::certificate::PASSWORD)
        .await;
    assert!(
        !browser.scrolls_sideways().await,
        "the open import form scrolls sideways"
    );
    visit.check("certificate-import").await;
    browser.submit("form[action$='/certificates/import']").await;
    browser
        .wait_for_text("h1", "Certificate imported", PAGE_LIMIT)
        .await;
    let imported = browser.text_of("main").await;
    assert!(
        imported.contains(&certificate.thumbprint_sha1),
        "{imported}"
    );
    assert!(!browser
        .source()
        .await
        .contains(common::certificate::PASSWORD));
    visit.check("certificate-imported").await;
    browser
        .goto(&format!("{}/tenants/{tenant_id}", console.url))
        .await;

    let remove = browser.element("a[href$='/remove']").await;
    browser.click(&remove).await;
    browser
        .wait_for_text("h1", "Remove tenant", PAGE_LIMIT)
        .await;
    visit.check("tenant-remove-confirm").await;
    browser
        .execute(
            "document.getElementById('remove-confirm').value = 'not the id'; return null;",
            json!([]),
        )
        .await;
    browser.submit("form[action$='/remove']").await;
    browser
        .wait_for(
            "the confirmation's error",
            "return document.getElementById('remove-error') !== null;",
            PAGE_LIMIT,
        )
        .await;
    visit.check("tenant-remove-mistyped").await;
    browser
        .execute(
            "document.getElementById('remove-confirm').value = arguments[0]; return null;",
            json!([tenant_id]),
        )
        .await;
    browser.submit("form[action$='/remove']").await;
    browser
        .wait_for_text("h1", "Tenant removed", PAGE_LIMIT)
        .await;
    let removed = browser.text_of("main").await;
    assert!(removed.contains("Removed Contoso Ltd"), "{removed}");
    visit.check("tenant-removed").await;
    let tenants = browser.element("a[href='/tenants']").await;
    browser.click(&tenants).await;
    browser.wait_for_text("h1", "Tenants", PAGE_LIMIT).await;
    assert!(browser
        .text_of("main")
        .await
        .contains("No tenant is registered yet"));
    visit.browser.quit().await;
}
