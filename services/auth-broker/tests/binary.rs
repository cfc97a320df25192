//! The real `galsync-auth-broker` binary: health, reflection, SIGTERM, bad config.

#[tokio::test]
async fn binary_serves_health_and_reflection_and_stops_on_sigterm() {
    // The consent callback port must not collide with a broker running elsewhere.
    let consent_port = galsync_platform::testing::free_port();
    std::env::set_var(
        "GALSYNC_CONSENT_LISTEN",
        format!("127.0.0.1:{consent_port}"),
    );
    galsync_platform::testing::check_service_binary(
        env!("CARGO_BIN_EXE_galsync-auth-broker"),
        &["galsync.v1.AuthBroker"],
    )
    .await;
}
