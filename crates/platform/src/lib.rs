//! What every galsync service shares, written once: configuration, telemetry,
//! the gRPC server bootstrap, mTLS with the internal PKI, and store connection.

pub mod access;
pub mod config;
mod config_error;
pub mod flags;
pub mod grpc;
pub mod https;
pub mod metadata_text;
pub mod metrics;
pub mod net;
pub mod on_behalf;
pub mod pki;
pub mod private_files;
pub mod service;
pub mod store;
pub mod stored_name;
pub mod telemetry;
pub mod tls;

pub use access::{authorize, AllowedCallers, Refusal};
pub use config::ConfigError;

/// The memory allocator every galsync binary uses: many small, short-lived
/// allocations on several threads (JSON bodies, batch responses) cost a
/// fraction of the system allocator's time and leave far less memory
/// fragmented. Declared in each binary with
/// `#[global_allocator] static ALLOCATOR: galsync_platform::Allocator = galsync_platform::Allocator;`.
pub use mimalloc::MiMalloc as Allocator;
pub use tls::{caller_identity, CallerIdentity, TlsMaterial};

/// Runs a binary's `main`, printing an error as one line (the error and its
/// causes, no backtrace) and exiting with status 2 for configuration errors and
/// 1 otherwise.
pub fn exit_on_error(result: anyhow::Result<()>) {
    let Err(error) = result else {
        return;
    };
    let mut line = format!("error: {error}");
    for cause in error.chain().skip(1) {
        let cause_text = cause.to_string();
        if !line.contains(&cause_text) {
            line.push_str(": ");
            line.push_str(&cause_text);
        }
    }
    eprintln!("{line}");
    std::process::exit(if flags::is_config_error(&error) { 2 } else { 1 });
}
