//! The router over every emulated endpoint and the running server.

use std::net::SocketAddr;

use axum::Router;

use crate::{admin, directory, faults, identity, mailbox, AppState, EmulatorConfig, EmulatorState};

/// The complete router: every emulated endpoint behind fault injection and accounting.
pub fn router(state: AppState) -> Router {
    let router = Router::new()
        .merge(identity::routes())
        .merge(directory::routes())
        .merge(mailbox::routes())
        .merge(admin::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::middleware,
        ))
        .layer(axum::middleware::from_fn(run_to_completion))
        .with_state(state.clone());
    let _ = state.router.set(router.clone());
    router
}

/// Runs each request to its end even when the client goes away first.
///
/// Microsoft Graph documents no promise that a request is abandoned when its
/// client disconnects or times out, so the emulator takes the strictest
/// reading: a request that arrived is carried out (its modelled latency
/// included) and only the answer is lost. A client that gives up on a write
/// and lets someone else look at the mailbox meanwhile sees the write land
/// later, as it can at Graph. Without this, hyper drops the handler with the
/// connection and an abandoned write silently never happens.
async fn run_to_completion(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "an emulated request ended abnormally");
            axum::response::IntoResponse::into_response(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            )
        }
    }
}

/// A running emulator.
pub struct Emulator {
    pub state: AppState,
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    /// Starts an emulator on 127.0.0.1 with an OS-chosen port.
    pub async fn start(config: EmulatorConfig) -> anyhow::Result<Emulator> {
        Self::start_on("127.0.0.1:0".parse()?, config).await
    }

    /// Starts an emulator on `addr`.
    pub async fn start_on(addr: SocketAddr, config: EmulatorConfig) -> anyhow::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Self::start_with_listener(listener, config).await
    }

    pub async fn start_with_listener(
        listener: tokio::net::TcpListener,
        config: EmulatorConfig,
    ) -> anyhow::Result<Emulator> {
        let addr = listener.local_addr()?;
        let state = EmulatorState::new(config)?;
        let _ = state.base_url.set(format!("http://{addr}"));
        let app = router(state.clone());
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "emulator server failed");
            }
        });
        Ok(Emulator {
            state,
            addr,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// Base URL for both the login host and the Graph host.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
