//! Who may call an RPC: one mechanism for every service. A service keeps one
//! [`AllowedCallers`] per family of RPCs (e.g. the directory-reader's snapshot
//! reads) and asks [`authorize`] at the top of each handler, before looking at
//! the request. A refusal is `PERMISSION_DENIED` naming the caller and the RPC,
//! and is logged at warn; services with an audit log record it as well.

use std::collections::BTreeSet;

use crate::tls::{caller_identity, CallerIdentity};

/// The identities (SAN URI `urn:galsync:service:<name>` of a verified client
/// certificate) allowed one family of RPCs, and whether plaintext loopback
/// callers count as allowed (`--trust-plaintext-loopback`, `galsync up
/// --plaintext`, in-process tests without TLS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedCallers {
    identities: BTreeSet<String>,
    trust_local_plaintext: bool,
}

impl AllowedCallers {
    /// `identities` are service names such as `scheduler`; blank ones are ignored.
    pub fn new<I, S>(identities: I, trust_local_plaintext: bool) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut names = BTreeSet::new();
        for identity in identities {
            let name = identity.as_ref().trim();
            if !name.is_empty() {
                names.insert(name.to_owned());
            }
        }
        Self {
            identities: names,
            trust_local_plaintext,
        }
    }

    /// Whether `caller` is one of the allowed identities (or a trusted
    /// plaintext loopback caller). A certificate without a galsync identity is
    /// never allowed.
    pub fn admits(&self, caller: &CallerIdentity) -> bool {
        match caller {
            CallerIdentity::Service(name) => self.identities.contains(name),
            CallerIdentity::LocalPlaintext => self.trust_local_plaintext,
            CallerIdentity::Unidentified | CallerIdentity::Person(_) => false,
        }
    }

    /// The allowed identities for messages, e.g. `scheduler, contact-writer`.
    pub fn describe(&self) -> String {
        if self.identities.is_empty() {
            return "no identity".to_owned();
        }
        self.identities
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A call refused because of who made it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{caller} may not call {rpc}; only {allowed} may{hint}")]
pub struct Refusal {
    pub caller: CallerIdentity,
    /// The full gRPC method, e.g. `galsync.v1.ContactWriter/PurgeMailbox`.
    pub rpc: String,
    /// The identities that may, as [`AllowedCallers::describe`] gives them.
    pub allowed: String,
    /// Extra advice, empty or starting with `; `.
    hint: String,
}

impl From<Refusal> for tonic::Status {
    fn from(refusal: Refusal) -> Self {
        tonic::Status::permission_denied(refusal.to_string())
    }
}

/// Decides whether `caller` may call `rpc`; a refusal is logged at warn.
pub fn check(
    caller: CallerIdentity,
    rpc: &str,
    allowed: &AllowedCallers,
) -> Result<CallerIdentity, Refusal> {
    if allowed.admits(&caller) {
        return Ok(caller);
    }
    let hint = match caller {
        CallerIdentity::LocalPlaintext => {
            "; a plaintext caller is trusted only with --trust-plaintext-loopback".to_owned()
        }
        _ => String::new(),
    };
    tracing::warn!(caller = %caller, rpc, allowed = %allowed.describe(), "refused a call from an identity not allowed this rpc");
    Err(Refusal {
        caller,
        rpc: rpc.to_owned(),
        allowed: allowed.describe(),
        hint,
    })
}

/// [`check`] for the caller of `request`, identified by its verified client
/// certificate (see [`caller_identity`]).
pub fn authorize<T>(
    request: &tonic::Request<T>,
    rpc: &str,
    allowed: &AllowedCallers,
) -> Result<CallerIdentity, Refusal> {
    check(caller_identity(request), rpc, allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str) -> CallerIdentity {
        CallerIdentity::Service(name.to_owned())
    }

    #[test]
    fn only_listed_identities_are_admitted() {
        let allowed = AllowedCallers::new(["scheduler", " contact-writer ", ""], false);
        assert!(allowed.admits(&service("scheduler")));
        assert!(allowed.admits(&service("contact-writer")));
        assert!(!allowed.admits(&service("monitoring")));
        assert!(!allowed.admits(&CallerIdentity::Unidentified));
        assert!(!allowed.admits(&CallerIdentity::LocalPlaintext));
        assert_eq!(allowed.describe(), "contact-writer, scheduler");
        let trusting = AllowedCallers::new(["scheduler"], true);
        assert!(trusting.admits(&CallerIdentity::LocalPlaintext));
        assert!(!trusting.admits(&CallerIdentity::Unidentified));
    }

    #[test]
    fn a_refusal_names_the_caller_and_the_rpc() {
        let allowed = AllowedCallers::new(["scheduler"], false);
        let refusal = check(
            service("monitoring"),
            "galsync.v1.ContactWriter/PurgeMailbox",
            &allowed,
        )
        .unwrap_err();
        let status = tonic::Status::from(refusal);
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert_eq!(
            status.message(),
            "urn:galsync:service:monitoring may not call galsync.v1.ContactWriter/PurgeMailbox; only scheduler may"
        );
        let plaintext = check(CallerIdentity::LocalPlaintext, "x/Y", &allowed).unwrap_err();
        assert!(plaintext.to_string().contains("--trust-plaintext-loopback"));
    }
}
