//! Errors of Graph calls, and Graph's own error body
//! `{"error":{"code","message","innerError":{…}}}` parsed into [`ApiError`].

use std::time::Duration;

use serde::Deserialize;

use crate::token::TokenError;

/// An error response from Microsoft Graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status, e.g. 404.
    pub status: u16,
    /// Graph's error code, e.g. `ErrorItemNotFound`; `unknown` when the body
    /// was not a Graph error.
    pub code: String,
    pub message: String,
    /// `innerError.request-id`, for support cases with Microsoft.
    pub request_id: Option<String>,
    /// The response's `Retry-After`, when it had one.
    pub retry_after: Option<Duration>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default, rename = "innerError", alias = "innererror")]
    inner_error: Option<InnerError>,
}

#[derive(Deserialize)]
struct InnerError {
    #[serde(default, rename = "request-id")]
    request_id: Option<String>,
}

const UNKNOWN_CODE: &str = "unknown";
const BODY_SNIPPET_CHARS: usize = 200;

impl ApiError {
    /// Parses a Graph error body; anything else (a proxy's HTML page, an empty
    /// body) becomes code `unknown` with the start of the body as message.
    pub fn from_response(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        if let Ok(envelope) = serde_json::from_slice::<ErrorEnvelope>(body) {
            let code = if envelope.error.code.is_empty() {
                UNKNOWN_CODE.to_owned()
            } else {
                envelope.error.code
            };
            return Self {
                status,
                code,
                message: envelope.error.message,
                request_id: envelope
                    .error
                    .inner_error
                    .and_then(|inner| inner.request_id),
                retry_after,
            };
        }
        let text = String::from_utf8_lossy(body);
        Self {
            status,
            code: UNKNOWN_CODE.to_owned(),
            message: text.chars().take(BODY_SNIPPET_CHARS).collect(),
            request_id: None,
            retry_after,
        }
    }

    /// The item does not exist (404), excluding a mailbox that does not exist
    /// for REST, which must not be mistaken for a deleted contact.
    pub fn is_not_found(&self) -> bool {
        self.status == 404 && !self.is_mailbox_not_enabled()
    }

    /// Graph throttled the request (429, or a throttling code on 503).
    pub fn is_throttled(&self) -> bool {
        self.status == 429
            || self.code.eq_ignore_ascii_case("ApplicationThrottled")
            || self.code.eq_ignore_ascii_case("TooManyRequests")
    }

    /// A throttle of the app as a whole rather than of one mailbox: Graph's
    /// Outlook limits name themselves in the message (`MailboxConcurrency`,
    /// `MailboxRequestRate`, `IncomingBytes`, throttling-limits "Outlook
    /// service limits"); any other 429 is taken as app-wide.
    pub fn is_app_wide_throttle(&self) -> bool {
        self.is_throttled()
            && !["Mailbox", "IncomingBytes"]
                .iter()
                .any(|limit| self.message.contains(limit))
    }

    /// An Exchange application access policy (or RBAC for Applications scope)
    /// keeps the app out of this mailbox.
    pub fn is_access_denied_by_policy(&self) -> bool {
        self.code.eq_ignore_ascii_case("ErrorAccessDenied")
            && self
                .message
                .to_ascii_lowercase()
                .contains("access to odata is disabled")
    }

    /// The user has no Exchange Online mailbox (unlicensed, soft-deleted or
    /// on-premises) or does not exist: a failure of the whole mailbox.
    pub fn is_mailbox_not_enabled(&self) -> bool {
        self.code
            .eq_ignore_ascii_case("MailboxNotEnabledForRESTAPI")
            || self.code.eq_ignore_ascii_case("ErrorNonExistentMailbox")
            || self.code.eq_ignore_ascii_case("ErrorInvalidUser")
    }

    /// A delta link or page token Graph no longer accepts: the caller must
    /// start over with a full read.
    pub fn is_resync_required(&self) -> bool {
        const RESYNC_CODES: [&str; 5] = [
            "resyncRequired",
            "syncStateNotFound",
            "syncStateInvalid",
            "ErrorInvalidSyncStateData",
            "Directory_ExpiredPageToken",
        ];
        self.status == 410
            || RESYNC_CODES
                .iter()
                .any(|code| self.code.eq_ignore_ascii_case(code))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "graph returned {} {}: {}",
            self.status, self.code, self.message
        )?;
        if let Some(request_id) = &self.request_id {
            write!(formatter, " (request-id {request_id})")?;
        }
        Ok(())
    }
}

/// Why a Graph call failed.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Graph answered with an error status.
    #[error("{0}")]
    Api(ApiError),

    /// The request could not be completed at the transport level (connect,
    /// timeout, reset) and was safe to report as not applied.
    #[error("graph request {method} {path} failed: {source}")]
    Connection {
        method: String,
        path: String,
        #[source]
        source: reqwest::Error,
    },

    /// A non-idempotent request (a create) may or may not have been applied:
    /// the connection dropped after sending, or a gateway answered 500/502/504.
    /// Reconcile by looking before trying again; never blindly re-send.
    #[error("outcome of {method} {path} is unknown, it may have been applied: {source}")]
    Ambiguous {
        method: String,
        path: String,
        #[source]
        source: Box<GraphError>,
    },

    /// The retry policy ran out of attempts or of total wait.
    #[error("gave up after {attempts} attempts and {waited:?} of waiting: {last_error}")]
    GaveUp {
        attempts: u32,
        waited: Duration,
        #[source]
        last_error: Box<GraphError>,
    },

    /// The client's deadline (a writer's lease on the mailbox) left too
    /// little time to send the request, or ran out while it was in flight:
    /// nothing more is sent under it, so nothing this process sends can land
    /// after another holder of the lease has started.
    #[error("{method} {path}: the deadline of this client's work (its lease) has passed, so nothing more is sent under it")]
    PastDeadline { method: String, path: String },

    #[error("failed to get an access token for graph")]
    Token(#[from] TokenError),

    #[error("failed to encode the graph request body")]
    Encode {
        #[source]
        source: serde_json::Error,
    },

    #[error("failed to decode graph response from {path}")]
    Decode {
        path: String,
        #[source]
        source: serde_json::Error,
    },

    /// An id that cannot be written into a Graph path (see [`crate::path`]).
    #[error("invalid {field} `{value}`: {reason}")]
    InvalidId {
        field: String,
        value: String,
        reason: String,
    },

    #[error("invalid graph url {url}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// A link in a response points to another host; following it would hand
    /// the access token to that host.
    #[error("refusing to follow a link outside the graph base url: {url}")]
    ForeignUrl { url: String },

    #[error("a batch holds at most {max} requests, got {count}")]
    BatchTooLarge { count: usize, max: usize },

    #[error("invalid batch: {reason}")]
    InvalidBatch { reason: String },

    #[error("the batch response has no response for request id {id}")]
    BatchResponseMissing { id: String },

    #[error("delta paging ended without an @odata.deltaLink")]
    MissingDeltaLink,

    #[error("invalid graph client configuration: {reason}")]
    InvalidConfig { reason: String },
}

impl GraphError {
    /// The Graph error response behind this error, looking through
    /// [`GraphError::GaveUp`] and [`GraphError::Ambiguous`].
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            GraphError::Api(api_error) => Some(api_error),
            GraphError::GaveUp { last_error, .. } => last_error.api(),
            GraphError::Ambiguous { source, .. } => source.api(),
            _ => None,
        }
    }

    /// The HTTP status Graph answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        self.api().map(|api_error| api_error.status)
    }

    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(ApiError::is_not_found)
    }

    pub fn is_throttled(&self) -> bool {
        self.api().is_some_and(ApiError::is_throttled)
    }

    pub fn is_access_denied_by_policy(&self) -> bool {
        self.api().is_some_and(ApiError::is_access_denied_by_policy)
    }

    pub fn is_mailbox_not_enabled(&self) -> bool {
        self.api().is_some_and(ApiError::is_mailbox_not_enabled)
    }

    pub fn is_resync_required(&self) -> bool {
        self.api().is_some_and(ApiError::is_resync_required)
    }

    /// The request may have been applied; the caller must look before retrying.
    pub fn is_past_deadline(&self) -> bool {
        match self {
            GraphError::PastDeadline { .. } => true,
            GraphError::Ambiguous { source, .. } => source.is_past_deadline(),
            GraphError::GaveUp { last_error, .. } => last_error.is_past_deadline(),
            _ => false,
        }
    }

    pub fn is_ambiguous(&self) -> bool {
        matches!(self, GraphError::Ambiguous { .. })
    }

    /// Whether trying again later may succeed: Graph answered a transient
    /// status (429, 5xx, see [`is_transient_status`]), the
    /// connection failed, dropped or timed out, or retries ran out on such a
    /// failure. Graph's answer with any other status (400, 401, 403, 404, …)
    /// and a request galsync could not even build are permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            GraphError::Api(api_error) => is_transient_status(api_error.status),
            GraphError::GaveUp { last_error, .. } => last_error.is_transient(),
            GraphError::Connection { .. } | GraphError::Ambiguous { .. } => true,
            // The token service or the broker may be back later; a response
            // cut short may decode next time.
            GraphError::Token(_)
            | GraphError::PastDeadline { .. }
            | GraphError::Decode { .. }
            | GraphError::InvalidBatch { .. }
            | GraphError::BatchResponseMissing { .. }
            | GraphError::MissingDeltaLink => true,
            GraphError::Encode { .. }
            | GraphError::InvalidId { .. }
            | GraphError::InvalidUrl { .. }
            | GraphError::ForeignUrl { .. }
            | GraphError::BatchTooLarge { .. }
            | GraphError::InvalidConfig { .. } => false,
        }
    }
}

/// Statuses worth retrying when the request is idempotent: the transient
/// ones. errors (learn.microsoft.com/graph/errors): 429 "should not attempt
/// to repeat the request until an amount of time has elapsed", 503 "you may
/// repeat the request after a delay", 500, 502 and 504 from the service or a
/// gateway (whatever their body, HTML included), 509 "can retry the request
/// again after more time has elapsed". Every other status (400, 401, 403,
/// 404, 409, 501, 507, …) says something retrying cannot fix.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504 | 509)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(status: u16, code: &str, message: &str) -> ApiError {
        let body = serde_json::json!({"error": {"code": code, "message": message, "innerError": {"request-id": "r-9"}}});
        ApiError::from_response(status, body.to_string().as_bytes(), None)
    }

    #[test]
    fn a_missing_mailbox_is_not_a_missing_contact() {
        let missing_contact = api_error(
            404,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        );
        let no_mailbox = api_error(
            404,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        );
        assert!(missing_contact.is_not_found());
        assert!(!missing_contact.is_mailbox_not_enabled());
        assert!(no_mailbox.is_mailbox_not_enabled());
        assert!(!no_mailbox.is_not_found());
    }

    #[test]
    fn an_application_access_policy_is_recognised_by_its_message() {
        let policy = api_error(403, "ErrorAccessDenied", "Access to OData is disabled.");
        let other_denial = api_error(
            403,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        );
        assert!(policy.is_access_denied_by_policy());
        assert!(!other_denial.is_access_denied_by_policy());
        assert_eq!(policy.request_id.as_deref(), Some("r-9"));
    }

    #[test]
    fn expired_delta_and_page_tokens_require_a_resync() {
        assert!(api_error(400, "syncStateNotFound", "x").is_resync_required());
        assert!(api_error(400, "ErrorInvalidSyncStateData", "x").is_resync_required());
        assert!(api_error(400, "Directory_ExpiredPageToken", "x").is_resync_required());
        assert!(!api_error(400, "Request_BadRequest", "x").is_resync_required());
    }

    #[test]
    fn a_non_graph_body_keeps_its_start_as_the_message() {
        let gateway = ApiError::from_response(502, b"<html>Bad Gateway</html>", None);
        assert_eq!(gateway.code, "unknown");
        assert_eq!(gateway.message, "<html>Bad Gateway</html>");
    }

    #[test]
    fn permanent_answers_are_told_from_transient_failures() {
        let unsupported_query = GraphError::Api(api_error(400, "ErrorInvalidUrlQuery", "x"));
        let denied = GraphError::Api(api_error(403, "ErrorAccessDenied", "x"));
        let gone = GraphError::Api(api_error(404, "ErrorItemNotFound", "x"));
        assert!(!unsupported_query.is_transient());
        assert!(!denied.is_transient());
        assert!(!gone.is_transient());
        let html_gateway = GraphError::GaveUp {
            attempts: 6,
            waited: Duration::from_secs(3),
            last_error: Box::new(GraphError::Api(ApiError::from_response(
                504,
                b"<html><body>504 Gateway Time-out</body></html>",
                None,
            ))),
        };
        assert!(html_gateway.is_transient());
        let throttled = GraphError::Api(api_error(429, "ApplicationThrottled", "x"));
        assert!(throttled.is_transient());
    }

    #[test]
    fn helpers_look_through_retries_and_ambiguity() {
        let throttled = GraphError::GaveUp {
            attempts: 6,
            waited: Duration::from_secs(1),
            last_error: Box::new(GraphError::Api(api_error(429, "ApplicationThrottled", "x"))),
        };
        assert!(throttled.is_throttled());
        assert_eq!(throttled.status(), Some(429));
        let ambiguous = GraphError::Ambiguous {
            method: "POST".to_owned(),
            path: "/users/u/contacts".to_owned(),
            source: Box::new(GraphError::Api(api_error(504, "GatewayTimeout", "x"))),
        };
        assert!(ambiguous.is_ambiguous());
        assert_eq!(ambiguous.status(), Some(504));
    }
}
