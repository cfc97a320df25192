//! What tests of the real binaries and stores share: a fresh PostgreSQL
//! schema (the DSN comes from `GALSYNC_TEST_POSTGRES_URL`, which CI sets;
//! without it such tests skip and say so), free ports, a service binary as a
//! child process and its health, and servers started in-process on port 0
//! ([`spawn_server`], [`serve_galsync`], [`serve_grpc`]). Test support, so it
//! lives here, above the services, and no service binary links it.

pub mod bad_config;
mod server;

pub use server::{
    serve_galsync, serve_grpc, spawn_server, spawn_server_on, RunningServer, StopSignal,
};

/// Environment variable holding the PostgreSQL DSN for tests.
pub const POSTGRES_DSN_VAR: &str = "GALSYNC_TEST_POSTGRES_URL";

/// A DSN for a fresh, empty schema of the test database, or `None` (with a
/// line on stderr naming the test) when no PostgreSQL is configured.
pub async fn fresh_postgres_dsn(test_name: &str) -> Option<String> {
    let Ok(base) = std::env::var(POSTGRES_DSN_VAR) else {
        eprintln!("skipping {test_name}: set {POSTGRES_DSN_VAR}=postgres://… to run it against PostgreSQL");
        return None;
    };
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut connection = match <sqlx::PgConnection as sqlx::Connection>::connect(&base).await {
        Ok(connection) => connection,
        Err(error) => panic!("{POSTGRES_DSN_VAR} is set but PostgreSQL does not answer: {error}"),
    };
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut connection)
        .await
        .expect("create a test schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!(
        "{base}{separator}options=-c%20search_path%3D{schema}"
    ))
}

/// Asks `grpc.health.v1.Health/Check` for `service` ("" = the server as a whole).
pub async fn health_status(
    channel: tonic::transport::Channel,
    service: &str,
) -> Result<tonic_health::pb::health_check_response::ServingStatus, tonic::Status> {
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    let response = client
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.to_owned(),
        })
        .await?;
    Ok(response.into_inner().status())
}

/// A function listing the services a server's reflection endpoint reports,
/// for one version of the reflection protocol (the two differ only in their
/// generated types).
macro_rules! reflected_services_of {
    ($(#[$doc:meta])* $name:ident, $version:ident) => {
        $(#[$doc])*
        pub async fn $name(
            channel: tonic::transport::Channel,
        ) -> Result<Vec<String>, tonic::Status> {
            use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
            use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
            use tonic_reflection::pb::$version::ServerReflectionRequest;

            let mut client = ServerReflectionClient::new(channel);
            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            };
            let mut responses = client
                .server_reflection_info(tokio_stream::iter([request]))
                .await?
                .into_inner();
            let Some(response) = responses.message().await? else {
                return Err(tonic::Status::internal("reflection answered nothing"));
            };
            match response.message_response {
                Some(MessageResponse::ListServicesResponse(list)) => Ok(list
                    .service
                    .into_iter()
                    .map(|service| service.name)
                    .collect()),
                other => Err(tonic::Status::internal(format!(
                    "unexpected reflection answer {other:?}"
                ))),
            }
        }
    };
}

reflected_services_of!(
    /// Lists the services a server's `grpc.reflection.v1` endpoint reports.
    reflected_services,
    v1
);
reflected_services_of!(
    /// Lists the services the older `grpc.reflection.v1alpha` endpoint reports.
    reflected_services_v1alpha,
    v1alpha
);

pub use galsync_platform::net::free_port;

/// A service binary started as a child process, for tests of the real binary.
pub struct ChildService {
    pub child: std::process::Child,
    pub addr: std::net::SocketAddr,
}

impl ChildService {
    /// Starts `binary` with `--listen` on a free port and the given extra args,
    /// and waits (up to 30 s) until its health check answers.
    pub async fn start(binary: &str, extra_args: &[&str]) -> ChildService {
        let port = free_port();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let child = std::process::Command::new(binary)
            .arg("--listen")
            .arg(addr.to_string())
            .args(extra_args)
            .env("GALSYNC_LOG", "warn")
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {binary}: {error}"));
        let service = ChildService { child, addr };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Ok(channel) = service.channel().await {
                if health_status(channel, "").await.is_ok() {
                    return service;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{binary} did not become healthy in 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub async fn channel(&self) -> Result<tonic::transport::Channel, tonic::transport::Error> {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))?
            .connect()
            .await
    }

    /// Sends SIGTERM and waits up to `limit` for the exit status. Async, so the
    /// test's own connections keep being driven (and can close) meanwhile.
    pub async fn terminate(
        mut self,
        limit: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// Runs `binary` with `args` to completion (it must fail fast) and returns
/// its exit code and stderr.
pub fn run_to_exit(binary: &str, args: &[&str]) -> (Option<i32>, String) {
    let output = std::process::Command::new(binary)
        .args(args)
        .env("GALSYNC_LOG", "warn")
        .output()
        .unwrap_or_else(|error| panic!("cannot start {binary}: {error}"));
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The standard binary checks every service passes: health SERVING for each of
/// its gRPC services, reflection listing them, SIGTERM → exit 0 within 5 s, and
/// one-line errors for bad configuration.
pub async fn check_service_binary(binary: &str, grpc_services: &[&str]) {
    let data_dir = tempfile_dir();
    let data_dir_arg = data_dir.to_string_lossy().into_owned();
    let service = ChildService::start(binary, &["--data-dir", &data_dir_arg]).await;
    let channel = service.channel().await.expect("connect");
    for name in grpc_services {
        let status = health_status(channel.clone(), name)
            .await
            .expect("health check");
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving,
            "{name} is not SERVING"
        );
    }
    let reflected = reflected_services(channel).await.expect("reflection");
    for name in grpc_services {
        assert!(
            reflected.iter().any(|listed| listed == name),
            "reflection lacks {name}: {reflected:?}"
        );
    }
    assert!(reflected
        .iter()
        .any(|listed| listed == "grpc.health.v1.Health"));

    let started = std::time::Instant::now();
    let status = service
        .terminate(std::time::Duration::from_secs(5))
        .await
        .expect("the service did not stop within 5 s of SIGTERM");
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    let (code, stderr) = run_to_exit(binary, &["--store-url", "mysql://root@db/galsync"]);
    assert_eq!(code, Some(2), "unknown store scheme: {stderr}");
    assert_one_line_naming(&stderr, "--store-url");

    let (code, stderr) = run_to_exit(
        binary,
        &[
            "--data-dir",
            &data_dir_arg,
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
            "--tls-ca",
            "/nonexistent/ca.pem",
        ],
    );
    assert_eq!(code, Some(2), "unreadable cert: {stderr}");
    assert_one_line_naming(&stderr, "--tls-cert");

    let occupied = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let occupied_addr = occupied.local_addr().expect("addr").to_string();
    let (code, stderr) = run_to_exit(
        binary,
        &["--data-dir", &data_dir_arg, "--listen", &occupied_addr],
    );
    assert_eq!(code, Some(2), "port in use: {stderr}");
    assert_one_line_naming(&stderr, "--listen");
    assert!(stderr.contains("already in use"), "{stderr}");
    let _ = std::fs::remove_dir_all(&data_dir);
}

fn assert_one_line_naming(stderr: &str, flag: &str) {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(
        lines[0].contains(flag),
        "the error does not name {flag}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("galsync-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}
