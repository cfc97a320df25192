//! Prometheus text exposition on `--metrics-listen`. Services register
//! counters and gauges by name (`family` or `family{label="value"}`) once and
//! keep the returned atomic, so counting on a hot path is one atomic add; the
//! endpoint renders every family on each scrape. [`start`] is the one way a
//! service serves them.
//!
//! Two process-wide sources are rendered too: store errors
//! ([`count_store_error`], `galsync_store_errors_total`) and whatever a
//! [`Renderer`] added with [`Metrics::add_renderer`] writes (the Graph client's
//! request counters).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::config_error::ConfigError;

/// Appends complete metric families (HELP, TYPE, samples) to a scrape.
pub type Renderer = fn(&mut String);

/// A set of named metrics, cheap to clone and share.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<Registry>>,
}

#[derive(Debug, Default)]
struct Registry {
    families: BTreeMap<String, Family>,
    renderers: Vec<Renderer>,
}

#[derive(Debug)]
struct Family {
    help: &'static str,
    kind: &'static str,
    /// Keyed by the label set as written (`endpoint="batch"`), "" for none.
    series: BTreeMap<String, Arc<AtomicI64>>,
}

static STORE_ERRORS: AtomicU64 = AtomicU64::new(0);

/// Counts a store (database) error in this process; rendered by every
/// [`Metrics`] as `galsync_store_errors_total`.
pub fn count_store_error() {
    STORE_ERRORS.fetch_add(1, Ordering::Relaxed);
}

/// Adds `amount` to `counter`; an amount beyond `i64::MAX` (which no count
/// reaches) adds `i64::MAX`.
pub fn add_count(counter: &AtomicI64, amount: u64) {
    counter.fetch_add(i64::try_from(amount).unwrap_or(i64::MAX), Ordering::Relaxed);
}

/// The name of one series of `family` with one label: `family{label="value"}`.
pub fn series(family: &str, label: &str, value: &str) -> String {
    format!("{family}{{{label}=\"{value}\"}}")
}

/// The series of one family told apart by one label, e.g. mailboxes by
/// `outcome`: `family.of("succeeded")` is `family{outcome="succeeded"}`.
pub struct LabelledFamily<'a> {
    metrics: &'a Metrics,
    family: &'static str,
    label: &'static str,
    help: &'static str,
    kind: &'static str,
}

impl LabelledFamily<'_> {
    /// The series for `value` of the label (the same one each time).
    pub fn of(&self, value: &str) -> Arc<AtomicI64> {
        self.metrics.register(
            &series(self.family, self.label, value),
            self.help,
            self.kind,
        )
    }
}

impl Metrics {
    /// Counters of `family`, one for each value of `label`.
    pub fn counters(
        &self,
        family: &'static str,
        label: &'static str,
        help: &'static str,
    ) -> LabelledFamily<'_> {
        LabelledFamily {
            metrics: self,
            family,
            label,
            help,
            kind: "counter",
        }
    }

    /// Gauges of `family`, one for each value of `label`.
    pub fn gauges(
        &self,
        family: &'static str,
        label: &'static str,
        help: &'static str,
    ) -> LabelledFamily<'_> {
        LabelledFamily {
            kind: "gauge",
            ..self.counters(family, label, help)
        }
    }

    /// A monotonically increasing counter; the same name returns the same
    /// counter. `name` is `family` or `family{label="value",…}`.
    pub fn counter(&self, name: &str, help: &'static str) -> Arc<AtomicI64> {
        self.register(name, help, "counter")
    }

    /// A gauge that can go up and down.
    pub fn gauge(&self, name: &str, help: &'static str) -> Arc<AtomicI64> {
        self.register(name, help, "gauge")
    }

    /// Adds families written by `renderer` to every scrape (once per renderer).
    pub fn add_renderer(&self, renderer: Renderer) {
        let mut registry = self.lock();
        if !registry
            .renderers
            .iter()
            .any(|known| std::ptr::fn_addr_eq(*known, renderer))
        {
            registry.renderers.push(renderer);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn register(&self, name: &str, help: &'static str, kind: &'static str) -> Arc<AtomicI64> {
        let (family, labels) = split_name(name);
        let mut registry = self.lock();
        if !registry.families.contains_key(family) {
            let new_family = Family {
                help,
                kind,
                series: BTreeMap::new(),
            };
            registry.families.insert(family.to_owned(), new_family);
        }
        let Some(family) = registry.families.get_mut(family) else {
            unreachable!("the family was just inserted");
        };
        if let Some(value) = family.series.get(labels) {
            return value.clone();
        }
        let value = Arc::new(AtomicI64::new(0));
        family.series.insert(labels.to_owned(), value.clone());
        value
    }

    /// The Prometheus text format of every metric: each family's HELP and
    /// TYPE once, then its samples.
    pub fn render(&self) -> String {
        let registry = self.lock();
        let mut text = String::new();
        for (name, family) in &registry.families {
            let _ = writeln!(text, "# HELP {name} {}", family.help);
            let _ = writeln!(text, "# TYPE {name} {}", family.kind);
            for (labels, value) in &family.series {
                let value = value.load(Ordering::Relaxed);
                if labels.is_empty() {
                    let _ = writeln!(text, "{name} {value}");
                } else {
                    let _ = writeln!(text, "{name}{{{labels}}} {value}");
                }
            }
        }
        if !registry.families.contains_key("galsync_store_errors_total") {
            text.push_str(
                "# HELP galsync_store_errors_total store (database) errors met by this process\n\
                 # TYPE galsync_store_errors_total counter\n",
            );
            let _ = writeln!(
                text,
                "galsync_store_errors_total {}",
                STORE_ERRORS.load(Ordering::Relaxed)
            );
        }
        for renderer in &registry.renderers {
            renderer(&mut text);
        }
        text
    }
}

/// `family{labels}` into `("family", "labels")`; `family` into `("family", "")`.
fn split_name(name: &str) -> (&str, &str) {
    match name.split_once('{') {
        Some((family, rest)) => (family, rest.strip_suffix('}').unwrap_or(rest)),
        None => (name, ""),
    }
}

/// The running `/metrics` endpoint; stops when dropped.
#[derive(Debug)]
pub struct MetricsEndpoint {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsEndpoint {
    /// Where it listens (the bound port when `--metrics-listen` asked for 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `GET /metrics` on `addr` (a service's `--metrics-listen`) until the
/// returned endpoint is dropped; `None` when the flag is absent. Binds before
/// returning, so a port in use is a configuration error at start-up.
pub async fn start(
    addr: Option<SocketAddr>,
    metrics: Metrics,
) -> Result<Option<MetricsEndpoint>, ConfigError> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let listener = crate::grpc::bind(addr)
        .await
        .map_err(|error| ConfigError::new("metrics-listen", error.problem))?;
    let addr = listener.local_addr().unwrap_or(addr);
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    metrics.render(),
                )
            }
        }),
    );
    tracing::info!(%addr, "serving Prometheus metrics on /metrics");
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "metrics endpoint failed");
        }
    });
    Ok(Some(MetricsEndpoint { addr, task }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn a_series_names_its_family_and_label() {
        assert_eq!(
            series("galsync_runs_total", "state", "failed"),
            "galsync_runs_total{state=\"failed\"}"
        );
    }

    #[test]
    fn a_count_beyond_the_counters_range_adds_its_largest_value() {
        let metrics = Metrics::default();
        let counter = metrics.counter("galsync_contacts_total", "contacts");
        add_count(&counter, 4);
        assert!(metrics.render().contains("galsync_contacts_total 4\n"));
        let huge = metrics.counter("galsync_huge_total", "huge");
        add_count(&huge, u64::MAX);
        assert_eq!(huge.load(Ordering::Relaxed), i64::MAX);
    }

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        metrics
            .counter("galsync_tokens_issued_total", "tokens issued")
            .fetch_add(3, Ordering::Relaxed);
        let text = metrics.render();
        assert!(text.contains("# TYPE galsync_tokens_issued_total counter"));
        assert!(text.contains("galsync_tokens_issued_total 3\n"));
    }

    #[test]
    fn labelled_series_share_one_help_and_type() {
        let metrics = Metrics::default();
        let succeeded = metrics.counter("galsync_runs_total{state=\"succeeded\"}", "runs");
        let failed = metrics.counter("galsync_runs_total{state=\"failed\"}", "runs");
        // A family whose name is a prefix of another stays in one block.
        metrics.counter("galsync_runs_total_x", "other");
        succeeded.fetch_add(2, Ordering::Relaxed);
        failed.fetch_add(1, Ordering::Relaxed);
        let again = metrics.counter("galsync_runs_total{state=\"succeeded\"}", "runs");
        again.fetch_add(1, Ordering::Relaxed);
        let text = metrics.render();
        assert_eq!(text.matches("# TYPE galsync_runs_total counter").count(), 1);
        assert_eq!(text.matches("# HELP galsync_runs_total runs").count(), 1);
        let block: Vec<&str> = text
            .lines()
            .skip_while(|line| *line != "# TYPE galsync_runs_total counter")
            .skip(1)
            .take(2)
            .collect();
        assert_eq!(
            block,
            [
                "galsync_runs_total{state=\"failed\"} 1",
                "galsync_runs_total{state=\"succeeded\"} 3"
            ]
        );
        assert!(text.contains("# TYPE galsync_store_errors_total counter"));
    }

    fn extra(text: &mut String) {
        text.push_str("# TYPE galsync_extra gauge\ngalsync_extra 7\n");
    }

    #[test]
    fn renderers_are_added_once() {
        let metrics = Metrics::default();
        metrics.add_renderer(extra);
        metrics.add_renderer(extra);
        let text = metrics.render();
        assert_eq!(text.matches("galsync_extra 7\n").count(), 1);
    }

    #[tokio::test]
    async fn start_serves_metrics_and_stops_when_dropped() {
        assert!(start(None, Metrics::default()).await.unwrap().is_none());
        let metrics = Metrics::default();
        metrics
            .gauge("galsync_queue_depth{state=\"pending\"}", "depth")
            .store(4, Ordering::Relaxed);
        let endpoint = start(Some("127.0.0.1:0".parse().unwrap()), metrics)
            .await
            .unwrap()
            .unwrap();
        let addr = endpoint.local_addr();
        assert_ne!(addr.port(), 0);
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("text/plain; version=0.0.4"), "{response}");
        assert!(response.contains("galsync_queue_depth{state=\"pending\"} 4\n"));

        // The same port again is a configuration error naming the flag.
        let error = start(Some(addr), Metrics::default()).await.unwrap_err();
        assert_eq!(error.flag, "metrics-listen");
        drop(endpoint);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
