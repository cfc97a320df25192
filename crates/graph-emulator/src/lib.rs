//! A faithful, strict local emulator of the Microsoft identity platform (Entra
//! ID token endpoints) and Microsoft Graph v1.0, for galsync's tests, benchmarks
//! and demo. It is a measuring instrument: it rejects what Microsoft rejects.
//!
//! One HTTP server serves both hosts: use its base URL as the login host and
//! as the Graph host. Routes:
//! - `/{tenant}/oauth2/v2.0/token`, `/devicecode`, `/adminconsent`, JWKS — `identity`
//! - `/v1.0/users…`, `/v1.0/groups…` — `directory`
//! - `/v1.0/users/{id}/contactFolders…`, `/v1.0/$batch` — `mailbox`
//! - `/_admin/…` — seeding, inspection, counters, faults, clock (`admin`)
//!
//! The public face: [`Emulator`], [`EmulatorConfig`], [`router`], [`FaultRule`],
//! and the data types in [`seeding`], [`registration`] and [`cost`]. Everything
//! else is internal.

mod accounting;
mod admin;
mod auth;
mod clock;
mod config;
mod directory;
mod errors;
mod faults;
mod floor;
mod identity;
mod latency;
mod mailbox;
mod odata_filter;
mod server;
mod state;
mod throttle;
mod tokens;

pub use config::{parse_time_scale, EmulatorConfig};
pub use faults::FaultRule;
pub use server::{router, Emulator};
pub use state::{AppState, EmulatorState};

/// Seeding and inspecting a tenant's directory: the synthetic tenant
/// generator, its options and summary, and the directory's records (users,
/// groups, memberships) as tests build and read them.
pub mod seeding {
    pub use crate::directory::properties::admin_view;
    pub use crate::directory::seed::generate;
    pub use crate::directory::{
        DeltaEvent, Group, LicenseSku, MailboxKind, MemberRef, SeedOptions, SeedSummary, User,
        UserType,
    };
}

/// Registering applications and answering consent, as an admin does in the
/// Entra admin center.
pub mod registration {
    pub use crate::identity::model::{AppRegistrationRequest, CertificateView, ConsentDecision};
}

/// The cost model and what the emulator measures against it: per-operation
/// latency, the least wall time a scenario needs, request counters and
/// mailbox slot use.
pub mod cost {
    pub use crate::accounting::{Accounting, Totals};
    pub use crate::floor::{Floor, Scenario};
    pub use crate::latency::{LatencyModel, LatencyOverride, LogNormal, OpKind};
    pub use crate::throttle::mailbox::SlotUse;
}
