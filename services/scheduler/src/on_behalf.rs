//! Calls the admin console makes for a signed-in person. The console holds
//! its own service identity (`--console-identity`, default `console`) and,
//! on every call, names the person and the role they signed in with in two
//! metadata entries. The scheduler believes those entries only from that
//! identity, and never grants more than the role the identity itself is bound
//! to: the console can do nothing for a person the person could not do.

use crate::caller::{Caller, Role};
use crate::error::SchedulerError;

pub use galsync_platform::on_behalf::{OnBehalfOf, ON_BEHALF_OF_HEADER, ON_BEHALF_OF_ROLE_HEADER};

/// Reads the two entries (see [`galsync_platform::on_behalf`]). `Ok(None)`
/// when neither is present; a refusal when only one is, or when they are
/// malformed.
pub fn on_behalf_of<T>(request: &tonic::Request<T>) -> Result<Option<OnBehalfOf>, SchedulerError> {
    galsync_platform::on_behalf::on_behalf_of(request).map_err(SchedulerError::PermissionDenied)
}

/// The caller for a console call: the person's role, capped at the role the
/// console identity is bound to; the audit log names both.
pub fn console_caller(console_identity: &str, console_role: Role, claimed: OnBehalfOf) -> Caller {
    let role = claimed.role.min(console_role);
    Caller::unscoped(
        role,
        galsync_platform::on_behalf::actor(&claimed.person, console_identity),
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
