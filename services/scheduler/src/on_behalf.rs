//! Calls the admin console makes for a signed-in person. The console holds
//! its own service identity (`--console-identity`, default `console`) and,
//! on every call, names the person and the role they signed in with in two
//! metadata entries. The scheduler believes those entries only from that
//! identity, and never grants more than the role the identity itself is bound
//! to: the console can do nothing for a person the person could not do.

use crate::access::{Caller, Role};
use crate::error::SchedulerError;

/// Metadata naming the signed-in person, e.g. `bootstrap-admin`.
pub const ON_BEHALF_OF_HEADER: &str = "x-galsync-on-behalf-of";
/// Metadata naming the person's role: `viewer`, `operator` or `admin`.
pub const ON_BEHALF_OF_ROLE_HEADER: &str = "x-galsync-on-behalf-of-role";

/// Longest accepted person name (a UPN fits).
const MAX_ACTOR_LEN: usize = 256;

/// What the console claimed about the person, before any check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnBehalfOf {
    pub person: String,
    pub role: Role,
}

/// Reads the two entries. `Ok(None)` when neither is present; an error when
/// only one is, or when they are malformed.
pub fn on_behalf_of<T>(request: &tonic::Request<T>) -> Result<Option<OnBehalfOf>, SchedulerError> {
    let metadata = request.metadata();
    let person_value = metadata.get(ON_BEHALF_OF_HEADER);
    let role_value = metadata.get(ON_BEHALF_OF_ROLE_HEADER);
    let (person_value, role_value) = match (person_value, role_value) {
        (None, None) => return Ok(None),
        (Some(person_value), Some(role_value)) => (person_value, role_value),
        _ => {
            return Err(SchedulerError::PermissionDenied(format!(
                "{ON_BEHALF_OF_HEADER} and {ON_BEHALF_OF_ROLE_HEADER} go together; send both"
            )))
        }
    };
    // Percent-encoded by the console (`platform::metadata_text`): a name in
    // any script.
    let person = person_value
        .to_str()
        .ok()
        .and_then(galsync_platform::metadata_text::decode)
        .unwrap_or_default();
    let person = person.trim();
    let person_is_valid = !person.is_empty()
        && person.chars().count() <= MAX_ACTOR_LEN
        && !person.chars().any(char::is_whitespace);
    if !person_is_valid {
        return Err(SchedulerError::PermissionDenied(format!(
            "{ON_BEHALF_OF_HEADER} must name the person in 1 to {MAX_ACTOR_LEN} characters without spaces, percent-encoded"
        )));
    }
    let role_text = role_value.to_str().unwrap_or_default();
    let Some(role) = Role::parse(role_text) else {
        return Err(SchedulerError::PermissionDenied(format!(
            "{ON_BEHALF_OF_ROLE_HEADER} must be viewer, operator or admin"
        )));
    };
    Ok(Some(OnBehalfOf {
        person: person.to_owned(),
        role,
    }))
}

/// The caller for a console call: the person's role, capped at the role the
/// console identity is bound to; the audit log names both.
pub fn console_caller(console_identity: &str, console_role: Role, claimed: OnBehalfOf) -> Caller {
    let role = claimed.role.min(console_role);
    Caller::unscoped(
        role,
        format!(
            "{} via urn:galsync:service:{console_identity}",
            claimed.person
        ),
    )
}

/// The refusal for an on-behalf-of claim from anyone but the console.
pub fn refuse_claim(claimant: &str, console_identity: Option<&str>) -> SchedulerError {
    let allowed = match console_identity {
        Some(name) => format!("only the console identity {name} may (--console-identity)"),
        None => "no identity may: --console-identity is empty".to_owned(),
    };
    SchedulerError::PermissionDenied(format!(
        "{claimant} may not act on behalf of a person ({ON_BEHALF_OF_HEADER}); {allowed}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with(entries: &[(&'static str, &str)]) -> tonic::Request<()> {
        let mut request = tonic::Request::new(());
        for (key, value) in entries {
            request
                .metadata_mut()
                .insert(*key, value.parse().expect("ascii metadata"));
        }
        request
    }

    #[test]
    fn both_entries_are_needed_and_checked() {
        assert_eq!(on_behalf_of(&request_with(&[])).unwrap(), None);
        let claimed = on_behalf_of(&request_with(&[
            (ON_BEHALF_OF_HEADER, "ada@contoso.example"),
            (ON_BEHALF_OF_ROLE_HEADER, "operator"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(claimed.person, "ada@contoso.example");
        assert_eq!(claimed.role, Role::Operator);
        assert!(on_behalf_of(&request_with(&[(ON_BEHALF_OF_HEADER, "ada")])).is_err());
        assert!(on_behalf_of(&request_with(&[
            (ON_BEHALF_OF_HEADER, "ada"),
            (ON_BEHALF_OF_ROLE_HEADER, "root"),
        ]))
        .is_err());
        assert!(on_behalf_of(&request_with(&[
            (ON_BEHALF_OF_HEADER, "ada lovelace"),
            (ON_BEHALF_OF_ROLE_HEADER, "viewer"),
        ]))
        .is_err());
        // A name in any script, percent-encoded by the console.
        let encoded = galsync_platform::metadata_text::encode("zoë@contoso.example");
        let claimed = on_behalf_of(&request_with(&[
            (ON_BEHALF_OF_HEADER, &encoded),
            (ON_BEHALF_OF_ROLE_HEADER, "viewer"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(claimed.person, "zoë@contoso.example");
        for malformed in ["zo%C3", "a%0Ab", "a%20b"] {
            assert!(
                on_behalf_of(&request_with(&[
                    (ON_BEHALF_OF_HEADER, malformed),
                    (ON_BEHALF_OF_ROLE_HEADER, "viewer"),
                ]))
                .is_err(),
                "{malformed}"
            );
        }
    }

    #[test]
    fn the_persons_role_is_capped_at_the_consoles() {
        let claimed = OnBehalfOf {
            person: "ada".to_owned(),
            role: Role::Admin,
        };
        let caller = console_caller("console", Role::Operator, claimed);
        assert_eq!(caller.role, Role::Operator);
        assert_eq!(caller.actor, "ada via urn:galsync:service:console");
        let viewer = OnBehalfOf {
            person: "bob".to_owned(),
            role: Role::Viewer,
        };
        assert_eq!(
            console_caller("console", Role::Admin, viewer).role,
            Role::Viewer
        );
    }
}
