//! OData query options of directory requests (`$select`, `$filter`, `$top`,
//! `$count`, `$expand`, `$skiptoken`, `$deltatoken`), Graph's errors for bad
//! ones, and the sealed (tamper-evident) paging and delta tokens.

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::errors::GraphError;

use super::group_properties::group_property;
use super::properties::{select_user_property, SelectedUserProperty};

/// Largest `$top` directory collections accept.
pub const MAX_PAGE_SIZE: usize = 999;
/// Page size when `$top` is absent.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// The OData options of one request, undecoded values as sent.
#[derive(Debug, Default, Clone)]
pub struct GraphQuery {
    pub select: Option<String>,
    pub filter: Option<String>,
    pub top: Option<String>,
    pub skiptoken: Option<String>,
    pub deltatoken: Option<String>,
    pub count: Option<String>,
    pub expand: Option<String>,
    pub orderby: Option<String>,
    pub search: Option<String>,
}

pub fn request_bad_request(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
}

impl GraphQuery {
    /// Parses a raw query string; a repeated option is an error, as in Graph.
    pub fn parse(raw: Option<&str>) -> Result<GraphQuery, GraphError> {
        let mut query = GraphQuery::default();
        let Some(raw) = raw else {
            return Ok(query);
        };
        for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
            let name = key.trim_start_matches('$').to_ascii_lowercase();
            let slot = match name.as_str() {
                "select" => &mut query.select,
                "filter" => &mut query.filter,
                "top" => &mut query.top,
                "skiptoken" => &mut query.skiptoken,
                "deltatoken" => &mut query.deltatoken,
                "count" => &mut query.count,
                "expand" => &mut query.expand,
                "orderby" => &mut query.orderby,
                "search" => &mut query.search,
                _ => continue,
            };
            if slot.is_some() {
                return Err(request_bad_request(format!(
                    "Query option '${name}' was specified more than once, but it must be specified at most once."
                )));
            }
            *slot = Some(value.into_owned());
        }
        Ok(query)
    }

    /// `$top` as a page size: default when absent, 400 outside 1..=999.
    pub fn page_size(&self) -> Result<usize, GraphError> {
        let Some(top) = &self.top else {
            return Ok(DEFAULT_PAGE_SIZE);
        };
        match top.trim().parse::<usize>() {
            Ok(size) if (1..=MAX_PAGE_SIZE).contains(&size) => Ok(size),
            _ => Err(request_bad_request(format!(
                "Invalid page size specified: '{top}'. Must be between 1 and {MAX_PAGE_SIZE} inclusive."
            ))),
        }
    }

    /// Whether `$count=true` was asked for; `$count` needs `ConsistencyLevel: eventual`.
    pub fn wants_count(&self, headers: &HeaderMap) -> Result<bool, GraphError> {
        let Some(count) = &self.count else {
            return Ok(false);
        };
        let wants = match count.as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(GraphError::bad_request(format!(
                    "Invalid value '{count}' for $count query option found. The $count query option requires a Boolean value."
                )))
            }
        };
        if wants && !eventual_consistency(headers) {
            return Err(request_bad_request("$count is not currently supported."));
        }
        Ok(wants)
    }

    /// An advanced query: `ConsistencyLevel: eventual` and `$count=true`.
    pub fn is_advanced(&self, headers: &HeaderMap) -> bool {
        eventual_consistency(headers) && self.count.as_deref() == Some("true")
    }

    /// Rejects options directory collections here do not support.
    pub fn reject_unsupported(&self) -> Result<(), GraphError> {
        if self.orderby.is_some() {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                "Sorting not supported for current query.",
            ));
        }
        if self.search.is_some() {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
            ));
        }
        Ok(())
    }

    /// The query string to repeat in a nextLink, without any `$skiptoken`.
    pub fn link_query(&self) -> String {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        let options = [
            ("$select", &self.select),
            ("$filter", &self.filter),
            ("$top", &self.top),
            ("$count", &self.count),
            ("$expand", &self.expand),
        ];
        for (name, value) in options {
            if let Some(value) = value {
                serializer.append_pair(name, value);
            }
        }
        serializer.finish().replace("%24", "$")
    }

    /// A fingerprint of the options a page token must be replayed with.
    pub fn fingerprint(&self, headers: &HeaderMap) -> String {
        let mut hasher = Sha256::new();
        for value in [
            &self.select,
            &self.filter,
            &self.top,
            &self.count,
            &self.expand,
        ] {
            hasher.update(value.as_deref().unwrap_or("\u{0}").as_bytes());
            hasher.update([0xff]);
        }
        hasher.update([u8::from(eventual_consistency(headers))]);
        hex::encode(&hasher.finalize()[..8])
    }
}

pub fn eventual_consistency(headers: &HeaderMap) -> bool {
    headers
        .get("consistencylevel")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("eventual"))
}

fn unknown_property(name: &str, resource: &str) -> GraphError {
    request_bad_request(format!(
        "Could not find a property named '{name}' on type 'microsoft.graph.{resource}'."
    ))
}

fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim)
}

/// A user `$select`; `None` means Graph's default property set.
pub fn parse_user_select(
    select: Option<&str>,
) -> Result<Option<Vec<SelectedUserProperty>>, GraphError> {
    let Some(select) = select else {
        return Ok(None);
    };
    let mut selected = Vec::new();
    for name in split_list(select) {
        if name.is_empty() {
            return Err(request_bad_request(format!(
                "Invalid $select value: '{select}'."
            )));
        }
        let Some(property) = select_user_property(name) else {
            return Err(unknown_property(name, "user"));
        };
        if !selected.contains(&property) {
            selected.push(property);
        }
    }
    Ok(Some(selected))
}

/// A group `$select`; `None` means the default set.
pub fn parse_group_select(select: Option<&str>) -> Result<Option<Vec<&'static str>>, GraphError> {
    let Some(select) = select else {
        return Ok(None);
    };
    let mut selected = Vec::new();
    for name in split_list(select) {
        let Some(property) = group_property(name) else {
            return Err(unknown_property(name, "group"));
        };
        if !selected.contains(&property) {
            selected.push(property);
        }
    }
    Ok(Some(selected))
}

/// `$expand=manager` or `$expand=manager($select=…)` on users.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagerExpand {
    pub select: Option<Vec<SelectedUserProperty>>,
}

pub fn parse_manager_expand(expand: Option<&str>) -> Result<Option<ManagerExpand>, GraphError> {
    let Some(expand) = expand else {
        return Ok(None);
    };
    let trimmed = expand.trim();
    let (name, options) = match trimmed.find('(') {
        Some(open) if trimmed.ends_with(')') => (
            &trimmed[..open],
            Some(&trimmed[open + 1..trimmed.len() - 1]),
        ),
        _ => (trimmed, None),
    };
    if !name.eq_ignore_ascii_case("manager") {
        return Err(request_bad_request(format!(
            "Parsing OData Select and Expand failed: Could not find a property named '{name}' on type 'microsoft.graph.user'."
        )));
    }
    let select = match options {
        None => None,
        Some(options) => {
            let Some(list) = options
                .trim()
                .strip_prefix("$select=")
                .or_else(|| options.trim().strip_prefix("select="))
            else {
                return Err(request_bad_request(format!(
                    "Parsing OData Select and Expand failed: unsupported expand options '{options}'."
                )));
            };
            parse_user_select(Some(list))?
        }
    };
    Ok(Some(ManagerExpand { select }))
}

/// Seals state into opaque, tamper-evident tokens (skip and delta tokens).
#[derive(Debug)]
pub struct TokenSeal {
    secret: [u8; 32],
}

impl Default for TokenSeal {
    fn default() -> Self {
        Self {
            secret: rand::random(),
        }
    }
}

const SEAL_SEPARATOR: char = '~';

impl TokenSeal {
    fn mac(&self, payload: &[u8]) -> Vec<u8> {
        let mut hasher = Sha256::new();
        hasher.update(self.secret);
        hasher.update(payload);
        hasher.finalize()[..12].to_vec()
    }

    pub fn seal<T: Serialize>(&self, state: &T) -> String {
        let payload = serde_json::to_vec(state).unwrap_or_default();
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}{SEAL_SEPARATOR}{}",
            engine.encode(&payload),
            engine.encode(self.mac(&payload))
        )
    }

    /// The sealed state, or `None` when the token was not made here or was altered.
    pub fn open<T: DeserializeOwned>(&self, token: &str) -> Option<T> {
        let (payload_b64, mac_b64) = token.trim().split_once(SEAL_SEPARATOR)?;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = engine.decode(payload_b64).ok()?;
        let mac = engine.decode(mac_b64).ok()?;
        if mac != self.mac(&payload) {
            return None;
        }
        serde_json::from_slice(&payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_reject_any_alteration() {
        let seal = TokenSeal::default();
        let token = seal.seal(&("tenant", 42u64));
        assert_eq!(
            seal.open::<(String, u64)>(&token),
            Some(("tenant".into(), 42))
        );
        let mut altered = token.clone();
        altered.replace_range(0..1, if token.starts_with('W') { "X" } else { "W" });
        assert_eq!(seal.open::<(String, u64)>(&altered), None);
        assert_eq!(seal.open::<(String, u64)>("garbage"), None);
    }

    #[test]
    fn page_size_bounds_follow_graph() {
        let mut query = GraphQuery::default();
        assert_eq!(query.page_size().ok(), Some(DEFAULT_PAGE_SIZE));
        query.top = Some("999".into());
        assert_eq!(query.page_size().ok(), Some(999));
        query.top = Some("1000".into());
        assert_eq!(
            query.page_size().err().map(|error| error.code),
            Some("Request_BadRequest".to_owned())
        );
    }
}
