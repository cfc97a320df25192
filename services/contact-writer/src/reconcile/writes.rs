//! The writing half of a reconciliation: sends the planned writes in
//! batches, records the outcomes in the store (a transaction per 200 rows),
//! looks up anything uncertain before writing again, and writes photos.

use std::collections::{HashMap, HashSet};

use galsync_graph::GraphRequest;
use galsync_proto::v1;

use super::{MailboxJob, Progress, MAX_FOLLOW_UP_ROUNDS};
use crate::engine::{Engine, PhotoSource};
use crate::error::Error;
use crate::executor::{self, Op, Outcome};
use crate::mailbox::MailboxGraph;
use crate::mapping::{self, Desired, FieldRules};
use crate::plan::{Plan, PlannedUpdate};
use crate::store::ContactRecord;

/// One reconciliation in progress.
pub(super) struct Run<'a> {
    pub(super) engine: &'a Engine,
    pub(super) job: &'a MailboxJob,
    pub(super) mailbox: MailboxGraph,
    pub(super) folder_id: String,
    pub(super) rules: FieldRules,
    pub(super) records: HashMap<String, ContactRecord>,
    pub(super) counts: v1::SyncCounts,
    pub(super) errors: Vec<String>,
    /// Source ids whose contact is being replaced (photo removed at the
    /// source): their delete and create count as one update.
    pub(super) replacing: HashSet<String>,
    pub(super) progress: &'a Progress,
    /// Rows waiting for the store (`None`: remove the row). The mailbox is
    /// marked uncertain until the run ends, so rows lost to a crash are
    /// rebuilt from the mailbox; batching them saves a transaction per batch.
    pub(super) pending: HashMap<String, Option<ContactRecord>>,
}

/// Outcomes recorded per store transaction.
const ROWS_PER_FLUSH: usize = 200;

/// A write waiting to be sent. Its JSON body is made when its batch goes
/// (see `lanes.rs`), so a mailbox holds the bodies of the batches in flight
/// only, not of every write it has still to send.
pub(super) enum Write<'p> {
    Create(&'p Desired),
    Update(&'p PlannedUpdate<'p>),
    Delete {
        source_id: String,
        contact_id: String,
    },
    /// Made already (a follow-up of a look-up).
    Made(Op),
}

impl Write<'_> {
    pub(super) fn is_delete(&self) -> bool {
        matches!(self, Write::Delete { .. } | Write::Made(Op::Delete { .. }))
    }

    /// The write with its body, for a batch about to go.
    pub(super) fn op(&self, rules: &FieldRules, profile_id: &str) -> Result<Op, Error> {
        Ok(match self {
            Write::Create(desired) => Op::Create {
                source_id: desired.source_id.clone(),
                body: mapping::create_body(desired, profile_id)?,
            },
            Write::Update(update) => Op::Update {
                source_id: update.desired.source_id.clone(),
                contact_id: update.contact_id.clone(),
                body: mapping::raw(&mapping::patch_body(
                    update.desired,
                    rules,
                    update.current,
                    update.claim.then_some(profile_id),
                ))?,
            },
            Write::Delete {
                source_id,
                contact_id,
            } => Op::Delete {
                source_id: source_id.clone(),
                contact_id: contact_id.clone(),
            },
            Write::Made(op) => op.clone(),
        })
    }
}

/// The writes of a plan in the order they are sent: deletes, updates,
/// creates. A replaced contact's delete comes before its create, so the
/// store never ends up holding the old contact id.
pub(super) fn writes<'p>(plan: &'p Plan<'p>) -> Vec<Write<'p>> {
    let mut writes = Vec::with_capacity(
        plan.deletes.len() + plan.updates.len() + plan.creates.len() + 2 * plan.replaces.len(),
    );
    for delete in &plan.deletes {
        writes.push(Write::Delete {
            source_id: delete.source_id.clone(),
            contact_id: delete.contact_id.clone(),
        });
    }
    for replace in &plan.replaces {
        writes.push(Write::Delete {
            source_id: replace.desired.source_id.clone(),
            contact_id: replace.contact_id.clone(),
        });
    }
    writes.extend(plan.updates.iter().map(Write::Update));
    writes.extend(
        plan.creates
            .iter()
            .copied()
            .chain(plan.replaces.iter().map(|replace| replace.desired))
            .map(Write::Create),
    );
    writes
}

impl Run<'_> {
    /// Publishes the counts so far.
    pub(super) fn publish(&self) {
        let mut counts = self.counts;
        self.mailbox.count_requests(&mut counts);
        self.progress.publish(counts);
    }

    /// Sends `ops` in batches, then resolves uncertain creates and vanished
    /// contacts by looking them up; every outcome is in the store when it
    /// returns. Returns how many stayed unresolved.
    pub(super) async fn write_all(
        &mut self,
        writes: Vec<Write<'_>>,
        desired: &HashMap<&str, &Desired>,
    ) -> Result<usize, Error> {
        let unresolved = self.write_rounds(writes, desired).await?;
        self.flush().await?;
        Ok(unresolved)
    }

    async fn write_rounds(
        &mut self,
        mut writes: Vec<Write<'_>>,
        desired: &HashMap<&str, &Desired>,
    ) -> Result<usize, Error> {
        for round in 0..=MAX_FOLLOW_UP_ROUNDS {
            let to_look_up = self.send(writes, desired).await?;
            if to_look_up.is_empty() {
                return Ok(0);
            }
            if round == MAX_FOLLOW_UP_ROUNDS {
                self.counts.failed += to_look_up.len() as u64;
                return Ok(to_look_up.len());
            }
            writes = self
                .follow_up(&to_look_up, desired)
                .await?
                .into_iter()
                .map(Write::Made)
                .collect();
        }
        Ok(0)
    }

    /// Records outcomes in the store; returns the source ids to look up.
    pub(super) async fn apply(
        &mut self,
        outcomes: Vec<Outcome>,
        desired: &HashMap<&str, &Desired>,
    ) -> Result<Vec<String>, Error> {
        let mut upserts = Vec::new();
        let mut removed = Vec::new();
        let mut to_look_up = Vec::new();
        for outcome in outcomes {
            match outcome {
                Outcome::Created {
                    source_id,
                    contact_id,
                } => {
                    self.count_created(&source_id);
                    upserts.push(self.record_for(&source_id, contact_id, desired));
                }
                Outcome::Updated { source_id } => {
                    self.counts.updated += 1;
                    let contact_id = self.contact_id_of(&source_id);
                    upserts.push(self.record_for(&source_id, contact_id, desired));
                }
                Outcome::Deleted { source_id } => {
                    if !self.replacing.contains(&source_id) {
                        self.counts.deleted += 1;
                    }
                    removed.push(source_id);
                }
                Outcome::Missing { source_id } => {
                    removed.push(source_id.clone());
                    to_look_up.push(source_id);
                }
                Outcome::Uncertain { source_id } => to_look_up.push(source_id),
                Outcome::Failed { source_id, reason } => {
                    self.counts.failed += 1;
                    self.errors
                        .push(format!("contact for {source_id}: {reason}"));
                }
            }
        }
        // Removals first: a replaced contact's delete and create may arrive
        // together, and the new contact must win.
        for source_id in &removed {
            self.records.remove(source_id);
        }
        for record in &upserts {
            self.records
                .insert(record.source_id.clone(), record.clone());
        }
        self.stage(upserts, removed);
        self.flush_if_full().await?;
        self.publish();
        Ok(to_look_up)
    }

    /// Stops between two batches: records what was written (the mailbox
    /// stays marked uncertain, so the next run rebuilds from it) and
    /// publishes the counts of the writes that happened.
    pub(super) async fn stop(&mut self) -> Error {
        if let Err(error) = self.flush().await {
            return error;
        }
        self.publish();
        Error::Cancelled
    }

    fn count_created(&mut self, source_id: &str) {
        if self.replacing.contains(source_id) {
            self.counts.updated += 1;
        } else {
            self.counts.created += 1;
        }
    }

    fn contact_id_of(&self, source_id: &str) -> String {
        self.records
            .get(source_id)
            .map(|record| record.contact_id.clone())
            .unwrap_or_default()
    }

    /// The row for a contact now holding the desired values.
    fn record_for(
        &self,
        source_id: &str,
        contact_id: String,
        desired: &HashMap<&str, &Desired>,
    ) -> ContactRecord {
        let content_hash = desired
            .get(source_id)
            .map(|entry| entry.content_hash.clone())
            .unwrap_or_default();
        let photo_hash = self
            .records
            .get(source_id)
            .filter(|record| record.contact_id == contact_id)
            .map(|record| record.photo_hash.clone())
            .unwrap_or_default();
        ContactRecord {
            source_id: source_id.to_owned(),
            contact_id,
            content_hash,
            photo_hash,
        }
    }

    /// Looks before writing again: a contact found for the source id is
    /// recorded (and updated when it differs); only a confirmed absence
    /// leads to a create.
    async fn follow_up(
        &mut self,
        source_ids: &[String],
        desired: &HashMap<&str, &Desired>,
    ) -> Result<Vec<Op>, Error> {
        let found = executor::look_up(
            &self.mailbox,
            &self.folder_id,
            &self.job.profile_id,
            source_ids,
        )
        .await?;
        let mut ops = Vec::new();
        let mut upserts = Vec::new();
        for source_id in source_ids {
            let Some(entry) = desired.get(source_id.as_str()) else {
                continue;
            };
            let contacts = found.get(source_id).cloned().unwrap_or_default();
            let Some(contact) = contacts.first() else {
                ops.push(Op::Create {
                    source_id: source_id.clone(),
                    body: mapping::create_body(entry, &self.job.profile_id)?,
                });
                continue;
            };
            let current_hash = mapping::enforced_hash(&contact.fields, &self.rules);
            upserts.push(ContactRecord {
                source_id: source_id.clone(),
                contact_id: contact.contact_id.clone(),
                content_hash: current_hash.clone(),
                photo_hash: String::new(),
            });
            if current_hash == entry.content_hash {
                // The earlier create was applied after all.
                self.count_created(source_id);
            } else {
                ops.push(Op::Update {
                    source_id: source_id.clone(),
                    contact_id: contact.contact_id.clone(),
                    body: mapping::raw(&mapping::patch_body(
                        entry,
                        &self.rules,
                        Some(&contact.fields),
                        None,
                    ))?,
                });
            }
        }
        for record in &upserts {
            self.records
                .insert(record.source_id.clone(), record.clone());
        }
        self.stage(upserts, Vec::new());
        self.flush_if_full().await?;
        Ok(ops)
    }

    /// PUTs photos whose hash differs from the one written.
    pub(super) async fn write_photos(
        &mut self,
        desired: &[Desired],
        photos: &dyn PhotoSource,
    ) -> Result<(), Error> {
        for entry in desired {
            if entry.photo_hash.is_empty() {
                continue;
            }
            let Some(record) = self.records.get(&entry.source_id).cloned() else {
                continue;
            };
            if record.photo_hash == entry.photo_hash {
                continue;
            }
            let photo = match photos.photo(&entry.photo_hash).await {
                Ok(photo) => photo,
                Err(error) => {
                    self.errors
                        .push(format!("photo of {}: {error}", entry.source_id));
                    continue;
                }
            };
            let url = format!(
                "{}/{}/photo/$value",
                self.mailbox.contacts_path(&self.folder_id),
                galsync_graph::path::segment(&record.contact_id)
            );
            let request = GraphRequest::new(reqwest::Method::PUT, url)
                .with_bytes(photo.content_type, photo.data);
            self.mailbox.send(request).await?;
            self.counts.photos_written += 1;
            self.publish();
            let updated = ContactRecord {
                photo_hash: entry.photo_hash.clone(),
                ..record
            };
            self.records
                .insert(updated.source_id.clone(), updated.clone());
            self.stage(vec![updated], Vec::new());
            self.flush_if_full().await?;
        }
        self.flush().await
    }

    /// Queues rows for the store, removals before upserts, the latest word
    /// on a source id winning.
    fn stage(&mut self, upserts: Vec<ContactRecord>, removed: Vec<String>) {
        for source_id in removed {
            self.pending.insert(source_id, None);
        }
        for record in upserts {
            self.pending.insert(record.source_id.clone(), Some(record));
        }
    }

    async fn flush_if_full(&mut self) -> Result<(), Error> {
        if self.pending.len() >= ROWS_PER_FLUSH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes the queued rows in one transaction.
    pub(super) async fn flush(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut upserts = Vec::with_capacity(self.pending.len());
        let mut removed = Vec::new();
        for (source_id, row) in self.pending.drain() {
            match row {
                Some(record) => upserts.push(record),
                None => removed.push(source_id),
            }
        }
        self.engine
            .store
            .apply(
                &self.job.profile_id,
                &self.job.mailbox_id,
                &upserts,
                &removed,
            )
            .await?;
        Ok(())
    }
}
