//! The tenant pages over HTTPS, in front of a real auth-broker (over mTLS,
//! sharing the test scheduler's PKI) and the graph emulator as Entra ID and
//! Graph: an admin onboards a tenant — registers it, makes its certificate,
//! downloads the `.cer` and uploads it as they would in the Entra admin
//! center, grants admin consent, passes Test Connection — and the broker's
//! audit names the person; a viewer reads and changes nothing, and the
//! broker itself refuses the console a viewer's change.

mod common;

use common::tenant::onboarding;
use common::{csrf_token_in, location, spawn_tenant_console};
use galsync_proto::v1;
use galsync_testkit::approve_consent_in_browser;
use galsync_testkit::scheduler::MtlsScheduler;
use reqwest::StatusCode;

const CONSOLE_ACTOR: &str = "bootstrap-admin via urn:galsync:service:console";

#[tokio::test]
async fn an_admin_onboards_a_tenant_in_the_console_and_the_broker_audits_the_person() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let setup = onboarding(&scheduler).await;
    let console = spawn_tenant_console(&scheduler, &setup.broker).await;
    let cookie = console.sign_in(&console.admin_link).await;
    let tenant_id = setup.tenant_id.to_string();
    let base = setup.emulator.base_url();

    // Register: a form error comes back beside the form with the broker's
    // message and what was typed.
    let tenants = console.page("/tenants", &cookie).await;
    assert!(tenants.contains("No tenant is registered yet"), "{tenants}");
    let csrf = csrf_token_in(&tenants);
    let refused = console
        .post_form(
            "/tenants",
            &cookie,
            &[
                ("csrf_token", &csrf),
                ("tenant_id", "not-a-guid"),
                ("display_name", "Contoso"),
                ("client_id", &setup.client_id),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let refused = refused.text().await.unwrap();
    assert!(refused.contains("id=\"register-error\""), "{refused}");
    assert!(refused.contains("tenant_id"), "{refused}");
    assert!(refused.contains("value=\"not-a-guid\""), "{refused}");
    let registered = console
        .post_form(
            "/tenants",
            &cookie,
            &[
                ("csrf_token", &csrf),
                ("tenant_id", &tenant_id),
                ("display_name", "Contoso"),
                ("client_id", &setup.client_id),
                ("auth_mode", "certificate"),
                ("login_base_url", &base),
                ("graph_base_url", &base),
            ],
        )
        .await;
    assert_eq!(registered.status(), StatusCode::SEE_OTHER);
    let tenant_path = format!("/tenants/{tenant_id}");
    assert_eq!(location(&registered), tenant_path);

    let fresh = console.page(&tenant_path, &cookie).await;
    assert!(fresh.contains("Not granted yet"), "{fresh}");
    assert!(fresh.contains("No certificate yet"), "{fresh}");
    let overview = console.page("/", &cookie).await;
    assert!(overview.contains("Contoso"), "{overview}");
    assert!(overview.contains("none: generate one"), "{overview}");
    assert!(overview.contains("not granted yet"), "{overview}");

    // The certificate: made by the broker, pending until Entra accepts it.
    let app_path = format!("{tenant_path}/apps/{}", setup.client_id);
    let made = console
        .post_form(
            &format!("{app_path}/certificates"),
            &cookie,
            &[("csrf_token", &csrf), ("action", "generate")],
        )
        .await;
    assert_eq!(made.status(), StatusCode::OK);
    let made = made.text().await.unwrap();
    assert!(made.contains("pending registration"), "{made}");
    let with_certificate = console.page(&tenant_path, &cookie).await;
    assert!(with_certificate.contains("upload it to the app registration"));
    let overview = console.page("/", &cookie).await;
    assert!(overview.contains("not yet accepted by Entra"), "{overview}");

    // Download the .cer and upload it as the administrator would.
    let cer_marker = "/certificates/";
    let cer_start = with_certificate.find(cer_marker).unwrap();
    let cer_path = with_certificate[cer_start..].split('"').next().unwrap();
    let cer_path = format!("{tenant_path}{cer_path}");
    let cer = console.get(&cer_path, Some(&cookie)).await;
    assert_eq!(cer.status(), StatusCode::OK);
    assert_eq!(cer.headers()["content-type"], "application/pkix-cert");
    assert!(cer.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .ends_with(".cer\""));
    let der = cer.bytes().await.unwrap();
    let uploaded = setup
        .emulator
        .state
        .identity
        .upload_certificate(&setup.client_id, &der)
        .expect("the emulated app takes the downloaded .cer");
    assert!(
        with_certificate.contains(&uploaded.thumbprint_sha1),
        "the page shows the thumbprint as the portal does ({}): {with_certificate}",
        uploaded.thumbprint_sha1
    );

    // Admin consent: the console's link goes to Entra, which returns to
    // the broker's callback.
    let consent = console
        .get(&format!("{app_path}/consent"), Some(&cookie))
        .await;
    assert_eq!(consent.status(), StatusCode::SEE_OTHER);
    let consent_url = location(&consent);
    assert!(consent_url.starts_with(&base), "{consent_url}");
    approve_consent_in_browser(
        &setup.emulator,
        setup.tenant_id,
        &setup.client_id,
        &consent_url,
    )
    .await;
    let consented = console.page(&tenant_path, &cookie).await;
    assert!(consented.contains("Granted "), "{consented}");

    // Test Connection: every check green.
    let tested = console
        .post_form(
            &format!("{tenant_path}/test"),
            &cookie,
            &[("csrf_token", &csrf), ("probe_mailbox", "")],
        )
        .await;
    assert_eq!(tested.status(), StatusCode::OK);
    let tested = tested.text().await.unwrap();
    assert!(tested.contains("Every check passed"), "{tested}");
    assert!(!tested.contains(">failed<"), "{tested}");

    // The certificate signed a token: active, and the overview's health.
    let active = console.page(&tenant_path, &cookie).await;
    assert!(active.contains("<td>active</td>"), "{active}");
    let overview = console.page("/", &cookie).await;
    assert!(overview.contains("<td>expires in 7"), "{overview}");
    assert!(overview.contains("granted "), "{overview}");

    // The broker's audit names the person behind each change.
    let events = setup
        .broker
        .admin_client()
        .await
        .list_audit_events(v1::ListAuditEventsRequest {
            tenant_id: tenant_id.clone(),
            limit: 100,
            kind: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    for kind in ["tenant.registered", "certificate.generated"] {
        assert!(
            events
                .iter()
                .any(|event| event.kind == kind && event.caller == CONSOLE_ACTOR),
            "{kind} by {CONSOLE_ACTOR}: {events:?}"
        );
    }
    // The same log in the console, filtered by tenant and kind.
    let credential_audit = console
        .page(
            &format!("/audit/credentials?tenant_id={tenant_id}&kind=certificate.generated"),
            &cookie,
        )
        .await;
    assert!(
        credential_audit.contains(&format!(
            "<td>certificate.generated</td><td>{CONSOLE_ACTOR}</td><td>{tenant_id}</td>"
        )),
        "{credential_audit}"
    );
    assert!(
        !credential_audit.contains("<td>token.issued</td>"),
        "{credential_audit}"
    );
    let everything = console
        .page(
            &format!("/audit/credentials?tenant_id={tenant_id}"),
            &cookie,
        )
        .await;
    for kind in [
        "consent.granted",
        "connection.tested",
        "certificate.activated",
    ] {
        assert!(
            everything.contains(&format!("<td>{kind}</td>")),
            "{everything}"
        );
    }
}

#[tokio::test]
async fn a_viewer_reads_a_tenant_but_cannot_change_it_and_the_broker_refuses_the_console_too() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let setup = onboarding(&scheduler).await;
    let console = spawn_tenant_console(&scheduler, &setup.broker).await;
    let tenant_id = setup.tenant_id.to_string();
    let mut cli = setup.broker.admin_client().await;
    // The tenant is registered with the broker, with no certificate yet.
    setup.register_only().await;

    let viewer = console.sign_in(&console.viewer_link).await;
    let tenant_path = format!("/tenants/{tenant_id}");
    let page = console.page(&tenant_path, &viewer).await;
    assert!(page.contains("Contoso"), "{page}");
    for control in [
        "Generate certificate",
        "Grant admin consent",
        "Store secret",
        "Test connection</button>",
    ] {
        assert!(!page.contains(control), "a viewer sees {control}: {page}");
    }
    let audit = console.page("/audit/credentials", &viewer).await;
    assert!(audit.contains("needs the admin role"), "{audit}");
    let tenants = console.page("/tenants", &viewer).await;
    assert!(!tenants.contains("Register tenant"), "{tenants}");
    let csrf = csrf_token_in(&page);
    let app_path = format!("{tenant_path}/apps/{}", setup.client_id);
    for (path, fields) in [
        (
            format!("{app_path}/certificates"),
            vec![("csrf_token", csrf.as_str()), ("action", "generate")],
        ),
        (
            format!("{app_path}/secret"),
            vec![("csrf_token", csrf.as_str()), ("secret", "s3cret")],
        ),
        (
            format!("{tenant_path}/test"),
            vec![("csrf_token", csrf.as_str())],
        ),
    ] {
        let refused = console.post_form(&path, &viewer, &fields).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let consent = console
        .get(&format!("{app_path}/consent"), Some(&viewer))
        .await;
    assert_eq!(consent.status(), StatusCode::FORBIDDEN);

    // A forged CSRF token is refused before anything is asked.
    let admin = console.sign_in(&console.admin_link).await;
    let forged = console
        .post_form(
            &format!("{app_path}/certificates"),
            &admin,
            &[("csrf_token", "forged"), ("action", "generate")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let certificates = cli
        .list_certificates(v1::ListCertificatesRequest {
            tenant_id: tenant_id.clone(),
            client_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .certificates;
    assert!(certificates.is_empty(), "{certificates:?}");

    // The broker's own check: the console identity acting for a viewer
    // reads, but may not make a certificate; nobody else may act for a
    // person; the console may not act as itself.
    let mut as_console = setup.broker.client_as("console").await;
    let listed = as_console
        .list_tenants(on_behalf(
            v1::ListTenantsRequest {},
            galsync_platform::on_behalf::Role::Viewer,
        ))
        .await
        .unwrap();
    assert_eq!(listed.into_inner().tenants.len(), 1);
    let generate = v1::GenerateCertificateRequest {
        tenant_id: tenant_id.clone(),
        client_id: setup.client_id.clone(),
        key_bits: 0,
        validity_days: 0,
    };
    let refused = as_console
        .generate_certificate(on_behalf(
            generate.clone(),
            galsync_platform::on_behalf::Role::Viewer,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert!(refused
        .message()
        .contains("vera via urn:galsync:service:console"));
    assert!(refused.message().contains("needs admin"), "{refused:?}");
    let as_itself = as_console
        .list_tenants(v1::ListTenantsRequest {})
        .await
        .unwrap_err();
    assert_eq!(as_itself.code(), tonic::Code::PermissionDenied);
    let claimed_by_cli = cli
        .generate_certificate(on_behalf(
            generate,
            galsync_platform::on_behalf::Role::Admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(claimed_by_cli.code(), tonic::Code::PermissionDenied);
    assert!(
        claimed_by_cli.message().contains("may not act on behalf"),
        "{claimed_by_cli:?}"
    );
    let denied = cli
        .list_audit_events(v1::ListAuditEventsRequest {
            tenant_id: String::new(),
            limit: 100,
            kind: "access.denied".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert!(
        denied
            .iter()
            .any(|event| event.caller == "vera via urn:galsync:service:console"),
        "{denied:?}"
    );
}

/// `message` as the console sends it for `vera` with `role`.
fn on_behalf<T>(message: T, role: galsync_platform::on_behalf::Role) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    galsync_platform::on_behalf::attach(&mut request, "vera", role).unwrap();
    request
}
