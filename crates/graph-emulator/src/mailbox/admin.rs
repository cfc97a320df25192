//! Mailbox inspection and acting as the mailbox's own user (a phone, Outlook,
//! another tool): no app token, not counted as app requests. These Rust
//! methods on [`MailboxStore`] take the tenant id and the user's object id;
//! [`crate::admin`] serves them as JSON.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::body::{contact_changes, ContactChanges};
use super::model::Projection;
use super::store::{MailboxError, MailboxStore};

/// A folder as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderSummary {
    pub id: String,
    pub display_name: String,
    pub parent_folder_id: String,
    pub contact_count: usize,
    /// True for the mailbox's default Contacts folder.
    pub is_default: bool,
}

/// Why an action as the mailbox's user failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserActionError {
    #[error("no such folder or contact in the mailbox")]
    NotFound,
    #[error("the default contacts folder cannot be renamed or deleted")]
    DistinguishedFolder,
    #[error("invalid contact: {0}")]
    InvalidContact(String),
}

impl From<MailboxError> for UserActionError {
    fn from(error: MailboxError) -> Self {
        match error {
            MailboxError::NotFound | MailboxError::FolderExists => UserActionError::NotFound,
            MailboxError::DistinguishedFolder => UserActionError::DistinguishedFolder,
        }
    }
}

fn user_changes(contact: Value) -> Result<ContactChanges, UserActionError> {
    let Value::Object(object) = contact else {
        return Err(UserActionError::InvalidContact(
            "expected a json object".to_owned(),
        ));
    };
    contact_changes(object).map_err(|error| UserActionError::InvalidContact(error.message))
}

impl MailboxStore {
    /// Every folder of the mailbox, the default Contacts folder first.
    pub fn folders(&self, tenant_id: Uuid, user_id: &str) -> Vec<FolderSummary> {
        self.with(tenant_id, user_id, |mailbox| {
            mailbox
                .all_folders()
                .into_iter()
                .map(|folder| FolderSummary {
                    id: folder.id.clone(),
                    display_name: folder.display_name.clone(),
                    parent_folder_id: folder.parent_folder_id.clone(),
                    contact_count: mailbox.contact_count(&folder.id),
                    is_default: folder.id == mailbox.root_folder_id,
                })
                .collect()
        })
    }

    /// Folders whose display name equals `display_name` (case-insensitive).
    pub fn folders_named(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        display_name: &str,
    ) -> Vec<FolderSummary> {
        self.folders(tenant_id, user_id)
            .into_iter()
            .filter(|folder| folder.display_name.eq_ignore_ascii_case(display_name))
            .collect()
    }

    /// Id of the default Contacts folder.
    pub fn default_folder_id(&self, tenant_id: Uuid, user_id: &str) -> String {
        self.with(tenant_id, user_id, |mailbox| mailbox.root_folder_id.clone())
    }

    /// A folder's contacts exactly as stored, with every extended property.
    pub fn folder_contacts(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        folder_id: &str,
    ) -> Result<Vec<Value>, UserActionError> {
        self.with(tenant_id, user_id, |mailbox| {
            let projection = Projection::everything();
            Ok(mailbox
                .folder_contacts(folder_id)?
                .map(|contact| contact.to_json(&projection))
                .collect())
        })
    }

    /// One contact (any folder) exactly as stored.
    pub fn contact(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        contact_id: &str,
    ) -> Result<Value, UserActionError> {
        self.with(tenant_id, user_id, |mailbox| {
            Ok(mailbox
                .contact(contact_id, None)?
                .to_json(&Projection::everything()))
        })
    }

    pub fn contact_count(&self, tenant_id: Uuid, user_id: &str, folder_id: &str) -> usize {
        self.with(tenant_id, user_id, |mailbox| {
            mailbox.contact_count(folder_id)
        })
    }

    /// Creates a folder as the user would; duplicate names are allowed, as
    /// other clients manage to create them.
    pub fn user_create_folder(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        parent_folder_id: Option<&str>,
        display_name: &str,
    ) -> Result<FolderSummary, UserActionError> {
        self.with(tenant_id, user_id, |mailbox| {
            let parent = parent_folder_id
                .map(str::to_owned)
                .unwrap_or_else(|| mailbox.root_folder_id.clone());
            let folder = mailbox.create_folder(&parent, display_name, true)?;
            Ok(FolderSummary {
                id: folder.id,
                display_name: folder.display_name,
                parent_folder_id: folder.parent_folder_id,
                contact_count: 0,
                is_default: false,
            })
        })
    }

    pub fn user_rename_folder(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        folder_id: &str,
        display_name: &str,
    ) -> Result<FolderSummary, UserActionError> {
        self.with(tenant_id, user_id, |mailbox| {
            let folder = mailbox.rename_folder(folder_id, display_name, true)?;
            Ok(FolderSummary {
                contact_count: mailbox.contact_count(&folder.id),
                id: folder.id,
                display_name: folder.display_name,
                parent_folder_id: folder.parent_folder_id,
                is_default: false,
            })
        })
    }

    /// Deletes a folder with everything in it.
    pub fn user_delete_folder(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        folder_id: &str,
    ) -> Result<(), UserActionError> {
        self.with(tenant_id, user_id, |mailbox| {
            Ok(mailbox.delete_folder(folder_id)?)
        })
    }

    /// Creates a contact (Graph's contact JSON) in a folder, or the default
    /// Contacts folder; returns it as stored.
    pub fn user_create_contact(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        folder_id: Option<&str>,
        contact: Value,
    ) -> Result<Value, UserActionError> {
        let changes = user_changes(contact)?;
        self.with(tenant_id, user_id, |mailbox| {
            let folder = folder_id
                .map(str::to_owned)
                .unwrap_or_else(|| mailbox.root_folder_id.clone());
            Ok(mailbox
                .create_contact(&folder, changes, chrono::Utc::now())?
                .to_json(&Projection::everything()))
        })
    }

    /// Edits a contact as the user would (null clears a field).
    pub fn user_update_contact(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        contact_id: &str,
        patch: Value,
    ) -> Result<Value, UserActionError> {
        let changes = user_changes(patch)?;
        self.with(tenant_id, user_id, |mailbox| {
            Ok(mailbox
                .update_contact(contact_id, None, changes, chrono::Utc::now())?
                .to_json(&Projection::everything()))
        })
    }

    pub fn user_delete_contact(
        &self,
        tenant_id: Uuid,
        user_id: &str,
        contact_id: &str,
    ) -> Result<(), UserActionError> {
        self.with(tenant_id, user_id, |mailbox| {
            Ok(mailbox.delete_contact(contact_id, None)?)
        })
    }
}
