//! The Microsoft identity platform and Microsoft Graph client every galsync
//! service uses.
//!
//! - [`identity`]: token requests to Entra ID (certificate client assertion,
//!   client secret, refresh token, device code) and Entra's typed errors.
//! - [`client`]: [`GraphClient`] over one shared `reqwest::Client` with the
//!   single retry/throttle policy, paging, delta and `$batch`.
//! - [`models`]: serde types with Graph's names.
//!
//! Secrets (private keys, client secrets, refresh tokens, access tokens) are
//! wrapped in [`secrecy`] types and never appear in `Debug`, logs or errors.

pub mod client;
pub mod error;
pub mod identity;
pub mod models;
pub mod retry;
pub mod stats;
pub mod token;

pub use client::batch::{BatchOutcome, BatchRequest, BatchResponse, MAX_BATCH_REQUESTS};
pub use client::paging::DeltaResult;
pub use client::{GraphClient, GraphClientConfig, GraphRequest, GraphResponse, HttpOptions};
pub use error::{ApiError, GraphError};
pub use retry::{RetryPolicy, Sleeper, TokioSleeper};
pub use stats::{RequestStats, RequestStatsSnapshot};
pub use token::{AccessToken, InvalidationReason, StaticTokenSource, TokenError, TokenSource};

/// The public-cloud Graph endpoint, with its API version.
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.microsoft.com/v1.0";
/// The public-cloud Microsoft identity platform host.
pub const DEFAULT_LOGIN_BASE_URL: &str = "https://login.microsoftonline.com";
/// The app-only scope for Graph in the public cloud.
pub const DEFAULT_GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
