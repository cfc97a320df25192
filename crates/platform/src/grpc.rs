//! One place builds every gRPC server: health, reflection, tracing with the
//! caller's trace context, timeouts, a concurrency limit, panics turned into
//! `INTERNAL`, optional mTLS, and graceful shutdown that drains in-flight calls.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::RoutesBuilder;
use tonic::transport::Server;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::config::{ConfigError, ServerArgs};
use crate::tls::{ClientCertificate, TlsMaterial};

/// Everything the bootstrap needs besides the service's own routes.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Service name for logs and health, e.g. `auth-broker`.
    pub service_name: &'static str,
    /// Fully qualified gRPC service names marked SERVING in health once ready,
    /// e.g. `galsync.v1.AuthBroker`.
    pub grpc_service_names: Vec<&'static str>,
    pub tls: Option<TlsMaterial>,
    /// Whether TLS callers must present a client certificate (all services
    /// but the scheduler's public API).
    pub client_certificate: ClientCertificate,
    pub request_timeout: Duration,
    pub max_concurrent_calls: usize,
    pub shutdown_grace: Duration,
}

impl ServeOptions {
    /// Options from the shared flags; reads TLS files, naming the flag on error.
    pub fn from_args(
        service_name: &'static str,
        grpc_service_names: Vec<&'static str>,
        args: &ServerArgs,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            service_name,
            grpc_service_names,
            tls: args.tls_material()?,
            client_certificate: ClientCertificate::Required,
            request_timeout: Duration::from_secs(args.request_timeout_secs),
            max_concurrent_calls: args.max_concurrent_calls,
            shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
        })
    }

    /// Defaults for in-process use (tests, `galsync up`).
    pub fn local(service_name: &'static str, grpc_service_names: Vec<&'static str>) -> Self {
        Self {
            service_name,
            grpc_service_names,
            tls: None,
            client_certificate: ClientCertificate::Required,
            request_timeout: Duration::from_secs(300),
            max_concurrent_calls: 256,
            shutdown_grace: Duration::from_secs(4),
        }
    }

    pub fn with_tls(mut self, tls: Option<TlsMaterial>) -> Self {
        self.tls = tls;
        self
    }

    /// Accept TLS callers without a client certificate (see
    /// [`ClientCertificate::Optional`]).
    pub fn with_client_certificate(mut self, client_certificate: ClientCertificate) -> Self {
        self.client_certificate = client_certificate;
        self
    }
}

/// Why a server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("invalid --{flag}: {problem}")]
    Config { flag: &'static str, problem: String },
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Binds `addr`, naming `--listen` when the port is taken or not allowed.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ConfigError> {
    TcpListener::bind(addr).await.map_err(|error| {
        let problem = match error.kind() {
            std::io::ErrorKind::AddrInUse => {
                format!("{addr} is already in use; stop the other process or choose another port")
            }
            std::io::ErrorKind::PermissionDenied => {
                format!("not allowed to bind {addr}; choose a port above 1024")
            }
            _ => format!("cannot bind {addr}: {error}"),
        };
        ConfigError::new("listen", problem)
    })
}

/// Serves `routes` plus health and reflection on `listener` until `shutdown`
/// resolves, then drains in-flight calls for up to the grace period.
pub async fn serve(
    options: ServeOptions,
    listener: TcpListener,
    mut routes: RoutesBuilder,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let local_addr = listener.local_addr().ok();
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    // Both reflection versions: grpcurl and Postman ask v1, older grpcio
    // clients v1alpha.
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(galsync_descriptor_set())
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_failed = |error: tonic_reflection::server::Error| ServeError::Config {
        flag: "listen",
        problem: format!("reflection could not be built: {error}"),
    };
    let reflection = reflection_builder().build_v1().map_err(reflection_failed)?;
    let reflection_v1alpha = reflection_builder()
        .build_v1alpha()
        .map_err(reflection_failed)?;
    routes.add_service(health_service);
    routes.add_service(reflection);
    routes.add_service(reflection_v1alpha);

    let mut builder = Server::builder()
        .timeout(options.request_timeout)
        .concurrency_limit_per_connection(options.max_concurrent_calls)
        .http2_keepalive_interval(Some(Duration::from_secs(30)));
    let tls_enabled = options.tls.is_some();
    if let Some(tls) = &options.tls {
        builder = builder
            .tls_config(tls.server_config(options.client_certificate))
            .map_err(|error| ServeError::Config {
                flag: "tls-key",
                problem: format!(
                    "the --tls-cert certificate and the --tls-key key do not make a TLS identity ({error}); \
                     give the key that belongs to the certificate"
                ),
            })?;
    }
    let service_name = options.service_name;
    let server = builder
        .layer(tower::layer::layer_fn(move |inner| CatchPanic { inner }))
        .layer(tower::layer::layer_fn(move |inner| TraceRequests {
            inner,
            service_name,
        }))
        .add_routes(routes.routes());

    mark_serving(&health_reporter, &options.grpc_service_names).await;
    if tls_enabled && options.client_certificate == ClientCertificate::Optional {
        tracing::info!(
            service = service_name,
            addr = ?local_addr,
            "serving gRPC over TLS: services present client certificates, API clients may present an API key instead"
        );
    } else if tls_enabled {
        tracing::info!(service = service_name, addr = ?local_addr, "serving gRPC with mutual TLS");
    } else {
        tracing::warn!(
            service = service_name,
            addr = ?local_addr,
            "serving gRPC in plaintext without TLS; use --tls-cert/--tls-key/--tls-ca outside a single-host demo"
        );
    }

    // On shutdown: report NOT_SERVING first so balancers stop sending, then
    // stop accepting and let in-flight calls finish within the grace period.
    let (drain_started_sender, drain_started) = tokio::sync::oneshot::channel::<()>();
    let reporter_for_shutdown = health_reporter.clone();
    let names_for_shutdown = options.grpc_service_names.clone();
    let graceful = async move {
        shutdown.await;
        tracing::info!(
            service = service_name,
            "shutting down: draining in-flight calls"
        );
        mark_not_serving(&reporter_for_shutdown, &names_for_shutdown).await;
        let _ = drain_started_sender.send(());
    };
    let incoming = TcpListenerStream::new(listener);
    let serve_future = server.serve_with_incoming_shutdown(incoming, graceful);
    tokio::pin!(serve_future);
    tokio::select! {
        result = &mut serve_future => result?,
        _ = async {
            let _ = drain_started.await;
            tokio::time::sleep(options.shutdown_grace).await;
        } => {
            tracing::warn!(service = service_name, "grace period over: abandoning calls still in flight");
        }
    }
    tracing::info!(service = service_name, "stopped");
    Ok(())
}

fn galsync_descriptor_set() -> &'static [u8] {
    galsync_proto::FILE_DESCRIPTOR_SET
}

async fn mark_serving(reporter: &HealthReporter, names: &[&'static str]) {
    reporter
        .set_service_status("", ServingStatus::Serving)
        .await;
    for name in names {
        reporter
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }
}

async fn mark_not_serving(reporter: &HealthReporter, names: &[&'static str]) {
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    for name in names {
        reporter
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("received SIGINT"),
        _ = terminate => tracing::info!("received SIGTERM"),
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Turns a panicking handler into an `INTERNAL` status instead of a dropped
/// connection; the panic is logged, its payload never sent to the caller.
#[derive(Debug, Clone)]
struct CatchPanic<S> {
    inner: S,
}

impl<S, RequestBody> tower::Service<http::Request<RequestBody>> for CatchPanic<S>
where
    S: tower::Service<http::Request<RequestBody>, Response = http::Response<tonic::body::Body>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let future = std::panic::AssertUnwindSafe(self.inner.call(request)).catch_unwind();
        Box::pin(async move {
            match future.await {
                Ok(result) => result,
                Err(_) => {
                    tracing::error!(method = %path, "handler panicked; answered INTERNAL");
                    Ok(tonic::Status::internal("internal error; see the service log").into_http())
                }
            }
        })
    }
}

/// One span per call, parented to the caller's trace context, with the
/// method and the gRPC status in the log.
#[derive(Debug, Clone)]
struct TraceRequests<S> {
    inner: S,
    service_name: &'static str,
}

impl<S, RequestBody> tower::Service<http::Request<RequestBody>> for TraceRequests<S>
where
    S: tower::Service<http::Request<RequestBody>, Response = http::Response<tonic::body::Body>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let span = tracing::info_span!("grpc", service = self.service_name, method = %method);
        // Fails only for a disabled span, which has nothing to parent.
        let _ = span.set_parent(crate::telemetry::extract_context(request.headers()));
        let started = std::time::Instant::now();
        let future = self.inner.call(request);
        Box::pin(
            async move {
                let result = future.await;
                if let Ok(response) = &result {
                    let code = response
                        .headers()
                        .get("grpc-status")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("0");
                    tracing::debug!(
                        grpc_status = code,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "call answered"
                    );
                }
                result
            }
            .instrument(span),
        )
    }
}

/// Waits between tries of a call to a peer service that was unreachable or
/// died under the call (restarted by its supervisor, a rolling update): about
/// 30 s in all before the caller gives up and says why.
pub const PEER_RETRY_DELAYS: [std::time::Duration; 5] = [
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(2),
    std::time::Duration::from_secs(4),
    std::time::Duration::from_secs(8),
    std::time::Duration::from_secs(15),
];

/// Whether a call failed because the peer was not there or the connection
/// broke under it (tonic reports the latter as `Unknown` "transport error"),
/// so the same call may succeed when tried again.
pub fn peer_went_away(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Cancelled | tonic::Code::Aborted
    ) || (status.code() == tonic::Code::Unknown && status.message().contains("transport"))
}

/// The answer to a caller when `service` failed inside (its store, an
/// encoder, a bug): the details go to the operator's log under a short
/// incident id, and the caller gets only that id to quote — never the text,
/// which can name tables, ids or paths.
pub fn internal_status(service: &str, what: &str, error: &dyn std::fmt::Display) -> tonic::Status {
    let incident = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    tracing::error!(error = %error, incident, "{service}: {what}");
    tonic::Status::internal(format!(
        "the {service} failed (incident {incident}; its log has the details)"
    ))
}
