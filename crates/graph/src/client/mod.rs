//! [`GraphClient`]: Microsoft Graph over one shared `reqwest::Client`, every
//! request under the same retry policy (see [`crate::retry`]).

pub mod batch;
mod execute;
pub mod paging;
mod request;

pub use request::{GraphRequest, GraphResponse, RequestBody};

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::GraphError;
use crate::retry::{self, RetryPolicy, Sleeper};
use crate::stats::RequestStats;
use crate::token::TokenSource;

/// Settings of the process-wide HTTP client.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Whole-request timeout (default 100 s, Graph's own limit).
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// How long an idle pooled connection is kept (default 90 s).
    pub pool_idle_timeout: Duration,
    pub user_agent: String,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(100),
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            user_agent: format!("galsync/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

impl HttpOptions {
    /// Builds the `reqwest::Client` to share between every [`GraphClient`]
    /// and [`crate::identity::IdentityClient`] of the process: one connection
    /// pool, HTTP/1.1 keep-alive, HTTP/2 where the server offers it (ALPN).
    pub fn build_client(&self) -> Result<reqwest::Client, GraphError> {
        reqwest::Client::builder()
            .timeout(self.request_timeout)
            .connect_timeout(self.connect_timeout)
            .pool_idle_timeout(self.pool_idle_timeout)
            .tcp_keepalive(Duration::from_secs(30))
            .http2_adaptive_window(true)
            .user_agent(self.user_agent.clone())
            .build()
            .map_err(|error| GraphError::InvalidConfig {
                reason: format!("failed to build the http client: {error}"),
            })
    }
}

/// The instant by which every request of a client must have ended, moved
/// on as it is renewed: a writer's lease on a mailbox. Under a deadline a
/// request is not sent (nor retried) once it has passed, and an attempt
/// still in flight when it comes is abandoned.
pub type Deadline = tokio::sync::watch::Receiver<tokio::time::Instant>;

/// Where Graph is and how hard to retry.
#[derive(Debug, Clone)]
pub struct GraphClientConfig {
    /// Graph root with its version, default `https://graph.microsoft.com/v1.0`
    /// (the emulator: `http://127.0.0.1:8480/v1.0`).
    pub base_url: String,
    pub retry: RetryPolicy,
}

impl Default for GraphClientConfig {
    fn default() -> Self {
        Self {
            base_url: crate::DEFAULT_GRAPH_BASE_URL.to_owned(),
            retry: RetryPolicy::default(),
        }
    }
}

#[derive(Clone)]
struct ClientInner {
    http: reqwest::Client,
    base_url: String,
    base_origin: url::Origin,
    retry: RetryPolicy,
    tokens: Arc<dyn TokenSource>,
    sleeper: Arc<dyn Sleeper>,
    /// Sent with every request of this client (e.g. `ConsistencyLevel`).
    default_headers: Vec<(String, String)>,
    deadline: Option<Deadline>,
    /// How long Graph took to answer lately (the slowest, decaying), shared
    /// by every client derived from one: under a deadline a request is not
    /// sent unless at least that much time is left, so Graph has answered it
    /// (and applied it) before the deadline.
    recent_slowest: Arc<std::sync::Mutex<RecentSlowest>>,
}

/// The slowest answer Graph gave lately: each newer answer takes an eighth
/// off it, and it halves every 10 s without answers, so one slow answer
/// cannot keep a client under a deadline from ever sending again.
#[derive(Debug, Default)]
pub(crate) struct RecentSlowest {
    slowest: Duration,
    noted_at: Option<tokio::time::Instant>,
}

impl RecentSlowest {
    const HALF_LIFE: Duration = Duration::from_secs(10);

    fn at(&self, now: tokio::time::Instant) -> Duration {
        let Some(noted_at) = self.noted_at else {
            return Duration::ZERO;
        };
        let halvings =
            now.saturating_duration_since(noted_at).as_secs_f64() / Self::HALF_LIFE.as_secs_f64();
        self.slowest.div_f64(2f64.powf(halvings))
    }

    fn note(&mut self, took: Duration, now: tokio::time::Instant) {
        let decayed = self.at(now);
        self.slowest = took.max(decayed - decayed / 8);
        self.noted_at = Some(now);
    }
}

/// Microsoft Graph for one tenant and one token source. Cheap to clone.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<ClientInner>,
    stats: Arc<RequestStats>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GraphClient")
            .field("base_url", &self.inner.base_url)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    /// `http` should be the process's one shared client
    /// ([`HttpOptions::build_client`]).
    pub fn new(
        http: reqwest::Client,
        config: GraphClientConfig,
        tokens: Arc<dyn TokenSource>,
    ) -> Result<Self, GraphError> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&base_url).map_err(|error| GraphError::InvalidConfig {
            reason: format!("graph base url {base_url:?} is not a url: {error}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(GraphError::InvalidConfig {
                reason: format!("graph base url {base_url:?} is not http or https"),
            });
        }
        let inner = ClientInner {
            http,
            base_origin: parsed.origin(),
            base_url,
            retry: config.retry,
            tokens,
            sleeper: retry::default_sleeper(),
            default_headers: Vec::new(),
            deadline: None,
            recent_slowest: Arc::default(),
        };
        Ok(Self {
            inner: Arc::new(inner),
            stats: Arc::new(RequestStats::new()),
        })
    }

    /// Replaces how retries wait (tests).
    pub fn with_sleeper(self, sleeper: Arc<dyn Sleeper>) -> Self {
        let mut inner = (*self.inner).clone();
        inner.sleeper = sleeper;
        Self {
            inner: Arc::new(inner),
            stats: self.stats,
        }
    }

    /// The same client sending `name: value` with every request, e.g.
    /// `ConsistencyLevel: eventual` for advanced directory queries or
    /// `Prefer: IdType="ImmutableId"` for mailbox items.
    pub fn with_header(&self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let mut inner = (*self.inner).clone();
        inner.default_headers.push((name.into(), value.into()));
        Self {
            inner: Arc::new(inner),
            stats: Arc::clone(&self.stats),
        }
    }

    /// The same client sending nothing after `deadline` (see [`Deadline`]).
    pub fn with_deadline(&self, deadline: Deadline) -> Self {
        let mut inner = (*self.inner).clone();
        inner.deadline = Some(deadline);
        Self {
            inner: Arc::new(inner),
            stats: Arc::clone(&self.stats),
        }
    }

    /// When this client's deadline comes, if it has one.
    pub fn deadline(&self) -> Option<tokio::time::Instant> {
        self.inner
            .deadline
            .as_ref()
            .map(|deadline| *deadline.borrow())
    }

    /// Ends when the deadline has come and was not moved on before it: an
    /// attempt in flight is abandoned then, not at the deadline it was sent
    /// under, so a lease renewed while Graph works is not cut short. Never
    /// ends for a client without a deadline.
    pub(crate) async fn deadline_passed(&self) {
        let Some(mut deadline) = self.inner.deadline.clone() else {
            return std::future::pending().await;
        };
        loop {
            let at = *deadline.borrow_and_update();
            tokio::select! {
                () = tokio::time::sleep_until(at) => {
                    if *deadline.borrow() <= tokio::time::Instant::now() {
                        return;
                    }
                }
                moved = deadline.changed() => {
                    if moved.is_err() {
                        // Nobody renews it any more: it stays where it is.
                        let at = *deadline.borrow();
                        tokio::time::sleep_until(at).await;
                        return;
                    }
                }
            }
        }
    }

    /// Notes how long Graph took to answer a request (see [`RecentSlowest`]).
    pub(crate) fn note_answer_time(&self, took: Duration) {
        self.inner
            .recent_slowest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .note(took, tokio::time::Instant::now());
    }

    /// The slowest answer lately (see [`RecentSlowest`]).
    pub(crate) fn recent_slowest(&self) -> Duration {
        self.inner
            .recent_slowest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .at(tokio::time::Instant::now())
    }

    /// Time left before the deadline (zero once passed); None without one.
    pub(crate) fn time_left(&self) -> Option<Duration> {
        self.deadline()
            .map(|deadline| deadline.saturating_duration_since(tokio::time::Instant::now()))
    }

    /// The same client counting into `stats` (e.g. one per work item).
    pub fn with_stats(&self, stats: Arc<RequestStats>) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            stats,
        }
    }

    pub fn stats(&self) -> &Arc<RequestStats> {
        &self.stats
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Sends a request under the retry policy; `Ok` only for 2xx.
    pub async fn send(&self, request: GraphRequest) -> Result<GraphResponse, GraphError> {
        self.execute(&request).await
    }

    pub async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, GraphError> {
        self.execute(&GraphRequest::get(url)).await?.json()
    }

    /// Raw bytes, e.g. `/users/{id}/photo/$value` (404 = no photo).
    pub async fn get_bytes(&self, url: &str) -> Result<Vec<u8>, GraphError> {
        Ok(self.execute(&GraphRequest::get(url)).await?.body)
    }

    /// A create. Not idempotent: a dropped connection yields
    /// [`GraphError::Ambiguous`], never a second POST.
    pub async fn post_json<B, T>(&self, url: &str, body: &B) -> Result<T, GraphError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let request = GraphRequest::new(reqwest::Method::POST, url).with_json(body)?;
        self.execute(&request).await?.json()
    }

    /// An update in place; the response body (if any) is decoded as `T`.
    pub async fn patch_json<B, T>(&self, url: &str, body: &B) -> Result<T, GraphError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let request = GraphRequest::new(reqwest::Method::PATCH, url).with_json(body)?;
        self.execute(&request).await?.json()
    }

    /// A delete. Retried on connection loss like any idempotent request, so
    /// a 404 may mean an earlier attempt already deleted it: treat
    /// [`GraphError::is_not_found`] as done.
    pub async fn delete(&self, url: &str) -> Result<(), GraphError> {
        self.execute(&GraphRequest::delete(url)).await?;
        Ok(())
    }

    /// Uploads bytes, e.g. a contact photo to `…/contacts/{id}/photo/$value`.
    pub async fn put_bytes(
        &self,
        url: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(), GraphError> {
        let request = GraphRequest::new(reqwest::Method::PUT, url).with_bytes(content_type, bytes);
        self.execute(&request).await?;
        Ok(())
    }

    /// A path becomes `{base}{path}`; an absolute URL is used verbatim but
    /// only on the base URL's origin, so the token never leaves for another host.
    pub(crate) fn resolve_url(&self, url: &str) -> Result<url::Url, GraphError> {
        let is_absolute = url.starts_with("https://") || url.starts_with("http://");
        let full_url = if is_absolute {
            url.to_owned()
        } else if url.starts_with('/') {
            format!("{}{url}", self.inner.base_url)
        } else {
            format!("{}/{url}", self.inner.base_url)
        };
        let parsed = url::Url::parse(&full_url).map_err(|error| GraphError::InvalidUrl {
            url: full_url.clone(),
            reason: error.to_string(),
        })?;
        if parsed.origin() != self.inner.base_origin {
            return Err(GraphError::ForeignUrl { url: full_url });
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::RecentSlowest;
    use std::time::Duration;
    use tokio::time::Instant;

    #[test]
    fn a_slow_answer_fades_with_faster_ones_and_with_time() {
        let start = Instant::now();
        let mut recent = RecentSlowest::default();
        assert_eq!(recent.at(start), Duration::ZERO, "nothing answered yet");
        recent.note(Duration::from_secs(8), start);
        recent.note(Duration::from_millis(100), start);
        assert_eq!(
            recent.at(start),
            Duration::from_secs(7),
            "an eighth off per answer"
        );
        let later = start + Duration::from_secs(20);
        assert_eq!(
            recent.at(later),
            Duration::from_millis(1750),
            "halved twice in 20 s"
        );
        recent.note(Duration::from_secs(3), later);
        assert_eq!(
            recent.at(later),
            Duration::from_secs(3),
            "a slower answer raises it"
        );
    }
}
