//! A profile as people write it (TOML or JSON with `--file`, and the JSON of
//! `profile show`), the flags that set its common fields, and the conversion
//! to and from the scheduler's `ProfileSpec`.

mod durations;
mod flags;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult};

pub use durations::{format_duration, parse_duration};
pub use flags::{DeletionModeArg, ProfileFlags};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDocument {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default)]
    pub folder: String,
    #[serde(default)]
    pub source: SourceDocument,
    #[serde(default)]
    pub targets: TargetsDocument,
    #[serde(default)]
    pub write: WriteDocument,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleDocument>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_interval: Option<String>,
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceDocument {
    pub include_disabled: bool,
    pub include_without_mail: bool,
    pub include_guests: bool,
    pub include_resource_mailboxes: bool,
    pub include_groups: Vec<String>,
    pub exclude_groups: Vec<String>,
    pub rules: Vec<RuleDocument>,
    pub odata_prefilter: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetsDocument {
    pub all_mailboxes: bool,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub rules: Vec<RuleDocument>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDocument {
    pub attribute: String,
    /// equals, starts-with or in.
    pub operator: String,
    pub values: Vec<String>,
    #[serde(default)]
    pub exclude: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WriteDocument {
    /// never, removed-from-source or mirror; empty = removed-from-source.
    pub deletion_mode: String,
    pub deletion_guard_percent: f64,
    pub deletion_guard_minimum: u32,
    /// Contact field → overwrite, only-if-empty or never.
    pub field_rules: BTreeMap<String, String>,
    pub write_photos: bool,
    pub adopt_existing: bool,
    pub repair: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleDocument {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub time_zone: String,
}

/// Reads a profile file: JSON when it starts with `{` (a bare profile, or the
/// output of `profile show --output json` with its `spec`), TOML otherwise.
pub fn read_document(path: &Path) -> CliResult<ProfileDocument> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        CliError::usage(format!(
            "invalid --file: cannot read {}: {error}",
            path.display()
        ))
    })?;
    let invalid =
        |error: String| CliError::usage(format!("invalid --file {}: {error}", path.display()));
    if text.trim_start().starts_with('{') {
        let mut value: serde_json::Value =
            serde_json::from_str(&text).map_err(|error| invalid(error.to_string()))?;
        if let Some(spec) = value.get_mut("spec") {
            value = spec.take();
        }
        return serde_json::from_value(value).map_err(|error| invalid(error.to_string()));
    }
    toml::from_str(&text).map_err(|error| invalid(error.to_string()))
}
