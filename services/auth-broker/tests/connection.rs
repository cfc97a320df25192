//! TestConnection names each application permission the `directory` purpose
//! lacks, says what galsync needs it for, and how to fix it.

use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1;
use galsync_testkit::{connect_tenant, TenantApp, TestBroker, GALSYNC_ROLES};

type BrokerClient =
    galsync_proto::v1::auth_broker_client::AuthBrokerClient<tonic::transport::Channel>;

/// TestConnection of `tenant_id`, probing `probe_mailbox` when not empty.
async fn test_connection(
    admin: &mut BrokerClient,
    tenant_id: String,
    probe_mailbox: String,
) -> v1::TestConnectionResponse {
    admin
        .test_connection(v1::TestConnectionRequest {
            tenant_id,
            probe_mailbox,
        })
        .await
        .unwrap()
        .into_inner()
}

async fn directory_permission_check(requested_roles: Vec<String>) -> v1::ConnectionCheck {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;
    let app = TenantApp {
        requested_roles,
        ..TenantApp::default()
    };
    let tenant = connect_tenant(&emulator, &mut admin, app).await;
    let report = test_connection(&mut admin, tenant.tenant_id.to_string(), String::new()).await;
    report
        .checks
        .into_iter()
        .find(|check| check.name == "permissions:directory")
        .expect("the directory purpose's permissions are checked")
}

#[tokio::test]
async fn without_mailbox_settings_read_test_connection_names_it_and_the_fix() {
    let without_settings: Vec<String> = GALSYNC_ROLES
        .iter()
        .filter(|role| **role != "MailboxSettings.Read")
        .map(|role| role.to_string())
        .collect();
    let check = directory_permission_check(without_settings).await;
    assert!(!check.ok, "{check:?}");
    assert!(check.detail.contains("MailboxSettings.Read"), "{check:?}");
    assert!(check.detail.contains("shared"), "says why: {check:?}");
    assert!(
        check.fix.contains("MailboxSettings.Read") && check.fix.contains("admin consent"),
        "{check:?}"
    );

    let all = GALSYNC_ROLES.iter().map(|role| role.to_string()).collect();
    let check = directory_permission_check(all).await;
    assert!(check.ok, "{check:?}");
}

/// A tenant in client-secret mode whose secret Entra issued and the broker
/// holds; `break_it` then changes one thing on either side.
struct SecretTenant {
    tenant_id: uuid::Uuid,
    client_id: String,
}

async fn secret_tenant(
    emulator: &Emulator,
    admin: &mut BrokerClient,
    broker_tenant_id: Option<uuid::Uuid>,
    broker_client_id: Option<&str>,
    secret: SecretKind,
) -> SecretTenant {
    let app = TenantApp {
        auth_mode: v1::AuthMode::ClientSecret,
        last_step: galsync_testkit::Step::RegisterTenant,
        ..TenantApp::default()
    };
    let emulated = galsync_testkit::create_emulated_app(emulator, uuid::Uuid::new_v4(), &app);
    galsync_testkit::grant_admin_consent(emulator, emulated.tenant_id, &emulated.client_id);
    let expires_at = match secret {
        SecretKind::Expired => chrono::Utc::now() - chrono::Duration::days(1),
        _ => chrono::Utc::now() + chrono::Duration::days(365),
    };
    let issued = emulator
        .state
        .identity
        .add_client_secret(&emulated.client_id, None, expires_at)
        .unwrap();
    let seen = galsync_testkit::EmulatedApp {
        tenant_id: broker_tenant_id.unwrap_or(emulated.tenant_id),
        client_id: broker_client_id
            .map(str::to_owned)
            .unwrap_or_else(|| emulated.client_id.clone()),
    };
    galsync_testkit::register_with_broker(admin, &emulator.base_url(), &seen, &app).await;
    let value = match secret {
        SecretKind::Wrong => format!("{}x", issued.secret_text),
        _ => issued.secret_text,
    };
    admin
        .set_client_secret(v1::SetClientSecretRequest {
            tenant_id: seen.tenant_id.to_string(),
            client_id: seen.client_id.clone(),
            secret: value,
            expires_at: None,
        })
        .await
        .unwrap();
    SecretTenant {
        tenant_id: seen.tenant_id,
        client_id: seen.client_id,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum SecretKind {
    Right,
    Wrong,
    Expired,
}

/// (what, broker tenant id, broker client id, secret, expected code, fix text)
type TokenCase = (
    &'static str,
    Option<uuid::Uuid>,
    Option<&'static str>,
    SecretKind,
    &'static str,
    &'static str,
);

/// Every failure kind Test Connection diagnoses, produced for real against
/// the emulator, with the code it names and the fix it gives.
#[tokio::test]
async fn each_failure_test_connection_diagnoses_is_named_with_its_fix() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;
    let unknown_app = "0b7e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b";

    let token_cases: Vec<TokenCase> = vec![
        (
            "unknown tenant",
            Some(uuid::Uuid::new_v4()),
            None,
            SecretKind::Right,
            "AADSTS90002",
            "Directory (tenant) ID",
        ),
        (
            "unknown app",
            None,
            Some(unknown_app),
            SecretKind::Right,
            "AADSTS700016",
            "Application (client) ID",
        ),
        (
            "wrong secret",
            None,
            None,
            SecretKind::Wrong,
            "AADSTS7000215",
            "not its ID",
        ),
        (
            "expired secret",
            None,
            None,
            SecretKind::Expired,
            "AADSTS7000222",
            "create a new one",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, tenant, client, secret, code, fix) in token_cases {
        let tenant = secret_tenant(&emulator, &mut admin, tenant, client, secret).await;
        let report = test_connection(&mut admin, tenant.tenant_id.to_string(), String::new()).await;
        let named = report
            .checks
            .iter()
            .any(|check| !check.ok && check.error_code == code && check.fix.contains(fix));
        if report.ok || !named {
            wrong.push(format!(
                "{what}: expected {code} with `{fix}`: {:?}",
                report.checks
            ));
        }
    }

    // Mailboxes: unknown, unlicensed, outside the app's Exchange scope.
    let tenant = secret_tenant(&emulator, &mut admin, None, None, SecretKind::Right).await;
    let directory = &emulator.state.directory;
    let licensed = directory.add_mailbox_user(
        tenant.tenant_id,
        "Lena Licensed",
        "lena@contoso.example",
        true,
    );
    let unlicensed = directory.add_mailbox_user(
        tenant.tenant_id,
        "Uma Unlicensed",
        "uma@contoso.example",
        false,
    );
    let blocked =
        directory.add_mailbox_user(tenant.tenant_id, "Bo Blocked", "bo@contoso.example", true);
    emulator
        .state
        .identity
        .set_exchange_scope(
            tenant.tenant_id,
            &tenant.client_id,
            Some(vec![licensed.clone(), unlicensed.clone()]),
        )
        .unwrap();
    let mailbox_cases = [
        ("a healthy mailbox", licensed.as_str(), "", ""),
        (
            "unknown mailbox",
            "nobody@contoso.example",
            "ErrorInvalidUser",
            "probe mailbox",
        ),
        (
            "unlicensed mailbox",
            unlicensed.as_str(),
            "MailboxNotEnabledForRESTAPI",
            "Exchange Online license",
        ),
        (
            "blocked mailbox",
            blocked.as_str(),
            "ErrorAccessDenied",
            "application access policy",
        ),
    ];
    for (what, mailbox, code, fix) in mailbox_cases {
        let report =
            test_connection(&mut admin, tenant.tenant_id.to_string(), mailbox.to_owned()).await;
        let check = report
            .checks
            .iter()
            .find(|check| check.name == "graph:mailbox")
            .cloned()
            .unwrap_or_default();
        let right = if code.is_empty() {
            check.ok
        } else {
            !check.ok && check.error_code == code && check.fix.contains(fix)
        };
        if !right {
            wrong.push(format!("{what}: expected {code:?} with `{fix}`: {check:?}"));
        }
    }

    // Clock skew: Entra's clock runs an hour ahead of this machine's.
    emulator.state.clock.advance(chrono::Duration::hours(1));
    let skewed = galsync_testkit::TenantApp::default();
    let tenant = galsync_testkit::connect_tenant(&emulator, &mut admin, skewed).await;
    let report = test_connection(&mut admin, tenant.tenant_id.to_string(), String::new()).await;
    if !report
        .checks
        .iter()
        .any(|check| check.error_code == "AADSTS700024" && check.fix.contains("clock"))
    {
        wrong.push(format!(
            "clock skew: expected AADSTS700024: {:?}",
            report.checks
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Fenced with Exchange RBAC for Applications (what galsync-exchange.ps1
/// does): the write app's token carries no Contacts.ReadWrite, Exchange
/// grants it over the target mailboxes only. Test Connection passes on a
/// target, and names both fixes elsewhere.
#[tokio::test]
async fn a_contacts_grant_from_exchange_rbac_passes_on_a_mailbox_in_its_scope() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;
    let app = TenantApp {
        requested_roles: GALSYNC_ROLES
            .iter()
            .filter(|role| **role != "Contacts.ReadWrite")
            .map(|role| role.to_string())
            .collect(),
        ..TenantApp::default()
    };
    let tenant = connect_tenant(&emulator, &mut admin, app).await;
    let directory = &emulator.state.directory;
    let target =
        directory.add_mailbox_user(tenant.tenant_id, "Tia Target", "tia@contoso.example", true);
    let other =
        directory.add_mailbox_user(tenant.tenant_id, "Otto Other", "otto@contoso.example", true);
    emulator
        .state
        .identity
        .set_exchange_role_assignment(
            tenant.tenant_id,
            &tenant.client_id,
            "Application Contacts.ReadWrite",
            true,
            Some(vec![target.clone()]),
        )
        .unwrap();
    let contacts_checks = |report: &v1::TestConnectionResponse| {
        let find = |name: &str| {
            report
                .checks
                .iter()
                .find(|check| check.name == name)
                .cloned()
                .unwrap_or_else(|| panic!("no {name} check: {:?}", report.checks))
        };
        (find("permissions:contacts"), find("graph:mailbox"))
    };

    let on_target = test_connection(&mut admin, tenant.tenant_id.to_string(), target).await;
    assert!(on_target.ok, "{:?}", on_target.checks);
    let (permission, mailbox) = contacts_checks(&on_target);
    assert!(
        permission.detail.contains("RBAC for Applications"),
        "{permission:?}"
    );
    assert!(mailbox.ok, "{mailbox:?}");

    let elsewhere = test_connection(&mut admin, tenant.tenant_id.to_string(), other).await;
    assert!(!elsewhere.ok);
    let (permission, mailbox) = contacts_checks(&elsewhere);
    assert!(!permission.ok && !mailbox.ok, "{permission:?} {mailbox:?}");
    assert!(
        permission.fix.contains("Application Contacts.ReadWrite")
            && permission.fix.contains("admin consent"),
        "{permission:?}"
    );

    let unprobed = test_connection(&mut admin, tenant.tenant_id.to_string(), String::new()).await;
    let permission = unprobed
        .checks
        .iter()
        .find(|check| check.name == "permissions:contacts")
        .expect("the contacts permission is checked");
    assert!(
        !permission.ok && permission.fix.contains("--mailbox"),
        "{permission:?}"
    );
}
