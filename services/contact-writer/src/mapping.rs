//! From a directory entry to the contact galsync wants in the mailbox: the
//! profile's field rules, Graph's field names, and a normalised form both
//! sides compare in. Who owns a contact is in `mapping/ownership.rs`, the
//! content hash in `mapping/content_hash.rs`, request bodies in
//! `mapping/request_bodies.rs`, a plan's field changes in
//! `mapping/field_changes.rs`.

mod content_hash;
mod field_changes;
mod ownership;
mod request_bodies;

use std::collections::{BTreeMap, HashMap, HashSet};

use galsync_proto::v1;
use serde_json::{json, Map, Value};

pub use content_hash::{enforced_hash, hash_fields};
pub use field_changes::diff;
pub use ownership::{owner_value, source_property_id, Owner, GALSYNC_PROPERTY_GUID};
pub use request_bodies::{create_body, patch_body, raw};

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
