//! The real `galsync-scheduler` binary: health, reflection, SIGTERM, bad config.

#[tokio::test]
async fn binary_serves_health_and_reflection_and_stops_on_sigterm() {
    galsync_platform::testing::check_service_binary(
        env!("CARGO_BIN_EXE_galsync-scheduler"),
        &["galsync.v1.Scheduler", "galsync.v1.WorkQueue"],
    )
    .await;
}
