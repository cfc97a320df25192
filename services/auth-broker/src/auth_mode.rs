//! How an app proves to Entra that it is the app: the two modes galsync
//! supports, and the one it removed (kept so stored apps still read).

galsync_platform::stored_names! {
    /// An app registration's credential mode, as stored in `apps.auth_mode`.
    pub enum AuthMode as "auth mode" {
        /// A certificate the broker made; the recommended mode.
        Certificate = "certificate",
        /// A client secret the administrator set.
        ClientSecret = "client-secret",
        /// A delegated sign-in: removed, kept only for apps registered before
        /// (see [`crate::removed_mode`]). They get no tokens.
        ConsentToken = "consent-token",
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
        for mode in AuthMode::ALL {
            assert_eq!(AuthMode::try_from(mode.as_str().to_owned()).unwrap(), mode);
        }
        assert!(AuthMode::try_from("device-code".to_owned()).is_err());
    }
}
