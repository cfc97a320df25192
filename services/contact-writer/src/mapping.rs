//! From a directory entry to the contact galsync wants in the mailbox: the
//! profile's field rules, Graph's field names, a normalised form both sides
//! compare in, the content hash, and request bodies.

use std::collections::{BTreeMap, HashMap, HashSet};

use galsync_proto::v1;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The fixed GUID of galsync's extended property set.
pub const GALSYNC_PROPERTY_GUID: &str = "66f5a359-4659-4830-9070-00047ec6ac6e";

/// `String {guid} Name SourceObjectId`: the Entra object id on every contact galsync owns.
pub fn source_property_id() -> String {
    galsync_graph::models::source_object_id_property_id(GALSYNC_PROPERTY_GUID)
}

/// The ownership property's value: the profile that wrote the contact and
/// its source user, `{profile_id}/{source_object_id}`. Two profiles writing
/// one folder never take each other's contacts for their own.
pub fn owner_value(profile_id: &str, source_id: &str) -> String {
    format!("{profile_id}/{source_id}")
}

/// Who owns a contact, read from the ownership property's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `None` for a contact written before values named their profile: the
    /// profile whose store knows it, or whichever finds it, owns it.
    pub profile_id: Option<String>,
    pub source_id: String,
}

impl Owner {
    pub fn parse(value: &str) -> Option<Owner> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        // Source ids are Entra object ids (GUIDs) and profile ids hold no
        // '/': the last '/' separates them.
        Some(match value.rsplit_once('/') {
            Some((profile_id, source_id)) if !source_id.is_empty() => Owner {
                profile_id: Some(profile_id.to_owned()),
                source_id: source_id.to_owned(),
            },
            _ => Owner {
                profile_id: None,
                source_id: value.to_owned(),
            },
        })
    }

    /// Whether a contact owned so may be taken by `profile_id`.
    pub fn belongs_to(&self, profile_id: &str) -> bool {
        self.profile_id
            .as_deref()
            .is_none_or(|owner| owner == profile_id)
    }
}

/// How a Graph contact property is shaped, for clearing and display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Text,
    TextList,
    EmailList,
    Address,
}

/// Every contact property galsync fills, with Graph's names.
const MANAGED_FIELDS: &[(&str, FieldKind)] = &[
    ("displayName", FieldKind::Text),
    ("givenName", FieldKind::Text),
    ("surname", FieldKind::Text),
    ("emailAddresses", FieldKind::EmailList),
    ("businessPhones", FieldKind::TextList),
    ("mobilePhone", FieldKind::Text),
    ("jobTitle", FieldKind::Text),
    ("department", FieldKind::Text),
    ("companyName", FieldKind::Text),
    ("officeLocation", FieldKind::Text),
    ("businessAddress", FieldKind::Address),
    ("manager", FieldKind::Text),
];

/// `$select` for reading contacts back: the managed fields.
pub fn select_list() -> String {
    let names: Vec<&str> = MANAGED_FIELDS.iter().map(|(name, _)| *name).collect();
    names.join(",")
}

/// Field name → normalised value; an empty field is absent.
pub type Fields = BTreeMap<&'static str, Value>;

/// What a profile does with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Overwrite,
    OnlyIfEmpty,
    Never,
}

/// A profile's per-field rules; absent fields are overwritten.
#[derive(Debug, Clone, Default)]
pub struct FieldRules {
    rules: HashMap<String, Rule>,
}

impl FieldRules {
    pub fn from_proto(rules: &HashMap<String, i32>) -> Self {
        let mut parsed = HashMap::new();
        for (field, rule) in rules {
            let rule = match v1::FieldRule::try_from(*rule) {
                Ok(v1::FieldRule::OnlyIfEmpty) => Rule::OnlyIfEmpty,
                Ok(v1::FieldRule::Never) => Rule::Never,
                _ => Rule::Overwrite,
            };
            parsed.insert(field.clone(), rule);
        }
        Self { rules: parsed }
    }

    pub fn rule(&self, field: &str) -> Rule {
        // displayName identifies the contact on a phone; it is always written.
        if field == "displayName" {
            return Rule::Overwrite;
        }
        self.rules.get(field).copied().unwrap_or(Rule::Overwrite)
    }
}

/// The contact galsync wants for one directory entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub source_id: String,
    pub display_name: String,
    /// Fields kept equal to the directory (overwrite; `never` ones held empty).
    pub enforced: Fields,
    /// Fields written only while the contact's own value is empty.
    pub only_if_empty: Fields,
    /// Hash of `enforced`: what change detection compares.
    pub content_hash: String,
    pub photo_hash: String,
}

fn text(value: &str) -> Option<Value> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| Value::String(trimmed.to_owned()))
}

/// The directory's values, normalised, in Graph's names.
pub fn entry_fields(entry: &v1::DirectoryEntry) -> Fields {
    let mut fields = Fields::new();
    let mut put = |name: &'static str, value: Option<Value>| {
        if let Some(value) = value {
            fields.insert(name, value);
        }
    };
    put("displayName", text(&entry.display_name));
    put("givenName", text(&entry.given_name));
    put("surname", text(&entry.surname));
    if text(&entry.mail).is_some() {
        let email = json!([{"name": entry.display_name.trim(), "address": entry.mail.trim()}]);
        put("emailAddresses", normalise(FieldKind::EmailList, &email));
    }
    let phones = Value::Array(
        entry
            .business_phones
            .iter()
            .map(|phone| Value::String(phone.clone()))
            .collect(),
    );
    put("businessPhones", normalise(FieldKind::TextList, &phones));
    put("mobilePhone", text(&entry.mobile_phone));
    put("jobTitle", text(&entry.job_title));
    put("department", text(&entry.department));
    put("companyName", text(&entry.company_name));
    put("officeLocation", text(&entry.office_location));
    if let Some(address) = &entry.business_address {
        let value = json!({
            "street": address.street,
            "city": address.city,
            "state": address.state,
            "postalCode": address.postal_code,
            "countryOrRegion": address.country_or_region,
        });
        put("businessAddress", normalise(FieldKind::Address, &value));
    }
    put("manager", text(&entry.manager_display_name));
    fields
}

/// A Graph contact's managed values (as listed), normalised the same way.
pub fn contact_fields(contact: &Value) -> Fields {
    let mut fields = Fields::new();
    for (name, kind) in MANAGED_FIELDS {
        if let Some(value) = contact.get(*name).and_then(|raw| normalise(*kind, raw)) {
            fields.insert(name, value);
        }
    }
    fields
}

/// One canonical form for both sides; `None` when the value is empty.
fn normalise(kind: FieldKind, raw: &Value) -> Option<Value> {
    match kind {
        FieldKind::Text => raw.as_str().and_then(text),
        FieldKind::TextList => {
            let items: Vec<Value> = raw
                .as_array()?
                .iter()
                .filter_map(|item| item.as_str().and_then(text))
                .collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        FieldKind::EmailList => {
            let mut items = Vec::new();
            for item in raw.as_array()? {
                let Some(address) = item.get("address").and_then(Value::as_str).and_then(text)
                else {
                    continue;
                };
                let mut email = Map::new();
                email.insert("address".to_owned(), address);
                if let Some(name) = item.get("name").and_then(Value::as_str).and_then(text) {
                    email.insert("name".to_owned(), name);
                }
                items.push(Value::Object(email));
            }
            (!items.is_empty()).then_some(Value::Array(items))
        }
        FieldKind::Address => {
            let mut address = Map::new();
            for key in ["street", "city", "state", "postalCode", "countryOrRegion"] {
                if let Some(value) = raw.get(key).and_then(Value::as_str).and_then(text) {
                    address.insert(key.to_owned(), value);
                }
            }
            (!address.is_empty()).then_some(Value::Object(address))
        }
    }
}

/// The desired contacts of a snapshot, one per source id.
pub fn desired_contacts(entries: &[v1::DirectoryEntry], rules: &FieldRules) -> Vec<Desired> {
    let mut seen = HashSet::with_capacity(entries.len());
    let mut desired = Vec::with_capacity(entries.len());
    for entry in entries {
        if entry.source_object_id.is_empty() || !seen.insert(entry.source_object_id.as_str()) {
            continue;
        }
        desired.push(self::desired(entry, rules));
    }
    desired
}

/// The desired contact of `entry` under `rules`.
pub fn desired(entry: &v1::DirectoryEntry, rules: &FieldRules) -> Desired {
    let mut source = entry_fields(entry);
    let mut enforced = Fields::new();
    let mut only_if_empty = Fields::new();
    for (name, _) in MANAGED_FIELDS {
        let Some(value) = source.remove(name) else {
            continue;
        };
        match rules.rule(name) {
            Rule::Overwrite => {
                enforced.insert(name, value);
            }
            Rule::OnlyIfEmpty => {
                only_if_empty.insert(name, value);
            }
            Rule::Never => {}
        }
    }
    Desired {
        source_id: entry.source_object_id.clone(),
        display_name: entry.display_name.trim().to_owned(),
        content_hash: hash_fields(&enforced),
        enforced,
        only_if_empty,
        photo_hash: entry.photo_hash.clone(),
    }
}

/// The hash change detection compares: the contact's values of the fields
/// the rules enforce. Equal to [`Desired::content_hash`] when they match.
pub fn enforced_hash(current: &Fields, rules: &FieldRules) -> String {
    let mut enforced = Fields::new();
    for (name, value) in current {
        if rules.rule(name) == Rule::Overwrite {
            enforced.insert(name, value.clone());
        }
    }
    hash_fields(&enforced)
}

/// Hex SHA-256 of the fields in canonical JSON (keys sorted at every level).
pub fn hash_fields(fields: &Fields) -> String {
    let mut hasher = HashWriter(Sha256::new());
    for (name, value) in fields {
        hasher.0.update(name.as_bytes());
        hasher.0.update([0u8]);
        write_canonical(&mut hasher, value);
        hasher.0.update([0u8]);
    }
    hex::encode(hasher.0.finalize())
}

/// Feeds what is written into the hash, so nothing is built in between.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes `value` as JSON with object keys sorted at every level.
fn write_canonical(out: &mut HashWriter, value: &Value) {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            out.0.update(b"{");
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.0.update(b",");
                }
                write_scalar(out, key);
                out.0.update(b":");
                write_canonical(out, &object[key]);
            }
            out.0.update(b"}");
        }
        Value::Array(items) => {
            out.0.update(b"[");
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.0.update(b",");
                }
                write_canonical(out, item);
            }
            out.0.update(b"]");
        }
        scalar => write_scalar(out, scalar),
    }
}

/// A string or scalar as JSON (writing into a hash cannot fail).
fn write_scalar<T: serde::Serialize + ?Sized>(out: &mut HashWriter, value: &T) {
    let _ = serde_json::to_writer(out, value);
}

/// The POST body: every non-empty desired value plus the ownership
/// property, written straight to JSON text (no tree of values is built).
pub fn create_body(
    desired: &Desired,
    profile_id: &str,
) -> Result<Box<RawValue>, serde_json::Error> {
    serde_json::value::to_raw_value(&CreateBody {
        desired,
        owner: owner_value(profile_id, &desired.source_id),
    })
}

struct CreateBody<'a> {
    desired: &'a Desired,
    owner: String,
}

impl Serialize for CreateBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let desired = self.desired;
        let mut body = serializer.serialize_map(Some(
            desired.enforced.len() + desired.only_if_empty.len() + 1,
        ))?;
        for (name, value) in desired.enforced.iter().chain(desired.only_if_empty.iter()) {
            body.serialize_entry(name, value)?;
        }
        body.serialize_entry(
            "singleValueExtendedProperties",
            &[OwnershipProperty {
                id: source_property_id_ref(),
                value: &self.owner,
            }],
        )?;
        body.end()
    }
}

/// The ownership property as Graph takes it.
#[derive(serde::Serialize)]
struct OwnershipProperty<'a> {
    id: &'a str,
    value: &'a str,
}

fn source_property_id_ref() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(source_property_id)
}

/// A body as JSON text, serialized once.
pub fn raw(body: &Value) -> Result<Box<RawValue>, serde_json::Error> {
    serde_json::value::to_raw_value(body)
}

/// The PATCH body: every enforced field, emptied ones cleared, displayName
/// always; only-if-empty fields when the contact is known to lack them.
/// `claim_for` adds the ownership property for that profile (adoption).
pub fn patch_body(
    desired: &Desired,
    rules: &FieldRules,
    current: Option<&Fields>,
    claim_for: Option<&str>,
) -> Value {
    let mut body = Map::new();
    for (name, kind) in MANAGED_FIELDS {
        match rules.rule(name) {
            Rule::Overwrite | Rule::Never => {
                let value = desired
                    .enforced
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| cleared(*kind));
                body.insert((*name).to_owned(), value);
            }
            Rule::OnlyIfEmpty => {
                let current_is_empty = current.is_some_and(|fields| !fields.contains_key(name));
                if let (true, Some(value)) = (current_is_empty, desired.only_if_empty.get(name)) {
                    body.insert((*name).to_owned(), value.clone());
                }
            }
        }
    }
    if let Some(profile_id) = claim_for {
        body.insert(
            "singleValueExtendedProperties".to_owned(),
            json!([{"id": source_property_id(), "value": owner_value(profile_id, &desired.source_id)}]),
        );
    }
    Value::Object(body)
}

fn cleared(kind: FieldKind) -> Value {
    match kind {
        FieldKind::TextList | FieldKind::EmailList => Value::Array(Vec::new()),
        FieldKind::Text | FieldKind::Address => Value::Null,
    }
}

/// Field-level differences between the contact and what galsync wants.
pub fn diff(desired: &Desired, rules: &FieldRules, current: &Fields) -> Vec<v1::FieldChange> {
    let mut changes = Vec::new();
    for (name, _) in MANAGED_FIELDS {
        let old = current.get(name);
        let new = match rules.rule(name) {
            Rule::Overwrite | Rule::Never => desired.enforced.get(name),
            Rule::OnlyIfEmpty if old.is_none() => desired.only_if_empty.get(name),
            Rule::OnlyIfEmpty => old,
        };
        if old != new {
            changes.push(v1::FieldChange {
                field: (*name).to_owned(),
                old_value: display(old),
                new_value: display(new),
            });
        }
    }
    changes
}

/// A value as an administrator reads it in a plan.
fn display(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return String::new();
    };
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|item| match item {
                    Value::Object(email) => {
                        let address = email.get("address").and_then(Value::as_str).unwrap_or("");
                        match email.get("name").and_then(Value::as_str) {
                            Some(name) => format!("{name} <{address}>"),
                            None => address.to_owned(),
                        }
                    }
                    other => display(Some(other)),
                })
                .collect();
            parts.join("; ")
        }
        Value::Object(address) => {
            let parts: Vec<&str> = ["street", "city", "state", "postalCode", "countryOrRegion"]
                .iter()
                .filter_map(|key| address.get(*key).and_then(Value::as_str))
                .collect();
            parts.join(", ")
        }
        other => other.to_string(),
    }
}

/// Lowercased email addresses of a listed contact (adoption).
pub fn email_addresses(fields: &Fields) -> Vec<String> {
    let Some(Value::Array(items)) = fields.get("emailAddresses") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| item.get("address").and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .collect()
}

#[cfg(test)]
mod tests;
