//! A broker store that holds a sealed secret, for tests of what happens to
//! it when the master key is lost or wrong: made through the broker's own
//! API, then closed so a binary can open it.

use std::path::Path;

use galsync_auth_broker::broker::{AppSpec, TenantSpec};
use galsync_auth_broker::policy::Purpose;
use galsync_auth_broker::{CertificateOrder, Config, Registration};
use galsync_platform::CallerIdentity;

/// The tenant [`store_with_a_sealed_certificate`] registers.
pub const SEALED_TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// Its app, in certificate mode for both purposes.
pub const SEALED_CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";

/// The broker's configuration for `data_dir` as `galsync up` lays it out:
/// `auth-broker.db` and `master.key` there.
pub fn broker_config_in(data_dir: &Path) -> Config {
    let mut config = Config::local(format!(
        "sqlite://{}",
        data_dir.join("auth-broker.db").display()
    ));
    config.data_dir = data_dir.to_owned();
    config.trust_plaintext_loopback = true;
    config
}

/// Registers [`SEALED_TENANT_ID`] and makes its app a certificate, whose
/// private key is sealed under `data_dir/master.key` (made here), then
/// closes the store.
pub async fn store_with_a_sealed_certificate(data_dir: &Path) {
    let broker = galsync_auth_broker::build(&broker_config_in(data_dir))
        .await
        .unwrap_or_else(|error| panic!("failed to build the auth-broker: {error:#}"));
    let local = CallerIdentity::LocalPlaintext;
    let tenant = TenantSpec {
        tenant_id: SEALED_TENANT_ID.to_owned(),
        display_name: "Contoso".to_owned(),
        login_base_url: String::new(),
        graph_base_url: String::new(),
        apps: vec![AppSpec {
            client_id: SEALED_CLIENT_ID.to_owned(),
            auth_mode: galsync_auth_broker::auth_mode::AuthMode::Certificate,
            purposes: vec![Purpose::Directory, Purpose::Contacts],
        }],
    };
    broker
        .register_tenant(&local, tenant)
        .await
        .unwrap_or_else(|error| panic!("failed to register the tenant: {error}"));
    broker
        .new_certificate(
            &local,
            &CertificateOrder {
                tenant_id: SEALED_TENANT_ID.to_owned(),
                client_id: SEALED_CLIENT_ID.to_owned(),
                key_bits: 2048,
                validity_days: 365,
            },
            Registration::ByHand,
        )
        .await
        .unwrap_or_else(|error| panic!("failed to make a certificate: {error}"));
    broker.close().await;
}
