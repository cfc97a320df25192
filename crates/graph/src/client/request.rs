//! One Graph request, described so it can be sent again on retry, and the
//! successful answer it gets.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::GraphError;

/// A request body with its content type.
#[derive(Debug, Clone)]
pub struct RequestBody {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// One Graph request, described so it can be sent again on retry.
#[derive(Debug, Clone)]
pub struct GraphRequest {
    pub method: reqwest::Method,
    /// A path under the base URL (`/users?$top=999`) or an absolute URL on
    /// the same host (a nextLink), used verbatim.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<RequestBody>,
    /// Whether sending twice is harmless. Defaults by method: POST is not,
    /// GET/PUT/PATCH/DELETE are.
    pub idempotent: bool,
    /// A throttled answer (429) goes back to the caller instead of being
    /// retried here: for callers that pace every sender to a mailbox
    /// together, which must all hold for the Retry-After, not this request
    /// alone.
    pub throttling_to_caller: bool,
}

impl GraphRequest {
    pub fn new(method: reqwest::Method, url: impl Into<String>) -> Self {
        let idempotent = method != reqwest::Method::POST;
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            idempotent,
            throttling_to_caller: false,
        }
    }

    pub fn get(url: impl Into<String>) -> Self {
        Self::new(reqwest::Method::GET, url)
    }

    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(reqwest::Method::DELETE, url)
    }

    /// A request with a JSON body.
    pub fn with_json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self, GraphError> {
        let bytes = serde_json::to_vec(body).map_err(|source| GraphError::Encode { source })?;
        self.body = Some(RequestBody {
            content_type: "application/json".to_owned(),
            bytes,
        });
        Ok(self)
    }

    pub fn with_bytes(mut self, content_type: impl Into<String>, bytes: Vec<u8>) -> Self {
        self.body = Some(RequestBody {
            content_type: content_type.into(),
            bytes,
        });
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// See [`GraphRequest::throttling_to_caller`].
    pub fn with_throttling_to_caller(mut self) -> Self {
        self.throttling_to_caller = true;
        self
    }

    pub fn with_idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }
}

/// A successful (2xx) Graph response.
#[derive(Debug, Clone)]
pub struct GraphResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
    /// The path requested, for error messages.
    pub path: String,
}

impl GraphResponse {
    /// Decodes the body; an empty body (204) decodes as JSON `null`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, GraphError> {
        let body: &[u8] = if self.body.is_empty() {
            b"null"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|source| GraphError::Decode {
            path: self.path.clone(),
            source,
        })
    }
}
