//! Ids that go into Graph paths, checked and encoded in one place.
//!
//! A user is addressed as `/users/{id | userPrincipalName}` (user-get): an
//! object id (a GUID) or a user principal name. Anything else — `x?$top=1`,
//! `../../users/other`, a 1 MB string — never reaches Graph: it would be a
//! different request. Ids Graph issued itself (folders, contacts) are opaque;
//! they are percent-encoded as one path segment, so whatever they hold stays
//! inside that segment.

use crate::error::GraphError;

/// The longest user principal name Entra accepts (113 characters before the
/// `@`, the domain after it; 256 in all is far above any real one).
const MAX_USER_PRINCIPAL_NAME: usize = 256;

/// A user (mailbox) as it may be written into a Graph path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserKey {
    segment: String,
}

impl UserKey {
    /// Checks `value` is an object id or a user principal name.
    /// `field` names where the value came from, for the error.
    pub fn parse(field: &str, value: &str) -> Result<UserKey, GraphError> {
        let trimmed = value.trim();
        if let Ok(object_id) = uuid::Uuid::parse_str(trimmed) {
            return Ok(UserKey {
                segment: object_id.hyphenated().to_string(),
            });
        }
        if let Some(reason) = user_principal_name_problem(trimmed) {
            let shown: String = trimmed.chars().take(64).collect();
            return Err(GraphError::InvalidId {
                field: field.to_owned(),
                value: shown.escape_default().to_string(),
                reason: format!(
                    "{reason}; a mailbox is named by its Entra object id (a GUID) or its user principal name (user@contoso.com)"
                ),
            });
        }
        Ok(UserKey {
            segment: segment(trimmed),
        })
    }

    /// The path segment (`/users/{segment}`), percent-encoded.
    pub fn segment(&self) -> &str {
        &self.segment
    }
}

impl std::fmt::Display for UserKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.segment)
    }
}

/// Why `value` is not a user principal name, if it is not one. Entra allows
/// letters, digits and `' . - _ ! # ^ ~` before the `@` (guests carry
/// `#EXT#`), a domain of letters, digits, `-` and `.` after it.
fn user_principal_name_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        return Some("is empty");
    }
    if value.len() > MAX_USER_PRINCIPAL_NAME {
        return Some("is too long for a user principal name");
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return Some("is neither an object id nor a user principal name");
    };
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|character| character.is_alphanumeric() || "'.-_!#^~+".contains(character));
    let domain_ok = !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|character| character.is_alphanumeric() || character == '-' || character == '.');
    if local_ok && domain_ok {
        None
    } else {
        Some("holds characters a user principal name cannot")
    }
}

/// Percent-encodes an id Graph issued (a folder or contact id) as one path
/// segment: only unreserved characters stay as they are.
pub fn segment(id: &str) -> String {
    let mut encoded = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_and_user_principal_names_are_users() {
        let object_id =
            UserKey::parse("mailbox_id", " 9F8B2C1A-0B2D-4E5F-8A9B-0C1D2E3F4A5B ").unwrap();
        assert_eq!(object_id.segment(), "9f8b2c1a-0b2d-4e5f-8a9b-0c1d2e3f4a5b");
        let upn = UserKey::parse("mailbox_id", "o'brien.ann@contoso.com").unwrap();
        assert_eq!(upn.segment(), "o%27brien.ann%40contoso.com");
        let guest = UserKey::parse(
            "mailbox_id",
            "ann_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        );
        assert_eq!(
            guest.unwrap().segment(),
            "ann_fabrikam.com%23EXT%23%40contoso.onmicrosoft.com"
        );
    }

    #[test]
    fn anything_that_would_change_the_request_is_refused_naming_the_field() {
        for hostile in [
            "x?$top=1",
            "../../users/other",
            "alice@contoso.com/contactFolders",
            "alice@contoso.com?$filter=x",
            "",
            "alice",
            "alice@",
            "a\u{1b}[31m@contoso.com",
        ] {
            let error = UserKey::parse("mailbox_id", hostile).unwrap_err();
            let message = error.to_string();
            assert!(message.contains("mailbox_id"), "{hostile:?}: {message}");
            assert!(!message.chars().any(char::is_control), "{message:?}");
        }
        let huge = "a".repeat(1_000_000) + "@contoso.com";
        assert!(
            UserKey::parse("mailbox_id", &huge)
                .unwrap_err()
                .to_string()
                .len()
                < 400
        );
    }

    #[test]
    fn graph_issued_ids_stay_in_their_segment() {
        assert_eq!(segment("AAMkAGI2=="), "AAMkAGI2%3D%3D");
        assert_eq!(segment("a/b?c#d"), "a%2Fb%3Fc%23d");
    }
}
