//! The `galsync` CLI as a library: the binary's commands, and the in-process
//! cluster and demo journey that tests drive directly.

pub mod api_key;
pub mod cert;
pub mod check;
pub mod cluster;
pub mod connect;
pub mod consent;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod ids;
pub mod output;
pub mod pki;
pub mod profile;
pub mod profile_proto;
pub mod profile_spec;
pub mod provision;
pub mod provision_auto;
pub mod reset;
pub mod run;
pub mod tenant;
pub mod tenant_change;
pub mod tenant_view;
pub mod up;
