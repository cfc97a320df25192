//! The `galsync` binary against a real auth-broker (in-process, mTLS) and the
//! Entra + Graph emulator: tenants, certificates, consent and test-connection,
//! as an administrator sees them.

mod common;

use common::{emulated_tenant, sha1_hex_upper, TestBroker};
use galsync_graph_emulator::{Emulator, EmulatorConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_add_with_a_domain_says_where_to_find_the_tenant_id() {
    let broker = TestBroker::start().await;
    let outcome = broker
        .galsync(&[
            "tenant",
            "add",
            "--tenant-id",
            "contoso.onmicrosoft.com",
            "--name",
            "Contoso",
            "--client-id",
            "11111111-2222-3333-4444-555555555555",
        ])
        .await;
    assert_eq!(outcome.code, Some(2), "{outcome:?}");
    assert!(
        outcome
            .stderr
            .contains("`contoso.onmicrosoft.com` is a domain name, not a GUID"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("Overview > Tenant ID"),
        "{}",
        outcome.stderr
    );

    let listed = broker
        .galsync(&["--output", "json", "tenant", "list"])
        .await;
    assert_eq!(listed.json()["tenants"].as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_added_listed_and_shown_in_table_and_json() {
    let broker = TestBroker::start().await;
    let tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let read_app = "aaaaaaaa-0000-0000-0000-000000000001";
    let write_app = "aaaaaaaa-0000-0000-0000-000000000002";
    let added = broker
        .galsync(&[
            "tenant",
            "add",
            "--tenant-id",
            tenant_id,
            "--name",
            "Contoso",
            "--client-id",
            read_app,
            "--write-client-id",
            write_app,
            "--login-url",
            "http://127.0.0.1:9/login",
            "--graph-url",
            "http://127.0.0.1:9/graph",
        ])
        .await;
    assert_eq!(added.code, Some(0), "{added:?}");
    assert!(added
        .stdout
        .contains(&format!("registered tenant Contoso ({tenant_id})")));
    assert!(added
        .stdout
        .contains(&format!("galsync cert generate --tenant-id {tenant_id}")));

    let table = broker.galsync(&["tenant", "list"]).await;
    assert_eq!(table.code, Some(0), "{table:?}");
    let row = table
        .stdout
        .lines()
        .find(|line| line.starts_with(tenant_id))
        .unwrap_or_else(|| panic!("no row for the tenant:\n{}", table.stdout));
    assert!(row.contains("Contoso"), "{row}");
    assert!(
        row.contains(&format!("{read_app} (certificate, directory)")),
        "{row}"
    );
    assert!(
        row.contains(&format!("{write_app} (certificate, contacts)")),
        "{row}"
    );

    let listed = broker
        .galsync(&["--output", "json", "tenant", "list"])
        .await
        .json();
    let tenant = &listed["tenants"][0];
    assert_eq!(tenant["tenant_id"], tenant_id);
    assert_eq!(tenant["display_name"], "Contoso");
    assert_eq!(tenant["login_base_url"], "http://127.0.0.1:9/login");
    assert_eq!(tenant["apps"][0]["client_id"], read_app);
    assert_eq!(tenant["apps"][0]["auth_mode"], "certificate");
    assert_eq!(
        tenant["apps"][0]["purposes"],
        serde_json::json!(["directory"])
    );
    assert_eq!(
        tenant["apps"][1]["purposes"],
        serde_json::json!(["contacts"])
    );

    let shown = broker
        .galsync(&["tenant", "show", "--tenant-id", tenant_id])
        .await;
    assert_eq!(shown.code, Some(0), "{shown:?}");
    assert!(
        shown
            .stdout
            .contains("graph host:  http://127.0.0.1:9/graph"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("not recorded"), "{}", shown.stdout);
    let shown_json = broker
        .galsync(&[
            "--output",
            "json",
            "tenant",
            "show",
            "--tenant-id",
            tenant_id,
        ])
        .await
        .json();
    assert_eq!(shown_json["apps"][1]["consent"]["granted"], false);

    let unknown = broker
        .galsync(&[
            "tenant",
            "show",
            "--tenant-id",
            "00000000-0000-0000-0000-000000000000",
        ])
        .await;
    assert_eq!(unknown.code, Some(5), "{unknown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_cer_matches_the_thumbprint_cert_list_shows() {
    let broker = TestBroker::start().await;
    let tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let added = broker
        .galsync(&[
            "tenant",
            "add",
            "--tenant-id",
            tenant_id,
            "--name",
            "Contoso",
            "--client-id",
            "aaaaaaaa-0000-0000-0000-000000000001",
        ])
        .await;
    assert_eq!(added.code, Some(0), "{added:?}");
    let generated = broker
        .galsync(&["cert", "generate", "--tenant-id", tenant_id])
        .await;
    assert_eq!(generated.code, Some(0), "{generated:?}");
    assert!(
        generated.stdout.contains("pending-registration"),
        "{}",
        generated.stdout
    );

    let cer_path = broker.data_dir().join("galsync.cer");
    let cer_arg = cer_path.display().to_string();
    let exported = broker
        .galsync(&[
            "cert",
            "export",
            "--tenant-id",
            tenant_id,
            "--out",
            &cer_arg,
        ])
        .await;
    assert_eq!(exported.code, Some(0), "{exported:?}");
    let file_thumbprint = sha1_hex_upper(&cer_path);
    assert!(
        exported
            .stdout
            .contains(&format!("SHA-1 thumbprint: {file_thumbprint}")),
        "{}",
        exported.stdout
    );
    assert!(
        exported.stdout.contains("Certificates & secrets"),
        "{}",
        exported.stdout
    );

    let listed = broker
        .galsync(&["cert", "list", "--tenant-id", tenant_id])
        .await;
    assert_eq!(listed.code, Some(0), "{listed:?}");
    let row = listed
        .stdout
        .lines()
        .find(|line| line.contains(&file_thumbprint))
        .unwrap_or_else(|| panic!("cert list lacks {file_thumbprint}:\n{}", listed.stdout));
    assert!(row.contains("pending-registration"), "{row}");
    let listed_json = broker
        .galsync(&["--output", "json", "cert", "list", "--tenant-id", tenant_id])
        .await
        .json();
    assert_eq!(
        listed_json["certificates"][0]["thumbprint_sha1"],
        file_thumbprint.as_str()
    );
    assert_eq!(listed_json["certificates"][0]["key_bits"], 2048);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_fails_with_the_upload_hint_until_the_cer_is_uploaded_and_consented() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start().await;
    let tenant = emulated_tenant(&emulator, &broker);
    let mailbox = emulator.state.directory.add_mailbox_user(
        tenant.tenant_id,
        "Adele Vance",
        "adele@contoso.example",
        true,
    );
    let tenant_id = tenant.tenant_id.to_string();
    let emulator_url = emulator.base_url();
    let added = broker
        .galsync(&[
            "tenant",
            "add",
            "--tenant-id",
            &tenant_id,
            "--name",
            "Contoso",
            "--client-id",
            &tenant.client_id,
            "--login-url",
            &emulator_url,
            "--graph-url",
            &emulator_url,
        ])
        .await;
    assert_eq!(added.code, Some(0), "{added:?}");
    let generated = broker
        .galsync(&["cert", "generate", "--tenant-id", &tenant_id])
        .await;
    assert_eq!(generated.code, Some(0), "{generated:?}");
    let cer_path = broker.data_dir().join("contoso.cer");
    let cer_arg = cer_path.display().to_string();
    let exported = broker
        .galsync(&[
            "cert",
            "export",
            "--tenant-id",
            &tenant_id,
            "--out",
            &cer_arg,
        ])
        .await;
    assert_eq!(exported.code, Some(0), "{exported:?}");

    let before_upload = broker
        .galsync(&[
            "test-connection",
            "--tenant-id",
            &tenant_id,
            "--mailbox",
            &mailbox,
        ])
        .await;
    assert_eq!(before_upload.code, Some(1), "{before_upload:?}");
    assert!(
        before_upload.stdout.contains("✗ token:"),
        "{}",
        before_upload.stdout
    );
    assert!(
        before_upload.stdout.contains("AADSTS700027"),
        "{}",
        before_upload.stdout
    );
    assert!(
        before_upload
            .stdout
            .contains("upload the .cer under Certificates & secrets"),
        "{}",
        before_upload.stdout
    );
    assert!(
        before_upload.stdout.contains(&format!(
            "galsync cert export --tenant-id {tenant_id} --out galsync.cer"
        )),
        "{}",
        before_upload.stdout
    );
    assert!(
        before_upload.stderr.contains("connection checks failed"),
        "{}",
        before_upload.stderr
    );

    let cer_der = std::fs::read(&cer_path).unwrap();
    emulator
        .state
        .identity
        .upload_certificate(&tenant.client_id, &cer_der)
        .expect("upload the exported .cer");
    let consent = broker
        .galsync(&[
            "--output",
            "json",
            "consent",
            "url",
            "--tenant-id",
            &tenant_id,
        ])
        .await;
    assert_eq!(consent.code, Some(0), "{consent:?}");
    let consent_url = consent.json()["url"].as_str().unwrap().to_owned();
    // The administrator's browser: the emulator approves and redirects to the broker's callback.
    galsync_testkit::approve_consent_in_browser(
        &emulator,
        tenant.tenant_id,
        &tenant.client_id,
        &consent_url,
    )
    .await;
    let consent_status = broker
        .galsync(&["consent", "status", "--tenant-id", &tenant_id])
        .await;
    assert!(
        consent_status.stdout.starts_with("granted"),
        "{consent_status:?}"
    );

    let after = broker
        .galsync(&[
            "test-connection",
            "--tenant-id",
            &tenant_id,
            "--mailbox",
            &mailbox,
        ])
        .await;
    assert_eq!(after.code, Some(0), "{after:?}");
    assert!(!after.stdout.contains('✗'), "{}", after.stdout);
    assert!(after.stdout.contains("✓ graph:mailbox"), "{}", after.stdout);
    assert!(after.stdout.contains("checks passed"), "{}", after.stdout);

    let listed = broker
        .galsync(&[
            "--output",
            "json",
            "cert",
            "list",
            "--tenant-id",
            &tenant_id,
        ])
        .await
        .json();
    assert_eq!(listed["certificates"][0]["state"], "active");
    let audit = broker
        .galsync(&[
            "audit",
            "--tenant-id",
            &tenant_id,
            "--kind",
            "certificate.activated",
        ])
        .await;
    assert_eq!(audit.code, Some(0), "{audit:?}");
    assert!(
        audit.stdout.contains("certificate.activated"),
        "{}",
        audit.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_set_reads_stdin_or_an_env_var_and_never_prints_the_secret() {
    let broker = TestBroker::start().await;
    let tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let client_id = "aaaaaaaa-0000-0000-0000-000000000001";
    let added = broker
        .galsync(&[
            "tenant",
            "add",
            "--tenant-id",
            tenant_id,
            "--name",
            "Contoso",
            "--client-id",
            client_id,
            "--auth",
            "client-secret",
        ])
        .await;
    assert_eq!(added.code, Some(0), "{added:?}");
    assert!(
        added.stdout.contains("galsync secret set"),
        "{}",
        added.stdout
    );
    let set = [
        "secret",
        "set",
        "--tenant-id",
        tenant_id,
        "--client-id",
        client_id,
    ];

    let empty = broker.galsync_with(&set, Vec::new(), b"\n".to_vec()).await;
    assert_eq!(empty.code, Some(2), "{empty:?}");
    assert!(
        empty.stderr.contains("the client secret is empty"),
        "{}",
        empty.stderr
    );

    let secret = "Xq8~s3cr3t.value-from-entra";
    let from_stdin = broker
        .galsync_with(&set, Vec::new(), format!("{secret}\n").into_bytes())
        .await;
    assert_eq!(from_stdin.code, Some(0), "{from_stdin:?}");
    assert!(from_stdin.stdout.contains(&format!(
        "client secret stored (sealed) for app {client_id}"
    )));
    assert!(!from_stdin.stdout.contains(secret) && !from_stdin.stderr.contains(secret));
    let shown = broker
        .galsync(&[
            "--output",
            "json",
            "tenant",
            "show",
            "--tenant-id",
            tenant_id,
        ])
        .await;
    assert_eq!(shown.json()["apps"][0]["has_client_secret"], true);
    assert!(!shown.stdout.contains(secret));

    let mut from_env_args = set.to_vec();
    from_env_args.extend(["--from-env", "ENTRA_SECRET"]);
    let unset = broker
        .galsync_with(&from_env_args, Vec::new(), Vec::new())
        .await;
    assert_eq!(unset.code, Some(2), "{unset:?}");
    assert!(
        unset.stderr.contains("ENTRA_SECRET is not set"),
        "{}",
        unset.stderr
    );
    let from_env = broker
        .galsync_with(
            &from_env_args,
            vec![("ENTRA_SECRET".to_owned(), secret.to_owned())],
            Vec::new(),
        )
        .await;
    assert_eq!(from_env.code, Some(0), "{from_env:?}");
    assert!(!from_env.stdout.contains(secret) && !from_env.stderr.contains(secret));
}

const SECRET_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const SECRET_APP: &str = "aaaaaaaa-0000-0000-0000-000000000003";

/// `galsync tenant add` of Contoso with one app signing in with a secret.
async fn add_client_secret_tenant(broker: &TestBroker) {
    let added = broker
        .galsync(&[
            "tenant",
            "add",
            "--tenant-id",
            SECRET_TENANT,
            "--name",
            "Contoso",
            "--client-id",
            SECRET_APP,
            "--auth",
            "client-secret",
            "--login-url",
            "http://127.0.0.1:9/login",
            "--graph-url",
            "http://127.0.0.1:9/graph",
        ])
        .await;
    assert_eq!(added.code, Some(0), "{added:?}");
}

/// `galsync secret set --expires-on` for that app, `days` from today;
/// returns the date as given.
async fn set_secret_expiring_in(broker: &TestBroker, days: i64) -> String {
    let expires_on = (chrono::Utc::now() + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string();
    let set = broker
        .galsync_with(
            &[
                "secret",
                "set",
                "--tenant-id",
                SECRET_TENANT,
                "--client-id",
                SECRET_APP,
                "--expires-on",
                &expires_on,
            ],
            Vec::new(),
            b"Sup3r~Secret.Value\n".to_vec(),
        )
        .await;
    assert_eq!(set.code, Some(0), "{set:?}");
    expires_on
}

/// `galsync secret set --expires-on` then `secret list`: the expiry is kept
/// and a secret inside the broker's renewal window (30 days by default)
/// says so with the fix.
#[tokio::test]
async fn secret_list_shows_each_secrets_expiry_and_warns_inside_thirty_days() {
    let broker = TestBroker::start().await;
    add_client_secret_tenant(&broker).await;
    let before = broker.galsync(&["secret", "list"]).await;
    assert!(
        before.stdout.contains("no secret: galsync secret set"),
        "{}",
        before.stdout
    );

    let expires_on = set_secret_expiring_in(&broker, 12).await;
    let listed = broker.galsync(&["secret", "list"]).await;
    assert_eq!(listed.code, Some(0), "{listed:?}");
    assert!(listed.stdout.contains(&expires_on), "{}", listed.stdout);
    assert!(
        listed.stdout.contains("add a new secret in Entra"),
        "{}",
        listed.stdout
    );
    assert!(!listed.stdout.contains("Sup3r"), "never the secret itself");
}

/// `secret list` warns inside the broker's renewal window, whatever
/// `--cert-renewal-days` says, as the broker and the console do: with 60
/// days a secret expiring in 45 days is flagged, with 7 days it is not.
#[tokio::test]
async fn secret_list_warns_inside_the_brokers_renewal_window() {
    for (renewal_days, warned) in [(60, true), (7, false)] {
        let broker = TestBroker::start_with(|config| config.cert_renewal_days = renewal_days).await;
        add_client_secret_tenant(&broker).await;
        set_secret_expiring_in(&broker, 45).await;
        let listed = broker.galsync(&["secret", "list"]).await;
        assert_eq!(listed.code, Some(0), "{listed:?}");
        assert_eq!(
            listed.stdout.contains("add a new secret in Entra"),
            warned,
            "window {renewal_days}: {}",
            listed.stdout
        );
    }
}
