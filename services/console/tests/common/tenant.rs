//! A tenant to onboard through the console: the emulated Entra tenant with
//! its app registration (nothing uploaded or consented) and an auth-broker
//! sharing the test scheduler's PKI that does not know it yet.

use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1;
use galsync_testkit::scheduler::MtlsScheduler;
use galsync_testkit::{
    create_emulated_app, register_with_broker, EmulatedApp, Step, TenantApp, TestBroker,
};
use uuid::Uuid;

pub struct Onboarding {
    pub emulator: Emulator,
    pub broker: TestBroker,
    pub tenant_id: Uuid,
    pub client_id: String,
}

/// The emulated tenant and its app (nothing uploaded or consented), and a
/// broker that knows nothing of it yet.
pub async fn onboarding(scheduler: &MtlsScheduler) -> Onboarding {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let broker = TestBroker::start_sharing_pki(&scheduler.pki_dir).await;
    let tenant_id = Uuid::new_v4();
    let app = TenantApp {
        redirect_uris: vec![format!("http://{}/consent/callback", broker.consent_addr())],
        ..TenantApp::default()
    };
    let emulated = create_emulated_app(&emulator, tenant_id, &app);
    Onboarding {
        emulator,
        broker,
        tenant_id,
        client_id: emulated.client_id,
    }
}

impl Onboarding {
    /// The broker's audit events of `kind` for the tenant, newest first.
    pub async fn audit_events(&self, kind: &str) -> Vec<v1::AuditEvent> {
        self.broker
            .admin_client()
            .await
            .list_audit_events(v1::ListAuditEventsRequest {
                tenant_id: self.tenant_id.to_string(),
                limit: 100,
                kind: kind.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .events
    }

    /// Registers the tenant (named Contoso) with the broker as the CLI
    /// would, nothing more: no certificate, no consent.
    pub async fn register_only(&self) {
        let mut cli = self.broker.admin_client().await;
        let emulated = EmulatedApp {
            tenant_id: self.tenant_id,
            client_id: self.client_id.clone(),
        };
        let registered_only = TenantApp {
            last_step: Step::RegisterTenant,
            ..TenantApp::default()
        };
        register_with_broker(
            &mut cli,
            &self.emulator.base_url(),
            &emulated,
            &registered_only,
        )
        .await;
    }
}
