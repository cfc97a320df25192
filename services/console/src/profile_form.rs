//! The profile editor: the form's fields, the `ProfileSpec` they make, and
//! the form drawn from a spec with the API's field error next to its field.
//! The scheduler validates; the console only turns text into numbers.

use galsync_proto::v1;

mod attribute_rules;
mod editor;
mod field_rules;

pub(crate) use attribute_rules::attribute_rule_lines;
use attribute_rules::{SOURCE, TARGETS};
pub use editor::Editor;
use field_rules::field_rules;

/// The editor's form as posted. Checkboxes are absent when unticked.
#[derive(Default, serde::Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    pub expected_version: u64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    folder_name: String,
    /// `field=overwrite|only-if-empty|never`, one a line.
    #[serde(default)]
    field_rules: String,
    targets_all: Option<String>,
    #[serde(default)]
    target_users: String,
    #[serde(default)]
    target_group_ids: String,
    /// The targets' rules, in the same form as the source's.
    #[serde(default)]
    target_include_where: String,
    #[serde(default)]
    target_exclude_where: String,
    #[serde(default)]
    include_group_ids: String,
    #[serde(default)]
    exclude_group_ids: String,
    /// `ATTRIBUTE=VALUE[,VALUE…]` or `ATTRIBUTE^=PREFIX`, one a line.
    #[serde(default)]
    include_where: String,
    #[serde(default)]
    exclude_where: String,
    include_disabled: Option<String>,
    include_guests: Option<String>,
    #[serde(default)]
    odata_prefilter: String,
    #[serde(default)]
    deletion_mode: String,
    #[serde(default)]
    deletion_guard_percent: String,
    #[serde(default)]
    deletion_guard_minimum: String,
    #[serde(default)]
    schedule_kind: String,
    #[serde(default)]
    interval_seconds: String,
    #[serde(default)]
    cron: String,
    #[serde(default)]
    time_zone: String,
    enabled: Option<String>,
}

/// The free-text rule fields as typed, shown again when the form is refused
/// so a malformed line can be corrected where it was written.
#[derive(Default)]
pub struct Typed {
    field_rules: String,
    include_where: String,
    exclude_where: String,
    target_include_where: String,
    target_exclude_where: String,
}

/// A form the console refused before asking the scheduler: the error, and
/// the spec with every field that could be read.
pub struct Refused {
    pub error: FieldError,
    pub spec: v1::ProfileSpec,
}

/// A refusal naming a field of the spec, e.g. `spec.write.folder_name`.
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    /// The field of the scheduler's `invalid <field>: <message>`; a message
    /// of another shape belongs to the whole form.
    pub fn from_status(status: &tonic::Status) -> FieldError {
        let text = status.message();
        if let Some(rest) = text.strip_prefix("invalid ") {
            if let Some((field, message)) = rest.split_once(": ") {
                return FieldError {
                    field: field.to_owned(),
                    message: message.to_owned(),
                };
            }
        }
        FieldError {
            field: String::new(),
            message: text.to_owned(),
        }
    }
}

fn lines(text: &str) -> Vec<String> {
    let mut values = Vec::new();
    for line in text.lines() {
        let value = line.trim();
        if !value.is_empty() {
            values.push(value.to_owned());
        }
    }
    values
}

fn number<T: std::str::FromStr + Default>(field: &str, text: &str) -> Result<T, FieldError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(T::default());
    }
    text.parse().map_err(|_| FieldError {
        field: field.to_owned(),
        message: format!("{text:?} is not a number"),
    })
}

/// The value of `parsed`, or `fallback` with the first error kept.
fn or_note<T>(parsed: Result<T, FieldError>, fallback: T, first: &mut Option<FieldError>) -> T {
    parsed.unwrap_or_else(|error| {
        first.get_or_insert(error);
        fallback
    })
}

impl ProfileForm {
    /// The free-text rule fields as typed.
    pub fn typed(&self) -> Typed {
        Typed {
            field_rules: self.field_rules.clone(),
            include_where: self.include_where.clone(),
            exclude_where: self.exclude_where.clone(),
            target_include_where: self.target_include_where.clone(),
            target_exclude_where: self.target_exclude_where.clone(),
        }
    }

    /// `base` with the fields this form has replaced (the ones it does not
    /// have, such as photos, stay as they were). Refused with the first
    /// field the console cannot read, and the spec of the others.
    pub fn into_spec(self, base: v1::ProfileSpec) -> Result<v1::ProfileSpec, Box<Refused>> {
        let mut first = None;
        let mut spec = base;
        spec.name = self.name.trim().to_owned();
        spec.tenant_id = self.tenant_id.trim().to_owned();
        spec.enabled = self.enabled.is_some();
        let source = spec.source.get_or_insert_with(Default::default);
        source.include_group_ids = lines(&self.include_group_ids);
        source.exclude_group_ids = lines(&self.exclude_group_ids);
        source.include_disabled = self.include_disabled.is_some();
        source.include_guests = self.include_guests.is_some();
        source.odata_prefilter = self.odata_prefilter.trim().to_owned();
        let old_rules = std::mem::take(&mut source.rules);
        source.rules = SOURCE.merge(
            &self.include_where,
            &self.exclude_where,
            &old_rules,
            &mut first,
        );
        let targets = spec.targets.get_or_insert_with(Default::default);
        targets.all_mailboxes = self.targets_all.is_some();
        targets.users = lines(&self.target_users);
        targets.group_ids = lines(&self.target_group_ids);
        let old_rules = std::mem::take(&mut targets.rules);
        targets.rules = TARGETS.merge(
            &self.target_include_where,
            &self.target_exclude_where,
            &old_rules,
            &mut first,
        );
        let write = spec.write.get_or_insert_with(Default::default);
        write.folder_name = self.folder_name.trim().to_owned();
        let old_field_rules = std::mem::take(&mut write.field_rules);
        write.field_rules = or_note(field_rules(&self.field_rules), old_field_rules, &mut first);
        write.deletion_mode = match self.deletion_mode.as_str() {
            "never" => v1::DeletionMode::Never,
            "removed_from_source" => v1::DeletionMode::RemovedFromSource,
            "mirror" => v1::DeletionMode::Mirror,
            _ => v1::DeletionMode::Unspecified,
        } as i32;
        write.deletion_guard_percent = or_note(
            number(
                "spec.write.deletion_guard_percent",
                &self.deletion_guard_percent,
            ),
            write.deletion_guard_percent,
            &mut first,
        );
        write.deletion_guard_minimum = or_note(
            number(
                "spec.write.deletion_guard_minimum",
                &self.deletion_guard_minimum,
            ),
            write.deletion_guard_minimum,
            &mut first,
        );
        let time_zone = self.time_zone.trim().to_owned();
        spec.schedule = match self.schedule_kind.as_str() {
            "interval" => Some(v1::Schedule {
                kind: Some(v1::schedule::Kind::IntervalSeconds(or_note(
                    number("spec.schedule.interval_seconds", &self.interval_seconds),
                    0,
                    &mut first,
                ))),
                time_zone,
            }),
            "cron" => Some(v1::Schedule {
                kind: Some(v1::schedule::Kind::Cron(self.cron.trim().to_owned())),
                time_zone,
            }),
            _ => None,
        };
        match first {
            Some(error) => Err(Box::new(Refused { error, spec })),
            None => Ok(spec),
        }
    }
}
