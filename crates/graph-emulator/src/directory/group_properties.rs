//! Graph's group properties: names, filterability, default set, rendering.

use serde_json::{json, Map, Value};

use super::model::Group;
use super::properties::{optional, Filterable};

/// Group properties Graph knows, with their filterability.
pub const GROUP_PROPERTIES: &[(&str, Filterable)] = &[
    ("id", Filterable::Yes),
    ("displayName", Filterable::Yes),
    ("description", Filterable::AdvancedOnly),
    ("mail", Filterable::Yes),
    ("mailNickname", Filterable::Yes),
    ("mailEnabled", Filterable::Yes),
    ("securityEnabled", Filterable::Yes),
    ("groupTypes", Filterable::No),
    ("visibility", Filterable::No),
    ("createdDateTime", Filterable::AdvancedOnly),
];

/// Graph's default group properties (a subset of what Graph returns by default).
pub const DEFAULT_GROUP_SELECT: &[&str] = &[
    "id",
    "createdDateTime",
    "description",
    "displayName",
    "groupTypes",
    "mail",
    "mailEnabled",
    "mailNickname",
    "securityEnabled",
    "visibility",
];

/// Canonical spelling of a group property, or `None` when unknown.
pub fn group_property(name: &str) -> Option<&'static str> {
    GROUP_PROPERTIES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(known, _)| *known)
}

pub fn group_property_value(group: &Group, name: &str) -> Value {
    match name {
        "id" => Value::String(group.id.to_string()),
        "displayName" => Value::String(group.display_name.clone()),
        "description" => optional(&group.description),
        "mail" => optional(&group.mail),
        "mailNickname" => Value::String(group.mail_nickname.clone()),
        "mailEnabled" => Value::Bool(group.mail_enabled),
        "securityEnabled" => Value::Bool(group.security_enabled),
        "groupTypes" => json!(group.group_types),
        "visibility" => {
            if group.group_types.iter().any(|kind| kind == "Unified") {
                Value::String("Private".to_owned())
            } else {
                Value::Null
            }
        }
        "createdDateTime" => Value::String(
            group
                .created
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        _ => Value::Null,
    }
}

pub fn render_group(group: &Group, selection: Option<&[&'static str]>) -> Map<String, Value> {
    let names = selection.unwrap_or(DEFAULT_GROUP_SELECT);
    let mut object = Map::new();
    for name in names {
        object.insert((*name).to_owned(), group_property_value(group, name));
    }
    object
}
