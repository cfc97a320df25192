//! The house's layering, checked from the workspace's manifests: no service
//! depends on another service, and the services that must never hold a
//! credential (the directory-reader and the contact-writer) reach the
//! auth-broker only through `galsync-broker-client`; only test crates link
//! the test support.

use std::collections::BTreeMap;
use std::process::Command;

/// `cargo metadata` of the workspace, without resolving dependencies.
fn workspace_metadata() -> serde_json::Value {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// Each workspace package's normal (non-dev) dependencies on other
/// workspace packages.
fn workspace_dependencies() -> BTreeMap<String, Vec<String>> {
    let metadata = workspace_metadata();
    let packages = metadata["packages"].as_array().expect("packages");
    let members: Vec<&str> = packages
        .iter()
        .filter_map(|package| package["name"].as_str())
        .collect();
    packages
        .iter()
        .map(|package| {
            let dependencies = package["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|dependency| dependency["kind"].is_null())
                .filter_map(|dependency| dependency["name"].as_str())
                .filter(|name| members.contains(name))
                .map(str::to_owned)
                .collect();
            (
                package["name"].as_str().unwrap_or_default().to_owned(),
                dependencies,
            )
        })
        .collect()
}

const SERVICES: [&str; 5] = [
    "galsync-auth-broker",
    "galsync-directory-reader",
    "galsync-contact-writer",
    "galsync-scheduler",
    // Calls the scheduler's public API only, never its code.
    "galsync-console",
];

#[test]
fn no_service_depends_on_another_service() {
    let dependencies = workspace_dependencies();
    let mut crossings = Vec::new();
    for service in SERVICES {
        let of_service = dependencies
            .get(service)
            .unwrap_or_else(|| panic!("{service} is a workspace member"));
        for dependency in of_service {
            if SERVICES.contains(&dependency.as_str()) {
                crossings.push(format!("{service} → {dependency}"));
            }
        }
    }
    assert!(
        crossings.is_empty(),
        "services depend on services: {crossings:?}"
    );
    for service in ["galsync-directory-reader", "galsync-contact-writer"] {
        assert!(
            dependencies[service].contains(&"galsync-broker-client".to_owned()),
            "{service} draws its Graph tokens through galsync-broker-client"
        );
    }
}

/// Test support lives above what it tests: only test crates depend on
/// `galsync-testkit` (which starts an auth-broker and holds the harness for
/// real binaries), so no service binary or shared crate links it.
#[test]
fn only_test_crates_depend_on_the_test_support() {
    const TEST_CRATES: [&str; 2] = ["galsync-testkit", "galsync-e2e"];
    let dependencies = workspace_dependencies();
    let linked: Vec<&String> = dependencies
        .iter()
        .filter(|(package, _)| !TEST_CRATES.contains(&package.as_str()))
        .filter(|(_, of_package)| of_package.iter().any(|name| name == "galsync-testkit"))
        .map(|(package, _)| package)
        .collect();
    assert!(
        linked.is_empty(),
        "production crates link the test support: {linked:?}"
    );
    assert!(
        dependencies.contains_key("galsync-testkit"),
        "galsync-testkit is a workspace member"
    );
}

/// The admin CLI an operator builds need not carry the emulator: only its
/// `demo` feature (on by default, for `galsync demo`)
/// links it. `.ci/run` builds the CLI without it.
#[test]
fn the_admin_cli_links_the_emulator_only_for_the_demo() {
    let metadata = workspace_metadata();
    let cli = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| package["name"] == "galsync")
        .expect("the galsync package");
    let emulator = cli["dependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|dependency| {
            dependency["name"] == "galsync-graph-emulator" && dependency["kind"].is_null()
        })
        .expect("galsync depends on the emulator for the demo");
    assert_eq!(emulator["optional"], true, "{emulator:#}");
    assert_eq!(
        cli["features"]["demo"],
        serde_json::json!(["dep:galsync-graph-emulator"]),
        "{:#}",
        cli["features"]
    );
}
