//! The reader's errors and their one mapping to gRPC status codes.

use galsync_graph::GraphError;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid {field}: {message}")]
    InvalidArgument {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    /// Graph refused or failed the read; no snapshot was made and no delta
    /// link was advanced.
    #[error("failed to read the directory of tenant {tenant_id}: {source}")]
    Graph {
        tenant_id: String,
        #[source]
        source: GraphError,
    },
    /// Graph refused `mailboxSettings/userPurpose`, which tells user, shared,
    /// room and equipment mailboxes apart; `fix` says what the admin does.
    #[error(
        "failed to read which users have shared, room or equipment mailboxes in tenant \
         {tenant_id} (graph answered {status}: {detail}); {fix}"
    )]
    UserPurpose {
        tenant_id: String,
        status: u16,
        detail: String,
        fix: &'static str,
    },
    /// Another reader committed a round of the same tenant and scope first.
    #[error("another read of tenant {tenant_id} finished first; take the snapshot again")]
    Conflict { tenant_id: String },
    #[error("store error: {0}")]
    Store(#[source] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            message: message.into(),
        }
    }

    pub fn graph(tenant_id: &str, source: GraphError) -> Self {
        Self::Graph {
            tenant_id: tenant_id.to_owned(),
            source,
        }
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::Internal(format!("a background task failed: {error}"))
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        status_from_error(error)
    }
}

/// One place decides which gRPC code an error becomes. Store details stay in
/// the log; callers get a plain message.
pub fn status_from_error(error: Error) -> Status {
    match error {
        Error::InvalidArgument { .. } => Status::invalid_argument(error.to_string()),
        Error::NotFound(message) => Status::not_found(message),
        Error::Graph { ref source, .. } => {
            let message = error.to_string();
            if matches!(source, GraphError::Token(_)) {
                return Status::failed_precondition(message);
            }
            match source.status() {
                Some(401 | 403) => Status::permission_denied(message),
                Some(404) => Status::not_found(message),
                Some(400) => Status::failed_precondition(message),
                _ => Status::unavailable(message),
            }
        }
        Error::UserPurpose { status, .. } => match status {
            401 | 403 => Status::permission_denied(error.to_string()),
            429 | 500..=599 => Status::unavailable(error.to_string()),
            _ => Status::failed_precondition(error.to_string()),
        },
        Error::Conflict { .. } => Status::aborted(error.to_string()),
        Error::Store(source) => {
            galsync_platform::grpc::internal_status("directory-reader", "store failed", &source)
        }
        Error::Internal(message) => {
            galsync_platform::grpc::internal_status("directory-reader", "internal error", &message)
        }
    }
}

/// Every store error that becomes a service error is counted
/// (`galsync_store_errors_total`).
impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        galsync_platform::metrics::count_store_error();
        Self::Store(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use galsync_graph::ApiError;
    use tonic::Code;

    fn graph_error(status: u16, code: &str) -> Error {
        let body = serde_json::json!({"error": {"code": code, "message": "m"}}).to_string();
        let api = ApiError::from_response(status, body.as_bytes(), None);
        Error::graph("t-1", GraphError::Api(api))
    }

    #[test]
    fn each_error_maps_to_the_code_a_caller_can_act_on() {
        assert_eq!(
            Status::from(Error::invalid("tenant_id", "empty")).code(),
            Code::InvalidArgument
        );
        assert_eq!(
            Status::from(Error::NotFound("snapshot x".into())).code(),
            Code::NotFound
        );
        assert_eq!(
            Status::from(graph_error(403, "Authorization_RequestDenied")).code(),
            Code::PermissionDenied
        );
        assert_eq!(
            Status::from(graph_error(404, "Request_ResourceNotFound")).code(),
            Code::NotFound
        );
        assert_eq!(
            Status::from(graph_error(503, "ServiceUnavailable")).code(),
            Code::Unavailable
        );
        assert_eq!(
            Status::from(Error::Conflict {
                tenant_id: "t".into()
            })
            .code(),
            Code::Aborted
        );
    }

    #[test]
    fn store_details_stay_out_of_the_status() {
        let status = Status::from(Error::Store(sqlx::Error::Protocol(
            "password authentication failed for user galsync".into(),
        )));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("password"));
    }
}
