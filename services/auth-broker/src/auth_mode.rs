//! How an app proves to Entra that it is the app: the two modes galsync
//! supports, and the one it removed (kept so stored apps still read).

use std::fmt;

/// An app registration's credential mode, as stored in `apps.auth_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// A certificate the broker made; the recommended mode.
    Certificate,
    /// A client secret the administrator set.
    ClientSecret,
    /// A delegated sign-in: removed, kept only for apps registered before
    /// (see [`crate::removed_mode`]). They get no tokens.
    ConsentToken,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Certificate => "certificate",
            AuthMode::ClientSecret => "client-secret",
            AuthMode::ConsentToken => "consent-token",
        }
    }

    pub fn parse(text: &str) -> Option<AuthMode> {
        match text {
            "certificate" => Some(AuthMode::Certificate),
            "client-secret" => Some(AuthMode::ClientSecret),
            "consent-token" => Some(AuthMode::ConsentToken),
            _ => None,
        }
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A stored mode the broker does not know: the store was written by
/// something other than galsync's migrations.
#[derive(Debug, thiserror::Error)]
#[error("unknown auth mode {0:?} in the store")]
pub struct UnknownAuthMode(String);

impl TryFrom<String> for AuthMode {
    type Error = UnknownAuthMode;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        AuthMode::parse(&text).ok_or(UnknownAuthMode(text))
    }
}

/// Why a new app cannot be in consent-token mode (see [`crate::removed_mode`]).
pub const CONSENT_TOKEN_MODE_REMOVED: &str =
    "consent-token mode was removed: a delegated token reaches only the signed-in account's own \
     contacts, never every target mailbox; use certificate (recommended) or client-secret, with \
     Microsoft Graph application permissions granted by admin consent";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_reads_back_as_it_is_stored() {
        for mode in [
            AuthMode::Certificate,
            AuthMode::ClientSecret,
            AuthMode::ConsentToken,
        ] {
            assert_eq!(AuthMode::try_from(mode.as_str().to_owned()).unwrap(), mode);
        }
        assert!(AuthMode::try_from("device-code".to_owned()).is_err());
    }
}
