//! `galsync reset-credentials`, the way out the broker names when its master
//! key is lost: it deletes every sealed secret (only with --yes), keeps the
//! tenant and its app, and the broker then starts with a new key.

mod common;

use common::{galsync, strings};
use galsync_testkit::{
    broker_config_in, store_with_a_sealed_certificate, SEALED_CLIENT_ID, SEALED_TENANT_ID,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_master_key_is_recovered_by_re_enrolling_credentials() {
    let data_dir = tempfile::tempdir().unwrap();
    store_with_a_sealed_certificate(data_dir.path()).await;
    std::fs::remove_file(data_dir.path().join("master.key")).unwrap();
    let refused = galsync_auth_broker::build(&broker_config_in(data_dir.path()))
        .await
        .err()
        .expect("the broker refuses to start without its key");
    assert!(
        format!("{refused:#}").contains("`galsync reset-credentials`"),
        "{refused:#}"
    );
    let data_dir_arg = data_dir.path().display().to_string();

    let unconfirmed = galsync(
        strings(&["reset-credentials", "--data-dir", &data_dir_arg]),
        vec![],
    )
    .await;
    assert_eq!(unconfirmed.code, Some(2), "{unconfirmed:?}");
    assert!(
        unconfirmed
            .stderr
            .contains("this deletes 1 certificate keys, 0 client secrets"),
        "{unconfirmed:?}"
    );
    assert!(unconfirmed.stderr.contains("--yes"), "{unconfirmed:?}");

    let reset = galsync(
        strings(&["reset-credentials", "--data-dir", &data_dir_arg, "--yes"]),
        vec![],
    )
    .await;
    assert_eq!(reset.code, Some(0), "{reset:?}");
    assert!(
        reset.stdout.contains("deleted 1 certificate keys"),
        "{reset:?}"
    );

    let broker = galsync_auth_broker::build(&broker_config_in(data_dir.path()))
        .await
        .expect("the broker starts after the reset, with a new key");
    let tenant = broker.tenant(SEALED_TENANT_ID).await.unwrap();
    assert_eq!(tenant.display_name, "Contoso");
    let certificates = broker
        .certificates(SEALED_TENANT_ID, SEALED_CLIENT_ID)
        .await
        .unwrap();
    assert!(certificates.is_empty(), "{certificates:?}");
    assert!(data_dir.path().join("master.key").exists());
    broker.close().await;
}
