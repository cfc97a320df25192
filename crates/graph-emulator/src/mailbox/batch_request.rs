//! Reading a `$batch` body the way Graph validates it: at most 20 requests,
//! unique ids (case-insensitive), relative urls, a Content-Type with every
//! body (JSON bodies as JSON, others base64), known `dependsOn` ids, no
//! cycles, and a dependency shape Graph runs: fully parallel (no `dependsOn`),
//! fully sequential (each request depends on the one before it), or every
//! dependent request naming the same one. Microsoft's JSON batching known
//! issue (cited by its own Graph SDKs' `BatchRequestContent`: "requests can
//! only depend on a single other request, and must follow one of these three
//! patterns: Parallel, Serial, Same") and Microsoft's answer on Q&A 1532547
//! ("Batch should be either fully sequential or fully parallel").

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{header, HeaderName, HeaderValue, Method};
use base64::Engine;
use serde_json::Value;

use crate::errors::GraphError;

/// Most sub-requests one batch may carry.
pub const MAX_BATCH_REQUESTS: usize = 20;

#[derive(Debug, Clone)]
pub(super) struct SubRequest {
    pub id: String,
    pub method: Method,
    pub url: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<Bytes>,
    pub depends_on: Vec<String>,
}

fn invalid_batch(message: impl Into<String>) -> GraphError {
    GraphError::bad_request(message)
}

/// Validates a batch body into sub-requests.
pub(super) fn parse_batch(body: &[u8]) -> Result<Vec<SubRequest>, GraphError> {
    let parsed: Value = serde_json::from_slice(body).map_err(|_| {
        invalid_batch("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
    })?;
    let Some(items) = parsed.get("requests").and_then(Value::as_array) else {
        return Err(invalid_batch("Invalid batch payload format."));
    };
    if items.is_empty() {
        return Err(invalid_batch("Invalid batch payload format."));
    }
    if items.len() > MAX_BATCH_REQUESTS {
        return Err(invalid_batch(format!(
            "Batch request limit exceeded. A batch may contain at most {MAX_BATCH_REQUESTS} requests."
        )));
    }
    let mut requests = Vec::with_capacity(items.len());
    for item in items {
        requests.push(parse_sub_request(item)?);
    }
    let mut seen = HashMap::new();
    for request in &requests {
        if seen.insert(request.id.to_ascii_lowercase(), ()).is_some() {
            return Err(invalid_batch(format!(
                "Batch request contains a duplicate request id '{}'.",
                request.id
            )));
        }
    }
    for request in &requests {
        for dependency in &request.depends_on {
            if !seen.contains_key(&dependency.to_ascii_lowercase()) {
                return Err(invalid_batch(format!(
                    "Request '{}' depends on request '{dependency}', which is not in the batch.",
                    request.id
                )));
            }
        }
    }
    if has_cycle(&requests) {
        return Err(invalid_batch(
            "The dependsOn chain of the batch contains a cycle.",
        ));
    }
    if !runnable_shape(&requests) {
        return Err(invalid_batch(
            "Batch should be either fully sequential or fully parallel.",
        ));
    }
    Ok(requests)
}

/// Parallel (no dependencies), serial (each request depends on exactly the
/// one before it) or same (every dependent request depends on one and the
/// same request).
fn runnable_shape(requests: &[SubRequest]) -> bool {
    let same_id = |left: &str, right: &str| left.eq_ignore_ascii_case(right);
    let parallel = requests.iter().all(|request| request.depends_on.is_empty());
    let serial = requests
        .first()
        .is_some_and(|first| first.depends_on.is_empty())
        && requests.windows(2).all(
            |pair| matches!(pair[1].depends_on.as_slice(), [only] if same_id(only, &pair[0].id)),
        );
    let mut dependencies = requests
        .iter()
        .filter(|request| !request.depends_on.is_empty())
        .map(|request| request.depends_on.as_slice());
    let same = dependencies.next().is_some_and(|first| {
        matches!(first, [_])
            && dependencies.all(|other| matches!(other, [only] if same_id(only, &first[0])))
    });
    parallel || serial || same
}

fn parse_sub_request(item: &Value) -> Result<SubRequest, GraphError> {
    let id = match item.get("id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        _ => {
            return Err(invalid_batch(
                "Each batch request needs a non-empty string 'id'.",
            ))
        }
    };
    let method = item
        .get("method")
        .and_then(Value::as_str)
        .and_then(|method| Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok())
        .filter(|method| {
            [
                Method::GET,
                Method::POST,
                Method::PATCH,
                Method::PUT,
                Method::DELETE,
            ]
            .contains(method)
        })
        .ok_or_else(|| invalid_batch(format!("Request '{id}' has an invalid 'method'.")))?;
    let url = match item.get("url").and_then(Value::as_str) {
        Some(url) if !url.is_empty() && !url.contains("://") => url.to_owned(),
        _ => {
            return Err(invalid_batch(format!(
                "Request '{id}' needs a relative 'url', e.g. /users."
            )))
        }
    };
    let mut headers = Vec::new();
    let mut content_type = None;
    if let Some(object) = item.get("headers").and_then(Value::as_object) {
        for (name, value) in object {
            let (Ok(header_name), Some(Ok(header_value))) = (
                HeaderName::from_bytes(name.as_bytes()),
                value.as_str().map(HeaderValue::from_str),
            ) else {
                return Err(invalid_batch(format!(
                    "Request '{id}' has an invalid header '{name}'."
                )));
            };
            if header_name == header::CONTENT_TYPE {
                content_type = value.as_str().map(str::to_ascii_lowercase);
            }
            // The outer request's credentials apply to every sub-request.
            if header_name != header::AUTHORIZATION {
                headers.push((header_name, header_value));
            }
        }
    }
    let body = match item.get("body") {
        None | Some(Value::Null) => None,
        Some(body) => {
            let Some(content_type) = &content_type else {
                return Err(invalid_batch(format!(
                    "Request '{id}' has a body but no Content-Type header."
                )));
            };
            Some(encode_body(&id, content_type, body)?)
        }
    };
    let depends_on = match item.get("dependsOn") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => {
            let mut dependencies = Vec::new();
            for dependency in ids {
                let Some(dependency) = dependency.as_str() else {
                    return Err(invalid_batch(format!(
                        "Request '{id}' has an invalid 'dependsOn'."
                    )));
                };
                dependencies.push(dependency.to_owned());
            }
            dependencies
        }
        Some(_) => {
            return Err(invalid_batch(format!(
                "Request '{id}' has an invalid 'dependsOn'."
            )))
        }
    };
    Ok(SubRequest {
        id,
        method,
        url,
        headers,
        body,
        depends_on,
    })
}

/// JSON bodies travel as JSON; other content types as a base64 string.
fn encode_body(id: &str, content_type: &str, body: &Value) -> Result<Bytes, GraphError> {
    if content_type.starts_with("application/json") {
        return serde_json::to_vec(body)
            .map(Bytes::from)
            .map_err(|_| invalid_batch(format!("Request '{id}' has an unreadable body.")));
    }
    let Some(encoded) = body.as_str() else {
        return Err(invalid_batch(format!(
            "Request '{id}' has a non-JSON Content-Type; its body must be a base64 string."
        )));
    };
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(encoded))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded))
        .map(Bytes::from)
        .map_err(|_| {
            invalid_batch(format!(
                "Request '{id}' has a body that is not valid base64."
            ))
        })
}

fn has_cycle(requests: &[SubRequest]) -> bool {
    let by_id: HashMap<String, &SubRequest> = requests
        .iter()
        .map(|request| (request.id.to_ascii_lowercase(), request))
        .collect();
    for start in requests {
        let mut stack: Vec<&str> = start.depends_on.iter().map(String::as_str).collect();
        let mut visited = 0;
        while let Some(current) = stack.pop() {
            if current.eq_ignore_ascii_case(&start.id) {
                return true;
            }
            visited += 1;
            if visited > requests.len() * requests.len() {
                return true;
            }
            if let Some(request) = by_id.get(&current.to_ascii_lowercase()) {
                stack.extend(request.depends_on.iter().map(String::as_str));
            }
        }
    }
    false
}
