//! The binaries the suite runs, from this build's target directory. The
//! first use in a test process asks cargo to build them (a no-op under
//! `cargo test --workspace`, which has built them already), so `cargo test -p
//! galsync-e2e` alone never runs stale binaries.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The packages whose binaries the suite starts.
const PACKAGES: [&str; 7] = [
    "galsync",
    "galsync-console",
    "galsync-auth-broker",
    "galsync-directory-reader",
    "galsync-contact-writer",
    "galsync-scheduler",
    "galsync-graph-emulator",
];

/// `target/<profile>/`: a test executable lives in its `deps/`, a binary
/// such as `galsync-bench` in it.
fn profile_dir() -> PathBuf {
    let executable = std::env::current_exe().expect("the executable's path");
    let dir = executable
        .parent()
        .expect("the executable lies in target/<profile>");
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.parent()
            .expect("the test executable lies in target/<profile>/deps")
            .to_owned()
    } else {
        dir.to_owned()
    }
}

fn build() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args(["build", "--bins", "--quiet"]);
    if profile_dir()
        .file_name()
        .is_some_and(|name| name == "release")
    {
        command.arg("--release");
    }
    for package in PACKAGES {
        command.args(["-p", package]);
    }
    // Cargo gives what it runs (a test, `cargo run -p galsync-bench`) the
    // variables of that package. Passed on, they reach build scripts that
    // track them (ring's): the binaries would be rebuilt from ring up for
    // every package that asks, and again for a plain `cargo build`.
    for (variable, _) in std::env::vars_os() {
        if variable.to_str().is_some_and(is_package_variable) {
            command.env_remove(&variable);
        }
    }
    let status = command
        .status()
        .map_err(|error| format!("cannot run cargo to build the binaries: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("building the binaries failed ({status})"))
    }
}

/// A variable Cargo sets for the package whose binary or test it runs.
fn is_package_variable(name: &str) -> bool {
    const EXACT: [&str; 8] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    EXACT.contains(&name) || name.starts_with("CARGO_PKG_") || name.starts_with("CARGO_BIN_")
}

/// The path of binary `name` (e.g. `galsync-scheduler`), built if needed.
pub fn path(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(error) = BUILT.get_or_init(build) {
        panic!("{error}");
    }
    let path = profile_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "no binary {}", path.display());
    path
}
