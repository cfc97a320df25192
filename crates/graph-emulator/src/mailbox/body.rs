//! Reading POST/PATCH bodies of contacts and folders the way Graph's OData
//! reader does: unknown properties and wrongly typed values are 400
//! `RequestBodyRead`; unparsable JSON is 400 `BadRequest`.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::model::{
    field_index, ExtendedProperty, FieldKind, ADDRESS_KEYS, CONTACT_FIELDS, READ_ONLY_FIELDS,
};
use crate::errors::GraphError;

/// The changes one contact body asks for.
#[derive(Debug, Default, Clone)]
pub struct ContactChanges {
    /// (index into `CONTACT_FIELDS`, normalised value); null values clear.
    pub fields: Vec<(usize, Value)>,
    pub extended_properties: Vec<ExtendedProperty>,
}

fn body_read_error(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "RequestBodyRead", message)
}

/// Parses a request body that must be a JSON object.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, GraphError> {
    let unreadable = || {
        GraphError::bad_request(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(unreadable());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(body_read_error(
            "An unexpected 'PrimitiveValue' node was found when reading from the JSON reader. A 'StartObject' node was expected.",
        )),
        Err(_) => Err(unreadable()),
    }
}

/// Validates a contact body into the changes it asks for.
pub fn contact_changes(body: Map<String, Value>) -> Result<ContactChanges, GraphError> {
    let mut changes = ContactChanges::default();
    for (name, value) in body {
        if name.starts_with("@odata.") || READ_ONLY_FIELDS.contains(&name.as_str()) {
            continue;
        }
        if name == "singleValueExtendedProperties" {
            changes.extended_properties = extended_properties(value)?;
            continue;
        }
        let Some(index) = field_index(&name) else {
            return Err(body_read_error(format!(
                "The property '{name}' does not exist on type 'microsoft.graph.contact'. Make sure to only use property names that are defined by the type or mark the type as open type."
            )));
        };
        let kind = CONTACT_FIELDS[index].1;
        changes.fields.push((index, normalise(&name, kind, value)?));
    }
    Ok(changes)
}

fn normalise(name: &str, kind: FieldKind, value: Value) -> Result<Value, GraphError> {
    if value.is_null() {
        return Ok(super::model::empty_value(kind));
    }
    match kind {
        FieldKind::Text => text(value).map(Value::String),
        FieldKind::DateTime => {
            let literal = text(value)?;
            match chrono::DateTime::parse_from_rfc3339(&literal) {
                Ok(parsed) => Ok(Value::String(super::model::format_timestamp(
                    parsed.with_timezone(&chrono::Utc),
                ))),
                Err(_) => Err(body_read_error(format!(
                    "Cannot convert the literal '{literal}' to the expected type 'Edm.DateTimeOffset'."
                ))),
            }
        }
        FieldKind::TextList => {
            let mut items = Vec::new();
            for item in array(name, value)? {
                items.push(Value::String(text(item)?));
            }
            Ok(Value::Array(items))
        }
        FieldKind::EmailList => {
            let mut items = Vec::new();
            for item in array(name, value)? {
                items.push(email_address(item)?);
            }
            Ok(Value::Array(items))
        }
        FieldKind::Address => physical_address(value),
    }
}

fn text(value: Value) -> Result<String, GraphError> {
    match value {
        Value::String(text) => Ok(text),
        Value::Array(_) => Err(body_read_error(
            "An unexpected 'StartArray' node was found when reading from the JSON reader. A 'PrimitiveValue' node was expected.",
        )),
        Value::Object(_) => Err(body_read_error(
            "An unexpected 'StartObject' node was found when reading from the JSON reader. A 'PrimitiveValue' node was expected.",
        )),
        other => Err(body_read_error(format!(
            "Cannot convert the literal '{other}' to the expected type 'Edm.String'."
        ))),
    }
}

fn array(name: &str, value: Value) -> Result<Vec<Value>, GraphError> {
    match value {
        Value::Array(items) => Ok(items),
        _ => Err(body_read_error(format!(
            "A node of type 'PrimitiveValue' was read from the JSON reader when trying to read the contents of the property '{name}'; however, a 'StartArray' node was expected."
        ))),
    }
}

fn object(value: Value) -> Result<Map<String, Value>, GraphError> {
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(body_read_error(
            "An unexpected 'PrimitiveValue' node was found when reading from the JSON reader. A 'StartObject' node was expected.",
        )),
    }
}

fn optional_text(value: Option<Value>) -> Result<Value, GraphError> {
    match value {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(other) => text(other).map(Value::String),
    }
}

fn email_address(value: Value) -> Result<Value, GraphError> {
    let mut fields = object(value)?;
    for key in fields.keys() {
        if key != "name" && key != "address" && !key.starts_with("@odata.") {
            return Err(body_read_error(format!(
                "The property '{key}' does not exist on type 'microsoft.graph.emailAddress'. Make sure to only use property names that are defined by the type or mark the type as open type."
            )));
        }
    }
    let address = optional_text(fields.remove("address"))?;
    let mut name = optional_text(fields.remove("name"))?;
    // Exchange shows the address as the name when none is given.
    if name.is_null() {
        name = address.clone();
    }
    Ok(serde_json::json!({"name": name, "address": address}))
}

fn physical_address(value: Value) -> Result<Value, GraphError> {
    let fields = object(value)?;
    let mut normalised = Map::new();
    for (key, item) in fields {
        if key.starts_with("@odata.") {
            continue;
        }
        if !ADDRESS_KEYS.contains(&key.as_str()) {
            return Err(body_read_error(format!(
                "The property '{key}' does not exist on type 'microsoft.graph.physicalAddress'. Make sure to only use property names that are defined by the type or mark the type as open type."
            )));
        }
        let item_value = optional_text(Some(item))?;
        if !item_value.is_null() {
            normalised.insert(key, item_value);
        }
    }
    Ok(Value::Object(normalised))
}

fn extended_properties(value: Value) -> Result<Vec<ExtendedProperty>, GraphError> {
    let mut properties = Vec::new();
    for item in array("singleValueExtendedProperties", value)? {
        let mut fields = object(item)?;
        let id = match fields.remove("id") {
            Some(Value::String(id)) => id,
            _ => {
                return Err(GraphError::new(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidProperty",
                    "The extended property id is missing.",
                ))
            }
        };
        if !is_valid_property_id(&id) {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidProperty",
                format!("The extended property id '{id}' is not valid."),
            ));
        }
        let value = match fields.remove("value") {
            Some(Value::String(value)) => value,
            Some(other) if !other.is_null() => text(other)?,
            _ => {
                return Err(GraphError::new(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidProperty",
                    "The extended property value is missing.",
                ))
            }
        };
        properties.push(ExtendedProperty { id, value });
    }
    Ok(properties)
}

/// `{type} {guid} Name {name}`, `{type} {guid} Id 0x…` or `{type} 0x…`.
pub fn is_valid_property_id(id: &str) -> bool {
    let parts: Vec<&str> = id.splitn(4, ' ').collect();
    let known_type = |name: &str| {
        [
            "String",
            "Integer",
            "Boolean",
            "SystemTime",
            "Binary",
            "Long",
            "Double",
            "Short",
            "Float",
            "Currency",
            "CLSID",
            "ApplicationTime",
            "Null",
        ]
        .iter()
        .any(|candidate| candidate.eq_ignore_ascii_case(name))
    };
    let is_hex_tag = |text: &str| {
        text.strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .is_some_and(|hex| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
    };
    let is_guid = |text: &str| {
        text.strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
            .is_some_and(|inner| uuid::Uuid::parse_str(inner).is_ok())
    };
    match parts.as_slice() {
        [kind, tag] => known_type(kind) && is_hex_tag(tag),
        [kind, guid, selector, name] => {
            known_type(kind)
                && is_guid(guid)
                && ((selector.eq_ignore_ascii_case("Name") && !name.trim().is_empty())
                    || (selector.eq_ignore_ascii_case("Id") && is_hex_tag(name)))
        }
        _ => false,
    }
}

/// The `displayName` of a folder body; other writable keys are rejected.
pub fn folder_display_name(body: Map<String, Value>) -> Result<Option<String>, GraphError> {
    let mut display_name = None;
    for (name, value) in body {
        if name.starts_with("@odata.") || name == "id" || name == "parentFolderId" {
            continue;
        }
        if name != "displayName" {
            return Err(body_read_error(format!(
                "The property '{name}' does not exist on type 'microsoft.graph.contactFolder'. Make sure to only use property names that are defined by the type or mark the type as open type."
            )));
        }
        display_name = match value {
            Value::Null => None,
            other => Some(text(other)?),
        };
    }
    Ok(display_name)
}

#[cfg(test)]
mod tests {
    use super::is_valid_property_id;

    #[test]
    fn property_ids_follow_graph_formats() {
        assert!(is_valid_property_id(
            "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name SourceObjectId"
        ));
        assert!(is_valid_property_id("String 0x4001"));
        assert!(is_valid_property_id(
            "Integer {66f5a359-4659-4830-9070-00047ec6ac6e} Id 0x8101"
        ));
        assert!(!is_valid_property_id("SourceObjectId"));
        assert!(!is_valid_property_id("String {not-a-guid} Name X"));
    }
}
