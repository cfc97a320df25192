//! The folder galsync writes into: find it (a stored id first, so a folder
//! the user renamed is still found), create it, notice duplicates, delete it
//! on a purge.

use galsync_graph::{BatchRequest, BatchResponse, GraphError, GraphRequest};
use serde_json::{json, Value};
use tracing::{info, warn};

use super::listing::odata_literal;
use super::{encode_query_value, run_batch, MailboxGraph, SubOutcome};
use crate::error::Error;

/// The folder galsync writes into.
#[derive(Debug, Clone, Default)]
pub struct FolderChoice {
    /// `None` only in a dry run, when the folder does not exist yet.
    pub folder_id: Option<String>,
    /// Other folders with the same name, left alone.
    pub duplicate_folder_ids: Vec<String>,
    /// Created by this call: known to be empty, nothing to list.
    pub created: bool,
    /// The answer to the request sent beside the stored folder's check (the
    /// first contacts-delta page), when the stored folder is still there.
    pub probe: Option<BatchResponse>,
}

impl MailboxGraph {
    /// Finds (or, unless `dry_run`, creates) the folder named `folder_name`.
    /// A stored folder id is followed first, so a folder the user renamed is
    /// still found (and renamed back); a deleted one is replaced.
    ///
    /// `probe`, a GET in the stored folder, is sent in the same `$batch` as
    /// the check and answered in [`FolderChoice::probe`]: what the run needs
    /// to read of a folder it trusts costs no call of its own.
    pub async fn resolve_folder(
        &self,
        folder_name: &str,
        stored_folder_id: &str,
        dry_run: bool,
        probe: Option<BatchRequest>,
    ) -> Result<FolderChoice, Error> {
        if !stored_folder_id.is_empty() {
            if let Some(choice) = self
                .follow_stored_folder(folder_name, stored_folder_id, dry_run, probe)
                .await?
            {
                return Ok(choice);
            }
        }
        let mut folder_ids = self.folders_named(folder_name).await?;
        if folder_ids.is_empty() {
            if dry_run {
                return Ok(FolderChoice::default());
            }
            match self.create_folder(folder_name).await {
                // Made meanwhile: by an earlier attempt whose create landed
                // after this one listed the folders (Graph carries out a
                // request whose client went away), or by the user.
                Err(Error::Graph { source, .. })
                    if source
                        .api()
                        .is_some_and(|api| api.code == "ErrorFolderExists") =>
                {
                    info!(mailbox = %self.mailbox_id, folder = %folder_name, "the galsync folder appeared meanwhile, using it");
                    folder_ids = self.folders_named(folder_name).await?;
                    if folder_ids.is_empty() {
                        return Err(self.error(source));
                    }
                }
                created => return created,
            }
        }
        if folder_ids.len() == 1 {
            return Ok(FolderChoice {
                folder_id: folder_ids.pop(),
                ..FolderChoice::default()
            });
        }
        // Several folders share the name: keep the one holding our contacts.
        let mut chosen = folder_ids[0].clone();
        for folder_id in &folder_ids {
            if self.holds_owned_contacts(folder_id).await? {
                chosen = folder_id.clone();
                break;
            }
        }
        let duplicates: Vec<String> = folder_ids.into_iter().filter(|id| *id != chosen).collect();
        warn!(mailbox = %self.mailbox_id, folder = %folder_name, duplicates = duplicates.len(), "several folders share the galsync folder name, keeping the one with galsync contacts");
        Ok(FolderChoice {
            folder_id: Some(chosen),
            duplicate_folder_ids: duplicates,
            created: false,
            probe: None,
        })
    }

    async fn follow_stored_folder(
        &self,
        folder_name: &str,
        folder_id: &str,
        dry_run: bool,
        probe: Option<BatchRequest>,
    ) -> Result<Option<FolderChoice>, Error> {
        let url = format!(
            "/users/{}/contactFolders/{}",
            self.user,
            galsync_graph::path::segment(folder_id)
        );
        // A sub-request, so that the checks of mailboxes reconciled side by
        // side share one call.
        let mut lookup = vec![BatchRequest::get("1", url.clone())];
        if let Some(probe) = probe {
            lookup.push(BatchRequest {
                id: "2".to_owned(),
                ..probe
            });
        }
        let mut answers = run_batch(self, &lookup).await?.into_iter();
        let answer = answers.next();
        let probe = match answers.next() {
            Some(SubOutcome::Answered(response)) => Some(response),
            _ => None,
        };
        let folder = match answer {
            Some(SubOutcome::Answered(response)) if response.is_success() => response
                .json::<Value>()
                .map_err(|source| self.error(source))?,
            Some(SubOutcome::Answered(response)) => match response.api_error() {
                Some(api_error) if api_error.is_not_found() => {
                    info!(mailbox = %self.mailbox_id, "the galsync folder was deleted, finding or creating it again");
                    return Ok(None);
                }
                Some(api_error) => return Err(self.error(GraphError::Api(api_error))),
                None => {
                    return Err(self.error(GraphError::InvalidBatch {
                        reason: format!("the folder check answered status {}", response.status),
                    }))
                }
            },
            _ => {
                return Err(self.error(GraphError::InvalidBatch {
                    reason: "the folder check got no answer".to_owned(),
                }))
            }
        };
        let current_name = folder["displayName"].as_str().unwrap_or_default();
        if current_name != folder_name && !dry_run {
            info!(mailbox = %self.mailbox_id, renamed_to = %current_name, "the galsync folder was renamed, restoring its name");
            let request = GraphRequest::new(reqwest::Method::PATCH, url)
                .with_json(&json!({"displayName": folder_name}))
                .map_err(|error| self.error(error))?;
            if let Err(error) = self.send(request).await {
                warn!(mailbox = %self.mailbox_id, %error, "failed to restore the galsync folder's name, writing into it anyway");
            }
        }
        Ok(Some(FolderChoice {
            folder_id: Some(folder_id.to_owned()),
            probe,
            ..FolderChoice::default()
        }))
    }

    /// The ids of the contact folders named `folder_name`.
    async fn folders_named(&self, folder_name: &str) -> Result<Vec<String>, Error> {
        let filter = encode_query_value(&format!("displayName eq {}", odata_literal(folder_name)));
        let url = format!(
            "/users/{}/contactFolders?$filter={filter}&$top=100",
            self.user
        );
        let listed = self.get_json(&url).await?;
        Ok(listed["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|folder| folder["id"].as_str().map(str::to_owned))
            .collect())
    }

    async fn create_folder(&self, folder_name: &str) -> Result<FolderChoice, Error> {
        let url = format!("/users/{}/contactFolders", self.user);
        let request = GraphRequest::new(reqwest::Method::POST, url)
            .with_json(&json!({"displayName": folder_name}))
            .map_err(|error| self.error(error))?;
        let created = self.send(request).await?;
        let folder: Value = created.json().map_err(|error| self.error(error))?;
        let folder_id = folder["id"].as_str().unwrap_or_default().to_owned();
        info!(mailbox = %self.mailbox_id, folder = %folder_name, "created the galsync folder");
        Ok(FolderChoice {
            folder_id: Some(folder_id),
            duplicate_folder_ids: Vec::new(),
            created: true,
            probe: None,
        })
    }

    async fn holds_owned_contacts(&self, folder_id: &str) -> Result<bool, Error> {
        let url = format!(
            "{}?$top=1&$select=id&$filter={}",
            self.contacts_path(folder_id),
            self.owned_filter()
        );
        let page = self.get_json(&url).await?;
        Ok(page["value"]
            .as_array()
            .is_some_and(|items| !items.is_empty()))
    }

    /// Deletes the folder (purge).
    pub async fn delete_folder(&self, folder_id: &str) -> Result<(), Error> {
        let url = format!(
            "/users/{}/contactFolders/{}",
            self.user,
            galsync_graph::path::segment(folder_id)
        );
        match self.send(GraphRequest::delete(url)).await {
            Ok(_) => Ok(()),
            Err(Error::Graph { source, .. }) if source.is_not_found() => Ok(()),
            Err(error) => Err(error),
        }
    }
}
