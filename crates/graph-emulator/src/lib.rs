//! A faithful, strict local emulator of the Microsoft identity platform (Entra
//! ID token endpoints) and Microsoft Graph v1.0, for galsync's tests, benchmarks
//! and demo. It is a measuring instrument: it rejects what Microsoft rejects.
//!
//! One HTTP server serves both hosts: use its base URL as the login host and
//! as the Graph host. Routes:
//! - `/{tenant}/oauth2/v2.0/token`, `/devicecode`, `/adminconsent`, JWKS — [`identity`]
//! - `/v1.0/users…`, `/v1.0/groups…` — [`directory`]
//! - `/v1.0/users/{id}/contactFolders…`, `/v1.0/$batch` — [`mailbox`]
//! - `/_admin/…` — seeding, inspection, counters, faults, clock ([`admin`])

pub mod accounting;
pub mod admin;
pub mod auth;
pub mod clock;
mod config;
pub mod directory;
pub mod errors;
pub mod faults;
pub mod floor;
pub mod identity;
pub mod latency;
pub mod mailbox;
mod odata_filter;
mod server;
mod state;
pub mod throttle;
pub mod tokens;

pub use config::{parse_time_scale, EmulatorConfig};
pub use server::{router, Emulator};
pub use state::{AppState, EmulatorState};
