//! Reconciles one mailbox against one snapshot: folder, what exists, plan,
//! then writes (deletes, updates, creates in batches), look-ups for anything
//! uncertain, photos, and the store kept safe at every crash point.

use std::collections::HashMap;

use galsync_proto::v1;
use tracing::{info, warn};

use crate::engine::{Engine, PhotoSource};
use crate::error::Error;
use crate::known;
use crate::mailbox::MailboxGraph;
use crate::mapping::{self, Desired, FieldRules};
use crate::plan::{self, DeletionPolicy, Known};
use crate::store::{ContactRecord, MailboxState};

mod lanes;
mod writes;
use writes::Run;

/// The folder name when a profile sets none.
pub const DEFAULT_FOLDER_NAME: &str = "Company Directory";
/// Look-up rounds for uncertain creates and vanished contacts.
const MAX_FOLLOW_UP_ROUNDS: usize = 3;

/// One mailbox's work, validated (see [`crate::request::MailboxWork`]).
#[derive(Debug, Clone)]
pub struct MailboxJob {
    pub tenant_id: String,
    pub mailbox_id: String,
    pub profile_id: String,
    pub policy: v1::WritePolicy,
    pub dry_run: bool,
}

impl MailboxJob {
    pub fn folder_name(&self) -> &str {
        let name = self.policy.folder_name.trim();
        if name.is_empty() {
            DEFAULT_FOLDER_NAME
        } else {
            name
        }
    }
}

/// What a reconciliation reports.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub result: v1::MailboxSyncResult,
    /// Set on dry runs; on real runs, the deletes the guard held.
    pub plan: Option<v1::MailboxPlan>,
}

/// Where a reconciliation publishes its counts while it writes (the work
/// loop forwards the latest in each heartbeat), and how it is asked to stop.
///
/// Hidden contract: a reconciliation asked to stop finishes the batch in
/// flight, records it, publishes its counts and returns
/// [`Error::Cancelled`]; the published counts are then exactly the writes
/// that happened, which the work loop reports for a cancelled run.
#[derive(Debug)]
pub struct Progress {
    counts: tokio::sync::watch::Sender<v1::SyncCounts>,
    stop: tokio::sync::watch::Receiver<bool>,
    /// When the work item's lease may lapse: nothing is sent to Graph after.
    lease: Option<galsync_graph::Deadline>,
}

/// The other ends of a [`Progress`]: the counts so far, and the stop switch.
#[derive(Debug)]
pub struct ProgressHandle {
    pub counts: tokio::sync::watch::Receiver<v1::SyncCounts>,
    pub stop: tokio::sync::watch::Sender<bool>,
}

impl Progress {
    pub fn new() -> (Progress, ProgressHandle) {
        let (counts_sender, counts_receiver) =
            tokio::sync::watch::channel(v1::SyncCounts::default());
        let (stop_sender, stop_receiver) = tokio::sync::watch::channel(false);
        let progress = Progress {
            counts: counts_sender,
            stop: stop_receiver,
            lease: None,
        };
        let handle = ProgressHandle {
            counts: counts_receiver,
            stop: stop_sender,
        };
        (progress, handle)
    }

    /// Progress nobody watches and nothing stops (a direct SyncMailbox call).
    pub fn unobserved() -> Progress {
        Progress::new().0
    }

    /// The same progress under a work item's lease (see [`galsync_graph::Deadline`]).
    pub fn under_lease(mut self, lease: galsync_graph::Deadline) -> Progress {
        self.lease = Some(lease);
        self
    }

    pub fn lease(&self) -> Option<galsync_graph::Deadline> {
        self.lease.clone()
    }

    pub fn publish(&self, counts: v1::SyncCounts) {
        self.counts.send_replace(counts);
    }

    pub fn stop_requested(&self) -> bool {
        *self.stop.borrow()
    }
}

/// Reconciles (or, for a dry run, plans) one mailbox against `entries`.
pub async fn reconcile(
    engine: &Engine,
    job: &MailboxJob,
    entries: &[v1::DirectoryEntry],
    photos: &dyn PhotoSource,
) -> Result<Report, Error> {
    let rules = FieldRules::from_proto(&job.policy.field_rules);
    let desired = mapping::desired_contacts(entries, &rules);
    reconcile_desired(engine, job, &desired, photos, &Progress::unobserved()).await
}

/// [`reconcile`] against desired contacts already computed under the job's
/// field rules (shared by the mailboxes of a run), publishing counts to
/// `progress` after every batch.
pub async fn reconcile_desired(
    engine: &Engine,
    job: &MailboxJob,
    desired: &[Desired],
    photos: &dyn PhotoSource,
    progress: &Progress,
) -> Result<Report, Error> {
    let mailbox = engine
        .mailbox(&job.tenant_id, &job.mailbox_id, progress.lease())
        .await?;
    let _active = mailbox.batches.enter();
    let rules = FieldRules::from_proto(&job.policy.field_rules);
    let deletion = DeletionPolicy::from_proto(&job.policy);
    let store = &engine.store;
    let stored = store
        .mailbox_state(&job.profile_id, &job.mailbox_id)
        .await?
        .unwrap_or_default();
    let stored_records = store.contacts(&job.profile_id, &job.mailbox_id).await?;
    // Trusted rows are checked against the folder on every run: a purge, a
    // user or another client may have deleted galsync's contacts. The check
    // rides in the folder check's `$batch`; the repair pass's delta round
    // sees deletions itself.
    let probe_count =
        stored.state_valid && !stored.folder_id.is_empty() && !job.dry_run && !job.policy.repair;
    let count_probe =
        probe_count.then(|| mailbox.owned_count_probe(&stored.folder_id, stored_records.len()));
    let folder = mailbox
        .resolve_folder(
            job.folder_name(),
            &stored.folder_id,
            job.dry_run,
            count_probe,
        )
        .await?;
    let mut result = v1::MailboxSyncResult {
        mailbox_id: job.mailbox_id.clone(),
        duplicate_folder_ids: folder.duplicate_folder_ids.clone(),
        ..Default::default()
    };
    let Some(folder_id) = folder.folder_id else {
        // Dry run into a mailbox without the folder: everything is a create.
        let nothing_known = HashMap::new();
        let plan = plan::build(desired, &nothing_known, &[], &rules, &deletion, false);
        return Ok(plan_report(result, &plan, &rules, &mailbox));
    };
    let folder_changed = folder_id != stored.folder_id;
    let folder_matches = match &folder.probe {
        Some(answer) => holds_exactly(answer, stored_records.len()),
        None => !probe_count,
    };
    if probe_count && !folder_changed && !folder_matches {
        warn!(mailbox = %job.mailbox_id, expected = stored_records.len(), "the folder does not hold the contacts galsync wrote (deleted outside this profile's runs): reading it again");
    }
    let state_trusted = stored.state_valid && !folder_changed && folder_matches;
    let mirror = deletion.mode == v1::DeletionMode::Mirror;
    // A folder created just now is known to be empty: neither listed nor
    // read through delta, the writer goes straight to creates.
    let folder_is_new = folder.created;
    let must_list =
        !folder_is_new && (!state_trusted || job.dry_run || mirror || job.policy.adopt_existing);
    let records = if folder_changed {
        HashMap::new()
    } else {
        stored_records
    };
    let (mut known, duplicates) = if must_list {
        let source_by_contact: HashMap<String, String> = records
            .values()
            .map(|record| (record.contact_id.clone(), record.source_id.clone()))
            .collect();
        let listed = mailbox
            .list_folder(
                &folder_id,
                &job.profile_id,
                &source_by_contact,
                job.policy.adopt_existing,
            )
            .await?;
        known::from_listing(listed, &records, &rules, desired, job.policy.adopt_existing)
    } else {
        (known::from_records(&records), Vec::new())
    };
    let mut delta_link = if state_trusted {
        stored.delta_link.clone()
    } else {
        String::new()
    };
    let mut restored = 0;
    if job.policy.repair && !job.dry_run && !folder_is_new {
        (delta_link, restored) =
            known::repair(&mailbox, &folder_id, &delta_link, &mut known, &rules).await?;
    }
    let plan = plan::build(
        desired,
        &known,
        &duplicates,
        &rules,
        &deletion,
        job.policy.write_photos,
    );
    if job.dry_run {
        return Ok(plan_report(result, &plan, &rules, &mailbox));
    }

    let mut run = Run {
        engine,
        job,
        mailbox,
        folder_id: folder_id.clone(),
        rules,
        records,
        counts: v1::SyncCounts {
            unchanged: plan.unchanged,
            deletes_awaiting_approval: plan.held_deletes.len() as u64,
            restored,
            ..Default::default()
        },
        errors: Vec::new(),
        replacing: plan
            .replaces
            .iter()
            .map(|replace| replace.desired.source_id.clone())
            .collect(),
        progress,
        pending: HashMap::new(),
    };
    run.publish();
    // From here until the final save the store says "uncertain": a crash at
    // any point makes the next run rebuild from the mailbox.
    store
        .mark_uncertain(&job.profile_id, &job.mailbox_id, &folder_id)
        .await?;
    if must_list || folder_is_new {
        run.records = rebuilt_records(&known);
        store
            .replace_all(
                &job.profile_id,
                &job.mailbox_id,
                &run.records.values().cloned().collect::<Vec<_>>(),
            )
            .await?;
    }
    let desired_by_source: HashMap<&str, &Desired> = desired
        .iter()
        .map(|entry| (entry.source_id.as_str(), entry))
        .collect();
    let unresolved = run
        .write_all(writes::writes(&plan), &desired_by_source)
        .await?;
    if job.policy.write_photos {
        run.write_photos(desired, photos).await?;
    }
    run.mailbox.count_requests(&mut run.counts);
    if unresolved == 0 {
        let state = MailboxState {
            folder_id,
            state_valid: true,
            delta_link,
        };
        store
            .save_mailbox_state(&job.profile_id, &job.mailbox_id, &state)
            .await?;
    }
    result.outcome = if run.counts.failed > 0 || unresolved > 0 {
        v1::MailboxOutcome::Partial
    } else if !plan.held_deletes.is_empty() {
        run.errors.push(format!(
            "{} deletes held for approval by the deletion guard",
            plan.held_deletes.len()
        ));
        v1::MailboxOutcome::AwaitingApproval
    } else {
        v1::MailboxOutcome::Succeeded
    } as i32;
    info!(mailbox = %job.mailbox_id, created = run.counts.created, updated = run.counts.updated, deleted = run.counts.deleted, unchanged = run.counts.unchanged, failed = run.counts.failed, requests = run.counts.graph_requests, "reconciled mailbox");
    result.counts = Some(run.counts);
    result.errors = run.errors;
    // The contacts the guard held, so whoever approves sees which.
    let held = (!plan.held_deletes.is_empty()).then(|| v1::MailboxPlan {
        mailbox_id: job.mailbox_id.clone(),
        changes: plan::held_deletes_to_proto(&plan),
        counts: None,
        held_deletes_only: true,
    });
    Ok(Report { result, plan: held })
}

/// Whether the count probe's answer (see
/// [`MailboxGraph::owned_count_probe`]) says the folder holds exactly
/// `expected` owned contacts. No usable answer says no.
fn holds_exactly(answer: &galsync_graph::BatchResponse, expected: usize) -> bool {
    if !answer.is_success() {
        return false;
    }
    let Ok(page) = answer.json::<galsync_graph::models::Page<serde_json::Value>>() else {
        return false;
    };
    let wanted = if expected == 0 { 0 } else { 1 };
    page.value.len() == wanted
}

fn rebuilt_records(known: &HashMap<String, Known>) -> HashMap<String, ContactRecord> {
    let mut records = HashMap::with_capacity(known.len());
    for (source_id, entry) in known {
        if entry.claim {
            continue;
        }
        records.insert(
            source_id.clone(),
            ContactRecord {
                source_id: source_id.clone(),
                contact_id: entry.contact_id.clone(),
                content_hash: entry.content_hash.clone(),
                photo_hash: entry.photo_hash.clone(),
            },
        );
    }
    records
}

fn plan_report(
    mut result: v1::MailboxSyncResult,
    plan: &plan::Plan,
    rules: &FieldRules,
    mailbox: &MailboxGraph,
) -> Report {
    let mut counts = v1::SyncCounts {
        created: plan.creates.len() as u64,
        updated: (plan.updates.len() + plan.replaces.len()) as u64,
        deleted: plan.deletes.len() as u64,
        unchanged: plan.unchanged,
        deletes_awaiting_approval: plan.held_deletes.len() as u64,
        ..Default::default()
    };
    mailbox.count_requests(&mut counts);
    result.outcome = if plan.held_deletes.is_empty() {
        v1::MailboxOutcome::Succeeded
    } else {
        v1::MailboxOutcome::AwaitingApproval
    } as i32;
    result.counts = Some(counts);
    let mailbox_plan = v1::MailboxPlan {
        mailbox_id: result.mailbox_id.clone(),
        changes: plan::to_proto(plan, rules),
        counts: Some(counts),
        held_deletes_only: false,
    };
    Report {
        result,
        plan: Some(mailbox_plan),
    }
}
