//! The Entra side of the test kit against the emulator: the app it registers
//! is the one the options describe.

use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_testkit::{create_emulated_app, Step, TenantApp, GALSYNC_ROLES};
use uuid::Uuid;

#[tokio::test]
async fn the_default_app_asks_for_every_galsync_role_in_contoso() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let tenant_id = Uuid::new_v4();
    let app = create_emulated_app(&emulator, tenant_id, &TenantApp::default());

    let identity = &emulator.state.identity;
    assert_eq!(identity.resolve_tenant("contoso.example"), Some(tenant_id));
    let view = identity.show_app(tenant_id, &app.client_id).unwrap();
    let mut requested_roles = view.requested_roles.clone();
    requested_roles.sort();
    let mut expected_roles: Vec<String> =
        GALSYNC_ROLES.iter().map(|role| role.to_string()).collect();
    expected_roles.sort();
    assert_eq!(requested_roles, expected_roles);
    assert_eq!(view.display_name, "galsync");
    assert!(!view.public_client);
    assert!(view.certificates.is_empty(), "nothing is uploaded");
    assert!(!view.admin_consented, "nothing is consented");
}

#[tokio::test]
async fn a_delegated_app_keeps_its_scopes_redirects_and_domain() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let tenant_id = Uuid::new_v4();
    let options = TenantApp {
        domain: "fabrikam.example".to_owned(),
        display_name: "galsync delegated".to_owned(),
        requested_roles: Vec::new(),
        requested_scopes: vec!["User.Read.All".to_owned()],
        redirect_uris: vec!["http://127.0.0.1:9/consent/callback".to_owned()],
        public_client: true,
        last_step: Step::RegisterTenant,
        ..TenantApp::default()
    };
    let app = create_emulated_app(&emulator, tenant_id, &options);

    let identity = &emulator.state.identity;
    assert_eq!(identity.resolve_tenant("fabrikam.example"), Some(tenant_id));
    let view = identity.show_app(tenant_id, &app.client_id).unwrap();
    assert!(view.requested_roles.is_empty(), "{view:?}");
    assert_eq!(view.requested_scopes, ["User.Read.All"]);
    assert_eq!(view.redirect_uris, ["http://127.0.0.1:9/consent/callback"]);
    assert!(view.public_client);
}
