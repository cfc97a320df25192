//! Contacts inside a mailbox: create, read, update (fields, extended
//! properties, photo), delete, and the change-ordered rows contacts delta reads.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::body::ContactChanges;
use super::model::{change_key, empty_fields, field_index, new_id, Contact, IdKind, Photo};
use super::store::{Mailbox, MailboxError};

/// One row of a delta page.
#[derive(Debug, Clone)]
pub enum DeltaRow<'a> {
    Changed(&'a Contact),
    Removed(String),
}

impl Mailbox {
    /// A contact by id; with `folder_id`, only when it lives in that folder.
    pub fn contact(
        &self,
        contact_id: &str,
        folder_id: Option<&str>,
    ) -> Result<&Contact, MailboxError> {
        let contact = self
            .contacts
            .get(contact_id)
            .ok_or(MailboxError::NotFound)?;
        if folder_id.is_some_and(|folder_id| folder_id != contact.folder_id) {
            return Err(MailboxError::NotFound);
        }
        Ok(contact)
    }

    /// The contacts of a folder in listing (creation) order.
    pub fn folder_contacts(
        &self,
        folder_id: &str,
    ) -> Result<impl Iterator<Item = &Contact>, MailboxError> {
        let entry = self.folders.get(folder_id).ok_or(MailboxError::NotFound)?;
        Ok(entry
            .by_created
            .values()
            .filter_map(|contact_id| self.contacts.get(contact_id)))
    }

    pub fn contact_count(&self, folder_id: &str) -> usize {
        self.folders
            .get(folder_id)
            .map(|entry| entry.by_created.len())
            .unwrap_or(0)
    }

    pub fn create_contact(
        &mut self,
        folder_id: &str,
        changes: ContactChanges,
        now: DateTime<Utc>,
    ) -> Result<&Contact, MailboxError> {
        if !self.folders.contains_key(folder_id) {
            return Err(MailboxError::NotFound);
        }
        let sequence = self.next_sequence();
        let mut contact = Contact {
            id: new_id(&self.tag, IdKind::Contact),
            folder_id: folder_id.to_owned(),
            created: now,
            last_modified: now,
            change_key: change_key(sequence),
            created_sequence: sequence,
            change_sequence: sequence,
            fields: empty_fields(),
            extended_properties: Vec::new(),
            photo: None,
        };
        apply_changes(&mut contact, changes);
        fill_display_name(&mut contact);
        let contact_id = contact.id.clone();
        if let Some(entry) = self.folders.get_mut(folder_id) {
            entry.by_created.insert(sequence, contact_id.clone());
            entry.by_change.insert(sequence, contact_id.clone());
        }
        self.contacts.insert(contact_id.clone(), contact);
        self.contacts.get(&contact_id).ok_or(MailboxError::NotFound)
    }

    /// Applies `edit` to a contact and records the modification for delta.
    fn modify_contact(
        &mut self,
        contact_id: &str,
        folder_id: Option<&str>,
        now: DateTime<Utc>,
        edit: impl FnOnce(&mut Contact),
    ) -> Result<&Contact, MailboxError> {
        self.contact(contact_id, folder_id)?;
        let sequence = self.next_sequence();
        let contact = self
            .contacts
            .get_mut(contact_id)
            .ok_or(MailboxError::NotFound)?;
        edit(contact);
        let previous_sequence = contact.change_sequence;
        contact.change_sequence = sequence;
        contact.change_key = change_key(sequence);
        contact.last_modified = now;
        if let Some(entry) = self.folders.get_mut(&contact.folder_id) {
            entry.by_change.remove(&previous_sequence);
            entry.by_change.insert(sequence, contact_id.to_owned());
        }
        self.contacts.get(contact_id).ok_or(MailboxError::NotFound)
    }

    pub fn update_contact(
        &mut self,
        contact_id: &str,
        folder_id: Option<&str>,
        changes: ContactChanges,
        now: DateTime<Utc>,
    ) -> Result<&Contact, MailboxError> {
        self.modify_contact(contact_id, folder_id, now, |contact| {
            apply_changes(contact, changes)
        })
    }

    pub fn set_photo(
        &mut self,
        contact_id: &str,
        folder_id: Option<&str>,
        photo: Photo,
        now: DateTime<Utc>,
    ) -> Result<&Contact, MailboxError> {
        self.modify_contact(contact_id, folder_id, now, |contact| {
            contact.photo = Some(photo)
        })
    }

    pub fn delete_contact(
        &mut self,
        contact_id: &str,
        folder_id: Option<&str>,
    ) -> Result<(), MailboxError> {
        self.contact(contact_id, folder_id)?;
        let sequence = self.next_sequence();
        let Some(contact) = self.contacts.remove(contact_id) else {
            return Err(MailboxError::NotFound);
        };
        if let Some(entry) = self.folders.get_mut(&contact.folder_id) {
            entry.by_created.remove(&contact.created_sequence);
            entry.by_change.remove(&contact.change_sequence);
            entry.removed.insert(sequence, contact.id);
        }
        Ok(())
    }

    /// Rows of a delta round over `folder_id`: contacts changed in
    /// (`since`, `until`] and, for a follow-up round (`since` > 0), contacts
    /// deleted in that range; ordered by change, after sequence `after`.
    /// Returns the rows and the sequence to continue after when more remain.
    pub fn delta_rows(
        &self,
        folder_id: &str,
        since: u64,
        until: u64,
        after: u64,
        page_size: usize,
    ) -> Result<(Vec<DeltaRow<'_>>, Option<u64>), MailboxError> {
        let entry = self.folders.get(folder_id).ok_or(MailboxError::NotFound)?;
        let lower = since.max(after);
        if lower >= until {
            return Ok((Vec::new(), None));
        }
        let range = (lower + 1)..=until;
        let mut changed = entry.by_change.range(range.clone()).peekable();
        // A first round lists what exists; only follow-up rounds report deletions.
        let mut removed = entry.removed.range(range).peekable();
        let report_removals = since > 0;
        let mut rows = Vec::new();
        let mut last_sequence = lower;
        loop {
            let next_removed = if report_removals {
                removed.peek()
            } else {
                None
            };
            let take_changed = match (changed.peek(), next_removed) {
                (Some((changed_at, _)), Some((removed_at, _))) => changed_at < removed_at,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return Ok((rows, None)),
            };
            if rows.len() == page_size {
                return Ok((rows, Some(last_sequence)));
            }
            if take_changed {
                if let Some((sequence, contact_id)) = changed.next() {
                    last_sequence = *sequence;
                    if let Some(contact) = self.contacts.get(contact_id) {
                        rows.push(DeltaRow::Changed(contact));
                    }
                }
            } else if let Some((sequence, contact_id)) = removed.next() {
                last_sequence = *sequence;
                rows.push(DeltaRow::Removed(contact_id.clone()));
            }
        }
    }
}

fn apply_changes(contact: &mut Contact, changes: ContactChanges) {
    for (index, value) in changes.fields {
        contact.fields[index] = value;
    }
    for property in changes.extended_properties {
        let existing = contact
            .extended_properties
            .iter_mut()
            .find(|stored| stored.id.eq_ignore_ascii_case(&property.id));
        match existing {
            Some(stored) => stored.value = property.value,
            None => contact.extended_properties.push(property),
        }
    }
}

/// Exchange composes a display name from the name parts when none is given.
fn fill_display_name(contact: &mut Contact) {
    let Some(display_index) = field_index("displayName") else {
        return;
    };
    let has_display_name = contact.fields[display_index]
        .as_str()
        .is_some_and(|name| !name.is_empty());
    if has_display_name {
        return;
    }
    let mut parts = Vec::new();
    for name in ["givenName", "middleName", "surname"] {
        if let Some(part) = contact.field(name).and_then(Value::as_str) {
            if !part.is_empty() {
                parts.push(part.to_owned());
            }
        }
    }
    if !parts.is_empty() {
        contact.fields[display_index] = Value::String(parts.join(" "));
    }
}
