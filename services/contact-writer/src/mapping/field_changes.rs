//! A plan's field changes: what differs between a contact and what galsync
//! wants, as an administrator reads it.

use galsync_proto::v1;
use serde_json::Value;

use super::{Desired, FieldRules, Fields, Rule, MANAGED_FIELDS};

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
