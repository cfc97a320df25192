//! The real `galsync-auth-broker` binary: health, reflection, SIGTERM, bad config.

#[tokio::test]
async fn binary_serves_health_and_reflection_and_stops_on_sigterm() {
    // The consent callback port must not collide with a broker running elsewhere.
    let consent_port = galsync_testkit::harness::free_port();
    std::env::set_var(
        "GALSYNC_CONSENT_LISTEN",
        format!("127.0.0.1:{consent_port}"),
    );
    galsync_testkit::harness::check_service_binary(
        env!("CARGO_BIN_EXE_galsync-auth-broker"),
        &["galsync.v1.AuthBroker"],
    )
    .await;
}

/// Each bad value stops the broker before it serves: exit 2, one line naming the flag.
#[test]
fn bad_configuration_exits_2_naming_the_flag() {
    use galsync_testkit::harness::bad_config::{
        assert_each_refused, bad, path_arg, shared_service_cases, BadConfigFiles,
    };
    let files = BadConfigFiles::new();
    let short_key = path_arg(&files.short_key);
    let missing_key = path_arg(&files.dir.join("no-such.key"));
    let mut cases = shared_service_cases(&files);
    cases.extend([
        bad(&["--master-key-file", &short_key], "--master-key-file"),
        bad(&["--master-key-file", &missing_key], "--master-key-file"),
        bad(
            &["--consent-redirect-uri", "not a url"],
            "--consent-redirect-uri",
        ),
        bad(
            &["--default-login-base-url", "login.example"],
            "--default-login-base-url",
        ),
        bad(&["--cert-renewal-days", "0"], "--cert-renewal-days"),
    ]);
    let listen = format!("127.0.0.1:{}", galsync_testkit::harness::free_port());
    let consent_listen = format!("127.0.0.1:{}", galsync_testkit::harness::free_port());
    let data_dir = files.fresh_data_dir();
    assert_each_refused(
        env!("CARGO_BIN_EXE_galsync-auth-broker"),
        &[
            "--listen",
            &listen,
            "--consent-listen",
            &consent_listen,
            "--data-dir",
            &data_dir,
        ],
        &cases,
    );
}
