//! `galsync cert rotate` with and without the tenant's permission to upload
//! rotated certificates (issue 17), from the real binary against an
//! in-process auth-broker and the Entra ID + Graph emulator over HTTP. The
//! tenant is made by `galsync tenant provision` (the administrator approves
//! the device code through the emulator's admin API), which records what
//! rolling a key needs: the app's object id and its certificate's key id.

mod common;

use common::{Outcome, TestBroker};
use galsync_graph_emulator::Emulator;
use galsync_testkit::provisioning::{approve_the_sign_in, emulated_tenant};
use uuid::Uuid;

async fn provision(
    broker: &TestBroker,
    emulator: &Emulator,
    tenant: &str,
    extra: &[&str],
) -> Outcome {
    let base = emulator.base_url();
    let mut args = vec![
        "tenant",
        "provision",
        "--tenant-id",
        tenant,
        "--name",
        "Contoso",
        "--login-url",
        &base,
        "--graph-url",
        &base,
    ];
    args.extend_from_slice(extra);
    let approver = tokio::spawn(approve_the_sign_in(base.clone()));
    let outcome = broker.galsync(&args).await;
    approver.await.unwrap();
    outcome
}

/// SHA-1 thumbprints of the keys on the emulated app registration.
fn app_thumbprints(emulator: &Emulator, tenant_id: Uuid) -> Vec<String> {
    let apps = emulator.state.identity.apps_in_tenant(tenant_id);
    assert_eq!(apps.len(), 1);
    apps[0]
        .certificates
        .iter()
        .map(|certificate| certificate.thumbprint_sha1.clone())
        .collect()
}

/// `state` of each certificate galsync holds, by SHA-1 thumbprint.
async fn certificate_states(broker: &TestBroker, tenant: &str) -> Vec<(String, String)> {
    let listed = broker
        .galsync(&["cert", "list", "--tenant-id", tenant, "--output", "json"])
        .await;
    assert_eq!(listed.code, Some(0), "{listed:?}");
    let document = listed.json();
    let rows = document
        .as_array()
        .cloned()
        .or_else(|| document["certificates"].as_array().cloned())
        .expect("a list of certificates");
    rows.iter()
        .map(|row| {
            (
                row["thumbprint_sha1"].as_str().unwrap().to_owned(),
                row["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_uploads_allowed_rotate_adds_the_key_then_the_old_one_goes_once_the_new_one_works() {
    let (emulator, tenant_id) = emulated_tenant(&["Global Administrator"]).await;
    let broker = TestBroker::start().await;
    let tenant = tenant_id.to_string();
    let provisioned = provision(&broker, &emulator, &tenant, &[]).await;
    assert_eq!(provisioned.code, Some(0), "{provisioned:?}");
    assert!(
        provisioned
            .stdout
            .contains("upload of rotated certificates to the app registration: on"),
        "provision says the default: {}",
        provisioned.stdout
    );
    let shown = broker
        .galsync(&["tenant", "show", "--tenant-id", &tenant])
        .await;
    assert!(
        shown.stdout.contains("key upload: ") && shown.stdout.contains("on (cert rotate"),
        "{}",
        shown.stdout
    );
    let old_thumbprints = app_thumbprints(&emulator, tenant_id);
    assert_eq!(old_thumbprints.len(), 1);
    let client_id = emulator.state.identity.apps_in_tenant(tenant_id)[0]
        .client_id
        .clone();

    let rotated = broker
        .galsync(&["cert", "rotate", "--tenant-id", &tenant, "--output", "json"])
        .await;
    assert_eq!(rotated.code, Some(0), "{rotated:?}");
    let certificate = rotated.json();
    let new_thumbprint = certificate["thumbprint_sha1"].as_str().unwrap().to_owned();
    let registration = certificate["registration"].as_str().unwrap_or_default();
    assert!(
        registration.starts_with(&format!("uploaded to app {client_id}")),
        "{certificate}"
    );
    assert_eq!(certificate["state"], "pending-registration");
    assert_eq!(
        app_thumbprints(&emulator, tenant_id),
        vec![old_thumbprints[0].clone(), new_thumbprint.clone()],
        "addKey put the new certificate next to the old one"
    );

    // Once Entra has replicated the new key, the next fresh token request
    // signs with it; the broker activates it and removes the old key.
    emulator.state.clock.advance(chrono::Duration::seconds(3));
    let checked = broker
        .galsync(&["test-connection", "--tenant-id", &tenant])
        .await;
    assert_eq!(
        checked.code,
        Some(0),
        "test connection is green: {checked:?}"
    );
    let states = certificate_states(&broker, &tenant).await;
    assert!(
        states.contains(&(new_thumbprint.clone(), "active".to_owned())),
        "{states:?}"
    );
    assert_eq!(
        app_thumbprints(&emulator, tenant_id),
        vec![new_thumbprint.clone()],
        "removeKey took the old certificate off the app"
    );
    let audit = broker
        .galsync(&["audit", "--tenant-id", &tenant, "--limit", "50"])
        .await;
    for kind in ["certificate.uploaded", "certificate.removed_from_app"] {
        assert!(
            audit.stdout.contains(kind),
            "{kind} audited: {}",
            audit.stdout
        );
    }
    assert!(
        !audit.stdout.contains("BEGIN") && !audit.stdout.contains("eyJ"),
        "no key material or token in the audit: {}",
        audit.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_uploads_off_rotate_changes_nothing_on_the_app_and_the_new_certificate_waits() {
    let (emulator, tenant_id) = emulated_tenant(&["Global Administrator"]).await;
    let broker = TestBroker::start().await;
    let tenant = tenant_id.to_string();
    let provisioned = provision(
        &broker,
        &emulator,
        &tenant,
        &["--upload-rotated-certificates", "off"],
    )
    .await;
    assert_eq!(provisioned.code, Some(0), "{provisioned:?}");
    let before = app_thumbprints(&emulator, tenant_id);

    let rotated = broker
        .galsync(&["cert", "rotate", "--tenant-id", &tenant])
        .await;
    assert_eq!(rotated.code, Some(0), "{rotated:?}");
    assert!(
        rotated.stdout.contains("upload galsync-")
            && rotated.stdout.contains(".cer to the app registration")
            && rotated
                .stdout
                .contains("galsync tenant update --upload-rotated-certificates on"),
        "{}",
        rotated.stdout
    );
    assert_eq!(
        app_thumbprints(&emulator, tenant_id),
        before,
        "keyCredentials unchanged"
    );

    emulator.state.clock.advance(chrono::Duration::seconds(3));
    let checked = broker
        .galsync(&["test-connection", "--tenant-id", &tenant])
        .await;
    // As before this option: tokens still flow with the old certificate, and
    // Test Connection names the .cer nobody uploaded yet.
    assert_eq!(checked.code, Some(1), "{checked:?}");
    assert!(
        checked.stdout.contains("✓ token:")
            && checked.stdout.contains("not yet accepted by Entra ID")
            && checked.stdout.contains("fix: upload the .cer"),
        "{}",
        checked.stdout
    );
    let states = certificate_states(&broker, &tenant).await;
    assert_eq!(
        states
            .iter()
            .filter(|(_, state)| state == "pending-registration")
            .count(),
        1,
        "{states:?}"
    );
    assert!(
        states.contains(&(before[0].clone(), "active".to_owned())),
        "{states:?}"
    );

    let updated = broker
        .galsync(&[
            "tenant",
            "update",
            "--tenant-id",
            &tenant,
            "--upload-rotated-certificates",
            "on",
        ])
        .await;
    assert_eq!(updated.code, Some(0), "{updated:?}");
    assert!(
        updated.stdout.contains("upload_rotated_certificates"),
        "{}",
        updated.stdout
    );
    let shown = broker
        .galsync(&["tenant", "show", "--tenant-id", &tenant, "--output", "json"])
        .await;
    assert_eq!(shown.json()["upload_rotated_certificates"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switch_takes_on_or_off_and_belongs_to_the_automatic_path() {
    let broker = TestBroker::start().await;
    let tenant = Uuid::new_v4().to_string();
    let maybe = broker
        .galsync(&[
            "tenant",
            "update",
            "--tenant-id",
            &tenant,
            "--upload-rotated-certificates",
            "maybe",
        ])
        .await;
    assert_eq!(maybe.code, Some(2), "{maybe:?}");
    assert!(
        maybe.stderr.contains("--upload-rotated-certificates")
            && maybe.stderr.contains("on or off"),
        "{}",
        maybe.stderr
    );
    let manual = broker
        .galsync(&[
            "tenant",
            "provision",
            "--manual",
            "--tenant-id",
            &tenant,
            "--out",
            "unused",
            "--upload-rotated-certificates",
            "on",
        ])
        .await;
    assert_eq!(manual.code, Some(2), "{manual:?}");
    assert!(
        manual
            .stderr
            .contains("galsync tenant update --upload-rotated-certificates on"),
        "{}",
        manual.stderr
    );
}
