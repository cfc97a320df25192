//! Test support shared by galsync's integration tests: an auth-broker started
//! in-process ([`TestBroker`]) and an emulated Entra tenant it can get Graph
//! tokens for.
//!
//! An administrator connects a tenant once, in this order: create the app
//! registration in Entra, register the tenant and the app with the broker, let
//! the broker make a certificate, upload its `.cer` to the app and grant admin
//! consent. [`connect_tenant`] does all of it against an in-process
//! [`Emulator`]. [`TenantApp`] says what the app asks for and, through
//! [`Step`], where to stop, for tests of what goes wrong when a step is missing.
//!
//! The two halves are public on their own for tests that drive one side
//! another way: [`create_emulated_app`] (the Entra side only, when the test
//! then registers the tenant through the `galsync` binary) and
//! [`register_with_broker`] (the broker side only, when the emulator runs in
//! another process and is set up through its HTTP admin API).
//!
//! Every function panics, with what it was doing, when a step fails: a test
//! that cannot set up its tenant has nothing to assert.

mod broker;
pub mod browser;
pub mod console_session;
pub mod harness;
pub mod provisioning;
pub mod scheduler;
mod sealed;

pub use broker::{fresh_pki, BrokerStore, TestBroker};
pub use sealed::{
    broker_config_in, store_with_a_sealed_certificate, SEALED_CLIENT_ID, SEALED_TENANT_ID,
};

use galsync_graph_emulator::registration::{AppRegistrationRequest, CertificateView};
use galsync_graph_emulator::Emulator;
use galsync_proto::v1;
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use tonic::transport::Channel;
use uuid::Uuid;

/// The application permissions galsync needs: read the directory and each
/// user's mailbox kind (`mailboxSettings/userPurpose` needs
/// MailboxSettings.Read), write contacts.
pub const GALSYNC_ROLES: [&str; 4] = [
    "User.Read.All",
    "Group.Read.All",
    "MailboxSettings.Read",
    "Contacts.ReadWrite",
];

/// The application permissions of a read-only app (the `directory` purpose).
pub const DIRECTORY_ROLES: [&str; 3] = ["User.Read.All", "Group.Read.All", "MailboxSettings.Read"];

/// RSA modulus size of the certificates the broker makes for tests.
const CERTIFICATE_KEY_BITS: u32 = 2048;

/// The tenant's name at the broker.
const TENANT_DISPLAY_NAME: &str = "Contoso";

/// How far [`connect_tenant`] goes. Each step includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// The broker knows the tenant and its app (`RegisterTenant`); no certificate.
    RegisterTenant,
    /// The broker made the app's certificate and exported it
    /// (`GenerateCertificate`, `ExportCertificate`); Entra does not know it.
    ExportCertificate,
    /// The `.cer` is uploaded to the emulated app; no admin consent yet.
    UploadCertificate,
    /// Admin consent is granted for every requested role: tokens flow.
    GrantConsent,
}

/// The app registration to create and how to connect it.
///
/// [`TenantApp::default`] is a confidential app in tenant `contoso.example`
/// asking for [`GALSYNC_ROLES`], registered with the broker in certificate
/// mode for both purposes, with a 365-day certificate uploaded and consent
/// granted. Override fields with struct-update syntax.
#[derive(Debug, Clone)]
pub struct TenantApp {
    /// The tenant's one verified domain.
    pub domain: String,
    /// The app's name in Entra.
    pub display_name: String,
    /// Application permissions, e.g. `User.Read.All`.
    pub requested_roles: Vec<String>,
    /// Delegated permissions; galsync runs app-only, so its apps ask for none.
    pub requested_scopes: Vec<String>,
    /// Where Entra may redirect after admin consent, e.g. the broker's
    /// `http://{consent_addr}/consent/callback`.
    pub redirect_uris: Vec<String>,
    /// A public client may use the device-code flow.
    pub public_client: bool,
    /// How the broker authenticates as the app.
    pub auth_mode: v1::AuthMode,
    /// The token purposes the broker serves with this app.
    pub purposes: Vec<v1::TokenPurpose>,
    /// Validity of the certificate the broker makes.
    pub validity_days: u32,
    /// The last step taken.
    pub last_step: Step,
}

impl Default for TenantApp {
    fn default() -> TenantApp {
        TenantApp {
            domain: "contoso.example".to_owned(),
            display_name: "galsync".to_owned(),
            requested_roles: GALSYNC_ROLES.iter().map(|role| role.to_string()).collect(),
            requested_scopes: Vec::new(),
            redirect_uris: Vec::new(),
            public_client: false,
            auth_mode: v1::AuthMode::Certificate,
            purposes: vec![v1::TokenPurpose::Directory, v1::TokenPurpose::Contacts],
            validity_days: 365,
            last_step: Step::GrantConsent,
        }
    }
}

/// A tenant and its app registration in the emulator.
#[derive(Debug, Clone)]
pub struct EmulatedApp {
    pub tenant_id: Uuid,
    pub client_id: String,
}

/// The certificate the broker made for the app, as exported for upload.
#[derive(Debug, Clone)]
pub struct BrokerCertificate {
    /// The broker's id of the certificate.
    pub certificate_id: String,
    /// Upper-case hex, as the broker reports it.
    pub thumbprint_sha1: String,
    /// The public certificate as PEM.
    pub pem: String,
    /// The public certificate as DER: the `.cer` an administrator uploads.
    pub cer_der: Vec<u8>,
}

/// What [`connect_tenant`] set up.
#[derive(Debug, Clone)]
pub struct EmulatedTenant {
    pub tenant_id: Uuid,
    pub client_id: String,
    /// From [`Step::ExportCertificate`] on.
    pub certificate: Option<BrokerCertificate>,
    /// The certificate as the emulated app registered it, from
    /// [`Step::UploadCertificate`] on.
    pub uploaded: Option<CertificateView>,
}

/// Connects a new emulated tenant to the broker: the tenant and app in the
/// emulator, the tenant at the broker (login and Graph at the emulator's base
/// URL), then as many of the certificate and consent steps as
/// `app.last_step` asks for. `broker` must present an admin identity (`cli`).
pub async fn connect_tenant(
    emulator: &Emulator,
    broker: &mut AuthBrokerClient<Channel>,
    app: TenantApp,
) -> EmulatedTenant {
    let emulated = create_emulated_app(emulator, Uuid::new_v4(), &app);
    let certificate = register_with_broker(broker, &emulator.base_url(), &emulated, &app).await;
    let identity = &emulator.state.identity;
    let mut uploaded = None;
    if app.last_step >= Step::UploadCertificate {
        let certificate = certificate
            .as_ref()
            .expect("the broker exports a certificate before it is uploaded");
        let view = identity
            .upload_certificate(&emulated.client_id, &certificate.cer_der)
            .unwrap_or_else(|error| {
                panic!("failed to upload the .cer to the emulated app: {error}")
            });
        uploaded = Some(view);
    }
    if app.last_step >= Step::GrantConsent {
        grant_admin_consent(emulator, emulated.tenant_id, &emulated.client_id);
    }
    EmulatedTenant {
        tenant_id: emulated.tenant_id,
        client_id: emulated.client_id,
        certificate,
        uploaded,
    }
}

/// The Entra side alone: creates tenant `tenant_id` with `app.domain` and
/// registers the app in it. Nothing is uploaded or consented.
pub fn create_emulated_app(emulator: &Emulator, tenant_id: Uuid, app: &TenantApp) -> EmulatedApp {
    let identity = &emulator.state.identity;
    identity.create_tenant(tenant_id, vec![app.domain.clone()]);
    let registered = identity
        .register_app(
            tenant_id,
            AppRegistrationRequest {
                client_id: None,
                display_name: app.display_name.clone(),
                requested_roles: app.requested_roles.clone(),
                requested_scopes: app.requested_scopes.clone(),
                redirect_uris: app.redirect_uris.clone(),
                multi_tenant: false,
                public_client: app.public_client,
            },
        )
        .unwrap_or_else(|error| panic!("failed to register the app in the emulator: {error}"));
    EmulatedApp {
        tenant_id,
        client_id: registered.client_id,
    }
}

/// The broker side alone: registers the tenant with its one app, logging in
/// and calling Graph at `emulator_base_url`; from [`Step::ExportCertificate`]
/// on also generates the app's certificate and returns it exported.
pub async fn register_with_broker(
    broker: &mut AuthBrokerClient<Channel>,
    emulator_base_url: &str,
    emulated: &EmulatedApp,
    app: &TenantApp,
) -> Option<BrokerCertificate> {
    let tenant_id = emulated.tenant_id.to_string();
    let purposes = app.purposes.iter().map(|purpose| *purpose as i32).collect();
    broker
        .register_tenant(v1::RegisterTenantRequest {
            tenant_id: tenant_id.clone(),
            display_name: TENANT_DISPLAY_NAME.to_owned(),
            login_base_url: emulator_base_url.to_owned(),
            graph_base_url: emulator_base_url.to_owned(),
            apps: vec![v1::AppRegistration {
                client_id: emulated.client_id.clone(),
                auth_mode: app.auth_mode as i32,
                purposes,
                ..Default::default()
            }],
        })
        .await
        .unwrap_or_else(|status| panic!("failed to register the tenant with the broker: {status}"));
    if app.last_step < Step::ExportCertificate {
        return None;
    }
    let generated = broker
        .generate_certificate(v1::GenerateCertificateRequest {
            tenant_id,
            client_id: emulated.client_id.clone(),
            key_bits: CERTIFICATE_KEY_BITS,
            validity_days: app.validity_days,
        })
        .await
        .unwrap_or_else(|status| panic!("failed to generate the app's certificate: {status}"))
        .into_inner();
    let exported = broker
        .export_certificate(v1::ExportCertificateRequest {
            certificate_id: generated.certificate_id.clone(),
        })
        .await
        .unwrap_or_else(|status| panic!("failed to export the app's certificate: {status}"))
        .into_inner();
    Some(BrokerCertificate {
        certificate_id: generated.certificate_id,
        thumbprint_sha1: generated.thumbprint_sha1,
        pem: exported.pem,
        cer_der: exported.cer_der,
    })
}

/// Grants admin consent to `tenant_id`'s app `client_id` for every role it
/// requests, straight in the in-process emulated Entra (no consent flow).
pub fn grant_admin_consent(emulator: &Emulator, tenant_id: Uuid, client_id: &str) {
    emulator
        .state
        .identity
        .grant_consent(tenant_id, client_id, None)
        .unwrap_or_else(|error| panic!("failed to grant admin consent: {error}"));
}

/// Makes the emulated Entra approve the next admin consent to `tenant_id`'s
/// app `client_id`, as the administrator who signs in there would.
pub fn approve_next_consent(emulator: &Emulator, tenant_id: Uuid, client_id: &str) {
    emulator
        .state
        .identity
        .set_consent_decision(
            tenant_id,
            client_id,
            galsync_graph_emulator::registration::ConsentDecision::Approve,
        )
        .unwrap_or_else(|error| panic!("failed to set the consent decision: {error}"));
}

/// The administrator's click on the admin-consent link: the emulator is told
/// to approve for `tenant_id`'s app `client_id` ([`approve_next_consent`]),
/// and the link is followed as a browser would, to the broker's callback
/// page, which must answer 200.
pub async fn approve_consent_in_browser(
    emulator: &Emulator,
    tenant_id: Uuid,
    client_id: &str,
    consent_url: &str,
) {
    approve_next_consent(emulator, tenant_id, client_id);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .expect("an HTTP client");
    let landing = browser
        .get(consent_url)
        .send()
        .await
        .unwrap_or_else(|error| panic!("the consent link {consent_url} failed: {error}"));
    let status = landing.status();
    let page = landing.text().await.unwrap_or_default();
    assert_eq!(status, 200, "the broker's consent callback page: {page}");
}

/// Polls the scheduler until run `run_id` is no longer queued, reading or
/// writing, for at most `limit`; returns the run.
pub async fn wait_for_run_end(
    scheduler: &mut SchedulerClient<Channel>,
    run_id: &str,
    limit: std::time::Duration,
) -> v1::Run {
    let ended = |state| {
        !matches!(
            state,
            v1::RunState::Queued | v1::RunState::Reading | v1::RunState::Writing
        )
    };
    wait_for_run_state(scheduler, run_id, limit, "end", ended).await
}

/// Polls the scheduler until run `run_id`'s state is one `reached` accepts,
/// for at most `limit`, then returns the run; past `limit` the test fails
/// with "run … did not `what` within …".
pub async fn wait_for_run_state(
    scheduler: &mut SchedulerClient<Channel>,
    run_id: &str,
    limit: std::time::Duration,
    what: &str,
    reached: impl Fn(v1::RunState) -> bool,
) -> v1::Run {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let run = scheduler
            .get_run(v1::GetRunRequest {
                run_id: run_id.to_owned(),
            })
            .await
            .unwrap_or_else(|status| panic!("GetRun {run_id}: {status:?}"))
            .into_inner();
        if reached(run.state()) {
            return run;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "run {run_id} did not {what} within {limit:?}: {run:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
}
