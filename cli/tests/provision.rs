//! `galsync tenant provision --manual` against a real auth-broker (in-process,
//! mTLS): the scripts name the broker's certificate, the permissions of
//! galsync's own table and the target group, quote what they carry, and pass
//! the syntax check of `ps_syntax` (not a PowerShell parser: see there).

mod common;
mod ps_syntax;

use std::path::Path;

use common::{sha1_hex_upper, Outcome, TestBroker};

const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "aaaaaaaa-0000-0000-0000-000000000001";

/// A tenant named `name` with one app and (when `with_certificate`) a certificate.
async fn registered(broker: &TestBroker, name: &str, with_certificate: bool) {
    let added = broker
        .galsync(&[
            "tenant",
            "add",
            "--tenant-id",
            TENANT_ID,
            "--name",
            name,
            "--client-id",
            CLIENT_ID,
        ])
        .await;
    assert_eq!(added.code, Some(0), "{added:?}");
    if with_certificate {
        let generated = broker
            .galsync(&["cert", "generate", "--tenant-id", TENANT_ID])
            .await;
        assert_eq!(generated.code, Some(0), "{generated:?}");
    }
}

async fn provision(broker: &TestBroker, out: &Path, extra: &[&str]) -> Outcome {
    let out_arg = out.display().to_string();
    let mut args = vec![
        "tenant",
        "provision",
        "--manual",
        "--tenant-id",
        TENANT_ID,
        "--out",
        &out_arg,
    ];
    args.extend_from_slice(extra);
    broker.galsync(&args).await
}

/// A script as PowerShell reads it: UTF-8 with a byte order mark.
fn read_script(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let text = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or_else(|| panic!("{} has no UTF-8 byte order mark", path.display()));
    let script = String::from_utf8(text.to_vec()).expect("UTF-8");
    let problems = ps_syntax::check(&script);
    assert!(
        problems.is_empty(),
        "{}:\n{}",
        path.display(),
        problems.join("\n")
    );
    script
}

/// The line of `$Apps` that describes the app named `display_name`.
fn app_line<'a>(script: &'a str, display_name: &str) -> &'a str {
    let needle = format!("DisplayName = '{display_name}'");
    script
        .lines()
        .find(|line| line.contains(&needle))
        .unwrap_or_else(|| panic!("no app {display_name} in:\n{script}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_app_scripts_carry_the_brokers_certificate_all_four_permissions_and_the_group() {
    let broker = TestBroker::start().await;
    registered(&broker, "Contoso O'Brien", true).await;
    let out = broker.data_dir().join("provision");
    let outcome = provision(&broker, &out, &["--target-group", "Phones – Nord"]).await;
    assert_eq!(outcome.code, Some(0), "{outcome:?}");

    // The .cer is the DER the broker holds: the same bytes `cert export` writes.
    let exported_path = broker.data_dir().join("exported.cer");
    let exported_arg = exported_path.display().to_string();
    let exported = broker
        .galsync(&[
            "cert",
            "export",
            "--tenant-id",
            TENANT_ID,
            "--out",
            &exported_arg,
        ])
        .await;
    assert_eq!(exported.code, Some(0), "{exported:?}");
    let cer_path = out.join("galsync.cer");
    assert_eq!(
        std::fs::read(&cer_path).unwrap(),
        std::fs::read(&exported_path).unwrap()
    );
    let thumbprint = sha1_hex_upper(&cer_path);
    assert!(
        outcome
            .stdout
            .contains(&format!("certificate SHA-1 thumbprint: {thumbprint}")),
        "{}",
        outcome.stdout
    );

    let entra = read_script(&out.join("galsync-entra.ps1"));
    assert!(
        entra.contains(&format!("$ExpectedThumbprint = '{thumbprint}'")),
        "{entra}"
    );
    assert!(
        entra.contains(&format!("#      {thumbprint}) as the app's key credential")),
        "{entra}"
    );
    assert!(
        entra.contains("$TenantName = 'Contoso O''Brien'"),
        "{entra}"
    );
    assert!(
        entra.contains(&format!("$RegisteredClientIds = @('{CLIENT_ID}')")),
        "{entra}"
    );
    let app = app_line(&entra, "galsync – Contoso O''Brien");
    assert!(
        app.contains("Purpose = 'directory,contacts'")
            && app.contains(
                "Permissions = @('User.Read.All', 'Group.Read.All', 'MailboxSettings.Read', 'Contacts.ReadWrite')"
            ),
        "{app}"
    );
    assert!(
        entra.contains("Get-MgServicePrincipal -Filter \"appId eq '$GraphAppId'\""),
        "{entra}"
    );
    assert!(
        entra.contains("-Scopes 'Application.ReadWrite.All', 'AppRoleAssignment.ReadWrite.All'"),
        "{entra}"
    );

    let exchange = read_script(&out.join("galsync-exchange.ps1"));
    assert!(
        exchange.contains("$TargetGroup = 'Phones – Nord'"),
        "{exchange}"
    );
    assert!(
        exchange.contains("$WriteAppName = 'galsync – Contoso O''Brien'"),
        "{exchange}"
    );
    // Found by the uniqueName both provisioning paths give the app.
    assert!(
        exchange.contains(&format!("$WriteAppUniqueName = 'galsync-{TENANT_ID}'"))
            && exchange
                .contains("Get-MgApplication -Filter \"uniqueName eq '$WriteAppUniqueName'\""),
        "{exchange}"
    );
    assert!(
        exchange.contains("$GroupDn = (Get-Group -Identity $TargetGroup).DistinguishedName"),
        "{exchange}"
    );
    assert!(
        exchange.contains("$Filter = \"MemberOfGroup -eq '$QuotedGroupDn'\""),
        "{exchange}"
    );
    assert!(
        exchange
            .contains("New-ManagementScope -Name $ScopeName -RecipientRestrictionFilter $Filter"),
        "{exchange}"
    );
    assert!(
        exchange.contains("-App $WriteAppId -Role $RoleName -CustomResourceScope $ScopeName"),
        "{exchange}"
    );
    assert!(
        exchange.contains("$RoleName = 'Application Contacts.ReadWrite'"),
        "{exchange}"
    );
    assert!(
        exchange.contains("Remove-MgServicePrincipalAppRoleAssignment"),
        "{exchange}"
    );
    assert!(
        exchange.contains("Test-ServicePrincipalAuthorization -Identity $WriteAppId"),
        "{exchange}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apps_split_the_permissions_by_purpose() {
    let broker = TestBroker::start().await;
    registered(&broker, "Contoso", true).await;
    let out = broker.data_dir().join("two-apps");
    let outcome = provision(&broker, &out, &["--two-apps", "--output", "json"]).await;
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    let summary = outcome.json();
    assert_eq!(
        summary["apps"][0]["permissions"],
        serde_json::json!(["User.Read.All", "Group.Read.All", "MailboxSettings.Read"])
    );
    assert_eq!(
        summary["apps"][1]["permissions"],
        serde_json::json!(["Contacts.ReadWrite"])
    );

    let entra = read_script(&out.join("galsync-entra.ps1"));
    let read_app = app_line(&entra, "galsync – directory – Contoso");
    // The uniqueName `galsync tenant provision` finds the app by, so the
    // automatic path repairs what the script made instead of duplicating it.
    assert!(
        read_app.contains(&format!("UniqueName = 'galsync-directory-{TENANT_ID}'")),
        "{read_app}"
    );
    assert!(
        read_app.contains(
            "Permissions = @('User.Read.All', 'Group.Read.All', 'MailboxSettings.Read') }"
        ),
        "{read_app}"
    );
    let write_app = app_line(&entra, "galsync – contacts – Contoso");
    assert!(
        write_app.contains("Permissions = @('Contacts.ReadWrite') }"),
        "{write_app}"
    );
    // Without --target-group there is no Exchange script, and the output says what it would do.
    assert!(!out.join("galsync-exchange.ps1").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_write_nothing_and_name_the_fix() {
    let broker = TestBroker::start().await;
    registered(&broker, "Contoso", false).await;
    let out = broker.data_dir().join("refused");

    let no_certificate = provision(&broker, &out, &[]).await;
    assert_eq!(no_certificate.code, Some(1), "{no_certificate:?}");
    assert!(
        no_certificate
            .stderr
            .contains(&format!("galsync cert generate --tenant-id {TENANT_ID}")),
        "{}",
        no_certificate.stderr
    );
    assert!(
        !out.exists(),
        "nothing may be written without a certificate"
    );

    // On the automatic path the target group needs somewhere to write its
    // Exchange script.
    let automatic = broker
        .galsync(&[
            "tenant",
            "provision",
            "--tenant-id",
            TENANT_ID,
            "--target-group",
            "Sales",
        ])
        .await;
    assert_eq!(automatic.code, Some(2), "{automatic:?}");
    assert!(
        automatic.stderr.contains("--target-group needs --out DIR"),
        "{}",
        automatic.stderr
    );

    let generated = broker
        .galsync(&["cert", "generate", "--tenant-id", TENANT_ID])
        .await;
    assert_eq!(generated.code, Some(0), "{generated:?}");
    let control = provision(&broker, &out, &["--target-group", "Sales\nRemove-Item"]).await;
    assert_eq!(control.code, Some(2), "{control:?}");
    assert!(
        control.stderr.contains("invalid --target-group"),
        "{}",
        control.stderr
    );
    assert!(!out.exists());

    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("galsync-entra.ps1"), "mine").unwrap();
    let refused = provision(&broker, &out, &[]).await;
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(
        std::fs::read_to_string(out.join("galsync-entra.ps1")).unwrap(),
        "mine"
    );
    assert!(!out.join("galsync.cer").exists());

    let forced = provision(&broker, &out, &["--force"]).await;
    assert_eq!(forced.code, Some(0), "{forced:?}");
    read_script(&out.join("galsync-entra.ps1"));
}
