//! The `galsync` CLI as a library: the binary's commands, and the in-process
//! cluster and demo journey that tests drive directly.

pub mod bench;
pub mod cert;
pub mod check;
pub mod cluster;
pub mod connect;
pub mod consent;
pub mod demo;
pub mod error;
pub mod follow;
pub mod output;
pub mod pki;
pub mod profile;
pub mod profile_proto;
pub mod profile_spec;
pub mod reset;
pub mod run;
pub mod tenant;
pub mod up;
