//! Calls the admin console makes for a signed-in person. The console holds
//! its own service identity and, on every call, names the person and the
//! role they signed in with in two metadata entries. A service believes
//! those entries only from the console's identity (`--console-identity`),
//! and grants no more than that identity may: the console can do nothing
//! for a person the person could not do themselves.
//!
//! This module is the wire format, shared by the console (which writes it)
//! and the scheduler and auth-broker (which read it).

/// Metadata naming the signed-in person, e.g. `bootstrap-admin`,
/// percent-encoded ([`crate::metadata_text`]) so a name in any script fits.
pub const ON_BEHALF_OF_HEADER: &str = "x-galsync-on-behalf-of";
/// Metadata naming the person's role: `viewer`, `operator` or `admin`.
pub const ON_BEHALF_OF_ROLE_HEADER: &str = "x-galsync-on-behalf-of-role";

/// Longest accepted person name (a UPN fits).
const MAX_PERSON_LEN: usize = 256;

/// What a person may do: viewer < operator < admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text.trim() {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// What the console claimed about the person, before any check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnBehalfOf {
    pub person: String,
    pub role: Role,
}

/// Reads the two entries. `Ok(None)` when neither is present; the refusal's
/// text when only one is, or when they are malformed.
pub fn on_behalf_of<T>(request: &tonic::Request<T>) -> Result<Option<OnBehalfOf>, String> {
    let metadata = request.metadata();
    let person_value = metadata.get(ON_BEHALF_OF_HEADER);
    let role_value = metadata.get(ON_BEHALF_OF_ROLE_HEADER);
    let (person_value, role_value) = match (person_value, role_value) {
        (None, None) => return Ok(None),
        (Some(person_value), Some(role_value)) => (person_value, role_value),
        _ => {
            return Err(format!(
                "{ON_BEHALF_OF_HEADER} and {ON_BEHALF_OF_ROLE_HEADER} go together; send both"
            ))
        }
    };
    let person = person_value
        .to_str()
        .ok()
        .and_then(crate::metadata_text::decode)
        .unwrap_or_default();
    let person = person.trim();
    let person_is_valid = !person.is_empty()
        && person.chars().count() <= MAX_PERSON_LEN
        && !person.chars().any(char::is_whitespace);
    if !person_is_valid {
        return Err(format!(
            "{ON_BEHALF_OF_HEADER} must name the person in 1 to {MAX_PERSON_LEN} characters without spaces, percent-encoded"
        ));
    }
    let role_text = role_value.to_str().unwrap_or_default();
    let Some(role) = Role::parse(role_text) else {
        return Err(format!(
            "{ON_BEHALF_OF_ROLE_HEADER} must be viewer, operator or admin"
        ));
    };
    Ok(Some(OnBehalfOf {
        person: person.to_owned(),
        role,
    }))
}

/// Adds the two entries to a request the console makes for `person`.
pub fn attach<T>(request: &mut tonic::Request<T>, person: &str, role: Role) -> Result<(), String> {
    let person_value =
        tonic::metadata::MetadataValue::try_from(crate::metadata_text::encode(person))
            .map_err(|_| "the signed-in person's name cannot be sent".to_owned())?;
    let metadata = request.metadata_mut();
    metadata.insert(ON_BEHALF_OF_HEADER, person_value);
    metadata.insert(
        ON_BEHALF_OF_ROLE_HEADER,
        tonic::metadata::MetadataValue::from_static(role.as_str()),
    );
    Ok(())
}

/// A person for whom the console (the service `via`) makes a call, once
/// the called service believed it (see
/// [`crate::CallerIdentity::Person`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub person: String,
    pub role: Role,
    pub via: String,
}

/// How an audit log names a person acting through the console.
pub fn actor(person: &str, console_identity: &str) -> String {
    format!("{person} via urn:galsync:service:{console_identity}")
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
    fn what_the_console_attaches_reads_back_in_any_script() {
        let mut request = tonic::Request::new(());
        attach(&mut request, "zoë@contoso.example", Role::Viewer).unwrap();
        let claimed = on_behalf_of(&request).unwrap().unwrap();
        assert_eq!(claimed.person, "zoë@contoso.example");
        assert_eq!(claimed.role, Role::Viewer);
    }
}
