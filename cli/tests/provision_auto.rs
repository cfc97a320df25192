//! `galsync tenant provision` (the automatic path) from the real binary
//! against an in-process auth-broker and the Entra ID + Graph emulator over
//! HTTP. The administrator "signs in" by approving, through the emulator's
//! admin API, the device code the CLI printed.

mod common;

use common::{Outcome, TestBroker};
use galsync_graph_emulator::Emulator;
use galsync_testkit::provisioning::{
    answer_the_sign_in, approve_the_sign_in, emulated_tenant, SignIn, ADMIN_UPN,
};
use serde_json::{json, Value};
use uuid::Uuid;

const GRAPH_CLI_CLIENT_ID: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";

async fn provision(
    broker: &TestBroker,
    emulator: &Emulator,
    tenant_id: Uuid,
    extra: &[&str],
) -> (Outcome, Value) {
    answered(broker, emulator, tenant_id, extra, SignIn::Approve).await
}

/// `galsync tenant provision` with the administrator's `answer` to the
/// sign-in.
async fn answered(
    broker: &TestBroker,
    emulator: &Emulator,
    tenant_id: Uuid,
    extra: &[&str],
    answer: SignIn,
) -> (Outcome, Value) {
    let base = emulator.base_url();
    let tenant = tenant_id.to_string();
    let mut args = vec![
        "tenant",
        "provision",
        "--tenant-id",
        &tenant,
        "--name",
        "Contoso",
        "--login-url",
        &base,
        "--graph-url",
        &base,
    ];
    args.extend_from_slice(extra);
    let approver = tokio::spawn(answer_the_sign_in(base.clone(), answer));
    let outcome = broker.galsync(&args).await;
    let code = approver.await.unwrap();
    (outcome, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_shows_the_code_creates_the_app_and_a_second_run_creates_nothing() {
    let (emulator, tenant_id) = emulated_tenant(&["Global Administrator"]).await;
    let broker = TestBroker::start().await;

    let (first, code) = provision(&broker, &emulator, tenant_id, &[]).await;
    assert_eq!(first.code, Some(0), "{first:?}");
    assert_eq!(code["client_id"], GRAPH_CLI_CLIENT_ID);
    assert_eq!(
        code["scopes"],
        json!([
            "Application.ReadWrite.All",
            "AppRoleAssignment.ReadWrite.All"
        ]),
        "only the two scopes, no offline_access"
    );
    let user_code = code["user_code"].as_str().unwrap();
    assert!(
        first.stdout.contains("https://microsoft.com/devicelogin")
            && first.stdout.contains(user_code),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("created app galsync – Contoso"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("waiting for Entra to replicate"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("✓ permissions:contacts"),
        "{}",
        first.stdout
    );
    let apps = emulator.state.identity.apps_in_tenant(tenant_id);
    assert_eq!(apps.len(), 1);

    let (second, _) = provision(&broker, &emulator, tenant_id, &["--output", "json"]).await;
    assert_eq!(second.code, Some(0), "{second:?}");
    let result = second.json();
    assert_eq!(result["signed_in_as"], ADMIN_UPN);
    assert_eq!(result["changes"], json!([]));
    assert_eq!(result["test_connection"]["ok"], true);
    assert_eq!(result["apps"][0]["client_id"], apps[0].client_id.as_str());
    assert_eq!(
        result["apps"][0]["purposes"],
        json!(["directory", "contacts"])
    );
    assert_eq!(emulator.state.identity.apps_in_tenant(tenant_id).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_administrator_is_refused_with_exit_4_and_the_role_named() {
    let (emulator, tenant_id) = emulated_tenant(&["Application Administrator"]).await;
    let broker = TestBroker::start().await;

    let (refused, _) = provision(&broker, &emulator, tenant_id, &["--two-apps"]).await;
    assert_eq!(refused.code, Some(4), "{refused:?}");
    assert!(
        refused.stderr.contains("Privileged Role Administrator")
            && refused.stderr.contains("Global Administrator"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("grant Microsoft Graph application permissions"),
        "{}",
        refused.stderr
    );
}

/// `galsync tenant adopt`, as after the `--manual` scripts: the apps exist in
/// Entra ID (made here by a first provisioning) while galsync knows another
/// client id. Adopt signs in with Application.Read.All only, records the app
/// and changes nothing; a missing grant is named with the fix, not repaired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_records_the_scripts_app_with_a_read_only_sign_in_and_names_what_is_missing() {
    let (emulator, tenant_id) = emulated_tenant(&["Global Administrator"]).await;
    let broker = TestBroker::start().await;
    let (made, _) = provision(&broker, &emulator, tenant_id, &[]).await;
    assert_eq!(made.code, Some(0), "{made:?}");
    let apps = emulator.state.identity.apps_in_tenant(tenant_id);
    let client_id = apps[0].client_id.clone();
    let tenant = tenant_id.to_string();
    let placeholder = "0b8f6a2e-1c5d-4d7e-8f90-a1b2c3d4e5f6";
    let moved = broker
        .galsync(&[
            "tenant",
            "update",
            "--tenant-id",
            &tenant,
            "--client-id",
            placeholder,
        ])
        .await;
    assert_eq!(moved.code, Some(0), "{moved:?}");

    let adopt = ["tenant", "adopt", "--tenant-id", tenant.as_str()];
    let approver = tokio::spawn(approve_the_sign_in(emulator.base_url()));
    let adopted = broker.galsync(&adopt).await;
    let code = approver.await.unwrap();
    assert_eq!(adopted.code, Some(0), "{adopted:?}");
    assert_eq!(code["scopes"], json!(["Application.Read.All"]));
    assert!(
        adopted.stdout.contains(&format!(
            "adopted tenant {tenant} as {ADMIN_UPN} (client id {client_id})"
        )),
        "{}",
        adopted.stdout
    );
    assert!(
        adopted.stdout.contains("✓ permissions:contacts"),
        "{}",
        adopted.stdout
    );
    let shown = broker
        .galsync(&["tenant", "show", "--tenant-id", &tenant, "--output", "json"])
        .await;
    assert!(shown.stdout.contains(&client_id), "{shown:?}");
    assert!(!shown.stdout.contains(placeholder), "{shown:?}");

    emulator
        .state
        .identity
        .revoke_role(tenant_id, &client_id, "Contacts.ReadWrite")
        .unwrap();
    let approver = tokio::spawn(approve_the_sign_in(emulator.base_url()));
    let refused = broker.galsync(&adopt).await;
    approver.await.unwrap();
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(
        refused.stderr.contains(&format!(
            "no admin consent for Contacts.ReadWrite on app {client_id}"
        )) && refused.stderr.contains("galsync-entra.ps1"),
        "{}",
        refused.stderr
    );
    let app = emulator
        .state
        .identity
        .show_app(tenant_id, &client_id)
        .unwrap();
    assert!(
        !app.granted_roles
            .iter()
            .any(|role| role == "Contacts.ReadWrite"),
        "adopting granted a permission: {:?}",
        app.granted_roles
    );
}

/// An administrator who declines the sign-in, or never signs in, changes
/// nothing: no app, no tenant; the message says what happened and what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_or_expired_sign_in_changes_nothing_and_says_so() {
    let (emulator, tenant_id) = emulated_tenant(&["Global Administrator"]).await;
    let broker = TestBroker::start().await;

    let (declined, _) = answered(&broker, &emulator, tenant_id, &[], SignIn::Decline).await;
    assert_eq!(declined.code, Some(4), "{declined:?}");
    assert!(
        declined
            .stderr
            .contains("the administrator declined the sign-in; nothing was changed"),
        "{}",
        declined.stderr
    );

    let (expired, _) = answered(&broker, &emulator, tenant_id, &[], SignIn::Expire).await;
    assert_eq!(expired.code, Some(1), "{expired:?}");
    assert!(
        expired.stderr.contains(
            "the sign-in code expired before the administrator signed in; run provision again"
        ),
        "{}",
        expired.stderr
    );

    assert!(emulator.state.identity.apps_in_tenant(tenant_id).is_empty());
    let listed = broker
        .galsync(&["tenant", "list", "--output", "json"])
        .await;
    assert_eq!(listed.code, Some(0), "{listed:?}");
    assert!(
        !listed.stdout.contains(&tenant_id.to_string()),
        "{}",
        listed.stdout
    );
}

/// `--target-group` on the automatic path: the apps are made through Graph,
/// and the one step Graph cannot do — restricting the write app to the
/// group's mailboxes, in Exchange Online PowerShell — is written as
/// galsync-exchange.ps1 for an Exchange administrator. Without `--out` it is
/// refused before anything happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_group_writes_the_exchange_script_after_provisioning() {
    let (emulator, tenant_id) = emulated_tenant(&["Global Administrator"]).await;
    let broker = TestBroker::start().await;
    let tenant = tenant_id.to_string();
    let refused = broker
        .galsync(&[
            "tenant",
            "provision",
            "--tenant-id",
            &tenant,
            "--target-group",
            "Company phones",
        ])
        .await;
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(refused.stderr.contains("--out"), "{}", refused.stderr);
    assert!(emulator.state.identity.apps_in_tenant(tenant_id).is_empty());

    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_str().unwrap();
    let (made, _) = provision(
        &broker,
        &emulator,
        tenant_id,
        &[
            "--two-apps",
            "--target-group",
            "Company phones",
            "--out",
            out_dir,
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(made.code, Some(0), "{made:?}");
    let result = made.json();
    let script_path = out.path().join("galsync-exchange.ps1");
    assert_eq!(result["files"], json!([script_path]), "{result:#}");
    let script = std::fs::read_to_string(&script_path).unwrap();
    assert!(script.contains("Company phones"), "{script}");
    assert!(
        script.contains(&format!("galsync-contacts-{tenant_id}")),
        "the script finds the write app by its uniqueName: {script}"
    );
    assert!(
        script.contains("Application Contacts.ReadWrite"),
        "{script}"
    );
    assert!(
        !out.path().join("galsync-entra.ps1").exists(),
        "the automatic path made the apps; no Entra script"
    );
}
