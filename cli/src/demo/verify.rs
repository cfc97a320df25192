//! Checks every target mailbox against the directory, as the emulator stores
//! it: the galsync folder holds exactly one contact per synced user, carrying
//! the user's object id and current name, title and phones.

use std::collections::{BTreeMap, BTreeSet};

use galsync_graph_emulator::Emulator;
use serde_json::Value;
use uuid::Uuid;

use super::tenant::{is_synced_by_default, DemoTenant};

pub const FOLDER_NAME: &str = "Company Directory";

#[derive(Debug, Default)]
pub struct Verification {
    pub mailboxes_checked: usize,
    pub mailboxes_correct: usize,
    pub expected_contacts: usize,
    /// Contacts found in all galsync folders together.
    pub contacts_found: usize,
    /// Contacts without the galsync property, left alone (none in the demo).
    pub foreign_contacts: usize,
    /// The first few problems, in plain words.
    pub problems: Vec<String>,
}

impl Verification {
    pub fn passed(&self) -> bool {
        self.mailboxes_checked > 0 && self.mailboxes_checked == self.mailboxes_correct
    }
}

fn source_object_id(contact: &Value) -> Option<String> {
    let properties = contact.get("singleValueExtendedProperties")?.as_array()?;
    for property in properties {
        let id = property.get("id")?.as_str()?;
        if id.ends_with("Name SourceObjectId") {
            let owner =
                galsync_contact_writer::mapping::Owner::parse(property.get("value")?.as_str()?)?;
            return Some(owner.source_id);
        }
    }
    None
}

fn text(value: &Value, field: &str) -> String {
    value
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// What a synced user's contact must show.
struct Expected {
    display_name: String,
    job_title: String,
    first_phone: String,
}

pub fn verify(emulator: &Emulator, tenant: &DemoTenant) -> Verification {
    let mut expected: BTreeMap<String, Expected> = BTreeMap::new();
    for user in emulator.state.directory.list_users(tenant.tenant_id, false) {
        if !is_synced_by_default(&user) {
            continue;
        }
        expected.insert(
            user.id.to_string(),
            Expected {
                display_name: user.display_name.clone(),
                job_title: user.job_title.clone().unwrap_or_default(),
                first_phone: user
                    .business_phones
                    .first()
                    .map(|phone| phone.trim().to_owned())
                    .unwrap_or_default(),
            },
        );
    }
    let mut report = Verification {
        expected_contacts: expected.len(),
        ..Verification::default()
    };
    for mailbox in &tenant.targets {
        report.mailboxes_checked += 1;
        match check_mailbox(emulator, tenant.tenant_id, *mailbox, &expected) {
            Ok((found, foreign)) => {
                report.mailboxes_correct += 1;
                report.contacts_found += found;
                report.foreign_contacts += foreign;
            }
            Err(problem) => {
                if report.problems.len() < 5 {
                    report
                        .problems
                        .push(format!("mailbox {mailbox}: {problem}"));
                }
            }
        }
    }
    report
}

fn check_mailbox(
    emulator: &Emulator,
    tenant_id: Uuid,
    mailbox: Uuid,
    expected: &BTreeMap<String, Expected>,
) -> Result<(usize, usize), String> {
    let mailboxes = &emulator.state.mailboxes;
    let user_id = mailbox.to_string();
    let folders = mailboxes.folders_named(tenant_id, &user_id, FOLDER_NAME);
    let folder = match folders.as_slice() {
        [folder] => folder,
        [] => return Err(format!("no \"{FOLDER_NAME}\" folder")),
        _ => return Err(format!("{} folders named \"{FOLDER_NAME}\"", folders.len())),
    };
    let contacts = mailboxes
        .folder_contacts(tenant_id, &user_id, &folder.id)
        .map_err(|error| format!("cannot read the folder: {error:?}"))?;
    let mut seen = BTreeSet::new();
    let mut foreign = 0;
    for contact in &contacts {
        let Some(source_id) = source_object_id(contact) else {
            foreign += 1;
            continue;
        };
        let Some(want) = expected.get(&source_id) else {
            return Err(format!(
                "a contact for {source_id}, who is not (or no longer) in the directory"
            ));
        };
        if !seen.insert(source_id.clone()) {
            return Err(format!("two contacts for {source_id}"));
        }
        if text(contact, "displayName") != want.display_name {
            return Err(format!(
                "contact {source_id} is named \"{}\", the directory says \"{}\"",
                text(contact, "displayName"),
                want.display_name
            ));
        }
        if text(contact, "jobTitle") != want.job_title {
            return Err(format!("contact {source_id} has an outdated job title"));
        }
        let phones: Vec<String> = contact
            .get("businessPhones")
            .and_then(Value::as_array)
            .map(|phones| {
                phones
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if !want.first_phone.is_empty() && phones.first() != Some(&want.first_phone) {
            return Err(format!(
                "contact {source_id} has an outdated business phone"
            ));
        }
    }
    if seen.len() != expected.len() {
        return Err(format!("{} of {} contacts", seen.len(), expected.len()));
    }
    Ok((seen.len(), foreign))
}
