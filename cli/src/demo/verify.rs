//! Checks every target mailbox against the directory, as the emulator stores
//! it: the galsync folder holds exactly one contact per synced user, carrying
//! the user's object id and current name, title and phones.

use std::collections::{BTreeMap, BTreeSet};

use galsync_graph_emulator::Emulator;
use serde_json::Value;

use super::tenant::DemoTenant;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    display_name: String,
    job_title: String,
    first_phone: String,
}

/// Whether the emulator's admin view of a user (`GET
/// /_admin/tenants/{tenant}/directory/users`) is one galsync syncs by
/// default: enabled members with mail that are not shared, room or equipment
/// mailboxes.
fn synced_by_default(user: &Value) -> bool {
    !user["softDeleted"].as_bool().unwrap_or(false)
        && user["accountEnabled"].as_bool().unwrap_or(false)
        && user["mail"].as_str().is_some_and(|mail| !mail.is_empty())
        && user["userType"].as_str() == Some("Member")
        && matches!(user["mailbox"].as_str(), Some("none" | "user"))
}

/// The contact each synced user must have, by object id, from the admin
/// view of the directory's users.
pub fn expected_contacts(users: &[Value]) -> BTreeMap<String, Expected> {
    users
        .iter()
        .filter(|user| synced_by_default(user))
        .map(|user| {
            let first_phone = user["businessPhones"]
                .as_array()
                .and_then(|phones| phones.first())
                .and_then(Value::as_str)
                .map(|phone| phone.trim().to_owned())
                .unwrap_or_default();
            (
                text(user, "id"),
                Expected {
                    display_name: text(user, "displayName"),
                    job_title: text(user, "jobTitle"),
                    first_phone,
                },
            )
        })
        .collect()
}

pub fn verify(emulator: &Emulator, tenant: &DemoTenant) -> Verification {
    let users: Vec<Value> = emulator
        .state
        .directory
        .list_users(tenant.tenant_id, false)
        .iter()
        .map(|user| galsync_graph_emulator::seeding::admin_view(user))
        .collect();
    let expected = expected_contacts(&users);
    let mut report = Verification {
        expected_contacts: expected.len(),
        ..Verification::default()
    };
    for mailbox in &tenant.targets {
        let user_id = mailbox.to_string();
        let folders: Vec<Value> = emulator
            .state
            .mailboxes
            .folders(tenant.tenant_id, &user_id)
            .iter()
            .map(|folder| serde_json::to_value(folder).unwrap_or_default())
            .collect();
        let outcome = galsync_folder(&folders).and_then(|folder_id| {
            let contacts = emulator
                .state
                .mailboxes
                .folder_contacts(tenant.tenant_id, &user_id, &folder_id)
                .map_err(|error| format!("cannot read the folder: {error:?}"))?;
            check_folder(&contacts, &expected)
        });
        report.record(mailbox, outcome);
    }
    report
}

impl Verification {
    /// Counts one mailbox's outcome of [`check_folder`].
    pub fn record(
        &mut self,
        mailbox: impl std::fmt::Display,
        outcome: Result<(usize, usize), String>,
    ) {
        self.mailboxes_checked += 1;
        match outcome {
            Ok((found, foreign)) => {
                self.mailboxes_correct += 1;
                self.contacts_found += found;
                self.foreign_contacts += foreign;
            }
            Err(problem) => {
                if self.problems.len() < 5 {
                    self.problems.push(format!("mailbox {mailbox}: {problem}"));
                }
            }
        }
    }
}

/// The id of the one galsync folder among a mailbox's folders (the admin
/// API's `GET …/mailboxes/{user}/folders`).
pub fn galsync_folder(folders: &[Value]) -> Result<String, String> {
    let named: Vec<&Value> = folders
        .iter()
        .filter(|folder| {
            folder["displayName"]
                .as_str()
                .is_some_and(|name| name.eq_ignore_ascii_case(FOLDER_NAME))
        })
        .collect();
    match named.as_slice() {
        [folder] => Ok(text(folder, "id")),
        [] => Err(format!("no \"{FOLDER_NAME}\" folder")),
        _ => Err(format!("{} folders named \"{FOLDER_NAME}\"", named.len())),
    }
}

/// Checks one galsync folder's contacts against the directory: exactly one
/// contact per synced user, with the user's current name, title and first
/// business phone; contacts galsync does not own are counted, not judged.
/// Gives the contacts found and the foreign ones.
pub fn check_folder(
    contacts: &[Value],
    expected: &BTreeMap<String, Expected>,
) -> Result<(usize, usize), String> {
    let mut seen = BTreeSet::new();
    let mut foreign = 0;
    for contact in contacts {
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
