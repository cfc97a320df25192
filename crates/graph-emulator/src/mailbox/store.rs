//! Per-mailbox storage: the default Contacts folder, contact folders, contacts,
//! and the change sequence that contacts delta reads.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::body::ContactChanges;
use super::model::{change_key, empty_fields, field_index, new_id, Contact, Folder, IdKind, Photo};
use super::throttle::MailboxThrottle;

/// Why a mailbox operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxError {
    /// The id is not an item of this mailbox (or not in the addressed folder).
    NotFound,
    /// A sibling folder already has this name.
    FolderExists,
    /// The default Contacts folder cannot be deleted or renamed.
    DistinguishedFolder,
}

/// All mailboxes of all tenants, plus the per-app-per-mailbox limits.
#[derive(Debug, Default)]
pub struct MailboxStore {
    mailboxes: RwLock<HashMap<Uuid, HashMap<String, Arc<Mutex<Mailbox>>>>>,
    pub throttle: MailboxThrottle,
}

impl MailboxStore {
    /// The mailbox of `user_id` (an object id), created empty on first use.
    pub fn open(&self, tenant_id: Uuid, user_id: &str) -> Arc<Mutex<Mailbox>> {
        {
            let mailboxes = self
                .mailboxes
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(mailbox) = mailboxes
                .get(&tenant_id)
                .and_then(|tenant| tenant.get(user_id))
            {
                return mailbox.clone();
            }
        }
        let mut mailboxes = self
            .mailboxes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        mailboxes
            .entry(tenant_id)
            .or_default()
            .entry(user_id.to_owned())
            .or_insert_with(|| Arc::new(Mutex::new(Mailbox::new())))
            .clone()
    }

    /// Runs `operation` with the mailbox locked.
    pub fn with<T>(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        operation: impl FnOnce(&mut Mailbox) -> T,
    ) -> T {
        let mailbox = self.open(tenant_id, user_id);
        let mut guard = lock(&mailbox);
        operation(&mut guard)
    }
}

pub fn lock(mailbox: &Mutex<Mailbox>) -> MutexGuard<'_, Mailbox> {
    mailbox
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A folder with the indexes its listings and delta read.
#[derive(Debug)]
struct FolderEntry {
    folder: Folder,
    /// created sequence → contact id (listing order).
    by_created: BTreeMap<u64, String>,
    /// change sequence → contact id (delta order).
    by_change: BTreeMap<u64, String>,
    /// change sequence of the deletion → deleted contact id.
    removed: BTreeMap<u64, String>,
}

/// One row of a delta page.
#[derive(Debug, Clone)]
pub enum DeltaRow<'a> {
    Changed(&'a Contact),
    Removed(String),
}

#[derive(Debug)]
pub struct Mailbox {
    tag: [u8; 8],
    pub root_folder_id: String,
    folders: HashMap<String, FolderEntry>,
    contacts: HashMap<String, Contact>,
    sequence: u64,
}

impl Default for Mailbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Mailbox {
    pub fn new() -> Self {
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&Uuid::new_v4().as_bytes()[..8]);
        let root_folder_id = new_id(&tag, IdKind::Folder);
        let mut mailbox = Self {
            tag,
            root_folder_id: root_folder_id.clone(),
            folders: HashMap::new(),
            contacts: HashMap::new(),
            sequence: 0,
        };
        // The default Contacts folder sits under the (unexposed) mailbox root.
        let root = Folder {
            id: root_folder_id.clone(),
            display_name: "Contacts".to_owned(),
            parent_folder_id: new_id(&tag, IdKind::Folder),
            created_sequence: 0,
        };
        mailbox
            .folders
            .insert(root_folder_id, FolderEntry::new(root));
        mailbox
    }

    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    /// The current change sequence (a delta round's upper bound).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    pub fn folder(&self, folder_id: &str) -> Result<&Folder, MailboxError> {
        self.folders
            .get(folder_id)
            .map(|entry| &entry.folder)
            .ok_or(MailboxError::NotFound)
    }

    /// Every folder, the default Contacts folder first, then in creation order.
    pub fn all_folders(&self) -> Vec<&Folder> {
        let mut folders: Vec<&Folder> = self.folders.values().map(|entry| &entry.folder).collect();
        folders.sort_by_key(|folder| folder.created_sequence);
        folders
    }

    /// Direct children of `parent_id`, in creation order.
    pub fn child_folders(&self, parent_id: &str) -> Vec<&Folder> {
        let mut folders: Vec<&Folder> = self
            .folders
            .values()
            .map(|entry| &entry.folder)
            .filter(|folder| folder.parent_folder_id == parent_id)
            .collect();
        folders.sort_by_key(|folder| folder.created_sequence);
        folders
    }

    fn sibling_named(&self, parent_id: &str, name: &str, except: &str) -> bool {
        self.folders.values().any(|entry| {
            entry.folder.parent_folder_id == parent_id
                && entry.folder.id != except
                && entry.folder.display_name.eq_ignore_ascii_case(name)
        })
    }

    /// Creates a folder under `parent_id`. Graph refuses a duplicate sibling
    /// name; the mailbox's own user (other clients) can make duplicates.
    pub fn create_folder(
        &mut self,
        parent_id: &str,
        display_name: &str,
        allow_duplicate: bool,
    ) -> Result<Folder, MailboxError> {
        self.folder(parent_id)?;
        if !allow_duplicate && self.sibling_named(parent_id, display_name, "") {
            return Err(MailboxError::FolderExists);
        }
        let folder = Folder {
            id: new_id(&self.tag, IdKind::Folder),
            display_name: display_name.to_owned(),
            parent_folder_id: parent_id.to_owned(),
            created_sequence: self.next_sequence(),
        };
        self.folders
            .insert(folder.id.clone(), FolderEntry::new(folder.clone()));
        Ok(folder)
    }

    pub fn rename_folder(
        &mut self,
        folder_id: &str,
        display_name: &str,
        allow_duplicate: bool,
    ) -> Result<Folder, MailboxError> {
        if folder_id == self.root_folder_id {
            return Err(MailboxError::DistinguishedFolder);
        }
        let parent_id = self.folder(folder_id)?.parent_folder_id.clone();
        if !allow_duplicate && self.sibling_named(&parent_id, display_name, folder_id) {
            return Err(MailboxError::FolderExists);
        }
        let entry = self
            .folders
            .get_mut(folder_id)
            .ok_or(MailboxError::NotFound)?;
        entry.folder.display_name = display_name.to_owned();
        Ok(entry.folder.clone())
    }

    /// Deletes a folder with its subfolders and their contacts.
    pub fn delete_folder(&mut self, folder_id: &str) -> Result<(), MailboxError> {
        if folder_id == self.root_folder_id {
            return Err(MailboxError::DistinguishedFolder);
        }
        self.folder(folder_id)?;
        let mut pending = vec![folder_id.to_owned()];
        while let Some(current) = pending.pop() {
            for child in self.child_folders(&current) {
                pending.push(child.id.clone());
            }
            if let Some(entry) = self.folders.remove(&current) {
                for contact_id in entry.by_created.values() {
                    self.contacts.remove(contact_id);
                }
            }
        }
        Ok(())
    }

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

impl FolderEntry {
    fn new(folder: Folder) -> Self {
        Self {
            folder,
            by_created: BTreeMap::new(),
            by_change: BTreeMap::new(),
            removed: BTreeMap::new(),
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
