//! Profile validation: a spec's fields checked (errors name the field and
//! the fix) and its defaults filled. The checks of a request's ids and
//! tenant ids are in `profiles/request_fields.rs`, schedules (interval, or
//! cron in a time zone) in `profiles/schedule.rs`, the one-folder-per-mailbox
//! rule between profiles in `profiles/shared_folder.rs`.

mod request_fields;
mod schedule;
mod shared_folder;

use galsync_proto::v1;

use crate::error::SchedulerError;
use request_fields::{echo, invalid, refuse_control_characters};
pub use request_fields::{id_field, tenant_id_field};
use schedule::validate_schedule;
pub use schedule::{next_run, MIN_INTERVAL_SECONDS};
pub use shared_folder::{may_share_targets, refuse_shared_folder};

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

/// Each entry of a list of group object ids is a GUID.
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
}
