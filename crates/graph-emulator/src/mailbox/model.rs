//! The stored shape of contact folders and contacts, their Exchange-like ids,
//! and how a contact renders as Graph's `contact` resource.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// How one writable contact property is typed in Graph's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// `Edm.String`, null when unset.
    Text,
    /// `Collection(Edm.String)`, `[]` when unset.
    TextList,
    /// `Collection(microsoft.graph.emailAddress)`, `[]` when unset.
    EmailList,
    /// `microsoft.graph.physicalAddress`, `{}` when unset.
    Address,
    /// `Edm.DateTimeOffset`, null when unset.
    DateTime,
}

/// The writable properties of Graph's v1.0 `contact` resource, in the order
/// Graph renders them.
pub const CONTACT_FIELDS: &[(&str, FieldKind)] = &[
    ("categories", FieldKind::TextList),
    ("birthday", FieldKind::DateTime),
    ("fileAs", FieldKind::Text),
    ("displayName", FieldKind::Text),
    ("givenName", FieldKind::Text),
    ("initials", FieldKind::Text),
    ("middleName", FieldKind::Text),
    ("nickName", FieldKind::Text),
    ("surname", FieldKind::Text),
    ("title", FieldKind::Text),
    ("yomiGivenName", FieldKind::Text),
    ("yomiSurname", FieldKind::Text),
    ("yomiCompanyName", FieldKind::Text),
    ("generation", FieldKind::Text),
    ("imAddresses", FieldKind::TextList),
    ("jobTitle", FieldKind::Text),
    ("companyName", FieldKind::Text),
    ("department", FieldKind::Text),
    ("officeLocation", FieldKind::Text),
    ("profession", FieldKind::Text),
    ("businessHomePage", FieldKind::Text),
    ("assistantName", FieldKind::Text),
    ("manager", FieldKind::Text),
    ("homePhones", FieldKind::TextList),
    ("mobilePhone", FieldKind::Text),
    ("businessPhones", FieldKind::TextList),
    ("spouseName", FieldKind::Text),
    ("personalNotes", FieldKind::Text),
    ("children", FieldKind::TextList),
    ("emailAddresses", FieldKind::EmailList),
    ("homeAddress", FieldKind::Address),
    ("businessAddress", FieldKind::Address),
    ("otherAddress", FieldKind::Address),
];

/// Properties Graph computes; a client may send them but they are ignored.
pub const READ_ONLY_FIELDS: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "parentFolderId",
];

/// Keys of `microsoft.graph.physicalAddress`.
pub const ADDRESS_KEYS: &[&str] = &["street", "city", "state", "countryOrRegion", "postalCode"];

pub fn field_index(name: &str) -> Option<usize> {
    CONTACT_FIELDS
        .iter()
        .position(|(field_name, _)| *field_name == name)
}

/// The value an unset property renders as.
pub fn empty_value(kind: FieldKind) -> Value {
    match kind {
        FieldKind::Text | FieldKind::DateTime => Value::Null,
        FieldKind::TextList | FieldKind::EmailList => Value::Array(Vec::new()),
        FieldKind::Address => Value::Object(Map::new()),
    }
}

pub fn empty_fields() -> Vec<Value> {
    CONTACT_FIELDS
        .iter()
        .map(|(_, kind)| empty_value(*kind))
        .collect()
}

/// One single-value extended property as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedProperty {
    pub id: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct Photo {
    pub bytes: axum::body::Bytes,
    pub content_type: String,
    pub etag: String,
}

#[derive(Debug, Clone)]
pub struct Folder {
    pub id: String,
    pub display_name: String,
    pub parent_folder_id: String,
    /// Creation order, for stable listings.
    pub created_sequence: u64,
}

#[derive(Debug, Clone)]
pub struct Contact {
    pub id: String,
    pub folder_id: String,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub change_key: String,
    pub created_sequence: u64,
    /// Mailbox change sequence of the last modification (delta).
    pub change_sequence: u64,
    /// Values of [`CONTACT_FIELDS`], by index.
    pub fields: Vec<Value>,
    pub extended_properties: Vec<ExtendedProperty>,
    pub photo: Option<Photo>,
}

/// Which properties a rendering includes.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    /// `$select`: indexes into [`CONTACT_FIELDS`] plus read-only names; `None` = all.
    pub select: Option<Vec<String>>,
    /// `$expand=singleValueExtendedProperties(…)`: `None` = not expanded,
    /// `Some(None)` = all, `Some(Some(id))` = the one whose id matches.
    pub extended: Option<Option<String>>,
}

impl Projection {
    /// Everything, extended properties included (the admin view).
    pub fn everything() -> Self {
        Self {
            select: None,
            extended: Some(None),
        }
    }

    fn includes(&self, name: &str) -> bool {
        match &self.select {
            None => true,
            Some(names) => names.iter().any(|selected| selected == name),
        }
    }
}

pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A change key that differs after every modification.
pub fn change_key(sequence: u64) -> String {
    let mut bytes = b"\x0f\x00\x00\x00\x16\x00\x00\x00".to_vec();
    bytes.extend_from_slice(&sequence.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Contact {
    /// Renders the contact as Graph does, limited to `projection`.
    pub fn to_json(&self, projection: &Projection) -> Value {
        serde_json::to_value(ContactView::new(self, projection)).unwrap_or(Value::Null)
    }

    pub fn extended_value(&self, property_id: &str) -> Option<&str> {
        self.extended_properties
            .iter()
            .find(|property| property.id.eq_ignore_ascii_case(property_id))
            .map(|property| property.value.as_str())
    }

    pub fn field(&self, name: &str) -> Option<&Value> {
        field_index(name).map(|index| &self.fields[index])
    }
}

/// A contact rendered straight to JSON (no intermediate `Value`): the hot
/// path of every create, read and update.
#[derive(Debug, Clone, Copy)]
pub struct ContactView<'a> {
    pub contact: &'a Contact,
    pub projection: &'a Projection,
    /// `@odata.context` to put first, when the response carries one.
    pub context: Option<&'a str>,
    /// Adds `"@odata.type": "#microsoft.graph.contact"` (delta rows).
    pub with_type: bool,
}

impl<'a> ContactView<'a> {
    pub fn new(contact: &'a Contact, projection: &'a Projection) -> Self {
        Self {
            contact,
            projection,
            context: None,
            with_type: false,
        }
    }
}

/// The extended properties a projection asks for, as a JSON array.
struct ExtendedView<'a> {
    properties: &'a [ExtendedProperty],
    wanted: &'a Option<String>,
}

impl Serialize for ExtendedView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut sequence = serializer.serialize_seq(None)?;
        for property in self.properties {
            let matches = match self.wanted {
                None => true,
                Some(id) => property.id.eq_ignore_ascii_case(id),
            };
            if matches {
                let mut entry = Map::new();
                entry.insert("id".to_owned(), Value::String(property.id.clone()));
                entry.insert("value".to_owned(), Value::String(property.value.clone()));
                sequence.serialize_element(&entry)?;
            }
        }
        sequence.end()
    }
}

impl Serialize for ContactView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let contact = self.contact;
        let projection = self.projection;
        let mut map = serializer.serialize_map(None)?;
        if let Some(context) = self.context {
            map.serialize_entry("@odata.context", context)?;
        }
        if self.with_type {
            map.serialize_entry("@odata.type", "#microsoft.graph.contact")?;
        }
        map.serialize_entry("@odata.etag", &format!("W/\"{}\"", contact.change_key))?;
        map.serialize_entry("id", &contact.id)?;
        if projection.includes("createdDateTime") {
            map.serialize_entry("createdDateTime", &format_timestamp(contact.created))?;
        }
        if projection.includes("lastModifiedDateTime") {
            map.serialize_entry(
                "lastModifiedDateTime",
                &format_timestamp(contact.last_modified),
            )?;
        }
        if projection.includes("changeKey") {
            map.serialize_entry("changeKey", &contact.change_key)?;
        }
        if projection.includes("parentFolderId") {
            map.serialize_entry("parentFolderId", &contact.folder_id)?;
        }
        for (index, (name, _)) in CONTACT_FIELDS.iter().enumerate() {
            if projection.includes(name) {
                map.serialize_entry(name, &contact.fields[index])?;
            }
        }
        if let Some(wanted) = &projection.extended {
            let view = ExtendedView {
                properties: &contact.extended_properties,
                wanted,
            };
            map.serialize_entry("singleValueExtendedProperties", &view)?;
        }
        map.end()
    }
}

/// A JSON response body from anything serialisable, rendered at once (so it
/// can be built while a mailbox lock is held).
pub fn json_response(
    status: axum::http::StatusCode,
    body: &impl Serialize,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response(),
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

impl Folder {
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "displayName": self.display_name,
            "parentFolderId": self.parent_folder_id,
        })
    }
}

/// Prefix every item and folder id carries, as Exchange ids of a mailbox do.
const ID_PREFIX: &str = "AAMkA";
const ID_PAYLOAD_LEN: usize = 25;

/// Whether an item is a folder or a contact, encoded in its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Folder = 1,
    Contact = 2,
}

/// A new opaque Exchange-like id: the mailbox tag, the kind and 16 random bytes.
pub fn new_id(mailbox_tag: &[u8; 8], kind: IdKind) -> String {
    let mut payload = Vec::with_capacity(ID_PAYLOAD_LEN);
    payload.extend_from_slice(mailbox_tag);
    payload.push(kind as u8);
    let random: [u8; 16] = rand::random();
    payload.extend_from_slice(&random);
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload);
    format!("{ID_PREFIX}{encoded}=")
}

/// False when `id` cannot be an Exchange id at all (Graph answers 400
/// `ErrorInvalidIdMalformed` rather than 404).
pub fn is_well_formed_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix(ID_PREFIX) else {
        return false;
    };
    let Some(encoded) = rest.strip_suffix('=') else {
        return false;
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .is_ok_and(|payload| payload.len() == ID_PAYLOAD_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_well_formed_and_distinct() {
        let tag = [7u8; 8];
        let first = new_id(&tag, IdKind::Contact);
        let second = new_id(&tag, IdKind::Contact);
        assert!(is_well_formed_id(&first));
        assert_ne!(first, second);
        assert!(!is_well_formed_id("nonexistent"));
        assert!(!is_well_formed_id("AAMkA!!!="));
    }
}
