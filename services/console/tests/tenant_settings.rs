//! A tenant's settings and its removal from the console's tenant page, in
//! front of a real auth-broker over mTLS: an admin renames it and lets the
//! broker upload rotated certificates, sees the broker's field error beside
//! the form, removes it only after typing its ID and once no profile uses
//! it, and the broker's audit names the person; a viewer and an operator
//! see no such control and are refused; a forged CSRF token changes nothing.

mod common;

use common::profile::editor_fields;
use common::tenant::onboarding;
use common::{csrf_token_in, location, spawn_tenant_console, TestConsole};
use galsync_proto::v1;
use galsync_testkit::scheduler::MtlsScheduler;
use reqwest::StatusCode;

const CONSOLE_ACTOR: &str = "bootstrap-admin via urn:galsync:service:console";

async fn broker_tenant(setup: &common::tenant::Onboarding) -> Result<v1::Tenant, tonic::Status> {
    let request = v1::GetTenantRequest {
        tenant_id: setup.tenant_id.to_string(),
    };
    let mut cli = setup.broker.admin_client().await;
    cli.get_tenant(request)
        .await
        .map(|answer| answer.into_inner())
}

fn settings_fields<'a>(csrf: &'a str, name: &'a str, base: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf_token", csrf),
        ("display_name", name),
        ("login_base_url", base),
        ("graph_base_url", base),
        ("upload_rotated_certificates", "on"),
    ]
}

#[tokio::test]
async fn an_admin_renames_a_tenant_and_removes_it_after_confirming_and_the_broker_audits_the_person(
) {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let setup = onboarding(&scheduler).await;
    setup.register_only().await;
    let console = spawn_tenant_console(&scheduler, &setup.broker).await;
    let admin = console.sign_in(&console.admin_link).await;
    let tenant_id = setup.tenant_id.to_string();
    let tenant_path = format!("/tenants/{tenant_id}");
    let base = setup.emulator.base_url();

    let page = console.page(&tenant_path, &admin).await;
    assert!(page.contains("Save settings"), "{page}");
    assert!(page.contains("value=\"Contoso\""), "{page}");
    assert!(
        !page.contains(
            "id=\"settings-upload\" name=\"upload_rotated_certificates\" value=\"on\" checked"
        ),
        "{page}"
    );
    let csrf = csrf_token_in(&page);
    let settings = format!("{tenant_path}/settings");

    // The broker's field error comes back beside the form, with what was typed.
    let empty_name = console
        .post_form(&settings, &admin, &settings_fields(&csrf, "  ", &base))
        .await;
    assert_eq!(empty_name.status(), StatusCode::BAD_REQUEST);
    let empty_name = empty_name.text().await.unwrap();
    assert!(empty_name.contains("id=\"settings-error\""), "{empty_name}");
    assert!(empty_name.contains("display_name"), "{empty_name}");
    assert_eq!(broker_tenant(&setup).await.unwrap().display_name, "Contoso");

    // A forged token changes nothing.
    let forged = console
        .post_form(
            &settings,
            &admin,
            &settings_fields("forged", "Forged", &base),
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(broker_tenant(&setup).await.unwrap().display_name, "Contoso");

    let saved = console
        .post_form(
            &settings,
            &admin,
            &settings_fields(&csrf, "Contoso Ltd", &base),
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&saved), tenant_path);
    let tenant = broker_tenant(&setup).await.unwrap();
    assert_eq!(tenant.display_name, "Contoso Ltd");
    assert!(tenant.upload_rotated_certificates);
    let page = console.page(&tenant_path, &admin).await;
    assert!(page.contains("<title>Contoso Ltd"), "{page}");
    assert!(page.contains("value=\"on\" checked>"), "{page}");
    let updates = setup.audit_events("tenant.updated").await;
    assert!(
        updates.iter().any(|event| event.caller == CONSOLE_ACTOR),
        "tenant.updated by {CONSOLE_ACTOR}: {updates:?}"
    );

    // Removal waits while a profile uses the tenant.
    let remove = format!("{tenant_path}/remove");
    let editor = console.page("/profiles/new", &admin).await;
    let editor_csrf = csrf_token_in(&editor);
    let created = console
        .post_form(
            "/profiles/new",
            &admin,
            &editor_fields(
                &editor_csrf,
                &[("tenant_id", &tenant_id), ("name", "phones")],
            ),
        )
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let profile_path = location(&created);
    let blocked = console.page(&remove, &admin).await;
    assert!(
        blocked.contains("cannot be removed while profiles use it"),
        "{blocked}"
    );
    assert!(
        blocked.contains(&format!("href=\"{profile_path}\">phones<")),
        "{blocked}"
    );
    assert!(!blocked.contains("name=\"confirm\""), "{blocked}");
    let refused = console
        .post_form(
            &remove,
            &admin,
            &[("csrf_token", &csrf), ("confirm", &tenant_id)],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::OK);
    assert!(refused.text().await.unwrap().contains("cannot be removed"));
    assert!(broker_tenant(&setup).await.is_ok());
    delete_profile(&console, &admin, &profile_path).await;

    // The confirmation: a wrong ID removes nothing.
    let confirm = console.page(&remove, &admin).await;
    assert!(
        confirm.contains("Type the directory (tenant) ID to confirm"),
        "{confirm}"
    );
    let mistyped = console
        .post_form(
            &remove,
            &admin,
            &[("csrf_token", &csrf), ("confirm", "Contoso Ltd")],
        )
        .await;
    assert_eq!(mistyped.status(), StatusCode::BAD_REQUEST);
    let mistyped = mistyped.text().await.unwrap();
    assert!(mistyped.contains("id=\"remove-error\""), "{mistyped}");
    assert!(broker_tenant(&setup).await.is_ok());
    let forged = console
        .post_form(
            &remove,
            &admin,
            &[("csrf_token", "forged"), ("confirm", &tenant_id)],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(broker_tenant(&setup).await.is_ok());

    let removed = console
        .post_form(
            &remove,
            &admin,
            &[("csrf_token", &csrf), ("confirm", &tenant_id)],
        )
        .await;
    assert_eq!(removed.status(), StatusCode::OK);
    let removed = removed.text().await.unwrap();
    assert!(
        removed.contains("Removed <strong>Contoso Ltd</strong>"),
        "{removed}"
    );
    let gone = broker_tenant(&setup).await.unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound);
    let tenants = console.page("/tenants", &admin).await;
    assert!(tenants.contains("No tenant is registered yet"), "{tenants}");
    let removals = setup.audit_events("tenant.removed").await;
    assert!(
        removals.iter().any(|event| event.caller == CONSOLE_ACTOR),
        "tenant.removed by {CONSOLE_ACTOR}: {removals:?}"
    );
}

async fn delete_profile(console: &TestConsole, admin: &str, profile_path: &str) {
    let profile = console.page(profile_path, admin).await;
    let csrf = csrf_token_in(&profile);
    let deleted = console
        .post_form(
            &format!("{profile_path}/delete"),
            admin,
            &[("csrf_token", &csrf), ("confirm", "on")],
        )
        .await;
    assert!(
        deleted.status().is_redirection() || deleted.status().is_success(),
        "{:?}",
        deleted.status()
    );
}

#[tokio::test]
async fn a_viewer_and_an_operator_neither_see_nor_may_use_a_tenants_settings_or_removal() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let setup = onboarding(&scheduler).await;
    setup.register_only().await;
    let console = spawn_tenant_console(&scheduler, &setup.broker).await;
    let tenant_id = setup.tenant_id.to_string();
    let tenant_path = format!("/tenants/{tenant_id}");
    let base = setup.emulator.base_url();
    let operator_link = console.operator_link.clone();
    for link in [&console.viewer_link, &operator_link] {
        let person = console.sign_in(link).await;
        let page = console.page(&tenant_path, &person).await;
        assert!(page.contains("Contoso"), "{page}");
        for control in ["Save settings", "Remove tenant"] {
            assert!(!page.contains(control), "{control}: {page}");
        }
        let csrf = csrf_token_in(&page);
        let changed = console
            .post_form(
                &format!("{tenant_path}/settings"),
                &person,
                &settings_fields(&csrf, "Taken", &base),
            )
            .await;
        assert_eq!(changed.status(), StatusCode::FORBIDDEN);
        assert!(changed
            .text()
            .await
            .unwrap()
            .contains("needs the admin role"));
        let confirm = console
            .get(&format!("{tenant_path}/remove"), Some(&person))
            .await;
        assert_eq!(confirm.status(), StatusCode::FORBIDDEN);
        let removed = console
            .post_form(
                &format!("{tenant_path}/remove"),
                &person,
                &[("csrf_token", &csrf), ("confirm", &tenant_id)],
            )
            .await;
        assert_eq!(removed.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(broker_tenant(&setup).await.unwrap().display_name, "Contoso");

    // The broker's own check: the console acting for an operator may not
    // change or remove a tenant.
    let mut as_console = setup.broker.client_as("console").await;
    let mut request = tonic::Request::new(v1::RemoveTenantRequest {
        tenant_id: tenant_id.clone(),
    });
    galsync_platform::on_behalf::attach(
        &mut request,
        "otto",
        galsync_platform::on_behalf::Role::Operator,
    )
    .unwrap();
    let refused = as_console.remove_tenant(request).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert!(refused.message().contains("needs admin"), "{refused:?}");
    assert!(broker_tenant(&setup).await.is_ok());
}
