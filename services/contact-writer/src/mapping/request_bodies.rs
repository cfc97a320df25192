//! The request bodies of writes: a create (POST, written straight to JSON
//! text) and an update (PATCH), both carrying the ownership property when
//! the contact is claimed.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::{
    owner_value, source_property_id, Desired, FieldKind, FieldRules, Fields, Rule, MANAGED_FIELDS,
};

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
