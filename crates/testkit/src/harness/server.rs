//! Servers a test starts in the background on a loopback port, port 0: the
//! one place that binds, spawns and stops them. [`spawn_server`] runs any
//! `serve(listener, shutdown)` — a service's own, e.g.
//! `galsync_directory_reader::serve` ([`spawn_server_on`] on a listener
//! the test bound itself) — and [`serve_galsync`] serves routes
//! through galsync's gRPC bootstrap as a service does; both hand back a
//! [`RunningServer`] that stops serving when dropped. [`serve_grpc`] is a
//! plain tonic server for a stand-in peer that needs none of the bootstrap.

use std::future::Future;
use std::net::SocketAddr;

use futures::future::BoxFuture;
use galsync_platform::grpc::ServeOptions;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::service::RoutesBuilder;

/// The shutdown future a server started by [`spawn_server`] is given: it
/// resolves when the test stops the server or drops its [`RunningServer`].
pub type StopSignal = BoxFuture<'static, ()>;

/// A server started by [`spawn_server`] or [`serve_galsync`]. Dropping it
/// tells the server to stop.
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    /// Ends with the server's error, as text, when serving failed.
    task: Option<JoinHandle<Result<(), String>>>,
}

impl RunningServer {
    /// Tells the server to stop and waits until it has stopped serving
    /// (in-flight calls drained); the error it stopped with, if any. A panic
    /// of the server's task goes on in the caller, as the test's own.
    pub async fn stop(mut self) -> Result<(), String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        match task.await {
            Ok(served) => served,
            Err(join_error) if join_error.is_panic() => {
                std::panic::resume_unwind(join_error.into_panic())
            }
            Err(join_error) => Err(format!("the server's task failed: {join_error}")),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `bind` (e.g. `127.0.0.1:0`) and runs `serve(listener, stop)` in the
/// background until the returned [`RunningServer`] is stopped or dropped. An
/// error the server stops with is printed and returned by
/// [`RunningServer::stop`].
pub async fn spawn_server<Serve, Serving, ServeError>(bind: &str, serve: Serve) -> RunningServer
where
    Serve: FnOnce(TcpListener, StopSignal) -> Serving,
    Serving: Future<Output = Result<(), ServeError>> + Send + 'static,
    ServeError: std::fmt::Display + 'static,
{
    let listener = TcpListener::bind(bind)
        .await
        .unwrap_or_else(|error| panic!("failed to bind {bind}: {error}"));
    spawn_server_on(listener, serve)
}

/// [`spawn_server`] on a listener the test has bound already, for a server
/// whose configuration must name its own address (e.g. a redirect URI).
pub fn spawn_server_on<Serve, Serving, ServeError>(
    listener: TcpListener,
    serve: Serve,
) -> RunningServer
where
    Serve: FnOnce(TcpListener, StopSignal) -> Serving,
    Serving: Future<Output = Result<(), ServeError>> + Send + 'static,
    ServeError: std::fmt::Display + 'static,
{
    let addr = listener
        .local_addr()
        .unwrap_or_else(|error| panic!("no local address for the test's listener: {error}"));
    let (stop, stopped) = oneshot::channel::<()>();
    let stop_signal: StopSignal = Box::pin(async move {
        let _ = stopped.await;
    });
    let serving = serve(listener, stop_signal);
    let task = tokio::spawn(async move {
        serving.await.map_err(|error| {
            let error = format!("{error:#}");
            eprintln!("the test's server at {addr} stopped with an error: {error}");
            error
        })
    });
    RunningServer {
        addr,
        stop: Some(stop),
        task: Some(task),
    }
}

/// Serves `routes` through galsync's own gRPC bootstrap
/// (`galsync_platform::grpc::serve`: health, reflection, timeouts, TLS and
/// client certificates from `options`) on 127.0.0.1:0, as a service does.
pub async fn serve_galsync(options: ServeOptions, routes: RoutesBuilder) -> RunningServer {
    spawn_server("127.0.0.1:0", move |listener, stop| {
        galsync_platform::grpc::serve(options, listener, routes, stop)
    })
    .await
}

/// Serves `routes` on a loopback port in the background with a plain tonic
/// server — plaintext, or with `tls` — for tests that need a gRPC peer (a
/// fake reader, queue or scheduler, or a service's handlers alone); returns
/// its address. It serves until the test process ends.
pub async fn serve_grpc(
    routes: tonic::service::Routes,
    tls: Option<tonic::transport::ServerTlsConfig>,
) -> SocketAddr {
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        server = server.tls_config(tls).expect("a usable TLS configuration");
    }
    // The stop signal is not passed on: the server outlives the handle.
    let running = spawn_server("127.0.0.1:0", move |listener, _stop| {
        server
            .add_routes(routes)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
    })
    .await;
    running.addr
}
