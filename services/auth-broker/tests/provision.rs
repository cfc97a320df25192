//! ProvisionTenant end to end against the Entra ID + Graph emulator over
//! HTTP: the administrator approves the device code the first event shows,
//! galsync creates its app(s) with certificate, service principal and
//! grants, waits out the replication delay and ends with a green Test
//! Connection. A second run creates nothing and repairs what was removed;
//! an administrator without the role is refused with the role named.

use galsync_graph_emulator::Emulator;
use galsync_proto::v1;
use galsync_proto::v1::provision_event::Event;
use galsync_testkit::provisioning::{approve_device_code, emulated_tenant, ADMIN_UPN};
use galsync_testkit::TestBroker;
use uuid::Uuid;

type BrokerClient =
    galsync_proto::v1::auth_broker_client::AuthBrokerClient<tonic::transport::Channel>;

struct Tenant {
    emulator: Emulator,
    tenant_id: Uuid,
    http: reqwest::Client,
}

/// An emulated tenant with no app registration, a replication delay of two
/// seconds, and `ADMIN_UPN` holding `roles`.
async fn empty_tenant(roles: &[&str]) -> Tenant {
    let (emulator, tenant_id) = emulated_tenant(roles).await;
    Tenant {
        emulator,
        tenant_id,
        http: reqwest::Client::new(),
    }
}

struct Run {
    sign_in: Option<v1::ProvisionSignIn>,
    steps: Vec<String>,
    outcome: Result<v1::ProvisionDone, tonic::Status>,
}

/// Runs ProvisionTenant; approves the sign-in as `ADMIN_UPN` as soon as the
/// first event shows the code.
async fn provision(admin: &mut BrokerClient, tenant: &Tenant, two_apps: bool) -> Run {
    run_provision(admin, tenant, two_apps, false).await
}

/// ProvisionTenant, or with `adopt` its check-only mode.
async fn run_provision(
    admin: &mut BrokerClient,
    tenant: &Tenant,
    two_apps: bool,
    adopt: bool,
) -> Run {
    let base = tenant.emulator.base_url();
    let request = v1::ProvisionTenantRequest {
        tenant_id: tenant.tenant_id.to_string(),
        display_name: "Contoso".to_owned(),
        two_apps,
        login_base_url: base.clone(),
        graph_base_url: base.clone(),
        adopt,
        upload_rotated_certificates: None,
    };
    let mut stream = admin.provision_tenant(request).await.unwrap().into_inner();
    let mut run = Run {
        sign_in: None,
        steps: Vec::new(),
        outcome: Err(tonic::Status::unknown("the stream ended without Done")),
    };
    loop {
        let event = match stream.message().await {
            Ok(Some(message)) => message.event.expect("an event"),
            Ok(None) => return run,
            Err(status) => {
                run.outcome = Err(status);
                return run;
            }
        };
        match event {
            Event::SignIn(sign_in) => {
                assert!(run.steps.is_empty(), "the sign-in comes first");
                approve_device_code(&tenant.http, &base, &sign_in.user_code).await;
                run.sign_in = Some(sign_in);
            }
            Event::Step(step) => run.steps.push(step.text),
            Event::Done(done) => run.outcome = Ok(done),
        }
    }
}

fn client_ids(done: &v1::ProvisionDone) -> Vec<String> {
    let mut ids: Vec<String> = done
        .tenant
        .as_ref()
        .expect("tenant")
        .apps
        .iter()
        .map(|app| app.client_id.clone())
        .collect();
    ids.sort();
    ids
}

fn emulated_client_ids(tenant: &Tenant) -> Vec<String> {
    tenant
        .emulator
        .state
        .identity
        .apps_in_tenant(tenant.tenant_id)
        .into_iter()
        .map(|app| app.client_id)
        .collect()
}

fn assert_green(done: &v1::ProvisionDone) {
    let report = done.test_connection.as_ref().expect("test connection");
    assert!(report.ok, "{:#?}", report.checks);
}

#[tokio::test]
async fn one_app_from_an_empty_tenant_then_a_second_run_finds_it_and_repairs_a_grant_and_a_key() {
    let tenant = empty_tenant(&["Global Administrator"]).await;
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;

    let first = provision(&mut admin, &tenant, false).await;
    let done = first.outcome.expect("provisioned");
    let sign_in = first.sign_in.expect("a sign-in code first");
    assert_eq!(
        sign_in.verification_uri,
        "https://microsoft.com/devicelogin"
    );
    assert_eq!(done.signed_in_as, ADMIN_UPN);
    assert_green(&done);
    let ids = client_ids(&done);
    assert_eq!(ids.len(), 1);
    assert_eq!(emulated_client_ids(&tenant), ids);
    let steps = first.steps.join("\n");
    assert!(steps.contains("created app galsync – Contoso"), "{steps}");
    assert!(steps.contains("waiting for Entra to replicate"), "{steps}");
    let app = tenant
        .emulator
        .state
        .identity
        .show_app(tenant.tenant_id, &ids[0])
        .unwrap();
    let mut granted = app.granted_roles.clone();
    granted.sort();
    assert_eq!(
        granted,
        [
            "Contacts.ReadWrite",
            "Group.Read.All",
            "MailboxSettings.Read",
            "User.Read.All"
        ]
    );
    assert_eq!(app.certificates.len(), 1);

    // Nothing to do: same app, nothing created.
    let second = provision(&mut admin, &tenant, false).await;
    let done = second.outcome.expect("provisioned again");
    assert_eq!(client_ids(&done), ids);
    assert!(done.changes.is_empty(), "{:?}", done.changes);
    assert_eq!(emulated_client_ids(&tenant), ids);

    // Someone removes a grant and the certificate: the next run puts them back.
    let identity = &tenant.emulator.state.identity;
    identity
        .revoke_role(tenant.tenant_id, &ids[0], "Contacts.ReadWrite")
        .unwrap();
    let thumbprint = app.certificates[0].thumbprint_sha1.clone();
    assert!(identity.remove_certificate(&ids[0], &thumbprint).unwrap());
    let third = provision(&mut admin, &tenant, false).await;
    let done = third.outcome.expect("repaired");
    assert_green(&done);
    assert_eq!(client_ids(&done), ids);
    assert_eq!(emulated_client_ids(&tenant), ids);
    let changes = done.changes.join("\n");
    assert!(changes.contains("granted Contacts.ReadWrite"), "{changes}");
    assert!(changes.contains("added the certificate"), "{changes}");
    assert_eq!(done.changes.len(), 2, "{changes}");

    let audit = admin
        .list_audit_events(v1::ListAuditEventsRequest {
            tenant_id: tenant.tenant_id.to_string(),
            kind: "tenant.provisioned".to_owned(),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(audit.events.len(), 3);
    assert!(
        audit.events[0].detail.contains(ADMIN_UPN),
        "{:?}",
        audit.events[0]
    );
    assert!(audit.events[0]
        .detail
        .contains("granted Contacts.ReadWrite"));
}

#[tokio::test]
async fn two_apps_split_directory_and_contacts_and_both_pass_test_connection() {
    let tenant = empty_tenant(&["Global Administrator"]).await;
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;

    let run = provision(&mut admin, &tenant, true).await;
    let done = run.outcome.expect("provisioned");
    assert_green(&done);
    let registered = done.tenant.as_ref().expect("tenant");
    assert_eq!(registered.apps.len(), 2);
    assert_eq!(emulated_client_ids(&tenant), client_ids(&done));
    let steps = run.steps.join("\n");
    assert!(steps.contains("galsync – directory – Contoso"), "{steps}");
    assert!(steps.contains("galsync – contacts – Contoso"), "{steps}");
    for app in &registered.apps {
        let view = tenant
            .emulator
            .state
            .identity
            .show_app(tenant.tenant_id, &app.client_id)
            .unwrap();
        let serves_contacts = app.purposes == [v1::TokenPurpose::Contacts as i32];
        let expected: Vec<&str> = if serves_contacts {
            vec!["Contacts.ReadWrite"]
        } else {
            vec!["Group.Read.All", "MailboxSettings.Read", "User.Read.All"]
        };
        let mut granted = view.granted_roles.clone();
        granted.sort();
        assert_eq!(granted, expected, "least privilege per app");
    }
}

#[tokio::test]
async fn an_admin_without_the_role_is_refused_with_the_role_named_and_nothing_registered() {
    let tenant = empty_tenant(&[]).await;
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;

    let run = provision(&mut admin, &tenant, false).await;
    let status = run.outcome.expect_err("refused");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    assert!(
        status.message().contains("Privileged Role Administrator")
            && status.message().contains("Global Administrator"),
        "{}",
        status.message()
    );
    assert!(status.message().contains(ADMIN_UPN), "{}", status.message());
    assert!(emulated_client_ids(&tenant).is_empty());
    let lookup = admin
        .get_tenant(v1::GetTenantRequest {
            tenant_id: tenant.tenant_id.to_string(),
        })
        .await;
    assert_eq!(lookup.unwrap_err().code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn a_tenant_registered_by_hand_moves_to_the_provisioned_app_and_keeps_its_certificate() {
    let tenant = empty_tenant(&["Global Administrator"]).await;
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;
    let base = tenant.emulator.base_url();
    let hand_made = "0b8f6a2e-1c5d-4d7e-8f90-a1b2c3d4e5f6";
    admin
        .register_tenant(v1::RegisterTenantRequest {
            tenant_id: tenant.tenant_id.to_string(),
            display_name: "Contoso".to_owned(),
            login_base_url: base.clone(),
            graph_base_url: base.clone(),
            apps: vec![v1::AppRegistration {
                client_id: hand_made.to_owned(),
                auth_mode: v1::AuthMode::Certificate as i32,
                purposes: vec![
                    v1::TokenPurpose::Directory as i32,
                    v1::TokenPurpose::Contacts as i32,
                ],
                ..v1::AppRegistration::default()
            }],
        })
        .await
        .unwrap();
    let certificate = admin
        .generate_certificate(v1::GenerateCertificateRequest {
            tenant_id: tenant.tenant_id.to_string(),
            ..v1::GenerateCertificateRequest::default()
        })
        .await
        .unwrap()
        .into_inner();

    let run = provision(&mut admin, &tenant, false).await;
    let done = run.outcome.expect("provisioned");
    assert_green(&done);
    let ids = client_ids(&done);
    assert_eq!(ids.len(), 1);
    assert_ne!(ids[0], hand_made);
    let steps = run.steps.join("\n");
    assert!(
        steps.contains(&format!(
            "moved galsync from app {hand_made} to app {}",
            ids[0]
        )),
        "{steps}"
    );
    assert!(!steps.contains("generated certificate"), "{steps}");
    let certificates = admin
        .list_certificates(v1::ListCertificatesRequest {
            tenant_id: tenant.tenant_id.to_string(),
            client_id: ids[0].clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .certificates;
    assert_eq!(certificates.len(), 1, "{certificates:?}");
    assert_eq!(certificates[0].thumbprint_sha1, certificate.thumbprint_sha1);
    assert_eq!(
        certificates[0].state,
        v1::CertificateState::Active as i32,
        "the token request during provisioning activated it"
    );
}

/// After the `--manual` scripts made the app (here: a provisioning run, then
/// galsync pointed at a placeholder client id as `tenant add` leaves it),
/// adopting finds the app, records its client id and changes nothing in
/// Entra ID; something missing is named with the fix, not repaired.
#[tokio::test]
async fn adopting_records_the_scripts_app_and_repairs_nothing() {
    let tenant = empty_tenant(&["Global Administrator"]).await;
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;
    let made = provision(&mut admin, &tenant, false).await;
    let ids = client_ids(&made.outcome.expect("provisioned"));
    let placeholder = "0b8f6a2e-1c5d-4d7e-8f90-a1b2c3d4e5f6";
    admin
        .update_tenant(v1::UpdateTenantRequest {
            tenant_id: tenant.tenant_id.to_string(),
            client_id_changes: vec![v1::ClientIdChange {
                client_id: ids[0].clone(),
                new_client_id: placeholder.to_owned(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();

    let adopted = run_provision(&mut admin, &tenant, false, true).await;
    let done = adopted.outcome.expect("adopted");
    assert_green(&done);
    assert_eq!(client_ids(&done), ids);
    assert!(done.changes.is_empty(), "{:?}", done.changes);
    assert_eq!(emulated_client_ids(&tenant), ids);
    let audit = admin
        .list_audit_events(v1::ListAuditEventsRequest {
            tenant_id: tenant.tenant_id.to_string(),
            kind: "tenant.adopted".to_owned(),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(audit.events.len(), 1, "{:?}", audit.events);

    // A grant the script did not make is named, with the fix; not repaired.
    let identity = &tenant.emulator.state.identity;
    identity
        .revoke_role(tenant.tenant_id, &ids[0], "Contacts.ReadWrite")
        .unwrap();
    let refused = run_provision(&mut admin, &tenant, false, true).await;
    let status = refused.outcome.expect_err("adopted with a grant missing");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    assert!(
        status
            .message()
            .contains("no admin consent for Contacts.ReadWrite"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("galsync-entra.ps1"),
        "{}",
        status.message()
    );
    let app = identity.show_app(tenant.tenant_id, &ids[0]).unwrap();
    assert!(
        !app.granted_roles
            .iter()
            .any(|role| role == "Contacts.ReadWrite"),
        "adopting granted a permission: {:?}",
        app.granted_roles
    );
}

/// Issue 17 through the renewal the broker makes by itself: a provisioned
/// tenant allows uploads by default, so a replacement made inside the
/// renewal window goes onto the app with addKey, and once Entra accepts it
/// the key it replaces comes off with removeKey.
#[tokio::test]
async fn a_provisioned_tenant_rolls_its_keys_on_renewal_without_an_administrator() {
    let tenant = empty_tenant(&["Global Administrator"]).await;
    let broker = TestBroker::start().await;
    let mut admin = broker.client_as("cli").await;
    let run = provision(&mut admin, &tenant, false).await;
    let done = run.outcome.expect("provisioned");
    assert!(done.tenant.as_ref().unwrap().upload_rotated_certificates);
    let tenant_id = tenant.tenant_id.to_string();
    let app_keys = || -> Vec<String> {
        tenant
            .emulator
            .state
            .identity
            .apps_in_tenant(tenant.tenant_id)[0]
            .certificates
            .iter()
            .map(|certificate| certificate.thumbprint_sha1.clone())
            .collect()
    };
    let activate = || async {
        tenant
            .emulator
            .state
            .clock
            .advance(chrono::Duration::seconds(3));
        let report = broker
            .client_as("cli")
            .await
            .test_connection(v1::TestConnectionRequest {
                tenant_id: tenant_id.clone(),
                probe_mailbox: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        // A fresh token: the pending certificate is tried, and activated.
        // (A 29-day certificate fails its own expiry check; that is fine.)
        let token_check = report
            .checks
            .iter()
            .find(|check| check.name.starts_with("token:"))
            .expect("a token check");
        assert!(token_check.ok, "{:#?}", report.checks);
    };

    // A short-lived certificate by hand: uploaded, then it replaces the first.
    let short = admin
        .rotate_certificate(v1::RotateCertificateRequest {
            tenant_id: tenant_id.clone(),
            validity_days: 29,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(short.registration.starts_with("uploaded"), "{short:?}");
    activate().await;
    assert_eq!(app_keys(), vec![short.thumbprint_sha1.clone()]);

    // It is inside the 30-day renewal window: the broker renews and uploads.
    let renewed = broker.broker().renew_due_certificates().await.unwrap();
    assert_eq!(renewed.len(), 1);
    assert_eq!(
        app_keys(),
        vec![
            short.thumbprint_sha1.clone(),
            renewed[0].thumbprint_sha1.clone()
        ]
    );
    activate().await;
    assert_eq!(app_keys(), vec![renewed[0].thumbprint_sha1.clone()]);
    let events = admin
        .list_audit_events(v1::ListAuditEventsRequest {
            tenant_id: tenant_id.clone(),
            limit: 100,
            kind: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let count = |kind: &str| events.iter().filter(|event| event.kind == kind).count();
    assert_eq!(count("certificate.uploaded"), 2);
    assert_eq!(count("certificate.removed_from_app"), 2);
    let renewal_upload = events
        .iter()
        .find(|event| {
            event.kind == "certificate.uploaded"
                && event.detail.contains(&renewed[0].thumbprint_sha1)
        })
        .expect("the renewal's upload is audited");
    assert_eq!(renewal_upload.caller, "urn:galsync:service:auth-broker");
}
