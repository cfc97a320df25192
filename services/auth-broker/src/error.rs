//! The broker's errors and their one mapping to gRPC status codes.

use galsync_platform::grpc::internal_status;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("invalid {field}: {message}")]
    InvalidArgument {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// Entra refused a credential; the message carries the AADSTS code and the fix.
    #[error("{0}")]
    Credential(String),
    /// Entra or Graph could not be reached.
    #[error("{0}")]
    Unavailable(String),
    #[error("store error: {0}")]
    Store(#[source] sqlx::Error),
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl BrokerError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            message: message.into(),
        }
    }
}

impl From<crate::certificates::CertificateError> for BrokerError {
    fn from(error: crate::certificates::CertificateError) -> Self {
        use crate::certificates::CertificateError;
        let field = match &error {
            CertificateError::KeyBits(_) => "key_bits",
            CertificateError::Validity(_) => "validity_days",
            CertificateError::Pkcs12(_) => "pkcs12",
            CertificateError::Pem(_) | CertificateError::KeyMismatch | CertificateError::NotRsa => {
                "pem"
            }
            CertificateError::Generate(_) => return BrokerError::Internal(error.to_string()),
        };
        BrokerError::InvalidArgument {
            field,
            message: error.to_string(),
        }
    }
}

impl From<BrokerError> for Status {
    fn from(error: BrokerError) -> Self {
        status_from_broker_error(error)
    }
}

/// One place decides which gRPC code a broker error becomes. Store and seal
/// details stay in the log; callers get a plain message.
pub fn status_from_broker_error(error: BrokerError) -> Status {
    match error {
        BrokerError::InvalidArgument { .. } => Status::invalid_argument(error.to_string()),
        BrokerError::NotFound(message) => Status::not_found(message),
        BrokerError::AlreadyExists(message) => Status::already_exists(message),
        BrokerError::PermissionDenied(message) => Status::permission_denied(message),
        BrokerError::FailedPrecondition(message) | BrokerError::Credential(message) => {
            Status::failed_precondition(message)
        }
        BrokerError::Unavailable(message) => Status::unavailable(message),
        BrokerError::Store(source) => internal_status("auth-broker", "store failed", &source),
        // The seal's messages name the master key and the fix, never a secret.
        BrokerError::Seal(source) => {
            tracing::error!(error = %source, "a sealed secret could not be opened");
            Status::internal(source.to_string())
        }
        // Internal text (key handling, encoders, ids) is for the operator's
        // log; the caller gets an incident id to quote.
        BrokerError::Internal(message) => {
            internal_status("auth-broker", "internal error", &message)
        }
    }
}

/// Every store error that becomes a service error is counted
/// (`galsync_store_errors_total`).
impl From<sqlx::Error> for BrokerError {
    fn from(error: sqlx::Error) -> Self {
        galsync_platform::metrics::count_store_error();
        Self::Store(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_arguments_name_the_field() {
        let status = status_from_broker_error(BrokerError::invalid("tenant_id", "must be a GUID"));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(status.message(), "invalid tenant_id: must be a GUID");
    }

    #[test]
    fn store_errors_do_not_leak_details() {
        let status = status_from_broker_error(BrokerError::Store(sqlx::Error::PoolTimedOut));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(!status.message().contains("pool"));
    }

    #[test]
    fn internal_errors_give_an_incident_id_not_their_text() {
        let status = status_from_broker_error(BrokerError::Internal(
            "rsa key 7f3a for tenant contoso could not be encoded".to_owned(),
        ));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(
            !status.message().contains("rsa key"),
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
