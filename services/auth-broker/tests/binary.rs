//! The real `galsync-auth-broker` binary: health, reflection, SIGTERM, bad config.

#[tokio::test]
async fn binary_serves_health_and_reflection_and_stops_on_sigterm() {
    galsync_platform::testing::check_service_binary(
        env!("CARGO_BIN_EXE_galsync-auth-broker"),
        &["galsync.v1.AuthBroker"],
    )
    .await;
}
