//! The scheduler's errors and their one mapping to gRPC status codes.

use galsync_platform::grpc::internal_status;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("invalid {field}: {message}")]
    InvalidArgument { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// Another run of the profile is in progress.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Unavailable(String),
    /// A peer service failed; its answer (already written for callers by
    /// that service) is passed on.
    #[error("{0}")]
    Peer(String),
    /// Another scheduler replica took over the run (its lock lapsed, say
    /// while the store was unreachable): this one stops driving it.
    #[error("run {0} lost its profile lock (another scheduler took over)")]
    RunTakenOver(String),
    #[error("store error: {0}")]
    Store(#[source] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl SchedulerError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<SchedulerError> for Status {
    fn from(error: SchedulerError) -> Self {
        status_from_scheduler_error(error)
    }
}

pub fn status_from_scheduler_error(error: SchedulerError) -> Status {
    match error {
        SchedulerError::InvalidArgument { .. } => Status::invalid_argument(error.to_string()),
        SchedulerError::NotFound(message) => Status::not_found(message),
        SchedulerError::AlreadyExists(message) => Status::already_exists(message),
        SchedulerError::Busy(message) => Status::aborted(message),
        SchedulerError::FailedPrecondition(message) => Status::failed_precondition(message),
        SchedulerError::PermissionDenied(message) => Status::permission_denied(message),
        SchedulerError::Unauthenticated(message) => Status::unauthenticated(message),
        SchedulerError::Unavailable(message) => Status::unavailable(message),
        SchedulerError::Peer(message) => Status::internal(message),
        SchedulerError::RunTakenOver(_) => Status::aborted(error.to_string()),
        SchedulerError::Store(source) => internal_status("scheduler", "store failed", &source),
        // Internal text (ids, decoder errors) is for the operator's log, not
        // the caller: the caller gets an incident id to quote.
        SchedulerError::Internal(message) => {
            internal_status("scheduler", "internal error", &message)
        }
    }
}

/// Every store error that becomes a service error is counted
/// (`galsync_store_errors_total`).
impl From<sqlx::Error> for SchedulerError {
    fn from(error: sqlx::Error) -> Self {
        galsync_platform::metrics::count_store_error();
        Self::Store(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_profiles_are_aborted_and_fields_are_named() {
        let status = status_from_scheduler_error(SchedulerError::Busy(
            "profile p has run r in progress".to_owned(),
        ));
        assert_eq!(status.code(), tonic::Code::Aborted);
        let status = status_from_scheduler_error(SchedulerError::invalid("spec.name", "is empty"));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(status.message(), "invalid spec.name: is empty");
        let status = status_from_scheduler_error(SchedulerError::Store(sqlx::Error::PoolTimedOut));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(!status.message().contains("pool"));
        let status = status_from_scheduler_error(SchedulerError::Internal(
            "profile 7 is unreadable: buffer underflow".to_owned(),
        ));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(
            !status.message().contains("underflow"),
            "{}",
            status.message()
        );
        assert!(
            status.message().contains("incident"),
            "{}",
            status.message()
        );
    }
}
