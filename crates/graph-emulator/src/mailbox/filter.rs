//! `$filter` on contacts and contact folders: the forms Exchange accepts
//! (`displayName eq '…'`, `singleValueExtendedProperties/Any(ep: ep/id eq '…'
//! and ep/value eq '…')`, `emailAddresses/any(a: a/address eq '…')`).

use super::model::{field_index, Contact};
use crate::errors::GraphError;
use crate::odata_filter::conditions::{parse_filter_conditions, unsupported_filter, Condition};

/// A `$filter` on contacts.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactFilter {
    /// `singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…')`
    /// (or `startswith(ep/value, '…')`)
    ExtendedProperty {
        id: String,
        value: Option<ValueMatch>,
    },
    /// `emailAddresses/any(a: a/address eq '…')`
    EmailAddress(String),
    /// `displayName eq '…'` (any text property)
    Field { name: String, value: String },
}

/// How an extended property's value is compared. singlevaluelegacyextendedproperty-get:
/// "For string-typed extended properties, apply a contains, startswith, eq,
/// or ne operator on value"; "Filtering the value property of an extended
/// property is case-insensitive." The emulator takes `eq` and `startswith`.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueMatch {
    Equals(String),
    StartsWith(String),
}

impl ValueMatch {
    fn matches(&self, stored: &str) -> bool {
        match self {
            ValueMatch::Equals(wanted) => stored.eq_ignore_ascii_case(wanted),
            ValueMatch::StartsWith(prefix) => stored
                .get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
        }
    }
}

impl ContactFilter {
    pub fn matches(&self, contact: &Contact) -> bool {
        match self {
            ContactFilter::ExtendedProperty { id, value } => {
                contact.extended_properties.iter().any(|property| {
                    property.id.eq_ignore_ascii_case(id)
                        && value
                            .as_ref()
                            .is_none_or(|wanted| wanted.matches(&property.value))
                })
            }
            ContactFilter::EmailAddress(address) => contact
                .field("emailAddresses")
                .and_then(|value| value.as_array())
                .is_some_and(|entries| {
                    entries.iter().any(|entry| {
                        entry["address"]
                            .as_str()
                            .is_some_and(|stored| stored.eq_ignore_ascii_case(address))
                    })
                }),
            ContactFilter::Field { name, value } => contact
                .field(name)
                .and_then(|stored| stored.as_str())
                .is_some_and(|stored| stored.eq_ignore_ascii_case(value)),
        }
    }
}

/// Parses the contact `$filter` forms the emulator supports; every
/// condition must hold.
pub fn contact_filter(text: &str) -> Result<Vec<ContactFilter>, GraphError> {
    let mut filters = Vec::new();
    for condition in parse_filter_conditions(text)? {
        filters.push(match condition {
            Condition::Compare { path, literal } => {
                if field_index(&path).is_none() {
                    return Err(unsupported_filter());
                }
                ContactFilter::Field {
                    name: path,
                    value: literal,
                }
            }
            Condition::Any {
                collection,
                variable,
                inner,
            } => any_filter(&collection, &variable, &inner)?,
            Condition::StartsWith { .. } => return Err(unsupported_filter()),
        });
    }
    Ok(filters)
}

fn any_filter(
    collection: &str,
    variable: &str,
    inner: &[Condition],
) -> Result<ContactFilter, GraphError> {
    let mut values = std::collections::HashMap::new();
    let mut value_prefix = None;
    for condition in inner {
        let (path, literal, starts_with) = match condition {
            Condition::Compare { path, literal } => (path, literal, false),
            Condition::StartsWith { path, literal } => (path, literal, true),
            Condition::Any { .. } => return Err(unsupported_filter()),
        };
        let Some((prefix, property)) = path.split_once('/') else {
            return Err(unsupported_filter());
        };
        if prefix != variable {
            return Err(unsupported_filter());
        }
        if starts_with {
            // Only an extended property's value takes startswith here.
            if !property.eq_ignore_ascii_case("value") || value_prefix.is_some() {
                return Err(unsupported_filter());
            }
            value_prefix = Some(literal.clone());
            continue;
        }
        values.insert(property.to_ascii_lowercase(), literal.clone());
    }
    if collection.eq_ignore_ascii_case("singleValueExtendedProperties") {
        let Some(id) = values.remove("id") else {
            return Err(unsupported_filter());
        };
        let value = match (values.remove("value"), value_prefix) {
            (Some(_), Some(_)) => return Err(unsupported_filter()),
            (Some(wanted), None) => Some(ValueMatch::Equals(wanted)),
            (None, Some(prefix)) => Some(ValueMatch::StartsWith(prefix)),
            (None, None) => None,
        };
        if !values.is_empty() {
            return Err(unsupported_filter());
        }
        return Ok(ContactFilter::ExtendedProperty { id, value });
    }
    if value_prefix.is_some() {
        return Err(unsupported_filter());
    }
    if collection.eq_ignore_ascii_case("emailAddresses") && values.len() == 1 {
        if let Some(address) = values.remove("address") {
            return Ok(ContactFilter::EmailAddress(address));
        }
    }
    Err(unsupported_filter())
}

/// `displayName eq '…'` on contact folders.
pub fn folder_filter(text: &str) -> Result<String, GraphError> {
    let conditions = parse_filter_conditions(text)?;
    match conditions.as_slice() {
        [Condition::Compare { path, literal }] if path == "displayName" => Ok(literal.clone()),
        _ => Err(unsupported_filter()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_extended_property_any_filter() {
        let filters = contact_filter(
            "singleValueExtendedProperties/Any(ep: ep/id eq 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name SourceObjectId' and ep/value eq 'abc')",
        )
        .expect("valid filter");
        assert_eq!(
            filters,
            vec![ContactFilter::ExtendedProperty {
                id: "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name SourceObjectId".to_owned(),
                value: Some(ValueMatch::Equals("abc".to_owned())),
            }]
        );
    }

    #[test]
    fn an_extended_property_value_takes_startswith_case_insensitively() {
        let filters = contact_filter(
            "singleValueExtendedProperties/Any(ep: ep/id eq 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name SourceObjectId' and startswith(ep/value, 'p1/'))",
        )
        .expect("valid filter");
        let [ContactFilter::ExtendedProperty {
            value: Some(value), ..
        }] = filters.as_slice()
        else {
            panic!("one extended-property filter: {filters:?}");
        };
        assert!(value.matches("P1/abc"));
        assert!(!value.matches("p2/abc"));
        assert!(!value.matches("p1"));
        assert!(contact_filter("startswith(displayName, 'A')").is_err());
    }
}
