//! One scenario measured on a running cluster: the run started through the
//! scheduler's API and watched to its end as `galsync run` does, the Graph
//! requests it cost (the emulator's counters), every mailbox checked against
//! the directory, and the CPU each process spent meanwhile.

use std::collections::BTreeMap;

use anyhow::Context;
use galsync_e2e::{Cluster, Tenant};
use galsync_graph_emulator::cost::SlotUse;
use galsync_graph_emulator::cost::Totals;
use galsync_graph_emulator::cost::{Floor, Scenario};
use galsync_proto::v1::scheduler_client::SchedulerClient;
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::processes::{self, Sample};

/// A cluster with one onboarded tenant and a profile targeting its mailboxes.
pub struct Setup {
    pub cluster: Cluster,
    pub tenant: Tenant,
    pub profile_id: String,
    /// Users in the directory.
    pub users: u64,
    /// People a mailbox gets (the synced users).
    pub people: u64,
}

impl Setup {
    /// Onboards a seeded tenant the way an administrator does (the CLI:
    /// tenant, certificate, consent, test connection) and makes the profile.
    pub async fn onboard(cluster: Cluster, users: usize, mailboxes: usize, seed: u64) -> Setup {
        let tenant = cluster.onboard(users, mailboxes, seed).await;
        let profile_id = cluster.create_profile(&tenant, &[]).await;
        let directory = cluster.emulator.users(&tenant.tenant_id).await;
        let people = galsync::demo::verify::expected_contacts(&directory).len() as u64;
        Setup {
            cluster,
            tenant,
            profile_id,
            users: directory.len() as u64,
            people,
        }
    }

    pub fn mailboxes(&self) -> u64 {
        self.tenant.targets.len() as u64
    }

    /// The emulator's floor for `scenario`, from its own settings.
    pub async fn floor(&self, scenario: &Scenario) -> anyhow::Result<Floor> {
        let floor = self
            .cluster
            .emulator
            .post("/_admin/floor", serde_json::to_value(scenario)?)
            .await;
        serde_json::from_value(floor).context("the emulator's floor")
    }
}

/// One scenario's figures beside its floor.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub scenario: String,
    pub wall_secs: f64,
    pub floor_secs: f64,
    pub binding: String,
    pub contact_writes: u64,
    pub min_writes: u64,
    pub graph_requests: u64,
    pub min_requests: u64,
    pub round_trips: u64,
    pub min_round_trips: u64,
    pub throttled: u64,
    pub early_retries: u64,
    /// Requests each mailbox had in flight at the emulator, on average from
    /// its first request to its last (Graph allows 4); `None` with the
    /// limits off.
    pub mailbox_in_flight: Option<f64>,
    /// Of those, the part spent in the modelled latency (the rest is the
    /// emulator's own work while a slot was held).
    pub mailbox_latency_in_flight: Option<f64>,
    /// CPU each process spent in the scenario, and its peak RSS so far.
    pub processes: BTreeMap<String, Sample>,
}

impl Measured {
    pub fn ratio(&self) -> f64 {
        self.wall_secs / self.floor_secs.max(f64::EPSILON)
    }

    /// galsync's CPU (every service process) per contact written, in µs.
    pub fn galsync_cpu_micros_per_write(&self) -> Option<f64> {
        per_write(processes::galsync_cpu(&self.processes), self.contact_writes)
    }

    /// The emulator's CPU per contact written, in µs.
    pub fn emulator_cpu_micros_per_write(&self) -> Option<f64> {
        let cpu = self.processes.get(processes::EMULATOR)?.cpu;
        per_write(cpu, self.contact_writes)
    }
}

fn per_write(cpu: std::time::Duration, writes: u64) -> Option<f64> {
    (writes > 0).then(|| cpu.as_secs_f64() * 1e6 / writes as f64)
}

/// Runs the profile once and measures it; fails when the run fails or any
/// mailbox ends up different from the directory.
pub async fn measure(
    setup: &Setup,
    name: &str,
    floor: &Floor,
    min_writes: u64,
) -> anyhow::Result<Measured> {
    let cluster = &setup.cluster;
    // Count only this run's requests.
    cluster
        .emulator
        .admin(Method::DELETE, "/_admin/requests", None)
        .await;
    let mut scheduler =
        SchedulerClient::new(cluster.channel_as(&cluster.scheduler, &cluster.pki_dir, "cli"));
    let before = processes::sample_cluster(cluster);
    let outcome = galsync::demo::sync(&mut scheduler, &setup.profile_id)
        .await
        .with_context(|| format!("{name}: the run failed\n{}", cluster.log_tails(10)))?;
    let after = processes::sample_cluster(cluster);
    let requests = cluster.emulator.get("/_admin/requests").await;
    let totals: Totals = serde_json::from_value(requests["totals"].clone())
        .context("the emulator's request totals")?;
    let slots: SlotUse = serde_json::from_value(requests["mailbox_slots"].clone())
        .context("the emulator's mailbox slot use")?;
    let per_span = |secs: f64| (slots.span_secs > 0.0).then(|| secs / slots.span_secs);
    let check = cluster
        .verify(&setup.tenant, setup.tenant.targets.keys())
        .await;
    if !check.passed() {
        anyhow::bail!(
            "{name}: {} of {} mailboxes match the directory ({})",
            check.mailboxes_correct,
            check.mailboxes_checked,
            check.problems.first().cloned().unwrap_or_default()
        );
    }
    let measured = Measured {
        scenario: name.to_owned(),
        wall_secs: outcome.elapsed.as_secs_f64(),
        floor_secs: floor.floor_secs,
        binding: floor.binding.clone(),
        contact_writes: totals.contact_writes,
        min_writes,
        graph_requests: totals.graph_requests(),
        min_requests: floor.min_requests.max(1),
        round_trips: totals.http_calls,
        min_round_trips: floor.min_round_trips.max(1),
        throttled: totals.throttled,
        early_retries: totals.early_retries,
        mailbox_in_flight: per_span(slots.held_secs),
        mailbox_latency_in_flight: per_span(slots.latency_secs),
        processes: processes::spent(&before, &after),
    };
    let against_floor = if measured.floor_secs > 1e-6 {
        format!(
            "{:.2} × floor ({:.2} s, {})",
            measured.ratio(),
            measured.floor_secs,
            measured.binding
        )
    } else {
        "no floor (Graph's limits and latency off)".to_owned()
    };
    let in_flight = match measured.mailbox_in_flight {
        Some(in_flight) => format!(" · {in_flight:.2} of 4 in flight per mailbox"),
        None => String::new(),
    };
    println!(
        "      {:.2} s = {against_floor} · {} writes · {} round trips · {} throttled{in_flight} · galsync CPU {:.2} s, emulator CPU {:.2} s",
        measured.wall_secs,
        measured.contact_writes,
        measured.round_trips,
        measured.throttled,
        processes::galsync_cpu(&measured.processes).as_secs_f64(),
        measured
            .processes
            .get(processes::EMULATOR)
            .map_or(0.0, |sample| sample.cpu.as_secs_f64()),
    );
    Ok(measured)
}

/// Gives one synced person who is not a target a new job title through the
/// emulator's admin API (as an HR change in Entra would); returns their name.
pub async fn change_one_title(setup: &Setup) -> anyhow::Result<String> {
    let emulator = &setup.cluster.emulator;
    let users = emulator.users(&setup.tenant.tenant_id).await;
    let people = galsync::demo::verify::expected_contacts(&users);
    let id = people
        .keys()
        .find(|id| !setup.tenant.targets.contains_key(*id))
        .context("the tenant has no synced person to change")?;
    emulator
        .admin(
            Method::PATCH,
            &format!(
                "/_admin/tenants/{}/directory/users/{id}",
                setup.tenant.tenant_id
            ),
            Some(serde_json::json!({"jobTitle": "Chief Benchmark Officer"})),
        )
        .await;
    let name = users
        .iter()
        .find(|user| user["id"].as_str() == Some(id.as_str()))
        .and_then(|user| user["displayName"].as_str())
        .unwrap_or(id);
    Ok(name.to_owned())
}

/// `Value` helper for the JSON report.
pub fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
