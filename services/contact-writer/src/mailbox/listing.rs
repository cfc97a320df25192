//! Listing the folder with the ownership property (documented queries
//! only), reading who owns contacts the store does not know, and looking up
//! one source id.

use std::collections::{HashMap, HashSet};

use galsync_graph::models::Page;
use galsync_graph::{BatchRequest, GraphError, GraphRequest};
use serde_json::Value;
use tracing::info;

use super::{run_batch, MailboxGraph, SubOutcome};
use crate::error::Error;
use crate::mapping::{self, Fields};

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
pub(super) fn odata_literal(value: &str) -> String {
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

impl MailboxGraph {
    /// The `$select` of every contact read: the mapped fields. The ownership
    /// property is never expanded on a collection (see [`Self::list_folder`]).
    pub fn contact_query(&self) -> String {
        format!("$select={}", mapping::select_list())
    }

    /// `$filter` matching the contacts galsync owns in a folder.
    pub(super) fn owned_filter(&self) -> String {
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
    use serde_json::json;

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
