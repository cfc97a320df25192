//! Contact-create throughput of the emulator (limits off): many concurrent
//! tasks on keep-alive HTTP/1.1 connections create a fixed number of contacts
//! across several mailboxes; prints requests/s, latency p50/p99 and the count
//! the emulator recorded.
//!
//! `cargo bench -p galsync-graph-emulator --bench contact_creates`
//! (env `BENCH_CONTACTS`, `BENCH_TASKS`, `BENCH_MAILBOXES` override the defaults).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use galsync_graph_emulator::{Emulator, EmulatorConfig};

const SOURCE_PROPERTY: &str = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name SourceObjectId";

/// A minimal keep-alive HTTP/1.1 client on one connection: the benchmark
/// measures the emulator, so the client (sharing the cores) must cost little.
struct RawConnection {
    stream: tokio::io::BufReader<tokio::net::TcpStream>,
    host: String,
}

impl RawConnection {
    async fn connect(addr: std::net::SocketAddr) -> anyhow::Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: tokio::io::BufReader::new(stream),
            host: addr.to_string(),
        })
    }

    /// Sends one request and reads the whole response; returns the status.
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        authorization: &str,
        body: &str,
    ) -> anyhow::Result<u16> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\nauthorization: {authorization}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(body.as_bytes());
        self.stream.get_mut().write_all(&request).await?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("bad status line {line:?}"))?;
        let mut content_length = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse()?;
                }
            }
        }
        let mut response_body = vec![0u8; content_length];
        self.stream.read_exact(&mut response_body).await?;
        Ok(status)
    }
}

/// The JSON of one contact, as a writer would send it.
fn contact_body(index: usize) -> String {
    format!(
        r#"{{"displayName":"Person {index}","givenName":"Person","surname":"{index}","emailAddresses":[{{"name":"Person {index}","address":"p{index}@bench.example"}}],"businessPhones":["+1 425 555 0100"],"jobTitle":"Engineer","department":"R&D","singleValueExtendedProperties":[{{"id":"{SOURCE_PROPERTY}","value":"{index}"}}]}}"#
    )
}

/// Requests/s of the plainest endpoint (`/_admin/health`, no auth, no
/// accounting) with the same client: the floor the HTTP stack and client set.
async fn calibrate(client: &reqwest::Client, base_url: &str, task_count: usize) -> f64 {
    let requests = 20_000;
    let next_index = Arc::new(AtomicUsize::new(0));
    let url = Arc::new(format!("{base_url}/_admin/health"));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..task_count {
        let client = client.clone();
        let next_index = next_index.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            while next_index.fetch_add(1, Ordering::Relaxed) < requests {
                if let Ok(response) = client.get(url.as_str()).send().await {
                    let _ = response.bytes().await;
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    requests as f64 / started.elapsed().as_secs_f64()
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}

/// Creates `total` contacts from `task_count` tasks; returns per-request
/// latencies of the 201s and the number of failures.
async fn run_creates(
    client_kind: &str,
    addr: std::net::SocketAddr,
    folder_paths: Arc<Vec<String>>,
    authorization: Arc<String>,
    total: usize,
    task_count: usize,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let next_index = Arc::new(AtomicUsize::new(0));
    let reqwest_client = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(task_count)
        .build()?;
    let mut tasks = Vec::new();
    for _ in 0..task_count {
        let next_index = next_index.clone();
        let folder_paths = folder_paths.clone();
        let authorization = authorization.clone();
        let use_reqwest = client_kind == "reqwest";
        let reqwest_client = reqwest_client.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            let mut connection = None;
            loop {
                let index = next_index.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    break;
                }
                let path = &folder_paths[index % folder_paths.len()];
                let body = contact_body(index);
                let request_started = Instant::now();
                let status = if use_reqwest {
                    match reqwest_client
                        .post(format!("http://{addr}{path}"))
                        .header("authorization", authorization.as_str())
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                    {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let _ = response.bytes().await;
                            status
                        }
                        Err(_) => 0,
                    }
                } else {
                    if connection.is_none() {
                        connection = RawConnection::connect(addr).await.ok();
                    }
                    match connection.as_mut() {
                        Some(open) => match open.request("POST", path, &authorization, &body).await
                        {
                            Ok(status) => status,
                            Err(_) => {
                                connection = None;
                                0
                            }
                        },
                        None => 0,
                    }
                };
                if status == 201 {
                    latencies.push(request_started.elapsed());
                } else {
                    failures += 1;
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut failures = 0;
    for task in tasks {
        let (task_latencies, task_failures) = task.await?;
        latencies.extend(task_latencies);
        failures += task_failures;
    }
    Ok((latencies, failures))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let total_contacts = env_or("BENCH_CONTACTS", 50_000);
    let task_count = env_or("BENCH_TASKS", 64);
    let mailbox_count = env_or("BENCH_MAILBOXES", 8);
    let client_kind = std::env::var("BENCH_CLIENT").unwrap_or_else(|_| "raw".to_owned());

    let emulator = Emulator::start(EmulatorConfig {
        limits_enabled: false,
        ..EmulatorConfig::default()
    })
    .await?;
    let state = emulator.state.clone();
    let tenant_id = uuid::Uuid::new_v4();
    state
        .identity
        .create_tenant(tenant_id, vec!["bench.example".to_owned()]);
    let client_id = uuid::Uuid::new_v4().to_string();
    let token = state.mint_token(tenant_id, &client_id, &["Contacts.ReadWrite"]);
    let mut folder_paths = Vec::new();
    let mut mailboxes = Vec::new();
    for index in 0..mailbox_count {
        let user_id = state.directory.add_mailbox_user(
            tenant_id,
            &format!("Bench {index}"),
            &format!("bench{index}@bench.example"),
            true,
        );
        let folder = state
            .mailboxes
            .user_create_folder(tenant_id, &user_id, None, "Company Directory")
            .map_err(|error| anyhow::anyhow!("failed to create the folder: {error}"))?;
        folder_paths.push(format!(
            "/v1.0/users/{user_id}/contactFolders/{}/contacts",
            folder.id
        ));
        mailboxes.push((user_id, folder.id));
    }
    let calibration_client = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(task_count)
        .build()?;
    let floor = calibrate(&calibration_client, &emulator.base_url(), task_count).await;

    let started = Instant::now();
    let (mut latencies, failures) = run_creates(
        &client_kind,
        emulator.addr,
        Arc::new(folder_paths),
        Arc::new(format!("Bearer {token}")),
        total_contacts,
        task_count,
    )
    .await?;
    let elapsed = started.elapsed();
    latencies.sort();
    let recorded = state
        .accounting
        .total(|key| key.method == "POST" && key.status == 201);
    let mut stored = 0;
    for (user_id, folder_id) in &mailboxes {
        stored += state.mailboxes.contact_count(tenant_id, user_id, folder_id);
    }
    println!(
        "contact_creates: {total_contacts} creates, {task_count} tasks, {mailbox_count} mailboxes, limits off, {client_kind} http/1.1 client"
    );
    println!(
        "  elapsed {:.2}s, {:.0} requests/s, failures {failures}",
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency p50 {:.2} ms, p99 {:.2} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0
    );
    println!("  emulator recorded {recorded} creates (201); the folders hold {stored} contacts");
    println!("  calibration: GET /_admin/health with reqwest {floor:.0} requests/s");
    emulator.stop().await;
    Ok(())
}
