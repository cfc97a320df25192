//! CPU time and peak memory of each process of a run, from Linux's `/proc`
//! (`proc_pid_stat(5)`, `proc_pid_status(5)`): the figures that say whose
//! CPU a scenario spent, galsync's services or the emulator standing in for
//! Graph.

use std::collections::BTreeMap;
use std::time::Duration;

use galsync_e2e::Cluster;
use serde::Serialize;

/// One process at one moment.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Sample {
    /// User plus system CPU time since the process started.
    #[serde(rename = "cpu_ms", serialize_with = "millis")]
    pub cpu: Duration,
    /// The largest resident set the process has had (`VmHWM`), in KiB.
    pub peak_rss_kib: u64,
}

fn millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64() * 1000.0)
}

/// Every process of the cluster by name (`graph-emulator`, `auth-broker`,
/// `contact-writer-0`, …), sampled now.
pub fn sample_cluster(cluster: &Cluster) -> BTreeMap<String, Sample> {
    let mut samples = BTreeMap::new();
    let processes = std::iter::once(&cluster.emulator.process)
        .chain(cluster.services().map(|service| &service.process));
    for process in processes {
        if let Some(sample) = process.pid().and_then(sample) {
            samples.insert(process.name().to_owned(), sample);
        }
    }
    samples
}

/// The CPU each process spent between two samples; peak RSS as of `after`.
pub fn spent(
    before: &BTreeMap<String, Sample>,
    after: &BTreeMap<String, Sample>,
) -> BTreeMap<String, Sample> {
    after
        .iter()
        .map(|(name, late)| {
            let early = before.get(name).copied().unwrap_or_default();
            let sample = Sample {
                cpu: late.cpu.saturating_sub(early.cpu),
                peak_rss_kib: late.peak_rss_kib,
            };
            (name.clone(), sample)
        })
        .collect()
}

/// CPU of galsync's processes together (every one but the emulator).
pub fn galsync_cpu(spent: &BTreeMap<String, Sample>) -> Duration {
    spent
        .iter()
        .filter(|(name, _)| name.as_str() != EMULATOR)
        .map(|(_, sample)| sample.cpu)
        .sum()
}

/// The emulator's process name.
pub const EMULATOR: &str = "graph-emulator";

fn sample(pid: u32) -> Option<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: the fields
    // after it start with the state (field 3); utime and stime are 14 and 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let peak_rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0);
    Some(Sample {
        cpu: Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second()),
        peak_rss_kib,
    })
}

/// `sysconf(_SC_CLK_TCK)` as `getconf` reports it (100 on every Linux this
/// runs on; asked once).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    })
}
