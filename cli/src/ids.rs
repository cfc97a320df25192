//! The GUID flags every command takes (tenant and client ids), checked
//! before any call, with where an administrator finds the right value.

use crate::error::{CliError, CliResult};

/// Checks a GUID flag before any call, naming where the right value is found.
pub fn require_guid(flag: &str, value: &str, where_to_find: &str) -> CliResult<String> {
    let trimmed = value.trim();
    if uuid::Uuid::parse_str(trimmed).is_ok() {
        return Ok(trimmed.to_ascii_lowercase());
    }
    let what = if trimmed.contains('.') {
        "is a domain name, not a GUID"
    } else {
        "is not a GUID"
    };
    Err(CliError::usage(format!(
        "invalid --{flag}: `{trimmed}` {what}; {where_to_find}"
    )))
}

pub const TENANT_ID_HELP: &str =
    "use the Directory (tenant) ID, e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47, \
     found in the Microsoft Entra admin center under Overview > Tenant ID";
pub const CLIENT_ID_HELP: &str =
    "use the Application (client) ID from App registrations > your app > Overview";
