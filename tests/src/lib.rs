//! The end-to-end harness: galsync as its users run it. Every service is its
//! own process started from its built binary, with its own store (SQLite, or
//! a PostgreSQL database of its own when `GALSYNC_TEST_POSTGRES_URL` is set) and its
//! own data directory, talking mTLS over loopback sockets with certificates
//! from `galsync pki init`; the Graph emulator is one more process. Tests
//! drive it with the `galsync` CLI binary and the emulator's admin API, kill
//! processes with SIGKILL or SIGTERM, and compare every target mailbox with
//! the directory at the end.
//!
//! One harness for every scenario: [`spawn_cluster`].

pub mod binaries;
pub mod cluster;
pub mod databases;
pub mod emulator;
pub mod hosts;
pub mod metrics;
pub mod process;
pub mod up;

pub use cluster::{spawn_cluster, Cluster, ClusterSpec, Tenant};
pub use emulator::Emulator;
pub use process::Process;
pub use up::Up;
