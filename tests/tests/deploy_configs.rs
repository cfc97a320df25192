//! The example configurations shipped in `deploy/config` are accepted by the
//! services (and the console) they are for: every key is a real flag and
//! every value parses.

use std::ffi::OsString;
use std::path::PathBuf;

use galsync_platform::service::ServiceConfig;

fn config_path(service: &str) -> OsString {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/config")
        .join(format!("{service}.toml"));
    assert!(path.exists(), "{} is missing", path.display());
    path.into_os_string()
}

fn args(service: &str) -> Vec<OsString> {
    vec![
        OsString::from(format!("galsync-{service}")),
        OsString::from("--config"),
        config_path(service),
    ]
}

#[test]
fn example_configs_parse_and_name_tls_and_postgres() {
    let broker: galsync_auth_broker::Config =
        galsync_platform::config::parse_from(args("auth-broker")).unwrap();
    assert!(broker.server().tls_enabled());
    assert!(broker.store_url().starts_with("postgres://"));

    let reader: galsync_directory_reader::Config =
        galsync_platform::config::parse_from(args("directory-reader")).unwrap();
    assert!(reader.server().tls_enabled());

    let writer: galsync_contact_writer::Config =
        galsync_platform::config::parse_from(args("contact-writer")).unwrap();
    assert!(writer.server().tls_enabled());

    let scheduler: galsync_scheduler::Config =
        galsync_platform::config::parse_from(args("scheduler")).unwrap();
    assert_eq!(scheduler.server().listen.unwrap().port(), 50050);
    assert!(scheduler.store_url().contains("galsync_scheduler"));

    let console: galsync_console::Config =
        galsync_platform::config::parse_from(args("console")).unwrap();
    console.validate().unwrap();
    assert_eq!(console.listen.port(), 8443);
    assert!(console.scheduler_url.starts_with("https://"));
    assert!(console
        .broker_url
        .as_deref()
        .unwrap()
        .starts_with("https://"));
    assert!(console
        .public_url
        .as_deref()
        .unwrap()
        .starts_with("https://"));
}
