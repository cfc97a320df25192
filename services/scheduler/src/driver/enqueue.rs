//! A run's writing phase begins here: read the directory (under the run
//! lock), resolve the targets, queue one work item per mailbox (and a purge
//! per mailbox that left the targets); approved deletions re-queue the items
//! the deletion guard held.

use galsync_proto::v1;
use prost::Message;

use crate::error::SchedulerError;
use crate::item_state::{ItemOutcome, ItemState};
use crate::scheduler::{decode_spec, now_millis, RunState, Scheduler};
use crate::store::{RunRow, WorkItemRow};
use crate::work_items::new_work_item;

impl Scheduler {
    /// Whether the profile's repair interval has passed since its last
    /// successful run with the repair pass (never repaired: due).
    async fn repair_due(
        &self,
        profile_id: &str,
        interval_seconds: u32,
    ) -> Result<bool, SchedulerError> {
        if interval_seconds == 0 {
            return Ok(false);
        }
        let Some(last) = self.store.last_repair_at(profile_id).await? else {
            return Ok(true);
        };
        Ok(now_millis() - last >= i64::from(interval_seconds) * 1000)
    }

    pub(super) async fn read_and_enqueue(&self, run: &mut RunRow) -> Result<(), SchedulerError> {
        let profile = self.profile(&run.profile_id).await?;
        let spec = decode_spec(&profile)?;
        run.state = RunState::Reading;
        run.started_at = Some(now_millis());
        self.store.update_run(run).await?;
        self.append_state_event(&run.run_id, v1::RunState::Reading)
            .await?;

        let mut write = spec.write.clone().unwrap_or_default();
        write.repair = write.repair
            || self
                .repair_due(&profile.profile_id, spec.repair_interval_seconds)
                .await?;
        run.repair = write.repair && !run.dry_run;
        let snapshot = self
            .holding_lock(
                run,
                self.directory.take_snapshot(v1::TakeSnapshotRequest {
                    tenant_id: profile.tenant_id.clone(),
                    filter: spec.source.clone(),
                    force_full_read: run.full_read,
                    include_photos: write.write_photos,
                }),
            )
            .await?;
        let targets = self
            .holding_lock(
                run,
                self.directory
                    .resolve_targets(&profile.tenant_id, spec.targets.clone().unwrap_or_default()),
            )
            .await?;
        self.renew_lock(run).await?;

        let now = now_millis();
        // A sync of each target; a purge of each mailbox that left the targets.
        let item = |mailbox_id: &str, purge: bool| {
            let request = v1::SyncMailboxRequest {
                tenant_id: profile.tenant_id.clone(),
                mailbox_id: mailbox_id.to_owned(),
                snapshot_id: snapshot.snapshot_id.clone(),
                policy: Some(write.clone()),
                profile_id: profile.profile_id.clone(),
                purge,
            };
            let dry_run = run.dry_run && !purge;
            new_work_item(
                &run.run_id,
                mailbox_id,
                request,
                dry_run,
                self.timings.max_attempts,
                now,
            )
        };
        let mut items: Vec<WorkItemRow> = targets
            .mailbox_ids
            .iter()
            .map(|mailbox_id| item(mailbox_id, false))
            .collect();
        if !run.dry_run && write.deletion_mode() != v1::DeletionMode::Never {
            let removed = self
                .removed_targets(&profile.profile_id, &run.run_id, &targets.mailbox_ids)
                .await?;
            items.extend(removed.iter().map(|mailbox_id| item(mailbox_id, true)));
        }
        self.store.insert_work_items(&items).await?;
        run.snapshot_id = snapshot.snapshot_id.clone();
        run.read_stats = snapshot.read_stats.map(|stats| stats.encode_to_vec());
        run.mailboxes_total = items.len() as i64;
        run.state = RunState::Writing;
        self.store.update_run(run).await?;
        self.append_state_event(&run.run_id, v1::RunState::Writing)
            .await?;
        tracing::info!(
            run = %run.run_id,
            snapshot = %run.snapshot_id,
            mailboxes = items.len(),
            "directory read; mailboxes queued for the writers"
        );
        Ok(())
    }

    /// Mailboxes the profile's previous writing run worked on that are no
    /// longer targets, and whose contacts are still there: everything but a
    /// purge that finished. A purge that failed is tried again next run.
    async fn removed_targets(
        &self,
        profile_id: &str,
        run_id: &str,
        targets: &[String],
    ) -> Result<Vec<String>, SchedulerError> {
        let Some(previous) = self.store.previous_writing_run(profile_id, run_id).await? else {
            return Ok(Vec::new());
        };
        let targets: std::collections::HashSet<&str> = targets.iter().map(String::as_str).collect();
        let mut removed = Vec::new();
        for item in self.store.work_items_of_run(&previous).await? {
            if targets.contains(item.mailbox_id.as_str()) {
                continue;
            }
            let purged = item.state == ItemState::Done
                && item.outcome == Some(ItemOutcome::Succeeded)
                && v1::SyncMailboxRequest::decode(item.request.as_slice())
                    .is_ok_and(|request| request.purge);
            if !purged && !removed.contains(&item.mailbox_id) {
                removed.push(item.mailbox_id);
            }
        }
        if !removed.is_empty() {
            tracing::info!(
                profile = %profile_id,
                mailboxes = removed.len(),
                "mailboxes left the profile's targets; their contacts will be purged"
            );
        }
        Ok(removed)
    }

    /// Replaces the items the deletion guard held with approved copies.
    pub(crate) async fn requeue_awaiting_approval(
        &self,
        run_id: &str,
    ) -> Result<usize, SchedulerError> {
        let items = self.store.work_items_of_run(run_id).await?;
        let now = now_millis();
        let mut approved = Vec::new();
        for item in items.iter().filter(|item| {
            item.outcome == Some(ItemOutcome::AwaitingApproval)
                && item.state != ItemState::Superseded
        }) {
            let mut request =
                v1::SyncMailboxRequest::decode(item.request.as_slice()).map_err(|error| {
                    SchedulerError::Internal(format!(
                        "work item {} is unreadable: {error}",
                        item.work_item_id
                    ))
                })?;
            if let Some(policy) = request.policy.as_mut() {
                policy.deletions_approved = true;
            }
            approved.push(new_work_item(
                run_id,
                &item.mailbox_id,
                request,
                item.dry_run,
                self.timings.max_attempts,
                now,
            ));
        }
        self.store.supersede_awaiting(run_id).await?;
        self.store.insert_work_items(&approved).await?;
        Ok(approved.len())
    }
}
