//! OData query options of the contact and folder collections: `$top`,
//! `$skip`, `$select`, `$expand=singleValueExtendedProperties(…)` and the
//! `$filter` forms Exchange accepts for contacts and folders.

use axum::http::StatusCode;

use super::model::{field_index, Contact, READ_ONLY_FIELDS};
use crate::errors::GraphError;

/// Page size Outlook collections use without `$top`.
pub const DEFAULT_PAGE_SIZE: usize = 10;
/// Largest page Outlook serves; a bigger `$top` is capped.
pub const MAX_PAGE_SIZE: usize = 1000;

#[derive(Debug, Default, Clone)]
pub struct QueryOptions {
    pub top: Option<usize>,
    pub skip: usize,
    pub select: Option<String>,
    pub expand: Option<String>,
    pub filter: Option<String>,
    pub skiptoken: Option<String>,
    pub deltatoken: Option<String>,
}

fn invalid_query(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
}

/// Parses the raw query string; option names are accepted with or without `$`.
pub fn parse_query(raw: Option<&str>) -> Result<QueryOptions, GraphError> {
    let mut options = QueryOptions::default();
    let Some(raw) = raw else {
        return Ok(options);
    };
    for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        let bare = name.trim_start_matches('$').to_ascii_lowercase();
        let value = value.into_owned();
        match bare.as_str() {
            "top" => {
                let Ok(top) = value.trim().parse::<usize>() else {
                    return Err(invalid_query(format!("Invalid value '{value}' for $top.")));
                };
                options.top = Some(top.min(MAX_PAGE_SIZE));
            }
            "skip" => {
                let Ok(skip) = value.trim().parse::<usize>() else {
                    return Err(invalid_query(format!("Invalid value '{value}' for $skip.")));
                };
                options.skip = skip;
            }
            "select" => options.select = Some(value),
            "expand" => options.expand = Some(value),
            "filter" => options.filter = Some(value),
            "skiptoken" => options.skiptoken = Some(value),
            "deltatoken" => options.deltatoken = Some(value),
            "orderby" | "count" | "search" => {
                return Err(invalid_query(format!(
                    "The query parameter '${bare}' is not supported by the emulator."
                )))
            }
            _ => {}
        }
    }
    Ok(options)
}

/// Validates `$select` against the contact type.
pub fn contact_select(select: &str) -> Result<Vec<String>, GraphError> {
    let mut names = Vec::new();
    for name in select
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        if field_index(name).is_none() && !READ_ONLY_FIELDS.contains(&name) {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "RequestBroker--ParseUri",
                format!(
                    "Could not find a property named '{name}' on type 'microsoft.graph.contact'."
                ),
            ));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// `$expand=singleValueExtendedProperties($filter=id eq '…')`: `Some(id)` for
/// a filter, `None` for all of them.
pub fn extended_expand(expand: &str) -> Result<Option<String>, GraphError> {
    let trimmed = expand.trim();
    let prefix = "singlevalueextendedproperties";
    if !trimmed.to_ascii_lowercase().starts_with(prefix) {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "RequestBroker--ParseUri",
            format!(
                "Could not find a property named '{trimmed}' on type 'microsoft.graph.contact'."
            ),
        ));
    }
    let rest = trimmed[prefix.len()..].trim();
    if rest.is_empty() {
        return Ok(None);
    }
    let inner = rest
        .strip_prefix('(')
        .and_then(|inner| inner.strip_suffix(')'))
        .ok_or_else(|| invalid_query(format!("Invalid $expand clause '{trimmed}'.")))?;
    let filter_text = inner
        .trim()
        .strip_prefix("$filter=")
        .or_else(|| inner.trim().strip_prefix("filter="))
        .ok_or_else(|| invalid_query(format!("Invalid $expand clause '{trimmed}'.")))?;
    let conditions = parse_conditions(&mut tokenize(filter_text)?.into_iter().peekable())?;
    match conditions.as_slice() {
        [Condition::Compare { path, literal }] if path.eq_ignore_ascii_case("id") => {
            Ok(Some(literal.clone()))
        }
        _ => Err(unsupported_filter()),
    }
}

/// A `$filter` on contacts.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactFilter {
    /// `singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…')`
    ExtendedProperty { id: String, value: Option<String> },
    /// `emailAddresses/any(a: a/address eq '…')`
    EmailAddress(String),
    /// `displayName eq '…'` (any text property)
    Field { name: String, value: String },
}

impl ContactFilter {
    pub fn matches(&self, contact: &Contact) -> bool {
        match self {
            ContactFilter::ExtendedProperty { id, value } => {
                contact.extended_properties.iter().any(|property| {
                    property.id.eq_ignore_ascii_case(id)
                        && value
                            .as_ref()
                            .is_none_or(|wanted| property.value.eq_ignore_ascii_case(wanted))
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

fn unsupported_filter() -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "ErrorInvalidUrlQueryFilter",
        "The query filter contains one or more invalid nodes.",
    )
}

/// Parses the contact `$filter` forms the emulator supports; every
/// condition must hold.
pub fn contact_filter(text: &str) -> Result<Vec<ContactFilter>, GraphError> {
    let mut tokens = tokenize(text)?.into_iter().peekable();
    let mut filters = Vec::new();
    for condition in parse_conditions(&mut tokens)? {
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
    for condition in inner {
        let Condition::Compare { path, literal } = condition else {
            return Err(unsupported_filter());
        };
        let Some((prefix, property)) = path.split_once('/') else {
            return Err(unsupported_filter());
        };
        if prefix != variable {
            return Err(unsupported_filter());
        }
        values.insert(property.to_ascii_lowercase(), literal.clone());
    }
    if collection.eq_ignore_ascii_case("singleValueExtendedProperties") {
        let Some(id) = values.remove("id") else {
            return Err(unsupported_filter());
        };
        let value = values.remove("value");
        if !values.is_empty() {
            return Err(unsupported_filter());
        }
        return Ok(ContactFilter::ExtendedProperty { id, value });
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
    let conditions = parse_conditions(&mut tokenize(text)?.into_iter().peekable())?;
    match conditions.as_slice() {
        [Condition::Compare { path, literal }] if path == "displayName" => Ok(literal.clone()),
        _ => Err(unsupported_filter()),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Literal(String),
    Open,
    Close,
    Colon,
}

fn malformed_filter(text: &str) -> GraphError {
    invalid_query(format!("Invalid filter clause: '{text}'."))
}

fn tokenize(text: &str) -> Result<Vec<Token>, GraphError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&next) = chars.peek() {
        match next {
            ' ' | '\t' => {
                chars.next();
            }
            '(' | ')' | ':' => {
                chars.next();
                tokens.push(match next {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Colon,
                });
            }
            '\'' => {
                chars.next();
                let mut literal = String::new();
                let mut closed = false;
                while let Some(character) = chars.next() {
                    if character == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                            literal.push('\'');
                            continue;
                        }
                        closed = true;
                        break;
                    }
                    literal.push(character);
                }
                if !closed {
                    return Err(malformed_filter(text));
                }
                tokens.push(Token::Literal(literal));
            }
            _ => {
                let mut word = String::new();
                while let Some(&character) = chars.peek() {
                    if matches!(character, ' ' | '\t' | '(' | ')' | ':' | '\'') {
                        break;
                    }
                    word.push(character);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

#[derive(Debug, Clone, PartialEq)]
enum Condition {
    Compare {
        path: String,
        literal: String,
    },
    Any {
        collection: String,
        variable: String,
        inner: Vec<Condition>,
    },
}

type Tokens = std::iter::Peekable<std::vec::IntoIter<Token>>;

/// condition ('and' condition)*, up to the end or a closing parenthesis.
fn parse_conditions(tokens: &mut Tokens) -> Result<Vec<Condition>, GraphError> {
    let mut conditions = vec![parse_condition(tokens)?];
    while let Some(Token::Word(word)) = tokens.peek() {
        if !word.eq_ignore_ascii_case("and") {
            return Err(unsupported_filter());
        }
        tokens.next();
        conditions.push(parse_condition(tokens)?);
    }
    Ok(conditions)
}

fn parse_condition(tokens: &mut Tokens) -> Result<Condition, GraphError> {
    let Some(Token::Word(path)) = tokens.next() else {
        return Err(invalid_query("Invalid filter clause."));
    };
    let lowered = path.to_ascii_lowercase();
    if lowered.ends_with("/any") {
        let collection = path[..path.len() - "/any".len()].to_owned();
        let (Some(Token::Open), Some(Token::Word(variable)), Some(Token::Colon)) =
            (tokens.next(), tokens.next(), tokens.next())
        else {
            return Err(invalid_query("Invalid filter clause."));
        };
        let inner = parse_conditions(tokens)?;
        if tokens.next() != Some(Token::Close) {
            return Err(invalid_query("Invalid filter clause."));
        }
        return Ok(Condition::Any {
            collection,
            variable,
            inner,
        });
    }
    match (tokens.next(), tokens.next()) {
        (Some(Token::Word(operator)), Some(Token::Literal(literal)))
            if operator.eq_ignore_ascii_case("eq") =>
        {
            Ok(Condition::Compare { path, literal })
        }
        _ => Err(unsupported_filter()),
    }
}

/// `@odata.nextLink` for the next page of a collection at `path`.
pub fn next_link(base_url: &str, path: &str, options: &QueryOptions, skip: usize) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(top) = options.top {
        query.append_pair("$top", &top.to_string());
    }
    if let Some(select) = &options.select {
        query.append_pair("$select", select);
    }
    if let Some(expand) = &options.expand {
        query.append_pair("$expand", expand);
    }
    if let Some(filter) = &options.filter {
        query.append_pair("$filter", filter);
    }
    query.append_pair("$skip", &skip.to_string());
    format!("{base_url}{path}?{}", query.finish())
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
                value: Some("abc".to_owned()),
            }]
        );
    }

    #[test]
    fn parses_expand_and_folder_filters() {
        assert_eq!(
            extended_expand("singleValueExtendedProperties($filter=id eq 'String 0x4001')")
                .expect("valid expand"),
            Some("String 0x4001".to_owned())
        );
        assert_eq!(
            folder_filter("displayName eq 'O''Brien contacts'").expect("valid filter"),
            "O'Brien contacts"
        );
        assert!(folder_filter("startswith(displayName,'x')").is_err());
        assert!(contact_filter("displayName eq 'unterminated").is_err());
    }
}
