//! Prometheus text exposition on `--metrics-listen`. Services register
//! counters and gauges by name; the endpoint renders them on each scrape.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// A set of named metrics, cheap to clone and share.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<BTreeMap<String, MetricEntry>>>,
}

#[derive(Debug)]
struct MetricEntry {
    help: &'static str,
    kind: &'static str,
    value: Arc<AtomicI64>,
}

impl Metrics {
    /// A monotonically increasing counter; the same name returns the same counter.
    pub fn counter(&self, name: &str, help: &'static str) -> Arc<AtomicI64> {
        self.register(name, help, "counter")
    }

    /// A gauge that can go up and down.
    pub fn gauge(&self, name: &str, help: &'static str) -> Arc<AtomicI64> {
        self.register(name, help, "gauge")
    }

    fn register(&self, name: &str, help: &'static str, kind: &'static str) -> Arc<AtomicI64> {
        let mut entries = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = entries
            .entry(name.to_owned())
            .or_insert_with(|| MetricEntry {
                help,
                kind,
                value: Arc::new(AtomicI64::new(0)),
            });
        entry.value.clone()
    }

    /// The Prometheus text format of every metric.
    pub fn render(&self) -> String {
        let entries = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut text = String::new();
        for (name, entry) in entries.iter() {
            let base_name = name.split('{').next().unwrap_or(name);
            text.push_str(&format!("# HELP {base_name} {}\n", entry.help));
            text.push_str(&format!("# TYPE {base_name} {}\n", entry.kind));
            text.push_str(&format!("{name} {}\n", entry.value.load(Ordering::Relaxed)));
        }
        text
    }
}

/// Serves `GET /metrics` until the task is dropped.
pub async fn serve(addr: SocketAddr, metrics: Metrics) -> Result<(), std::io::Error> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move { metrics.render() }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving Prometheus metrics on /metrics");
    axum::serve(listener, app).await
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
