//! What an administrator reads when a mailbox fails for good: the reason in
//! plain words and what to change, since retrying cannot fix it
//! (learn.microsoft.com/graph/errors: 400 "malformed or incorrect", 401
//! "authentication information is either missing or not valid", 403 "access
//! is denied … not enough permission", 404 "doesn't exist").

use galsync_graph::{ApiError, GraphError};

/// The plain words for a mailbox outside the app's Exchange scope.
pub const OUTSIDE_EXCHANGE_SCOPE: &str = "blocked by an Exchange application access policy: \
the app is not allowed into this mailbox (an application access policy or an RBAC for \
Applications management scope leaves it out); fix: add the mailbox to the app's scope, \
or remove it from the profile's targets";

/// The plain words for a user without an Exchange Online mailbox.
pub fn mailbox_not_enabled(reason: &str) -> String {
    format!(
        "the user has no Exchange Online mailbox graph can reach ({reason}); fix: give the \
         user an Exchange Online licence, or remove them from the profile's targets"
    )
}

/// The plain words for a failed Graph call: as is when it is transient (the
/// work is offered again), with its fix when it is permanent.
pub fn graph_failure(source: &GraphError) -> String {
    if source.is_transient() {
        return source.to_string();
    }
    let Some(api_error) = source.api() else {
        return format!("{source}; this is a galsync bug, please report it");
    };
    format!(
        "{api_error}; retrying cannot fix this: {}",
        fix_for(api_error)
    )
}

fn fix_for(api_error: &ApiError) -> &'static str {
    match api_error.status {
        400 => {
            "graph does not accept a request galsync sent for this mailbox; update galsync, \
             or report this message with its request-id"
        }
        401 => {
            "graph did not accept the app's token; check the app registration's certificate \
             or client secret, and that admin consent was granted in this tenant"
        }
        403 => {
            "grant the app the Contacts.ReadWrite application permission with admin consent \
             in Entra ID; if Exchange limits the app to some mailboxes (application access \
             policy or RBAC for Applications), add this mailbox to that scope"
        }
        404 => "the mailbox or its galsync folder no longer exists; check the profile's targets",
        _ => "graph will refuse this request again as sent; check the message above",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str, message: &str) -> GraphError {
        let body = serde_json::json!({"error": {"code": code, "message": message}});
        GraphError::Api(ApiError::from_response(
            status,
            body.to_string().as_bytes(),
            None,
        ))
    }

    #[test]
    fn a_permanent_failure_comes_with_its_fix() {
        let denied = graph_failure(&api(
            403,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ));
        assert!(
            denied.starts_with("graph returned 403 ErrorAccessDenied"),
            "{denied}"
        );
        assert!(
            denied.contains("Contacts.ReadWrite application permission"),
            "{denied}"
        );
        let refused = graph_failure(&api(400, "ErrorInvalidUrlQuery", "not supported"));
        assert!(refused.contains("retrying cannot fix this"), "{refused}");
    }

    #[test]
    fn a_transient_failure_is_reported_as_it_is() {
        let unavailable = graph_failure(&api(503, "ServiceUnavailable", "try later"));
        assert_eq!(
            unavailable,
            "graph returned 503 ServiceUnavailable: try later"
        );
    }
}
