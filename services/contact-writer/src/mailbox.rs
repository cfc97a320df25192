//! One mailbox through Graph, every request paced: the folder (find, create,
//! survive deletion and renames, duplicates), listing the folder with the
//! ownership property (documented queries only), looking up one source id,
//! and `$batch` calls.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use galsync_graph::models::Page;
use galsync_graph::{BatchRequest, BatchResponse, GraphClient, GraphError, GraphRequest};
use serde_json::{json, Value};
use tracing::{info, warn};

use self::batches::MAX_THROTTLED_ROUNDS;
use crate::coalesce::Coalescer;
use crate::concurrency::MailboxConcurrency;
use crate::error::Error;
use crate::mapping::{self, Fields};
use crate::pacing::{MailboxPacer, Throttled};

mod batches;

pub(crate) use batches::{run_batch, SubOutcome};

/// Outlook's largest page.
const PAGE_SIZE: usize = 1000;

/// Percent-encodes a query value (OData expressions hold spaces, quotes, braces).
pub fn encode_query_value(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len() * 2);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// An OData string literal (single quotes doubled).
fn odata_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A contact as listed from the folder.
#[derive(Debug, Clone)]
pub struct ListedContact {
    pub contact_id: String,
    /// The ownership property's value; `None` for contacts galsync does not own.
    pub source_id: Option<String>,
    pub fields: Fields,
}

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

/// What one reconciliation sent, counted by the mailbox itself: a batch
/// shared with other mailboxes is one HTTP request of the run that sent it
/// (its client's stats), while each run counts its own sub-requests here.
#[derive(Debug, Default)]
pub struct Tally {
    pub sub_requests: AtomicU64,
    /// Sub-requests sent again after throttling or a transient failure.
    pub retries: AtomicU64,
}

impl Tally {
    pub fn sub_requests(&self) -> u64 {
        self.sub_requests.load(Ordering::Relaxed)
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

/// Graph for one mailbox, paced.
#[derive(Debug, Clone)]
pub struct MailboxGraph {
    pub graph: GraphClient,
    pub pacer: Arc<MailboxPacer>,
    pub mailbox_id: String,
    /// The mailbox as it goes into Graph paths (checked, encoded).
    pub user: galsync_graph::UserKey,
    /// The tenant's shared `$batch` calls.
    pub batches: Arc<Coalescer>,
    pub tally: Arc<Tally>,
    /// Told of app-wide throttling, so the writer drives fewer mailboxes.
    pub concurrency: Arc<MailboxConcurrency>,
}

impl MailboxGraph {
    /// Tells the writer's mailbox concurrency of a throttle that is not this
    /// mailbox's own limit.
    fn note_throttle(&self, api: &galsync_graph::ApiError) {
        if let Some(retry_after) = api.retry_after.filter(|_| api.is_app_wide_throttle()) {
            self.concurrency.app_throttled(retry_after);
        }
    }

    /// Sets the request counts of what this mailbox sent so far.
    pub fn count_requests(&self, counts: &mut galsync_proto::v1::SyncCounts) {
        let stats = self.graph.stats();
        counts.graph_requests = stats.requests();
        counts.batched_requests = self.tally.sub_requests();
        counts.retries = stats.retries() + self.tally.retries();
    }

    fn error(&self, source: GraphError) -> Error {
        Error::from_graph(&self.mailbox_id, source)
    }

    /// One paced request. Throttling comes back here rather than being
    /// retried inside the Graph client, so the mailbox's pacer holds every
    /// sender to it (batches too) for the Retry-After, then this request is
    /// sent again.
    pub async fn send(&self, request: GraphRequest) -> Result<galsync_graph::GraphResponse, Error> {
        let request = request.with_throttling_to_caller();
        let mut throttled_rounds = 0;
        loop {
            let permit = self.pacer.acquire(1).await;
            let result = self.graph.send(request.clone()).await;
            let (throttled, server_retry_after) = match &result {
                Err(error) => match error.api() {
                    Some(api) if api.is_throttled() => {
                        self.note_throttle(api);
                        // Without a Retry-After: back off, doubling.
                        let retry_after = api
                            .retry_after
                            .unwrap_or_else(|| Duration::from_secs(1 << throttled_rounds.min(6)));
                        (
                            Some(Throttled {
                                refused: 1,
                                retry_after,
                            }),
                            None,
                        )
                    }
                    Some(api) => (None, api.retry_after),
                    None => (None, None),
                },
                Ok(_) => (None, None),
            };
            let again = throttled.is_some() && throttled_rounds < MAX_THROTTLED_ROUNDS;
            self.pacer.finish(permit, throttled);
            if let Some(delay) = server_retry_after {
                self.pacer.pause(delay);
            }
            if again {
                throttled_rounds += 1;
                self.tally.retries.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            return result.map_err(|error| self.error(error));
        }
    }

    async fn get_json(&self, url: &str) -> Result<Value, Error> {
        let response = self.send(GraphRequest::get(url)).await?;
        response.json().map_err(|error| self.error(error))
    }

    /// One paced `$batch`, shared with other mailboxes' when that saves a
    /// round trip (no sub-request retry: the caller decides). The longest
    /// sub-response Retry-After holds the whole mailbox, exactly that long;
    /// only throttling (429) answers cut the mailbox's rate, once per batch.
    pub async fn batch(
        &self,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, GraphError> {
        let count = requests.len() as u32;
        let permit = self.pacer.acquire(count).await;
        self.tally
            .sub_requests
            .fetch_add(u64::from(count), Ordering::Relaxed);
        let result = self.batches.batch(&self.graph, requests).await;
        let mut throttled: Option<Throttled> = None;
        let mut server_retry_after: Option<Duration> = None;
        match &result {
            Ok(responses) => {
                for response in responses {
                    let Some(retry_after) = response.retry_after() else {
                        continue;
                    };
                    let api_error = response.api_error();
                    if let Some(api_error) = &api_error {
                        self.note_throttle(api_error);
                    }
                    let is_throttled = api_error.is_some_and(|api_error| api_error.is_throttled());
                    if !is_throttled {
                        server_retry_after = server_retry_after.max(Some(retry_after));
                        continue;
                    }
                    let event = throttled.get_or_insert(Throttled {
                        refused: 0,
                        retry_after,
                    });
                    event.refused += 1;
                    event.retry_after = event.retry_after.max(retry_after);
                }
            }
            Err(error) => match error.api() {
                Some(api) if api.is_throttled() => {
                    self.note_throttle(api);
                    throttled = api.retry_after.map(|retry_after| Throttled {
                        refused: count,
                        retry_after,
                    });
                }
                Some(api) => server_retry_after = api.retry_after,
                None => {}
            },
        }
        if result.is_ok() && throttled.is_none() {
            self.concurrency.progressed();
        }
        self.pacer.finish(permit, throttled);
        if let Some(delay) = server_retry_after {
            self.pacer.pause(delay);
        }
        result
    }

    pub fn contacts_path(&self, folder_id: &str) -> String {
        format!(
            "/users/{}/contactFolders/{}/contacts",
            self.user,
            galsync_graph::path::segment(folder_id)
        )
    }

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

    /// The `$select` of every contact read: the mapped fields. The ownership
    /// property is never expanded on a collection (see [`Self::list_folder`]).
    pub fn contact_query(&self) -> String {
        format!("$select={}", mapping::select_list())
    }

    /// `$filter` matching the contacts galsync owns in a folder.
    fn owned_filter(&self) -> String {
        encode_query_value(&format!(
            "singleValueExtendedProperties/Any(ep: ep/id eq {})",
            odata_literal(&mapping::source_property_id())
        ))
    }

    /// A sub-request telling whether the folder holds exactly `expected`
    /// contacts galsync owns: the owned filter, `$skip` of all but the last
    /// expected one and `$top=2` answer exactly one contact then, none when
    /// some were deleted, two when there are more. One request whatever the
    /// folder's size, only OData options the contacts list documents.
    pub fn owned_count_probe(&self, folder_id: &str, expected: usize) -> BatchRequest {
        let url = format!(
            "{}?$select=id&$filter={}&$top=2&$skip={}",
            self.contacts_path(folder_id),
            self.owned_filter(),
            expected.saturating_sub(1)
        );
        BatchRequest::get("1", url)
    }

    /// The contacts of the folder with their ownership: galsync's own (the
    /// `$filter` on the ownership property) and, with `with_unowned`, every
    /// other contact too (`source_id` `None`).
    ///
    /// singlevaluelegacyextendedproperty-get documents reading the property
    /// with `$expand` on a single contact only, and filtering a collection
    /// on it. So the listing filters, and an owned contact's source id comes
    /// from `source_by_contact` (the store's rows, by contact id); only the
    /// owned contacts it does not know are read one by one with the property
    /// expanded, 20 to a `$batch` — after a lost store, not on a normal run.
    ///
    /// A contact whose property names another profile is that profile's:
    /// left out, neither owned nor adoptable.
    pub async fn list_folder(
        &self,
        folder_id: &str,
        profile_id: &str,
        source_by_contact: &HashMap<String, String>,
        with_unowned: bool,
    ) -> Result<Vec<ListedContact>, Error> {
        let contacts_path = self.contacts_path(folder_id);
        let owned_url = format!(
            "{contacts_path}?$top={PAGE_SIZE}&{}&$filter={}",
            self.contact_query(),
            self.owned_filter()
        );
        let owned = self.all_pages(owned_url).await?;
        let owned_ids: HashSet<String> = owned
            .iter()
            .filter_map(|contact| contact["id"].as_str().map(str::to_owned))
            .collect();
        let unknown_ids: Vec<String> = owned_ids
            .iter()
            .filter(|contact_id| !source_by_contact.contains_key(*contact_id))
            .cloned()
            .collect();
        let read_back = self.read_owners(folder_id, &unknown_ids).await?;
        let mut listed = Vec::with_capacity(owned.len());
        for contact in &owned {
            let mut entry = listed_contact(contact);
            entry.source_id = match source_by_contact.get(&entry.contact_id) {
                Some(source_id) => Some(source_id.clone()),
                None => read_back
                    .get(&entry.contact_id)
                    .filter(|owner| owner.belongs_to(profile_id))
                    .map(|owner| owner.source_id.clone()),
            };
            // Another profile's, or gone since the listing: not ours.
            if entry.source_id.is_some() {
                listed.push(entry);
            }
        }
        if with_unowned {
            let all_url = format!("{contacts_path}?$top={PAGE_SIZE}&{}", self.contact_query());
            for contact in self.all_pages(all_url).await? {
                let contact_id = contact["id"].as_str().unwrap_or_default();
                if owned_ids.contains(contact_id) {
                    continue;
                }
                let mut entry = listed_contact(&contact);
                entry.source_id = None;
                listed.push(entry);
            }
        }
        Ok(listed)
    }

    /// The ids of the folder's contacts: all of them, or with `owned_by`
    /// those whose ownership property is set (`None`) or names that profile.
    pub async fn contact_ids(
        &self,
        folder_id: &str,
        owned_by: Option<Option<&str>>,
    ) -> Result<Vec<String>, Error> {
        let mut url = format!(
            "{}?$top={PAGE_SIZE}&$select=id",
            self.contacts_path(folder_id)
        );
        match owned_by {
            None => {}
            Some(None) => url.push_str(&format!("&$filter={}", self.owned_filter())),
            Some(Some(profile_id)) => {
                // singlevaluelegacyextendedproperty-get: a string value
                // takes contains, startswith, eq or ne.
                let filter = encode_query_value(&format!(
                    "singleValueExtendedProperties/Any(ep: ep/id eq {} and startswith(ep/value, {}))",
                    odata_literal(&mapping::source_property_id()),
                    odata_literal(&mapping::owner_value(profile_id, ""))
                ));
                url.push_str(&format!("&$filter={filter}"));
            }
        }
        Ok(self
            .all_pages(url)
            .await?
            .iter()
            .filter_map(|contact| contact["id"].as_str().map(str::to_owned))
            .collect())
    }

    async fn all_pages(&self, first_url: String) -> Result<Vec<Value>, Error> {
        let mut contacts = Vec::new();
        let mut next_url = Some(first_url);
        while let Some(url) = next_url {
            let response = self.send(GraphRequest::get(url)).await?;
            let page: Page<Value> = response.json().map_err(|error| self.error(error))?;
            contacts.extend(page.value);
            next_url = page.next_link;
        }
        Ok(contacts)
    }

    /// The owner of each contact id, read one contact at a time with the
    /// ownership property expanded (the documented form), 20 to a `$batch`.
    /// A contact gone meanwhile is left out.
    async fn read_owners(
        &self,
        folder_id: &str,
        contact_ids: &[String],
    ) -> Result<HashMap<String, mapping::Owner>, Error> {
        let mut sources = HashMap::with_capacity(contact_ids.len());
        if contact_ids.is_empty() {
            return Ok(sources);
        }
        info!(mailbox = %self.mailbox_id, contacts = contact_ids.len(), "reading the ownership of contacts the store does not know");
        let expand = encode_query_value(&format!(
            "singleValueExtendedProperties($filter=id eq {})",
            odata_literal(&mapping::source_property_id())
        ));
        let contacts_path = self.contacts_path(folder_id);
        for chunk in contact_ids.chunks(galsync_graph::MAX_BATCH_REQUESTS) {
            let requests: Vec<BatchRequest> = chunk
                .iter()
                .enumerate()
                .map(|(index, contact_id)| {
                    BatchRequest::get(
                        (index + 1).to_string(),
                        format!(
                            "{contacts_path}/{}?$select=id&$expand={expand}",
                            galsync_graph::path::segment(contact_id)
                        ),
                    )
                })
                .collect();
            let answers = run_batch(self, &requests).await?;
            for (contact_id, answer) in chunk.iter().zip(answers) {
                let SubOutcome::Answered(response) = answer else {
                    return Err(self.error(GraphError::InvalidBatch {
                        reason: format!("reading contact {contact_id} got no answer"),
                    }));
                };
                if !response.is_success() {
                    match response.api_error() {
                        Some(api_error) if api_error.is_not_found() => continue,
                        Some(api_error) => return Err(self.error(GraphError::Api(api_error))),
                        None => {
                            return Err(self.error(GraphError::InvalidBatch {
                                reason: format!(
                                    "reading contact {contact_id} answered status {}",
                                    response.status
                                ),
                            }))
                        }
                    }
                }
                let contact: Value = response.json().map_err(|error| self.error(error))?;
                if let Some(owner) = source_property(&contact)
                    .as_deref()
                    .and_then(mapping::Owner::parse)
                {
                    sources.insert(contact_id.clone(), owner);
                }
            }
        }
        Ok(sources)
    }

    /// A sub-request finding the contacts owned for `source_id` in the folder
    /// (the documented `$filter` on the ownership property; the property
    /// itself is not returned — the filter vouches for its value).
    pub fn lookup_request(
        &self,
        id: String,
        folder_id: &str,
        profile_id: &str,
        source_id: &str,
    ) -> BatchRequest {
        let filter = encode_query_value(&format!(
            "singleValueExtendedProperties/Any(ep: ep/id eq {} and ep/value eq {})",
            odata_literal(&mapping::source_property_id()),
            odata_literal(&mapping::owner_value(profile_id, source_id))
        ));
        let url = format!(
            "{}?$top=10&{}&$filter={filter}",
            self.contacts_path(folder_id),
            self.contact_query()
        );
        BatchRequest::get(id, url)
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

    /// Backoff without a Retry-After before sending failed sub-requests
    /// again: only the caller waits. A server error of one request is not a
    /// signal about the mailbox, so the other writes to it go on.
    pub async fn back_off(&self, retry_number: u32) -> Duration {
        let delay = galsync_graph::RetryPolicy::default().backoff_delay(retry_number);
        tokio::time::sleep(delay).await;
        delay
    }
}

/// The ownership property's value in a contact read with it expanded.
pub fn source_property(contact: &Value) -> Option<String> {
    let property_id = mapping::source_property_id();
    contact["singleValueExtendedProperties"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|property| {
            property["id"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(&property_id))
        })
        .and_then(|property| property["value"].as_str())
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// A contact JSON as the writer sees it (`source_id` from the property when
/// the contact was read with it expanded).
pub fn listed_contact(contact: &Value) -> ListedContact {
    ListedContact {
        contact_id: contact["id"].as_str().unwrap_or_default().to_owned(),
        source_id: source_property(contact)
            .as_deref()
            .and_then(mapping::Owner::parse)
            .map(|owner| owner.source_id),
        fields: mapping::contact_fields(contact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odata_expressions_are_fully_percent_encoded() {
        let encoded = encode_query_value("displayName eq 'O''Brien {x}'");
        assert_eq!(encoded, "displayName%20eq%20%27O%27%27Brien%20%7Bx%7D%27");
        assert_eq!(odata_literal("O'Brien"), "'O''Brien'");
    }

    #[test]
    fn only_contacts_carrying_the_property_are_owned() {
        let owned = json!({"id": "c1", "displayName": "Ada",
            "singleValueExtendedProperties": [{"id": mapping::source_property_id().to_lowercase(), "value": "p1/u1"}]});
        let foreign = json!({"id": "c2", "displayName": "Bob"});
        assert_eq!(listed_contact(&owned).source_id.as_deref(), Some("u1"));
        assert_eq!(listed_contact(&foreign).source_id, None);
    }
}
