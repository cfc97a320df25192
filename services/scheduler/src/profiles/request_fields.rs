//! The ids and names a request carries, checked: given, printable, short;
//! tenant ids as GUIDs. A bad value is echoed back cut short and escaped.

use crate::error::SchedulerError;

pub(super) fn invalid(field: &str, message: impl Into<String>) -> SchedulerError {
    SchedulerError::InvalidArgument {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Longest part of a caller's value echoed back in an error: a 1 MB id must
/// not turn the answer into RESOURCE_EXHAUSTED instead of the real error.
const ECHO_CHARS: usize = 64;

/// A caller's value as an error may show it: control characters escaped
/// (no terminal escape reaches the CLI), cut after [`ECHO_CHARS`].
pub(super) fn echo(value: &str) -> String {
    let mut shown = String::new();
    for (index, character) in value.chars().enumerate() {
        if index == ECHO_CHARS {
            shown.push('…');
            break;
        }
        if character.is_control() {
            shown.extend(character.escape_default());
        } else {
            shown.push(character);
        }
    }
    shown
}

/// Names shown in lists and folders: no control characters (NUL, ESC, …).
pub(super) fn refuse_control_characters(field: &str, value: &str) -> Result<(), SchedulerError> {
    if value.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!(
                "`{}` holds control characters; use printable text only",
                echo(value)
            ),
        ));
    }
    Ok(())
}

/// Longest id or name a request may carry (profile and run ids are UUIDs).
const MAX_ID_CHARS: usize = 100;

/// Checks an id (or a short name) of a request: given, printable, short. The
/// answer to a bad one names `field` and echoes at most 64 characters.
pub fn id_field<'a>(field: &str, value: &'a str) -> Result<&'a str, SchedulerError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(invalid(
            field,
            "is empty; give the id (galsync profile list / galsync run list show them)",
        ));
    }
    refuse_control_characters(field, trimmed)?;
    if trimmed.chars().count() > MAX_ID_CHARS {
        return Err(invalid(
            field,
            format!(
                "`{}` is longer than {MAX_ID_CHARS} characters",
                echo(trimmed)
            ),
        ));
    }
    Ok(trimmed)
}

/// A tenant's Directory (tenant) ID in `field`, as a lower-case hyphenated
/// GUID.
pub fn tenant_id_field(field: &str, value: &str) -> Result<String, SchedulerError> {
    let tenant_id = value.trim();
    uuid::Uuid::parse_str(tenant_id)
        .map(|parsed| parsed.hyphenated().to_string())
        .map_err(|_| {
            invalid(
                field,
                format!(
                    "`{}` is not the Directory (tenant) ID GUID of a tenant registered with the auth-broker",
                    echo(tenant_id)
                ),
            )
        })
}
