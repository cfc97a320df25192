//! OData query options of the contact and folder collections: `$top`,
//! `$skip`, `$select`, `$expand=singleValueExtendedProperties(…)` and the
//! `$filter` forms Exchange accepts for contacts and folders.

use axum::http::StatusCode;

use super::model::{field_index, READ_ONLY_FIELDS};
use crate::errors::GraphError;
use crate::odata_filter::conditions::{parse_filter_conditions, unsupported_filter, Condition};

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

pub(crate) fn invalid_query(message: impl Into<String>) -> GraphError {
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
    let conditions = parse_filter_conditions(filter_text)?;
    match conditions.as_slice() {
        [Condition::Compare { path, literal }] if path.eq_ignore_ascii_case("id") => {
            Ok(Some(literal.clone()))
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
    fn parses_expand_and_folder_filters() {
        assert_eq!(
            extended_expand("singleValueExtendedProperties($filter=id eq 'String 0x4001')")
                .expect("valid expand"),
            Some("String 0x4001".to_owned())
        );
        assert_eq!(
            super::super::filter::folder_filter("displayName eq 'O''Brien contacts'")
                .expect("valid filter"),
            "O'Brien contacts"
        );
        assert!(super::super::filter::folder_filter("startswith(displayName,'x')").is_err());
        assert!(super::super::filter::contact_filter("displayName eq 'unterminated").is_err());
    }
}
