//! Per-mailbox storage: the default Contacts folder, contact folders, contacts,
//! and the change sequence that contacts delta reads.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use uuid::Uuid;

use super::model::{new_id, Contact, Folder, IdKind};
use crate::throttle::mailbox::MailboxThrottle;

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

/// One tenant's mailboxes by user object id.
type TenantMailboxes = HashMap<String, Arc<Mutex<Mailbox>>>;

/// All mailboxes of all tenants, plus the per-app-per-mailbox limits.
#[derive(Debug, Default)]
pub struct MailboxStore {
    mailboxes: RwLock<HashMap<Uuid, TenantMailboxes>>,
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
pub(super) struct FolderEntry {
    pub(super) folder: Folder,
    /// created sequence → contact id (listing order).
    pub(super) by_created: BTreeMap<u64, String>,
    /// change sequence → contact id (delta order).
    pub(super) by_change: BTreeMap<u64, String>,
    /// change sequence of the deletion → deleted contact id.
    pub(super) removed: BTreeMap<u64, String>,
}

#[derive(Debug)]
pub struct Mailbox {
    pub(super) tag: [u8; 8],
    pub root_folder_id: String,
    pub(super) folders: HashMap<String, FolderEntry>,
    pub(super) contacts: HashMap<String, Contact>,
    pub(super) sequence: u64,
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

    pub(super) fn next_sequence(&mut self) -> u64 {
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
