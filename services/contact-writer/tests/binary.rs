//! The real `galsync-contact-writer` binary: health, reflection, SIGTERM, bad config.

#[tokio::test]
async fn binary_serves_health_and_reflection_and_stops_on_sigterm() {
    galsync_testkit::harness::check_service_binary(
        env!("CARGO_BIN_EXE_galsync-contact-writer"),
        &["galsync.v1.ContactWriter"],
    )
    .await;
}

/// Each bad value stops the writer before it serves: exit 2, one line naming the flag.
#[test]
fn bad_configuration_exits_2_naming_the_flag() {
    use galsync_testkit::harness::bad_config::{
        assert_each_refused, bad, shared_service_cases, BadConfigFiles,
    };
    let files = BadConfigFiles::new();
    let mut cases = shared_service_cases(&files);
    cases.extend([
        bad(&["--lease-secs", "0"], "--lease-secs"),
        bad(&["--workers", "0"], "--workers"),
        bad(&["--scheduler-url", "notaurl"], "--scheduler-url"),
        bad(&["--broker-url", "ftp://broker:50051"], "--broker-url"),
        bad(&["--reader-url", "not a url"], "--reader-url"),
        bad(&["--batch-size", "21"], "--batch-size"),
    ]);
    let listen = format!("127.0.0.1:{}", galsync_testkit::harness::free_port());
    let data_dir = files.fresh_data_dir();
    assert_each_refused(
        env!("CARGO_BIN_EXE_galsync-contact-writer"),
        &["--listen", &listen, "--data-dir", &data_dir],
        &cases,
    );
}
