//! Profile validation (errors name the field and the fix) and schedules
//! (interval, or cron in a time zone).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use galsync_proto::v1;

use crate::error::SchedulerError;

/// Contact fields a profile may set rules for (Graph's contact property names).
pub const CONTACT_FIELDS: &[&str] = &[
    "displayName",
    "givenName",
    "surname",
    "emailAddresses",
    "businessPhones",
    "mobilePhone",
    "jobTitle",
    "department",
    "companyName",
    "officeLocation",
    "businessAddress",
    "manager",
    "photo",
];

/// Directory attributes attribute rules may test.
pub const RULE_ATTRIBUTES: &[&str] = &[
    "department",
    "companyName",
    "officeLocation",
    "country",
    "jobTitle",
    "employeeType",
    "city",
    "state",
    "userType",
];

pub const DEFAULT_FOLDER_NAME: &str = "Company Directory";
/// Shortest schedule interval accepted.
pub const MIN_INTERVAL_SECONDS: u32 = 60;

fn invalid(field: &str, message: impl Into<String>) -> SchedulerError {
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
pub(crate) fn echo(value: &str) -> String {
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
fn refuse_control_characters(field: &str, value: &str) -> Result<(), SchedulerError> {
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

/// Each entry of a list of group object ids is a GUID./// Each entry of a list of group object ids is a GUID.
fn validate_group_ids(field: &str, group_ids: &[String]) -> Result<(), SchedulerError> {
    for (index, group_id) in group_ids.iter().enumerate() {
        if uuid::Uuid::parse_str(group_id.trim()).is_err() {
            return Err(invalid(
                field,
                format!(
                    "entry {index} `{}` is not a group object id (GUID)",
                    echo(group_id)
                ),
            ));
        }
    }
    Ok(())
}

/// Whether two target selectors may name one mailbox. Without reading the
/// directory only two lists of explicit users with no entry in common are
/// known apart (a user named by UPN in one and by object id in the other is
/// not caught here; the writer's per-profile ownership still keeps each
/// profile's contacts apart).
pub fn may_share_targets(first: &v1::TargetSelector, second: &v1::TargetSelector) -> bool {
    let explicit_only = |selector: &v1::TargetSelector| {
        !selector.all_mailboxes && selector.group_ids.is_empty() && !selector.users.is_empty()
    };
    if !explicit_only(first) || !explicit_only(second) {
        return true;
    }
    let named: std::collections::HashSet<String> = first
        .users
        .iter()
        .map(|user| user.trim().to_lowercase())
        .collect();
    second
        .users
        .iter()
        .any(|user| named.contains(&user.trim().to_lowercase()))
}

/// Refuses a spec whose folder is another profile's folder on a mailbox
/// both may target: two profiles writing one folder would each see the
/// other's contacts. Exchange compares folder names without case.
/// `others` are the tenant's other profiles as (id, spec).
pub fn refuse_shared_folder(
    spec: &v1::ProfileSpec,
    others: &[(String, v1::ProfileSpec)],
) -> Result<(), SchedulerError> {
    let folder_of = |spec: &v1::ProfileSpec| {
        let name = spec
            .write
            .as_ref()
            .map(|write| write.folder_name.trim())
            .unwrap_or_default();
        if name.is_empty() {
            DEFAULT_FOLDER_NAME.to_lowercase()
        } else {
            name.to_lowercase()
        }
    };
    let folder = folder_of(spec);
    let no_targets = v1::TargetSelector::default();
    let targets = spec.targets.as_ref().unwrap_or(&no_targets);
    for (other_id, other) in others {
        if other.tenant_id != spec.tenant_id || folder_of(other) != folder {
            continue;
        }
        if may_share_targets(targets, other.targets.as_ref().unwrap_or(&no_targets)) {
            return Err(invalid(
                "spec.write.folder_name",
                format!(
                    "\"{}\" is already written by profile \"{}\" ({other_id}) on mailboxes this profile may target; choose another folder name, or targets the other profile does not have",
                    echo(spec.write.as_ref().map(|write| write.folder_name.as_str()).unwrap_or_default()),
                    echo(&other.name)
                ),
            ));
        }
    }
    Ok(())
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

/// Checks a profile spec and fills defaults; the first problem is returned,
/// naming its field as the API spells it (e.g. `spec.schedule.cron`).
pub fn validate(mut spec: v1::ProfileSpec) -> Result<v1::ProfileSpec, SchedulerError> {
    spec.name = spec.name.trim().to_owned();
    if spec.name.is_empty() {
        return Err(invalid(
            "spec.name",
            "is empty; give the profile a name, e.g. \"All staff\"",
        ));
    }
    if spec.name.chars().count() > 100 {
        return Err(invalid("spec.name", "is longer than 100 characters"));
    }
    refuse_control_characters("spec.name", &spec.name)?;
    spec.tenant_id = tenant_id_field("spec.tenant_id", &spec.tenant_id)?;
    let source = spec.source.get_or_insert_with(Default::default);
    validate_rules("spec.source.rules", &source.rules)?;
    validate_group_ids("spec.source.include_group_ids", &source.include_group_ids)?;
    validate_group_ids("spec.source.exclude_group_ids", &source.exclude_group_ids)?;
    let targets = spec.targets.get_or_insert_with(Default::default);
    if !targets.all_mailboxes && targets.users.is_empty() && targets.group_ids.is_empty() {
        return Err(invalid(
            "spec.targets",
            "selects no mailbox; set all_mailboxes, or list users or group_ids",
        ));
    }
    validate_rules("spec.targets.rules", &targets.rules)?;
    let write = spec.write.get_or_insert_with(Default::default);
    write.folder_name = write.folder_name.trim().to_owned();
    if write.folder_name.is_empty() {
        write.folder_name = DEFAULT_FOLDER_NAME.to_owned();
    }
    if write.folder_name.chars().count() > 255 {
        return Err(invalid(
            "spec.write.folder_name",
            "is longer than 255 characters",
        ));
    }
    refuse_control_characters("spec.write.folder_name", &write.folder_name)?;
    for (field, rule) in &write.field_rules {
        if !CONTACT_FIELDS.contains(&field.as_str()) {
            return Err(invalid(
                "spec.write.field_rules",
                format!(
                    "`{}` is not a contact field; use one of {}",
                    echo(field),
                    CONTACT_FIELDS.join(", ")
                ),
            ));
        }
        let known_rule = matches!(
            v1::FieldRule::try_from(*rule),
            Ok(v1::FieldRule::Overwrite | v1::FieldRule::OnlyIfEmpty | v1::FieldRule::Never)
        );
        if !known_rule {
            return Err(invalid(
                "spec.write.field_rules",
                format!("the rule {rule} of `{field}` is not a field rule; use overwrite, only-if-empty or never"),
            ));
        }
    }
    if write.deletion_mode == v1::DeletionMode::Unspecified as i32 {
        write.deletion_mode = v1::DeletionMode::RemovedFromSource as i32;
    }
    if v1::DeletionMode::try_from(write.deletion_mode).is_err() {
        return Err(invalid(
            "spec.write.deletion_mode",
            "use never, removed-from-source or mirror",
        ));
    }
    if !(0.0..=100.0).contains(&write.deletion_guard_percent) {
        return Err(invalid(
            "spec.write.deletion_guard_percent",
            "must be between 0 and 100",
        ));
    }
    if let Some(schedule) = &spec.schedule {
        validate_schedule(schedule)?;
    }
    Ok(spec)
}

fn validate_rules(field: &str, rules: &[v1::AttributeRule]) -> Result<(), SchedulerError> {
    for (index, rule) in rules.iter().enumerate() {
        let attribute = rule.attribute.trim();
        let known = RULE_ATTRIBUTES.contains(&attribute)
            || attribute
                .strip_prefix("extensionAttribute")
                .and_then(|number| number.parse::<u8>().ok())
                .is_some_and(|number| (1..=15).contains(&number));
        if !known {
            return Err(invalid(
                &format!("{field}[{index}].attribute"),
                format!(
                    "`{attribute}` cannot be filtered on; use {} or extensionAttribute1..15",
                    RULE_ATTRIBUTES.join(", ")
                ),
            ));
        }
        let operator = v1::attribute_rule::Operator::try_from(rule.operator).unwrap_or_default();
        if operator == v1::attribute_rule::Operator::Unspecified {
            return Err(invalid(
                &format!("{field}[{index}].operator"),
                "is missing; use EQUALS, STARTS_WITH or IN",
            ));
        }
        if rule.values.iter().all(|value| value.trim().is_empty()) {
            return Err(invalid(
                &format!("{field}[{index}].values"),
                "is empty; give at least one value",
            ));
        }
    }
    Ok(())
}

fn validate_schedule(schedule: &v1::Schedule) -> Result<(), SchedulerError> {
    if !schedule.time_zone.trim().is_empty()
        && chrono_tz::Tz::from_str(schedule.time_zone.trim()).is_err()
    {
        return Err(invalid(
            "spec.schedule.time_zone",
            format!(
                "`{}` is not an IANA time zone such as Europe/Berlin",
                schedule.time_zone
            ),
        ));
    }
    match &schedule.kind {
        Some(v1::schedule::Kind::IntervalSeconds(seconds)) => {
            if *seconds < MIN_INTERVAL_SECONDS {
                return Err(invalid(
                    "spec.schedule.interval_seconds",
                    format!("must be at least {MIN_INTERVAL_SECONDS} seconds"),
                ));
            }
            Ok(())
        }
        Some(v1::schedule::Kind::Cron(expression)) => {
            parse_cron(expression).map(|_| ())?;
            Ok(())
        }
        None => Err(invalid(
            "spec.schedule",
            "has neither interval_seconds nor cron",
        )),
    }
}

/// Parses a cron expression; five fields (minute hour day month weekday) get
/// a seconds field of 0 prepended.
fn parse_cron(expression: &str) -> Result<cron::Schedule, SchedulerError> {
    let trimmed = expression.trim();
    let fields = trimmed.split_whitespace().count();
    let full = if fields == 5 {
        format!("0 {trimmed}")
    } else {
        trimmed.to_owned()
    };
    let schedule = cron::Schedule::from_str(&full).map_err(|error| {
        invalid(
            "spec.schedule.cron",
            format!(
                "`{}` is not a cron expression ({error}); e.g. \"0 6 * * *\" for 06:00 daily",
                echo(trimmed)
            ),
        )
    })?;
    // The same floor as interval_seconds: a cron that fires twice within a
    // minute (a seconds field such as `*` or `*/30`) is refused.
    let upcoming: Vec<DateTime<Utc>> = schedule.upcoming(Utc).take(120).collect();
    for pair in upcoming.windows(2) {
        if (pair[1] - pair[0]).num_seconds() < i64::from(MIN_INTERVAL_SECONDS) {
            return Err(invalid(
                "spec.schedule.cron",
                format!(
                    "`{}` fires more often than once a minute; schedules run at most every {MIN_INTERVAL_SECONDS} s, e.g. \"*/5 * * * *\" for every 5 minutes",
                    echo(trimmed)
                ),
            ));
        }
    }
    Ok(schedule)
}

/// The next time a schedule fires after `after`.
pub fn next_run(schedule: Option<&v1::Schedule>, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let schedule = schedule?;
    match &schedule.kind {
        Some(v1::schedule::Kind::IntervalSeconds(seconds)) => {
            Some(after + chrono::Duration::seconds(i64::from(*seconds)))
        }
        Some(v1::schedule::Kind::Cron(expression)) => {
            let parsed = parse_cron(expression).ok()?;
            let zone = chrono_tz::Tz::from_str(schedule.time_zone.trim()).unwrap_or(chrono_tz::UTC);
            let local = after.with_timezone(&zone);
            parsed
                .after(&local)
                .next()
                .map(|next| next.with_timezone(&Utc))
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_spec() -> v1::ProfileSpec {
        v1::ProfileSpec {
            name: "All staff".to_owned(),
            tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".to_owned(),
            targets: Some(v1::TargetSelector {
                all_mailboxes: true,
                ..Default::default()
            }),
            enabled: true,
            ..Default::default()
        }
    }

    fn field_of(error: SchedulerError) -> String {
        match error {
            SchedulerError::InvalidArgument { field, .. } => field,
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_filled() {
        let spec = validate(valid_spec()).unwrap();
        let write = spec.write.unwrap();
        assert_eq!(write.folder_name, DEFAULT_FOLDER_NAME);
        assert_eq!(
            write.deletion_mode,
            v1::DeletionMode::RemovedFromSource as i32
        );
    }

    #[test]
    fn each_invalid_field_is_named() {
        let mut spec = valid_spec();
        spec.name = "  ".to_owned();
        assert_eq!(field_of(validate(spec).unwrap_err()), "spec.name");

        let mut spec = valid_spec();
        spec.tenant_id = "contoso.onmicrosoft.com".to_owned();
        assert_eq!(field_of(validate(spec).unwrap_err()), "spec.tenant_id");

        let mut spec = valid_spec();
        spec.targets = Some(v1::TargetSelector::default());
        assert_eq!(field_of(validate(spec).unwrap_err()), "spec.targets");

        let mut spec = valid_spec();
        spec.write = Some(v1::WritePolicy {
            field_rules: [("mobile".to_owned(), v1::FieldRule::Never as i32)].into(),
            ..Default::default()
        });
        assert_eq!(
            field_of(validate(spec).unwrap_err()),
            "spec.write.field_rules"
        );

        let mut spec = valid_spec();
        spec.source = Some(v1::SourceFilter {
            rules: vec![v1::AttributeRule {
                attribute: "salary".to_owned(),
                operator: v1::attribute_rule::Operator::Equals as i32,
                values: vec!["x".to_owned()],
                exclude: false,
            }],
            ..Default::default()
        });
        assert_eq!(
            field_of(validate(spec).unwrap_err()),
            "spec.source.rules[0].attribute"
        );

        let mut spec = valid_spec();
        spec.schedule = Some(v1::Schedule {
            kind: Some(v1::schedule::Kind::Cron("every morning".to_owned())),
            time_zone: String::new(),
        });
        assert_eq!(field_of(validate(spec).unwrap_err()), "spec.schedule.cron");

        let mut spec = valid_spec();
        spec.schedule = Some(v1::Schedule {
            kind: Some(v1::schedule::Kind::Cron("0 6 * * *".to_owned())),
            time_zone: "Mars/Olympus".to_owned(),
        });
        assert_eq!(
            field_of(validate(spec).unwrap_err()),
            "spec.schedule.time_zone"
        );

        let mut spec = valid_spec();
        spec.schedule = Some(v1::Schedule {
            kind: Some(v1::schedule::Kind::IntervalSeconds(5)),
            time_zone: String::new(),
        });
        assert_eq!(
            field_of(validate(spec).unwrap_err()),
            "spec.schedule.interval_seconds"
        );
    }

    #[test]
    fn cron_runs_in_its_time_zone() {
        let schedule = v1::Schedule {
            kind: Some(v1::schedule::Kind::Cron("0 6 * * *".to_owned())),
            time_zone: "Europe/Berlin".to_owned(),
        };
        let after = DateTime::parse_from_rfc3339("2026-01-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let next = next_run(Some(&schedule), after).unwrap();
        // 06:00 in Berlin in winter is 05:00 UTC, the next day.
        assert_eq!(next.to_rfc3339(), "2026-01-11T05:00:00+00:00");
        let interval = v1::Schedule {
            kind: Some(v1::schedule::Kind::IntervalSeconds(3600)),
            time_zone: String::new(),
        };
        assert_eq!(
            next_run(Some(&interval), after).unwrap() - after,
            chrono::Duration::hours(1)
        );
    }
}
