//! Errors of the contact-writer's domain.

use galsync_graph::GraphError;
use tonic::Status;

use crate::advice;

/// The plain-words reason an application access policy keeps galsync out.
pub const BLOCKED_BY_POLICY: &str = "blocked by an Exchange application access policy";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// The mailbox refuses this app (`ErrorAccessDenied`, "Access to OData is disabled").
    #[error("mailbox {mailbox_id} is {BLOCKED_BY_POLICY}")]
    BlockedByPolicy { mailbox_id: String },

    /// The user has no Exchange Online mailbox (or does not exist).
    #[error("mailbox {mailbox_id} is not enabled for graph: {reason}")]
    MailboxNotEnabled { mailbox_id: String, reason: String },

    #[error("graph request for mailbox {mailbox_id} failed: {source}")]
    Graph {
        mailbox_id: String,
        #[source]
        source: GraphError,
    },

    #[error("snapshot {snapshot_id} is unavailable: {reason}")]
    SnapshotUnavailable { snapshot_id: String, reason: String },

    #[error("snapshot {snapshot_id} no longer exists")]
    SnapshotNotFound { snapshot_id: String },

    #[error("failed to set up graph for tenant {tenant_id}: {reason}")]
    GraphSetup { tenant_id: String, reason: String },

    #[error("contact-writer store failed")]
    Store(#[source] sqlx::Error),

    #[error("failed to encode a contact as JSON")]
    Encode(#[from] serde_json::Error),

    /// The lease on the mailbox came too near its end to send more to Graph:
    /// the writer stops so that none of its writes can land after another
    /// writer has taken the mailbox over.
    #[error("the lease on mailbox {mailbox_id} ran out before its writes ended")]
    LeaseLapsed { mailbox_id: String },

    /// The work item was cancelled or the service is stopping.
    #[error("reconciliation cancelled")]
    Cancelled,
}

impl Error {
    /// Classifies a Graph failure of one mailbox.
    pub fn from_graph(mailbox_id: &str, source: GraphError) -> Self {
        if source.is_past_deadline() {
            return Error::LeaseLapsed {
                mailbox_id: mailbox_id.to_owned(),
            };
        }
        if source.is_access_denied_by_policy() {
            return Error::BlockedByPolicy {
                mailbox_id: mailbox_id.to_owned(),
            };
        }
        if source.is_mailbox_not_enabled() {
            let reason = source
                .api()
                .map(|api| api.message.clone())
                .unwrap_or_default();
            return Error::MailboxNotEnabled {
                mailbox_id: mailbox_id.to_owned(),
                reason,
            };
        }
        Error::Graph {
            mailbox_id: mailbox_id.to_owned(),
            source,
        }
    }

    /// A failure of this one mailbox (reported as a FAILED result, the run
    /// goes on with the others) rather than of the writer.
    pub fn is_mailbox_failure(&self) -> bool {
        matches!(
            self,
            Error::BlockedByPolicy { .. } | Error::MailboxNotEnabled { .. } | Error::Graph { .. }
        )
    }

    /// Whether trying again later can help: not after Graph's permanent
    /// answer (400, 401, 403, 404, …), only after a transient one (429, 5xx)
    /// or a failed, dropped or timed-out connection.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Graph { source, .. } => source.is_transient(),
            Error::BlockedByPolicy { .. }
            | Error::MailboxNotEnabled { .. }
            | Error::InvalidRequest(_)
            | Error::SnapshotNotFound { .. } => false,
            _ => true,
        }
    }

    /// What an administrator reads in the run report: the reason, and the
    /// fix when retrying cannot help.
    pub fn plain_words(&self) -> String {
        match self {
            Error::BlockedByPolicy { .. } => advice::OUTSIDE_EXCHANGE_SCOPE.to_owned(),
            Error::MailboxNotEnabled { reason, .. } => advice::mailbox_not_enabled(reason),
            Error::Graph { source, .. } => advice::graph_failure(source),
            other => other.to_string(),
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

/// What a caller of the gRPC API is told.
impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        match error {
            Error::InvalidRequest(_) => Status::invalid_argument(message),
            Error::SnapshotNotFound { .. } => Status::not_found(message),
            Error::BlockedByPolicy { .. } | Error::MailboxNotEnabled { .. } => {
                Status::failed_precondition(message)
            }
            Error::Graph { .. } | Error::SnapshotUnavailable { .. } | Error::GraphSetup { .. } => {
                Status::unavailable(message)
            }
            Error::Cancelled => Status::cancelled(message),
            Error::LeaseLapsed { .. } => Status::aborted(message),
            // The store's and encoder's text is for the operator's log; the
            // caller gets an incident id to quote.
            Error::Store(_) | Error::Encode(_) => galsync_platform::grpc::internal_status(
                "contact-writer",
                "internal error",
                &message,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_the_status_a_caller_can_act_on() {
        let invalid: Status = Error::InvalidRequest("mailbox_id is required".to_owned()).into();
        assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
        let blocked: Status = Error::BlockedByPolicy {
            mailbox_id: "m1".to_owned(),
        }
        .into();
        assert_eq!(blocked.code(), tonic::Code::FailedPrecondition);
        assert!(blocked
            .message()
            .contains("blocked by an Exchange application access policy"));
        let gone: Status = Error::SnapshotNotFound {
            snapshot_id: "s1".to_owned(),
        }
        .into();
        assert_eq!(gone.code(), tonic::Code::NotFound);
        let reader_down: Status = Error::SnapshotUnavailable {
            snapshot_id: "s1".to_owned(),
            reason: "connection refused".to_owned(),
        }
        .into();
        assert_eq!(reader_down.code(), tonic::Code::Unavailable);
        let store: Status = Error::Store(sqlx::Error::Protocol(
            "relation \"mailbox_state\" does not exist".to_owned(),
        ))
        .into();
        assert_eq!(store.code(), tonic::Code::Internal);
        assert!(
            !store.message().contains("mailbox_state"),
            "{}",
            store.message()
        );
        assert!(store.message().contains("incident"), "{}", store.message());
    }
}
