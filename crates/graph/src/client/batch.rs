//! JSON `$batch`: up to 20 sub-requests per call, responses in any order,
//! each sub-request throttled on its own.

mod gate;
mod retrying;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{GraphClient, GraphRequest};
use crate::error::{ApiError, GraphError};
use crate::retry;

pub use gate::BatchGate;
pub use retrying::BatchOutcome;

/// Graph's limit of sub-requests per `$batch` call.
pub const MAX_BATCH_REQUESTS: usize = 20;

/// One sub-request. `url` is relative to the version root (`/users/{id}/…`).
#[derive(Debug, Clone, Serialize)]
pub struct BatchRequest {
    pub id: String,
    pub method: String,
    pub url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The JSON body, serialized once when the sub-request is made: sending
    /// it again (a throttled sub-request) copies text, not a tree of values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Box<RawValue>>,
    #[serde(rename = "dependsOn", skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

impl BatchRequest {
    pub fn new(id: impl Into<String>, method: &str, url: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            method: method.to_ascii_uppercase(),
            url: url.into(),
            headers: BTreeMap::new(),
            body: None,
            depends_on: Vec::new(),
        }
    }

    pub fn get(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(id, "GET", url)
    }

    pub fn delete(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(id, "DELETE", url)
    }

    pub fn post(id: impl Into<String>, url: impl Into<String>, body: serde_json::Value) -> Self {
        Self::new(id, "POST", url).with_json_body(body)
    }

    pub fn patch(id: impl Into<String>, url: impl Into<String>, body: serde_json::Value) -> Self {
        Self::new(id, "PATCH", url).with_json_body(body)
    }

    /// Sets a JSON body and the `Content-Type` Graph requires with it.
    pub fn with_json_body(self, body: serde_json::Value) -> Self {
        // Writing a `Value` as text cannot fail: its keys are strings and it
        // holds no non-finite numbers.
        match serde_json::value::to_raw_value(&body) {
            Ok(raw) => self.with_raw_json_body(raw),
            Err(_) => self,
        }
    }

    /// Sets a body already serialized (e.g. straight from a typed struct,
    /// without building a `Value`) and the `Content-Type` Graph requires.
    pub fn with_raw_json_body(mut self, body: Box<RawValue>) -> Self {
        let has_content_type = self
            .headers
            .keys()
            .any(|name| name.eq_ignore_ascii_case("content-type"));
        if !has_content_type {
            self.headers
                .insert("Content-Type".to_owned(), "application/json".to_owned());
        }
        self.body = Some(body);
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    pub fn with_depends_on(mut self, ids: Vec<String>) -> Self {
        self.depends_on = ids;
        self
    }

    /// POST creates; everything else Graph treats as safe to repeat.
    pub fn is_idempotent(&self) -> bool {
        self.method != "POST"
    }
}

/// The response to one sub-request. The body stays JSON text until a caller
/// decodes it into what it needs ([`BatchResponse::json`]): a created
/// contact's id, not a tree of its every field.
#[derive(Debug, Clone, Deserialize)]
pub struct BatchResponse {
    pub id: String,
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Box<RawValue>>,
}

impl BatchResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The sub-response's own `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        let (_, value) = self
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))?;
        retry::parse_retry_after(value)
    }

    /// The Graph error of a failed sub-request.
    pub fn api_error(&self) -> Option<ApiError> {
        if self.is_success() {
            return None;
        }
        let body = self.body.as_ref().map_or("", |body| body.get());
        Some(ApiError::from_response(
            self.status,
            body.as_bytes(),
            self.retry_after(),
        ))
    }

    /// Decodes the body of a successful sub-request (`null` when absent).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, GraphError> {
        let body = self.body.as_ref().map_or("null", |body| body.get());
        serde_json::from_str(body).map_err(|source| GraphError::Decode {
            path: format!("$batch response {}", self.id),
            source,
        })
    }
}

#[derive(Serialize)]
struct BatchBody<'a> {
    requests: &'a [BatchRequest],
}

#[derive(Deserialize)]
struct BatchResponseBody {
    #[serde(default)]
    responses: Vec<BatchResponse>,
}

impl GraphClient {
    /// Sends up to 20 sub-requests in one `$batch` call and returns their
    /// responses in request order, matched by id. The call itself is retried
    /// like any request; sub-requests are not (see [`Self::batch_with_retry`]).
    pub async fn batch(
        &self,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, GraphError> {
        validate_batch(&requests)?;
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let relative_requests: Vec<BatchRequest> = requests
            .into_iter()
            .map(|request| self.relative_to_base(request))
            .collect();
        let idempotent = relative_requests.iter().all(BatchRequest::is_idempotent);
        let http_request = GraphRequest::new(reqwest::Method::POST, "/$batch")
            .with_json(&BatchBody {
                requests: &relative_requests,
            })?
            .with_idempotent(idempotent);
        let response = self.execute(&http_request).await?;
        let body: BatchResponseBody = response.json()?;
        self.stats
            .record_batch_sub_requests(relative_requests.len() as u64);
        let mut by_id: HashMap<String, BatchResponse> = HashMap::new();
        for sub_response in body.responses {
            self.stats.record_status(sub_response.status);
            crate::traffic::traffic().record_sub_response(sub_response.status);
            by_id.insert(sub_response.id.clone(), sub_response);
        }
        let mut ordered = Vec::with_capacity(relative_requests.len());
        for request in &relative_requests {
            match by_id.remove(&request.id) {
                Some(sub_response) => ordered.push(sub_response),
                None => {
                    return Err(GraphError::BatchResponseMissing {
                        id: request.id.clone(),
                    })
                }
            }
        }
        Ok(ordered)
    }

    /// `$batch` wants URLs relative to the version root.
    fn relative_to_base(&self, mut request: BatchRequest) -> BatchRequest {
        if let Some(relative) = request.url.strip_prefix(self.base_url()) {
            request.url = relative.to_owned();
        }
        request
    }
}

fn validate_batch(requests: &[BatchRequest]) -> Result<(), GraphError> {
    if requests.len() > MAX_BATCH_REQUESTS {
        return Err(GraphError::BatchTooLarge {
            count: requests.len(),
            max: MAX_BATCH_REQUESTS,
        });
    }
    let mut ids = HashSet::new();
    for request in requests {
        if request.id.is_empty() {
            return Err(GraphError::InvalidBatch {
                reason: "a request has an empty id".to_owned(),
            });
        }
        if !ids.insert(request.id.as_str()) {
            return Err(GraphError::InvalidBatch {
                reason: format!("request id {} is used twice", request.id),
            });
        }
    }
    for request in requests {
        for dependency in &request.depends_on {
            if !ids.contains(dependency.as_str()) {
                return Err(GraphError::InvalidBatch {
                    reason: format!(
                        "request {} depends on {dependency}, which is not in the batch",
                        request.id
                    ),
                });
            }
        }
    }
    Ok(())
}
