//! What can go wrong in a command, the exit code it becomes, and the one place
//! that turns a gRPC status into words an administrator can act on.

use std::fmt;

/// The documented exit codes (`galsync --help`, docs/cli.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The operation failed: a run failed, a connection check failed, …
    Failed = 1,
    /// Usage or configuration error: a bad flag value, a missing file.
    Usage = 2,
    /// A galsync service cannot be reached.
    Unreachable = 3,
    /// The service refused: not an admin identity, bad API key.
    PermissionDenied = 4,
    /// The tenant, certificate, profile or run does not exist.
    NotFound = 5,
}

/// An error to print (one line, plain words, with the fix) and exit with.
#[derive(Debug)]
pub struct CliError {
    pub exit_code: ExitCode,
    pub message: String,
}

impl CliError {
    pub fn new(exit_code: ExitCode, message: impl Into<String>) -> Self {
        Self {
            exit_code,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Usage, message)
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Failed, message)
    }

    /// An error of `galsync up` or `pki init`: configuration errors exit 2,
    /// anything else 1, as the service binaries do.
    pub fn from_anyhow(error: anyhow::Error) -> Self {
        let mut message = error.to_string();
        for cause in error.chain().skip(1) {
            let cause_text = cause.to_string();
            if !message.contains(&cause_text) {
                message.push_str(": ");
                message.push_str(&cause_text);
            }
        }
        let exit_code = if galsync_platform::flags::is_config_error(&error) {
            ExitCode::Usage
        } else {
            ExitCode::Failed
        };
        Self::new(exit_code, message)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// Which service a call went to, for messages that say where and how to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceName {
    Broker,
    Scheduler,
}

impl ServiceName {
    pub fn label(self) -> &'static str {
        match self {
            ServiceName::Broker => "auth-broker",
            ServiceName::Scheduler => "scheduler",
        }
    }

    fn url_flag(self) -> &'static str {
        match self {
            ServiceName::Broker => "--broker-url",
            ServiceName::Scheduler => "--scheduler-url",
        }
    }
}

/// Where a call went: the service and the URL used.
#[derive(Debug, Clone)]
pub struct Target {
    pub service: ServiceName,
    pub url: String,
}

impl Target {
    /// Maps a failed call to an exit code and a message with the fix.
    pub fn error(&self, status: tonic::Status) -> CliError {
        status_to_error(self, &status)
    }
}

/// One place decides what a gRPC status means for the administrator.
pub fn status_to_error(target: &Target, status: &tonic::Status) -> CliError {
    use tonic::Code;
    let service = target.service.label();
    let url = &target.url;
    let message = status.message();
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded if is_transport_failure(status) => {
            unreachable_error(target, status)
        }
        Code::Unavailable => CliError::failed(format!(
            "the {service} could not complete the call: {message}"
        )),
        Code::DeadlineExceeded => CliError::failed(format!(
            "the {service} at {url} did not answer in time: {message}"
        )),
        Code::InvalidArgument | Code::OutOfRange => CliError::usage(message.to_owned()),
        Code::NotFound => CliError::new(ExitCode::NotFound, message.to_owned()),
        Code::PermissionDenied => CliError::new(
            ExitCode::PermissionDenied,
            format!("the {service} refused: {message}"),
        ),
        Code::Unauthenticated => CliError::new(
            ExitCode::PermissionDenied,
            match target.service {
                ServiceName::Scheduler => format!(
                    "the scheduler did not accept the credentials: {message}; set --api-key (GALSYNC_API_KEY) \
                     or use a client certificate the scheduler trusts (--pki-dir)"
                ),
                ServiceName::Broker => format!(
                    "the auth-broker did not accept the CLI's identity: {message}; use the cli certificate \
                     from the deployment's PKI (--pki-dir)"
                ),
            },
        ),
        Code::Unimplemented => CliError::failed(format!(
            "the {service} at {url} does not offer this call yet (is it an older or unfinished version?): {message}"
        )),
        Code::AlreadyExists | Code::Aborted | Code::FailedPrecondition => {
            CliError::failed(message.to_owned())
        }
        _ => CliError::failed(format!("the {service} failed: {message}")),
    }
}

/// True when the status was made on our side because no HTTP/2 exchange
/// happened (connection refused, DNS, TLS handshake), rather than sent by the
/// service: only then does tonic attach the transport error as its source.
fn is_transport_failure(status: &tonic::Status) -> bool {
    std::error::Error::source(status).is_some()
}

fn unreachable_error(target: &Target, status: &tonic::Status) -> CliError {
    let service = target.service.label();
    let url = &target.url;
    let detail = error_chain_text(status);
    let lower = detail.to_ascii_lowercase();
    // A refused or unresolvable address means nothing listens; any other
    // failure over TLS is a handshake problem (other CA, plaintext server).
    let nothing_listens = [
        "tcp connect",
        "connection refused",
        "dns error",
        "timed out",
    ]
    .iter()
    .any(|needle| lower.contains(needle));
    let hint = if !nothing_listens && target.url.starts_with("https://") {
        "the TLS handshake failed: use the same PKI as the services (--pki-dir), \
         or --plaintext when they run with `galsync up --plaintext`"
            .to_owned()
    } else {
        format!(
            "is `galsync up` running? (or set {})",
            target.service.url_flag()
        )
    };
    CliError::new(
        ExitCode::Unreachable,
        format!("cannot reach the {service} at {url}: {hint} ({detail})"),
    )
}

fn error_chain_text(status: &tonic::Status) -> String {
    let mut text = status.message().to_owned();
    let mut source = std::error::Error::source(status);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker() -> Target {
        Target {
            service: ServiceName::Broker,
            url: "https://127.0.0.1:50051".to_owned(),
        }
    }

    #[test]
    fn codes_map_to_documented_exit_codes() {
        let cases = [
            (
                tonic::Status::invalid_argument("invalid tenant_id"),
                ExitCode::Usage,
            ),
            (tonic::Status::not_found("no tenant"), ExitCode::NotFound),
            (
                tonic::Status::permission_denied("no"),
                ExitCode::PermissionDenied,
            ),
            (
                tonic::Status::unauthenticated("no key"),
                ExitCode::PermissionDenied,
            ),
            (
                tonic::Status::failed_precondition("AADSTS700027"),
                ExitCode::Failed,
            ),
        ];
        for (status, expected) in cases {
            assert_eq!(
                status_to_error(&broker(), &status).exit_code,
                expected,
                "{status:?}"
            );
        }
    }

    #[test]
    fn a_handshake_failure_points_at_the_pki_or_plaintext() {
        let mut status = tonic::Status::unavailable("transport error");
        status.set_source(std::sync::Arc::new(std::io::Error::other(
            "received corrupt message of type InvalidContentType",
        )));
        let error = status_to_error(&broker(), &status);
        assert_eq!(error.exit_code, ExitCode::Unreachable);
        assert!(
            error.message.contains("the TLS handshake failed"),
            "{}",
            error.message
        );
        assert!(error.message.contains("--plaintext"), "{}", error.message);
    }

    #[test]
    fn a_service_side_unavailable_is_not_unreachable() {
        let status = tonic::Status::unavailable("entra could not be reached");
        let error = status_to_error(&broker(), &status);
        assert_eq!(error.exit_code, ExitCode::Failed);
        assert!(error.message.contains("entra could not be reached"));
    }
}
