//! What galsync already has in a mailbox: from the store when its state can
//! be trusted, else rebuilt from the folder's contacts (ownership property),
//! and corrected by the repair pass (contacts delta).

use std::collections::{HashMap, HashSet};

use galsync_graph::models::Page;
use galsync_graph::GraphRequest;
use serde_json::Value;

use crate::error::Error;
use crate::mailbox::{listed_contact, ListedContact, MailboxGraph};
use crate::mapping::{self, Desired, FieldRules};
use crate::plan::{Known, PlannedDelete};
use crate::store::ContactRecord;

/// Known contacts from trusted store rows.
pub fn from_records(records: &HashMap<String, ContactRecord>) -> HashMap<String, Known> {
    let mut known = HashMap::with_capacity(records.len());
    for (source_id, record) in records {
        known.insert(
            source_id.clone(),
            Known {
                contact_id: record.contact_id.clone(),
                content_hash: record.content_hash.clone(),
                photo_hash: record.photo_hash.clone(),
                current: None,
                claim: false,
                display_name: String::new(),
            },
        );
    }
    known
}

/// Known contacts rebuilt from a listing of the folder, plus further owned
/// contacts for an already-seen source id (duplicates). With `adopt`,
/// unowned contacts whose email matches a wanted entry are claimed.
pub fn from_listing(
    listed: Vec<ListedContact>,
    records: &HashMap<String, ContactRecord>,
    rules: &FieldRules,
    desired: &[Desired],
    adopt: bool,
) -> (HashMap<String, Known>, Vec<PlannedDelete>) {
    let mut known: HashMap<String, Known> = HashMap::with_capacity(listed.len());
    let mut duplicates = Vec::new();
    let mut unowned = Vec::new();
    for contact in listed {
        let Some(source_id) = contact.source_id.clone() else {
            unowned.push(contact);
            continue;
        };
        let display_name = display_name_of(&contact);
        if known.contains_key(&source_id) {
            duplicates.push(PlannedDelete {
                source_id,
                contact_id: contact.contact_id,
                display_name,
            });
            continue;
        }
        // The photo hash survives only for the very contact it was written to.
        let photo_hash = records
            .get(&source_id)
            .filter(|record| record.contact_id == contact.contact_id)
            .map(|record| record.photo_hash.clone())
            .unwrap_or_default();
        known.insert(
            source_id,
            Known {
                contact_id: contact.contact_id,
                content_hash: mapping::enforced_hash(&contact.fields, rules),
                photo_hash,
                current: Some(contact.fields),
                claim: false,
                display_name,
            },
        );
    }
    if adopt {
        adopt_by_email(&mut known, unowned, desired);
    }
    (known, duplicates)
}

fn display_name_of(contact: &ListedContact) -> String {
    contact
        .fields
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn adopt_by_email(
    known: &mut HashMap<String, Known>,
    unowned: Vec<ListedContact>,
    desired: &[Desired],
) {
    let mut wanted_by_email: HashMap<String, &Desired> = HashMap::new();
    for entry in desired {
        if known.contains_key(&entry.source_id) {
            continue;
        }
        for email in mapping::email_addresses(&entry.enforced) {
            wanted_by_email.insert(email, entry);
        }
    }
    for contact in unowned {
        for email in mapping::email_addresses(&contact.fields) {
            let Some(entry) = wanted_by_email.remove(&email) else {
                continue;
            };
            if known.contains_key(&entry.source_id) {
                continue;
            }
            tracing::info!(contact = %contact.contact_id, source = %entry.source_id, "adopting an existing contact by email");
            known.insert(
                entry.source_id.clone(),
                Known {
                    contact_id: contact.contact_id.clone(),
                    content_hash: String::new(),
                    photo_hash: String::new(),
                    current: Some(contact.fields.clone()),
                    claim: true,
                    display_name: display_name_of(&contact),
                },
            );
            break;
        }
    }
}

/// Contacts per contacts-delta page galsync asks for (`Prefer:
/// odata.maxpagesize`); without it Graph pages by 10, so a 2,000-contact
/// folder would cost 200 requests instead of 10.
pub const DELTA_PAGE_SIZE: usize = 200;

/// The repair pass: one contacts-delta round on the folder from `delta_link`
/// (from scratch when empty). contact-delta takes `$select` and nothing else,
/// so the round carries no ownership property: galsync's contacts are told
/// by their ids, which `known` holds (from the store or the folder listing).
/// Contacts a user edited get the hash of their current values (so the plan
/// restores them); deleted ones are forgotten (so the plan re-creates them):
/// `@removed` in an incremental round, absent from a round from scratch.
/// Returns the next round's link and how many known contacts it found
/// edited or deleted.
pub async fn repair(
    mailbox: &MailboxGraph,
    folder_id: &str,
    delta_link: &str,
    known: &mut HashMap<String, Known>,
    rules: &FieldRules,
) -> Result<(String, u64), Error> {
    // contact-delta: "You can use a $select query parameter"; the id is
    // always returned.
    let initial = format!(
        "{}/delta?$select={}",
        mailbox.contacts_path(folder_id),
        mapping::select_list()
    );
    let mut from_scratch = delta_link.is_empty();
    let mut url = if from_scratch {
        initial.clone()
    } else {
        delta_link.to_owned()
    };
    // Contact ids a round from scratch returned: every contact of the folder.
    let mut seen: HashSet<String> = HashSet::new();
    let mut restarted = false;
    let mut source_by_contact: HashMap<String, String> = known
        .iter()
        .map(|(source_id, entry)| (entry.contact_id.clone(), source_id.clone()))
        .collect();
    let mut repaired = 0u64;
    loop {
        // contact-delta: request header `Prefer: odata.maxpagesize={x}`, sent
        // with every page of the round as its example does.
        let request = GraphRequest::get(url.clone())
            .with_header("Prefer", format!("odata.maxpagesize={DELTA_PAGE_SIZE}"));
        let page: Page<Value> = match mailbox.send(request).await {
            Ok(response) => response
                .json()
                .map_err(|error| Error::from_graph(&mailbox.mailbox_id, error))?,
            Err(Error::Graph { source, .. }) if source.is_resync_required() && !restarted => {
                restarted = true;
                from_scratch = true;
                seen.clear();
                url = initial.clone();
                continue;
            }
            Err(error) => return Err(error),
        };
        for item in &page.value {
            let contact_id = item["id"].as_str().unwrap_or_default();
            if from_scratch && item.get("@removed").is_none() {
                seen.insert(contact_id.to_owned());
            }
            let Some(source_id) = source_by_contact.get(contact_id).cloned() else {
                continue;
            };
            if item.get("@removed").is_some() {
                known.remove(&source_id);
                source_by_contact.remove(contact_id);
                repaired += 1;
                continue;
            }
            let contact = listed_contact(item);
            let hash = mapping::enforced_hash(&contact.fields, rules);
            if let Some(entry) = known.get_mut(&source_id) {
                if entry.content_hash != hash {
                    repaired += 1;
                }
                entry.content_hash = hash;
                entry.current = Some(contact.fields);
            }
        }
        if let Some(next_link) = page.delta_link {
            if from_scratch {
                repaired += forget_unseen(known, &seen);
            }
            if repaired > 0 {
                tracing::info!(mailbox = %mailbox.mailbox_id, repaired, "repair pass found contacts edited or deleted by the user");
            }
            return Ok((next_link, repaired));
        }
        match page.next_link {
            Some(next_link) => url = next_link,
            None => return Ok((String::new(), repaired)),
        }
    }
}

/// After a round from scratch: forgets the known contacts the folder no
/// longer holds (so the plan re-creates them); returns how many.
fn forget_unseen(known: &mut HashMap<String, Known>, seen: &HashSet<String>) -> u64 {
    let before = known.len();
    known.retain(|_, entry| seen.contains(&entry.contact_id));
    (before - known.len()) as u64
}
