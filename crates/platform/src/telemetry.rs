//! Logs and traces: `tracing` with pretty or JSON output, OpenTelemetry OTLP
//! export when an endpoint is configured, and W3C trace context carried across
//! gRPC calls (a client interceptor injects it, the server layer extracts it).

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{ConfigError, LogFormat, TelemetryArgs};

/// Keeps the trace exporter alive; flushes spans when dropped.
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    tracer_provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer_provider.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("failed to flush traces: {error}");
            }
        }
    }
}

/// Installs the global subscriber. Safe to call more than once (tests, `galsync
/// up`): later calls keep the first subscriber and return an inert guard.
pub fn init(service_name: &str, args: &TelemetryArgs) -> Result<TelemetryGuard, ConfigError> {
    let filter = EnvFilter::try_new(&args.log).map_err(|error| {
        ConfigError::new(
            "log",
            format!("`{}` is not a log filter: {error}", args.log),
        )
    })?;

    // Spans always carry a trace context (so a run's trace id reaches every
    // service and Graph's client-request-id); they are exported only when
    // an OTLP endpoint is configured.
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    let mut provider = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &args.otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|error| ConfigError::new("otlp-endpoint", error.to_string()))?;
        provider = provider.with_batch_exporter(exporter);
    }
    let provider = provider.build();
    let tracer = provider.tracer(service_name.to_owned());
    let tracer_provider = Some(provider);
    let otel_layer = tracing_opentelemetry::layer().with_tracer(tracer);
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let fmt_layer = match args.log_format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer().with_target(false).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer)
        .with(otel_layer)
        .try_init();
    if installed.is_err() {
        // Another part of this process already installed one.
        return Ok(TelemetryGuard {
            tracer_provider: None,
        });
    }
    Ok(TelemetryGuard { tracer_provider })
}

/// A channel whose calls carry the current span's trace context.
pub type Traced = tonic::service::interceptor::InterceptedService<
    tonic::transport::Channel,
    TraceContextInterceptor,
>;

/// `channel`, with every call carrying the current span's trace context.
pub fn traced(channel: tonic::transport::Channel) -> Traced {
    tonic::service::interceptor::InterceptedService::new(channel, TraceContextInterceptor)
}

/// The trace of run `run_id`: its trace id is the run id's 16 bytes, so
/// every service can join it from the run id alone (the writer from its
/// work item, the scheduler again after adopting the run) and an operator
/// finds it from `galsync run show`. An empty context for an id that is not
/// a UUID.
pub fn run_context(run_id: &str) -> opentelemetry::Context {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    let Ok(run) = uuid::Uuid::parse_str(run_id) else {
        return opentelemetry::Context::new();
    };
    let bytes = run.as_bytes();
    let mut span_bytes = [0u8; 8];
    span_bytes.copy_from_slice(&bytes[8..]);
    span_bytes[0] |= 1; // never the invalid all-zero span id
    let span_context = SpanContext::new(
        TraceId::from_bytes(*bytes),
        SpanId::from_bytes(span_bytes),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    opentelemetry::Context::new().with_remote_span_context(span_context)
}

/// The trace id of run `run_id` in the W3C form (32 lowercase hex digits),
/// or empty for an id that is not a UUID.
pub fn run_trace_id(run_id: &str) -> String {
    uuid::Uuid::parse_str(run_id)
        .map(|run| run.simple().to_string())
        .unwrap_or_default()
}

/// A span for work on run `run_id`, joined to the run's trace.
pub fn run_span(name: &'static str, run_id: &str) -> tracing::Span {
    let span = tracing::info_span!("run_work", otel.name = name, run = %run_id);
    // Fails only for a disabled span, which has nothing to join.
    let _ = span.set_parent(run_context(run_id));
    span
}

/// Writes the current span's trace context into outgoing gRPC metadata.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        inject_context(&tracing::Span::current().context(), request.metadata_mut());
        Ok(request)
    }
}

/// Injects an OpenTelemetry context as `traceparent`/`tracestate` metadata.
pub fn inject_context(
    context: &opentelemetry::Context,
    metadata: &mut tonic::metadata::MetadataMap,
) {
    let propagator = TraceContextPropagator::new();
    propagator.inject_context(context, &mut MetadataInjector(metadata));
}

/// Reads the caller's trace context from incoming HTTP/2 headers.
pub fn extract_context(headers: &http::HeaderMap) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(key) = tonic::metadata::MetadataKey::from_bytes(key.as_bytes()) else {
            return;
        };
        if let Ok(value) = value.parse() {
            self.0.insert(key, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|key| key.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };

    #[test]
    fn trace_context_round_trips_through_metadata() {
        let span_context = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let context = opentelemetry::Context::new().with_remote_span_context(span_context);
        let mut metadata = tonic::metadata::MetadataMap::new();
        inject_context(&context, &mut metadata);
        assert_eq!(
            metadata.get("traceparent").unwrap().to_str().unwrap(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );

        let headers = metadata.into_headers();
        let extracted = extract_context(&headers);
        assert_eq!(
            extracted.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }
}

#[cfg(test)]
mod run_trace_tests {
    use opentelemetry::trace::TraceContextExt;

    #[test]
    fn a_runs_trace_id_is_its_id() {
        let run_id = "3f1c2a9e-8b7d-4c6e-9a0b-1d2e3f405162";
        let context = super::run_context(run_id);
        let span = context.span();
        let span_context = span.span_context();
        assert!(span_context.is_valid());
        assert_eq!(
            span_context.trace_id().to_string(),
            "3f1c2a9e8b7d4c6e9a0b1d2e3f405162"
        );
        assert_eq!(
            super::run_trace_id(run_id),
            "3f1c2a9e8b7d4c6e9a0b1d2e3f405162"
        );
        assert!(!super::run_context("not a uuid")
            .span()
            .span_context()
            .is_valid());
    }
}
