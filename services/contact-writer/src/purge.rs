//! Purge: removes a profile's contacts (every galsync contact when the
//! request names no profile) and then the folder from a mailbox whose user
//! is no longer a target. Contacts galsync does not own, and those of other
//! profiles, are never touched, so a folder still holding some is kept.

use std::collections::{HashMap, HashSet};

use galsync_proto::v1;

use crate::engine::Engine;
use crate::error::Error;
use crate::executor::{self, Op, Outcome};
use crate::request::PurgeJob;

/// Under a work item's `lease`, nothing is sent once it is about to lapse.
pub async fn purge(
    engine: &Engine,
    job: &PurgeJob,
    lease: Option<galsync_graph::Deadline>,
) -> Result<v1::MailboxSyncResult, Error> {
    let profile_id = job.store_profile();
    let mailbox = engine
        .mailbox(&job.tenant_id, &job.mailbox_id, lease)
        .await?;
    let stored = engine
        .store
        .mailbox_state(profile_id, &job.mailbox_id)
        .await?
        .unwrap_or_default();
    let mut result = v1::MailboxSyncResult {
        mailbox_id: job.mailbox_id.clone(),
        outcome: v1::MailboxOutcome::Succeeded as i32,
        ..Default::default()
    };
    let mut counts = v1::SyncCounts::default();
    let folder = mailbox
        .resolve_folder(&job.folder_name, &stored.folder_id, true, None)
        .await?;
    if let Some(folder_id) = folder.folder_id {
        engine
            .store
            .mark_uncertain(profile_id, &job.mailbox_id, &folder_id)
            .await?;
        // The contacts of the named profile go (its tagged ones, and older
        // untagged ones its store knows); a purge naming no profile removes
        // every galsync contact. Either way rows of other profiles for this
        // folder are no longer to be trusted.
        engine
            .store
            .invalidate_folder(&job.mailbox_id, &folder_id)
            .await?;
        let records = engine.store.contacts(profile_id, &job.mailbox_id).await?;
        let source_by_contact: HashMap<&str, &str> = records
            .values()
            .map(|record| (record.contact_id.as_str(), record.source_id.as_str()))
            .collect();
        let all_ids = mailbox.contact_ids(&folder_id, None).await?;
        let galsync_ids = mailbox.contact_ids(&folder_id, Some(None)).await?;
        let purged_ids: Vec<String> = if job.profile_id.is_none() {
            galsync_ids.clone()
        } else {
            let tagged: HashSet<String> = mailbox
                .contact_ids(&folder_id, Some(Some(profile_id)))
                .await?
                .into_iter()
                .collect();
            galsync_ids
                .iter()
                .filter(|contact_id| {
                    tagged.contains(*contact_id)
                        || source_by_contact.contains_key(contact_id.as_str())
                })
                .cloned()
                .collect()
        };
        let kept_galsync = galsync_ids.len() - purged_ids.len();
        let foreign = all_ids.len().saturating_sub(galsync_ids.len());
        let mut ops = Vec::with_capacity(purged_ids.len());
        for contact_id in purged_ids {
            // The source id only labels the delete; a contact the store does
            // not know is named by its own id.
            let source_id = source_by_contact
                .get(contact_id.as_str())
                .map_or_else(|| contact_id.clone(), |source_id| (*source_id).to_owned());
            ops.push(Op::Delete {
                source_id,
                contact_id,
            });
        }
        for chunk in ops.chunks(engine.settings.batch_size.clamp(1, 20)) {
            for outcome in
                executor::execute(&mailbox, &folder_id, chunk, executor::Order::Parallel).await?
            {
                match outcome {
                    Outcome::Deleted { .. } => counts.deleted += 1,
                    Outcome::Failed { reason, .. } => {
                        counts.failed += 1;
                        result.errors.push(reason);
                    }
                    _ => counts.failed += 1,
                }
            }
        }
        if foreign == 0 && kept_galsync == 0 && counts.failed == 0 {
            mailbox.delete_folder(&folder_id).await?;
        } else if foreign > 0 {
            result.errors.push(format!(
                "kept the folder: it holds {foreign} contacts galsync does not own"
            ));
        } else if kept_galsync > 0 {
            result.errors.push(format!(
                "kept the folder: it holds {kept_galsync} contacts of other galsync profiles"
            ));
        }
    }
    if counts.failed > 0 {
        result.outcome = v1::MailboxOutcome::Partial as i32;
    } else {
        engine
            .store
            .forget_mailbox(profile_id, &job.mailbox_id)
            .await?;
    }
    mailbox.count_requests(&mut counts);
    result.counts = Some(counts);
    Ok(result)
}
