//! Importing an existing certificate in the console, in front of a real
//! auth-broker over mTLS: an admin uploads a PKCS#12 file with its password
//! (multipart, as a browser sends a file) and pastes a PEM certificate and
//! key; a wrong password, a missing half or a key that does not match come
//! back above the form, which is never refilled with them; a viewer and a
//! forged CSRF token import nothing; the broker's audit names the person;
//! and neither the password nor the key appears on any page or in any log
//! line of the console and the broker (both run in this process).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use common::certificate::{material, pem, pfx_of, PASSWORD};
use common::tenant::{onboarding, Onboarding};
use common::{csrf_token_in, post_multipart, spawn_tenant_console};
use galsync_proto::v1;
use galsync_testkit::scheduler::MtlsScheduler;
use reqwest::StatusCode;

const CONSOLE_ACTOR: &str = "bootstrap-admin via urn:galsync:service:console";
const WRONG_PASSWORD: &str = "n0t-the-Password!";

/// Every log line of this test process, from the first test on.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(logs.clone());
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        logs
    })
    .clone()
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One part of a multipart form: a name, a file name for a file, the bytes.
async fn certificates(setup: &Onboarding) -> Vec<v1::Certificate> {
    setup
        .broker
        .admin_client()
        .await
        .list_certificates(v1::ListCertificatesRequest {
            tenant_id: setup.tenant_id.to_string(),
            client_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .certificates
}

/// The secrets' text as a page or a log could show them: the password,
/// and lines from inside each PEM private key.
fn secret_fragments(keys: &[&str]) -> Vec<String> {
    let mut fragments = vec![PASSWORD.to_owned(), WRONG_PASSWORD.to_owned()];
    for key in keys {
        fragments.extend(key.lines().skip(1).take(3).map(str::to_owned));
    }
    fragments
}

#[tokio::test]
async fn an_admin_imports_a_pfx_and_a_pem_pair_and_neither_password_nor_key_is_ever_shown_or_logged(
) {
    let logs = captured_logs();
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let setup = onboarding(&scheduler).await;
    setup.register_only().await;
    let console = spawn_tenant_console(&scheduler, &setup.broker).await;
    let admin = console.sign_in(&console.admin_link).await;
    let tenant_id = setup.tenant_id.to_string();
    let tenant_path = format!("/tenants/{tenant_id}");
    let import = format!("{tenant_path}/apps/{}/certificates/import", setup.client_id);
    let mut pages = Vec::new();

    let tenant_page = console.page(&tenant_path, &admin).await;
    assert!(
        tenant_page.contains("Import an existing certificate"),
        "{tenant_page}"
    );
    assert!(
        tenant_page.contains("enctype=\"multipart/form-data\""),
        "{tenant_page}"
    );
    let csrf = csrf_token_in(&tenant_page);

    let first = material(&tenant_id);
    let pfx = pfx_of(&first);
    let second = material(&tenant_id);
    let second_key = pem("PRIVATE KEY", &second.private_key_pkcs8);
    let second_certificate = pem("CERTIFICATE", &second.der);
    let first_key = pem("PRIVATE KEY", &first.private_key_pkcs8);

    // A forged token and a viewer import nothing.
    let forged = post_multipart(
        &console,
        &import,
        &admin,
        &[
            ("csrf_token", None, b"forged"),
            ("pfx", Some("contoso.pfx"), &pfx),
            ("password", None, PASSWORD.as_bytes()),
        ],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let viewer = console.sign_in(&console.viewer_link).await;
    let viewer_page = console.page(&tenant_path, &viewer).await;
    assert!(!viewer_page.contains("Import an existing certificate"));
    let viewer_csrf = csrf_token_in(&viewer_page);
    let by_viewer = post_multipart(
        &console,
        &import,
        &viewer,
        &[
            ("csrf_token", None, viewer_csrf.as_bytes()),
            ("pfx", Some("contoso.pfx"), &pfx),
            ("password", None, PASSWORD.as_bytes()),
        ],
    )
    .await;
    assert_eq!(by_viewer.status(), StatusCode::FORBIDDEN);
    assert!(certificates(&setup).await.is_empty());

    // What is missing or wrong comes back above the emptied form.
    for (parts, expected) in [
        (
            vec![("csrf_token", None, csrf.as_bytes())],
            "nothing to import",
        ),
        (
            vec![
                ("csrf_token", None, csrf.as_bytes()),
                ("pfx", Some("contoso.pfx"), pfx.as_slice()),
                ("password", None, WRONG_PASSWORD.as_bytes()),
            ],
            "wrong password",
        ),
        (
            vec![
                ("csrf_token", None, csrf.as_bytes()),
                ("certificate_pem", None, second_certificate.as_bytes()),
            ],
            "private_key_pem is empty",
        ),
        (
            vec![
                ("csrf_token", None, csrf.as_bytes()),
                ("certificate_pem", None, second_certificate.as_bytes()),
                ("private_key_pem", None, first_key.as_bytes()),
            ],
            "private_key_pem",
        ),
    ] {
        let refused = post_multipart(&console, &import, &admin, &parts).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{expected}");
        let refused = refused.text().await.unwrap();
        assert!(refused.contains("id=\"import-error\""), "{refused}");
        assert!(refused.contains(expected), "{expected}: {refused}");
        pages.push(refused);
    }
    assert!(certificates(&setup).await.is_empty());

    let imported = post_multipart(
        &console,
        &import,
        &admin,
        &[
            ("csrf_token", None, csrf.as_bytes()),
            ("pfx", Some("contoso.pfx"), &pfx),
            ("password", None, PASSWORD.as_bytes()),
        ],
    )
    .await;
    assert_eq!(imported.status(), StatusCode::OK);
    let imported = imported.text().await.unwrap();
    assert!(imported.contains("Certificate imported"), "{imported}");
    assert!(imported.contains(&first.thumbprint_sha1), "{imported}");
    assert!(imported.contains("pending registration"), "{imported}");
    pages.push(imported);

    let pasted = post_multipart(
        &console,
        &import,
        &admin,
        &[
            ("csrf_token", None, csrf.as_bytes()),
            ("certificate_pem", None, second_certificate.as_bytes()),
            ("private_key_pem", None, second_key.as_bytes()),
        ],
    )
    .await;
    assert_eq!(pasted.status(), StatusCode::OK);
    let pasted = pasted.text().await.unwrap();
    assert!(pasted.contains(&second.thumbprint_sha1), "{pasted}");
    pages.push(pasted);

    let held = certificates(&setup).await;
    let mut thumbprints: Vec<&str> = held.iter().map(|c| c.thumbprint_sha1.as_str()).collect();
    thumbprints.sort_unstable();
    let mut expected = vec![
        first.thumbprint_sha1.as_str(),
        second.thumbprint_sha1.as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(thumbprints, expected);
    let tenant_page = console.page(&tenant_path, &admin).await;
    assert!(
        tenant_page.contains(&second.thumbprint_sha1),
        "{tenant_page}"
    );
    pages.push(tenant_page);

    let events = setup.audit_events("certificate.imported").await;
    assert_eq!(
        events
            .iter()
            .filter(|event| event.caller == CONSOLE_ACTOR)
            .count(),
        2,
        "{events:?}"
    );

    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        logged.contains("certificate imported"),
        "the console's log line is captured: {logged}"
    );
    for fragment in secret_fragments(&[&first_key, &second_key]) {
        assert!(!logged.contains(&fragment), "a log line shows {fragment}");
        for page in &pages {
            assert!(!page.contains(&fragment), "a page shows {fragment}: {page}");
        }
    }
}
