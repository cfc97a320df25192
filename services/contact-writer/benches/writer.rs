//! Initial sync of N contacts into M mailboxes with the emulator's limits off:
//! contacts/s, and CPU seconds and peak RSS of the writer and of the emulator
//! apart. The emulator (`galsync-graph-emulator`) runs as a child process set
//! up through its admin API; the writer side (engine, auth-broker, fake
//! directory-reader) runs in this process. The writer's CPU per contact must be
//! small enough that the emulator, not galsync, is the bottleneck.
//!
//! `cargo bench -p galsync-contact-writer --bench writer`
//! Scale: GALSYNC_BENCH_CONTACTS (default 10000), GALSYNC_BENCH_MAILBOXES (default 100),
//! GALSYNC_BENCH_PARALLEL (mailboxes at once, default 16).
//! GALSYNC_BENCH_EMULATOR: the emulator binary to run (default: the one next
//! to this bench in the target dir, built on demand).

#[path = "../tests/common/mod.rs"]
mod common;

// The allocator the galsync binaries ship with.
#[global_allocator]
static ALLOCATOR: galsync_platform::Allocator = galsync_platform::Allocator;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use galsync_proto::v1;
use serde_json::{json, Value};
use uuid::Uuid;

const EMULATOR_PACKAGE: &str = "galsync-graph-emulator";
const SNAPSHOT_ID: &str = "bench-snapshot";

/// Unit of utime and stime in `/proc/<pid>/stat` (USER_HZ, 100 on every Linux ABI).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// CPU time used so far and peak resident memory of one process.
#[derive(Debug, Clone, Copy)]
struct ProcessUsage {
    cpu_seconds: f64,
    peak_rss_mib: f64,
}

/// User + system CPU seconds from a `/proc/…/stat` line.
fn stat_cpu_seconds(stat: &str) -> anyhow::Result<f64> {
    // The command name may hold spaces and parentheses: count fields after its last ')'.
    let after_command = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("no command name in stat")?;
    let fields: Vec<&str> = after_command.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat; 11 and 12 after the command name.
    let mut ticks = 0.0;
    for index in [11, 12] {
        let field = fields.get(index).context("stat too short")?;
        ticks += field
            .parse::<f64>()
            .with_context(|| format!("invalid cpu ticks {field:?} in stat"))?;
    }
    Ok(ticks / CLOCK_TICKS_PER_SECOND)
}

/// Reads `/proc/<process>/stat` and `/proc/<process>/status`; `process` is a
/// pid or `self`.
fn process_usage(process: &str) -> anyhow::Result<ProcessUsage> {
    let stat_path = format!("/proc/{process}/stat");
    let stat = std::fs::read_to_string(&stat_path)
        .with_context(|| format!("failed to read {stat_path}"))?;
    let cpu_seconds = stat_cpu_seconds(&stat).with_context(|| format!("in {stat_path}"))?;
    let status_path = format!("/proc/{process}/status");
    let status = std::fs::read_to_string(&status_path)
        .with_context(|| format!("failed to read {status_path}"))?;
    let peak_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse::<f64>().ok())
        .with_context(|| format!("no VmHWM in {status_path}"))?;
    Ok(ProcessUsage {
        cpu_seconds,
        peak_rss_mib: peak_kib / 1024.0,
    })
}

/// CPU seconds of this process's live threads by thread id, with their name
/// (`comm`, at most 15 characters). Threads that already exited are absent.
fn thread_cpu() -> anyhow::Result<HashMap<String, (String, f64)>> {
    let mut threads = HashMap::new();
    let tasks = std::fs::read_dir("/proc/self/task").context("failed to list /proc/self/task")?;
    for task in tasks {
        let task = task.context("failed to list /proc/self/task")?;
        let thread_id = task.file_name().to_string_lossy().into_owned();
        // A thread may exit between listing and reading: skip it.
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let name = match (stat.find('('), stat.rfind(')')) {
            (Some(open), Some(close)) if open < close => stat[open + 1..close].to_owned(),
            _ => String::new(),
        };
        threads.insert(thread_id, (name, stat_cpu_seconds(&stat)?));
    }
    Ok(threads)
}

/// CPU used between two [`thread_cpu`] readings, summed by thread name
/// without its trailing number, largest first.
fn cpu_by_thread_name(
    before: &HashMap<String, (String, f64)>,
    after: &HashMap<String, (String, f64)>,
) -> Vec<(String, f64)> {
    let mut by_name: HashMap<String, f64> = HashMap::new();
    for (thread_id, (name, cpu_after)) in after {
        let cpu_before = before.get(thread_id).map_or(0.0, |(_, cpu)| *cpu);
        let group =
            name.trim_end_matches(|character: char| character.is_ascii_digit() || character == '-');
        *by_name.entry(group.to_owned()).or_insert(0.0) += cpu_after - cpu_before;
    }
    let mut sorted: Vec<(String, f64)> = by_name.into_iter().collect();
    sorted.sort_by(|left, right| right.1.total_cmp(&left.1));
    sorted
}

/// The emulator binary: GALSYNC_BENCH_EMULATOR, else the one in this bench's
/// target dir. Cargo builds only this package's binaries for its benches, so
/// when run by cargo the emulator is built (or found fresh) first.
fn emulator_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("GALSYNC_BENCH_EMULATOR") {
        return Ok(PathBuf::from(path));
    }
    let bench = std::env::current_exe().context("failed to find the bench executable")?;
    // <target>/release/deps/writer-<hash>: the binary goes to <target>/release.
    let profile_dir = bench
        .parent()
        .and_then(Path::parent)
        .context("the bench executable is not in a target dir")?;
    let binary = profile_dir.join(EMULATOR_PACKAGE);
    let build_command = format!("cargo build --release -p {EMULATOR_PACKAGE}");
    if let (Some(cargo), Some(target_dir)) = (std::env::var_os("CARGO"), profile_dir.parent()) {
        eprintln!("building the emulator: {build_command}");
        let status = Command::new(cargo)
            .args(["build", "--release", "--quiet", "-p", EMULATOR_PACKAGE])
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .with_context(|| format!("failed to run {build_command}"))?;
        if !status.success() {
            bail!("{build_command} failed ({status})");
        }
    }
    if !binary.is_file() {
        bail!(
            "no emulator binary at {}: run `{build_command}` with the same CARGO_TARGET_DIR \
             first, or set GALSYNC_BENCH_EMULATOR",
            binary.display()
        );
    }
    Ok(binary)
}

/// What the emulator counted for the measured run.
#[derive(Debug, Default)]
struct RequestTally {
    requests: u64,
    batches: u64,
    contact_creates: u64,
    contact_creates_batched: u64,
    mailboxes_created_in: usize,
    failed: u64,
    early_retries: u64,
}

/// `galsync-graph-emulator` as a child process, killed when dropped.
struct EmulatorProcess {
    child: Child,
    base_url: String,
    http: reqwest::Client,
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl EmulatorProcess {
    /// Starts it with limits off on a free port and waits until it answers.
    async fn start(binary: &Path) -> anyhow::Result<EmulatorProcess> {
        let port = galsync_testkit::harness::free_port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(binary)
            .args(["--listen", &listen, "--no-limits", "--log", "warn"])
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("failed to start {}", binary.display()))?;
        let mut emulator = EmulatorProcess {
            child,
            base_url: format!("http://{listen}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .context("failed to build the admin http client")?,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = emulator.child.try_wait()? {
                bail!("the emulator exited at startup ({status})");
            }
            let health = format!("{}/_admin/health", emulator.base_url);
            if let Ok(response) = emulator.http.get(&health).send().await {
                if response.status().is_success() {
                    return Ok(emulator);
                }
            }
            if Instant::now() >= deadline {
                bail!("the emulator did not answer on {listen} within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn usage(&self) -> anyhow::Result<ProcessUsage> {
        process_usage(&self.child.id().to_string())
    }

    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base_url);
        let response = self
            .http
            .request(method.clone(), &url)
            .json(body)
            .send()
            .await
            .with_context(|| format!("failed to call {method} {path}"))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .with_context(|| format!("invalid json from {method} {path}"))?;
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {answer}");
        }
        Ok(answer)
    }

    /// Licensed users with a mailbox; returns their ids.
    async fn add_mailboxes(&self, tenant_id: Uuid, count: usize) -> anyhow::Result<Vec<String>> {
        let path = format!("/_admin/tenants/{tenant_id}/directory/users");
        let mut mailbox_ids = Vec::with_capacity(count);
        for index in 0..count {
            let user = json!({
                "displayName": format!("Target {index}"),
                "userPrincipalName": format!("target{index}@contoso.example"),
                "licensed": true,
            });
            let created = self.admin(reqwest::Method::POST, &path, &user).await?;
            let user_id = created["id"].as_str().context("created user without id")?;
            mailbox_ids.push(user_id.to_owned());
        }
        Ok(mailbox_ids)
    }

    async fn reset_requests(&self) -> anyhow::Result<()> {
        self.admin(reqwest::Method::DELETE, "/_admin/requests", &json!({}))
            .await?;
        Ok(())
    }

    async fn request_tally(&self) -> anyhow::Result<RequestTally> {
        let answer = self
            .admin(reqwest::Method::GET, "/_admin/requests", &json!({}))
            .await?;
        let counters = answer["counters"].as_array().context("no counters")?;
        let mut tally = RequestTally {
            requests: answer["total"].as_u64().unwrap_or(0),
            early_retries: answer["early_retries"].as_u64().unwrap_or(0),
            ..RequestTally::default()
        };
        let mut mailboxes = HashSet::new();
        for counter in counters {
            let count = counter["count"].as_u64().unwrap_or(0);
            let endpoint = counter["endpoint"].as_str().unwrap_or("");
            let method = counter["method"].as_str().unwrap_or("");
            let status = counter["status"].as_u64().unwrap_or(0);
            let batched = counter["batched"].as_bool().unwrap_or(false);
            let succeeded = (200..300).contains(&status);
            if !succeeded {
                tally.failed += count;
            }
            if endpoint == "/$batch" {
                tally.batches += count;
            }
            if method == "POST" && endpoint.ends_with("/contacts") && succeeded {
                tally.contact_creates += count;
                if batched {
                    tally.contact_creates_batched += count;
                }
                mailboxes.insert(counter["mailbox"].as_str().unwrap_or("").to_owned());
            }
        }
        tally.mailboxes_created_in = mailboxes.len();
        Ok(tally)
    }
}

#[tonic::async_trait]
impl common::EntraAdmin for EmulatorProcess {
    fn base_url(&self) -> String {
        self.base_url.clone()
    }

    async fn register_galsync_app(&self, tenant_id: Uuid) -> anyhow::Result<String> {
        let tenant = json!({"tenant_id": tenant_id, "domains": ["contoso.example"]});
        self.admin(reqwest::Method::POST, "/_admin/tenants", &tenant)
            .await?;
        let app = json!({"display_name": "galsync", "requested_roles": ["Contacts.ReadWrite"]});
        let path = format!("/_admin/tenants/{tenant_id}/apps");
        let registered = self.admin(reqwest::Method::POST, &path, &app).await?;
        let client_id = registered["client_id"]
            .as_str()
            .context("registered app without client_id")?;
        Ok(client_id.to_owned())
    }

    async fn trust_certificate(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        certificate_pem: &str,
    ) -> anyhow::Result<()> {
        let app = format!("/_admin/tenants/{tenant_id}/apps/{client_id}");
        let certificate = json!({"certificate": certificate_pem});
        self.admin(
            reqwest::Method::POST,
            &format!("{app}/certificates"),
            &certificate,
        )
        .await?;
        self.admin(reqwest::Method::POST, &format!("{app}/consent"), &json!({}))
            .await?;
        Ok(())
    }
}

struct Scale {
    contacts: usize,
    mailboxes: usize,
    parallel: usize,
}

fn main() -> anyhow::Result<()> {
    let scale = Scale {
        contacts: env_number("GALSYNC_BENCH_CONTACTS", 10_000),
        mailboxes: env_number("GALSYNC_BENCH_MAILBOXES", 100),
        parallel: env_number("GALSYNC_BENCH_PARALLEL", 16),
    };
    let binary = emulator_binary()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to build the runtime")?;
    runtime.block_on(run(scale, binary))
}

async fn run(scale: Scale, binary: PathBuf) -> anyhow::Result<()> {
    let emulator = EmulatorProcess::start(&binary).await?;
    // Limits off on both sides: the writer's own pacing would otherwise hold
    // each mailbox to Graph's 10,000 requests per 10 minutes.
    let mut settings = common::settings();
    settings.pacing.requests_per_window = u32::MAX / 2;
    let writer = Arc::new(common::WriterSide::start(&emulator, settings, None).await);
    let mailbox_ids = emulator
        .add_mailboxes(writer.tenant_id, scale.mailboxes)
        .await?;
    // The production path: the snapshot comes from the (fake) reader over
    // gRPC, fetched and turned into desired contacts once for all mailboxes.
    writer
        .reader
        .snapshots
        .lock()
        .map_err(|_| anyhow::anyhow!("the fake reader's lock is poisoned"))?
        .insert(SNAPSHOT_ID.to_owned(), common::directory(scale.contacts));
    emulator.reset_requests().await?;

    let writer_before = process_usage("self")?;
    let threads_before = thread_cpu()?;
    let emulator_before = emulator.usage()?;
    let started = Instant::now();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(scale.parallel));
    let mut tasks = Vec::new();
    for mailbox_id in mailbox_ids {
        let writer = Arc::clone(&writer);
        let semaphore = Arc::clone(&semaphore);
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire_owned().await?;
            let request = v1::SyncMailboxRequest {
                tenant_id: writer.tenant_id.to_string(),
                mailbox_id: mailbox_id.clone(),
                snapshot_id: SNAPSHOT_ID.to_owned(),
                policy: Some(v1::WritePolicy::default()),
                profile_id: "bench".to_owned(),
                purge: false,
            };
            let report =
                galsync_contact_writer::sync::run_request(&writer.engine, &request, false).await?;
            anyhow::Ok(
                report
                    .result
                    .counts
                    .map(|counts| counts.created)
                    .unwrap_or(0),
            )
        }));
    }
    let mut created = 0u64;
    for task in tasks {
        created += task.await.context("a sync task panicked")??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let writer_after = process_usage("self")?;
    let threads_after = thread_cpu()?;
    // Read before the child is stopped: its /proc entry goes with it.
    let emulator_after = emulator.usage()?;
    let tally = emulator.request_tally().await?;
    drop(emulator);

    let writer_cpu = writer_after.cpu_seconds - writer_before.cpu_seconds;
    let emulator_cpu = emulator_after.cpu_seconds - emulator_before.cpu_seconds;
    let per_contact = |cpu: f64| cpu * 1e6 / created.max(1) as f64;
    let expected = (scale.contacts * scale.mailboxes) as u64;
    let cores = std::thread::available_parallelism().map_or(0, |cores| cores.get());
    println!(
        "contact-writer initial sync: {} contacts x {} mailboxes ({} at once), limits off, {cores} cores",
        scale.contacts, scale.mailboxes, scale.parallel
    );
    println!("  created             {created} (expected {expected})");
    println!("  elapsed             {elapsed:.1} s");
    println!("  contacts/s          {:.0}", created as f64 / elapsed);
    println!(
        "  writer cpu          {writer_cpu:.2} s, {:.1} µs per contact (engine + auth-broker + fake reader, this process)",
        per_contact(writer_cpu)
    );
    let by_thread: Vec<String> = cpu_by_thread_name(&threads_before, &threads_after)
        .into_iter()
        .filter(|(_, cpu)| *cpu >= 0.01)
        .map(|(name, cpu)| format!("{name} {cpu:.2} s"))
        .collect();
    println!(
        "  writer cpu threads  {} (live threads, by name)",
        by_thread.join(", ")
    );
    println!(
        "  emulator cpu        {emulator_cpu:.2} s, {:.1} µs per contact (child process {EMULATOR_PACKAGE})",
        per_contact(emulator_cpu)
    );
    if writer_cpu > 0.0 {
        println!(
            "  emulator / writer   {:.2}x cpu",
            emulator_cpu / writer_cpu
        );
    }
    if emulator_cpu >= writer_cpu {
        println!("  bottleneck          the emulator (it burns more cpu than the writer)");
    } else {
        println!("  bottleneck          THE WRITER burns more cpu than the emulator");
    }
    println!("  writer peak rss     {:.0} MiB", writer_after.peak_rss_mib);
    println!(
        "  emulator peak rss   {:.0} MiB (holding every contact)",
        emulator_after.peak_rss_mib
    );
    println!(
        "  emulator counted    {} requests, {} $batch, {} contact creates ({} batched) in {} mailboxes, {} failed, {} early retries",
        tally.requests,
        tally.batches,
        tally.contact_creates,
        tally.contact_creates_batched,
        tally.mailboxes_created_in,
        tally.failed,
        tally.early_retries
    );
    if tally.contact_creates != expected || created != expected {
        println!(
            "  MISMATCH: {expected} creates expected ({} contacts x {} mailboxes), the emulator counted {}, the writer reported {created}",
            scale.contacts, scale.mailboxes, tally.contact_creates
        );
    }
    Ok(())
}
