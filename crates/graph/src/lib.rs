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
//!
//! Typical wiring in a service (one `reqwest::Client` per process):
//!
//! ```text
//! let http = HttpOptions::default().build_client()?;
//! let tokens: Arc<dyn TokenSource> = Arc::new(BrokerTokens::new(..)); // or CachedTokenSource
//! let graph = GraphClient::new(http, GraphClientConfig { base_url, ..Default::default() }, tokens)?;
//! let users: Vec<User> = graph.get_all_pages(&format!("/users?$select={USER_SELECT}&$top=999")).await?;
//! let delta = graph.delta::<User>(&stored_delta_link).await?;      // items + next delta link
//! let work = graph.with_stats(Arc::new(RequestStats::new()));      // per work item counts
//! let outcome = work.batch_with_retry(requests).await?;            // ≤ 20, per-item status
//! ```
//!
//! Every request goes through one policy: `Retry-After` obeyed exactly
//! (decimal seconds or HTTP-date), full-jitter exponential backoff when it is
//! absent, bounded attempts and total wait, one token refresh on 401/403, and
//! no blind re-send of a create whose outcome is unknown
//! ([`GraphError::Ambiguous`]).

pub mod client;
pub mod error;
pub mod identity;
pub mod models;
pub mod path;
pub mod retry;
pub mod stats;
pub mod token;
pub mod traffic;

pub use client::batch::{BatchGate, BatchOutcome, BatchRequest, BatchResponse, MAX_BATCH_REQUESTS};
pub use client::paging::DeltaResult;
pub use client::{
    Deadline, GraphClient, GraphClientConfig, GraphRequest, GraphResponse, HttpOptions,
};
pub use error::{ApiError, GraphError};
pub use path::UserKey;
pub use retry::{RetryPolicy, Sleeper, TokioSleeper};
pub use stats::{RequestStats, RequestStatsSnapshot};
pub use token::{AccessToken, InvalidationReason, StaticTokenSource, TokenError, TokenSource};

/// The public-cloud Graph endpoint, with its API version.
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.microsoft.com/v1.0";
/// The public-cloud Microsoft identity platform host.
pub const DEFAULT_LOGIN_BASE_URL: &str = "https://login.microsoftonline.com";
/// The app-only scope for Graph in the public cloud.
pub const DEFAULT_GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
