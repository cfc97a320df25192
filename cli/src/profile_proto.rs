//! `ProfileDocument` ⇄ the scheduler's `ProfileSpec`. Values are checked here
//! so mistakes are reported with the flag or file key to fix, before any call.

use galsync_proto::v1;

use crate::error::{CliError, CliResult};
use crate::profile_spec::{
    format_duration, parse_duration, ProfileDocument, RuleDocument, ScheduleDocument,
    SourceDocument, TargetsDocument, WriteDocument,
};

pub fn to_spec(document: &ProfileDocument) -> CliResult<v1::ProfileSpec> {
    let schedule = match &document.schedule {
        Some(schedule) => Some(schedule_to_proto(schedule)?),
        None => None,
    };
    let repair_interval_seconds = match &document.repair_interval {
        Some(text) => parse_duration("repair-interval", text)?,
        None => 0,
    };
    let mut field_rules = std::collections::HashMap::new();
    for (field, rule) in &document.write.field_rules {
        let value = match rule.as_str() {
            "overwrite" => v1::FieldRule::Overwrite,
            "only-if-empty" => v1::FieldRule::OnlyIfEmpty,
            "never" => v1::FieldRule::Never,
            other => {
                return Err(CliError::usage(format!(
                "invalid field rule `{other}` for {field}: use overwrite, only-if-empty or never"
            )))
            }
        };
        field_rules.insert(field.clone(), value as i32);
    }
    let deletion_mode = match document.write.deletion_mode.as_str() {
        "" => v1::DeletionMode::Unspecified,
        "never" => v1::DeletionMode::Never,
        "removed-from-source" => v1::DeletionMode::RemovedFromSource,
        "mirror" => v1::DeletionMode::Mirror,
        other => {
            return Err(CliError::usage(format!(
                "invalid deletion mode `{other}`: use never, removed-from-source or mirror"
            )))
        }
    };
    Ok(v1::ProfileSpec {
        name: document.name.clone(),
        tenant_id: document.tenant_id.clone(),
        source: Some(v1::SourceFilter {
            include_disabled: document.source.include_disabled,
            include_without_mail: document.source.include_without_mail,
            include_guests: document.source.include_guests,
            include_resource_mailboxes: document.source.include_resource_mailboxes,
            include_group_ids: document.source.include_groups.clone(),
            exclude_group_ids: document.source.exclude_groups.clone(),
            rules: rules_to_proto(&document.source.rules)?,
            odata_prefilter: document.source.odata_prefilter.clone(),
        }),
        targets: Some(v1::TargetSelector {
            users: document.targets.users.clone(),
            group_ids: document.targets.groups.clone(),
            all_mailboxes: document.targets.all_mailboxes,
            rules: rules_to_proto(&document.targets.rules)?,
        }),
        write: Some(v1::WritePolicy {
            folder_name: document.folder.clone(),
            field_rules,
            deletion_mode: deletion_mode as i32,
            deletion_guard_percent: document.write.deletion_guard_percent,
            deletion_guard_minimum: document.write.deletion_guard_minimum,
            adopt_existing: document.write.adopt_existing,
            write_photos: document.write.write_photos,
            deletions_approved: false,
            repair: document.write.repair,
        }),
        schedule,
        repair_interval_seconds,
        enabled: document.enabled,
    })
}

fn schedule_to_proto(schedule: &ScheduleDocument) -> CliResult<v1::Schedule> {
    let kind = match (&schedule.interval, &schedule.cron) {
        (Some(interval), None) => {
            v1::schedule::Kind::IntervalSeconds(parse_duration("interval", interval)?)
        }
        (None, Some(cron)) => {
            let fields = cron.split_whitespace().count();
            if !(5..=7).contains(&fields) {
                return Err(CliError::usage(format!(
                    "invalid --cron `{cron}`: use five fields (minute hour day month weekday), e.g. \"0 6 * * *\""
                )));
            }
            v1::schedule::Kind::Cron(cron.trim().to_owned())
        }
        _ => return Err(CliError::usage(
            "invalid schedule: give either an interval (e.g. 1h) or a cron expression, not both",
        )),
    };
    Ok(v1::Schedule {
        kind: Some(kind),
        time_zone: schedule.time_zone.clone(),
    })
}

fn rules_to_proto(rules: &[RuleDocument]) -> CliResult<Vec<v1::AttributeRule>> {
    let mut converted = Vec::new();
    for rule in rules {
        let operator = match rule.operator.as_str() {
            "equals" => v1::attribute_rule::Operator::Equals,
            "starts-with" => v1::attribute_rule::Operator::StartsWith,
            "in" => v1::attribute_rule::Operator::In,
            other => {
                return Err(CliError::usage(format!(
                    "invalid operator `{other}` in the rule on {}: use equals, starts-with or in",
                    rule.attribute
                )))
            }
        };
        converted.push(v1::AttributeRule {
            attribute: rule.attribute.clone(),
            operator: operator as i32,
            values: rule.values.clone(),
            exclude: rule.exclude,
        });
    }
    Ok(converted)
}

pub fn from_spec(spec: &v1::ProfileSpec) -> ProfileDocument {
    let source = spec.source.clone().unwrap_or_default();
    let targets = spec.targets.clone().unwrap_or_default();
    let write = spec.write.clone().unwrap_or_default();
    let schedule = spec.schedule.as_ref().and_then(|schedule| {
        let kind = schedule.kind.as_ref()?;
        Some(match kind {
            v1::schedule::Kind::IntervalSeconds(seconds) => ScheduleDocument {
                interval: Some(format_duration(*seconds)),
                cron: None,
                time_zone: schedule.time_zone.clone(),
            },
            v1::schedule::Kind::Cron(cron) => ScheduleDocument {
                interval: None,
                cron: Some(cron.clone()),
                time_zone: schedule.time_zone.clone(),
            },
        })
    });
    let field_rules = write
        .field_rules
        .iter()
        .map(|(field, rule)| (field.clone(), field_rule_name(*rule).to_owned()))
        .collect();
    ProfileDocument {
        name: spec.name.clone(),
        tenant_id: spec.tenant_id.clone(),
        enabled: spec.enabled,
        folder: write.folder_name.clone(),
        source: SourceDocument {
            include_disabled: source.include_disabled,
            include_without_mail: source.include_without_mail,
            include_guests: source.include_guests,
            include_resource_mailboxes: source.include_resource_mailboxes,
            include_groups: source.include_group_ids.clone(),
            exclude_groups: source.exclude_group_ids.clone(),
            rules: rules_from_proto(&source.rules),
            odata_prefilter: source.odata_prefilter.clone(),
        },
        targets: TargetsDocument {
            all_mailboxes: targets.all_mailboxes,
            users: targets.users.clone(),
            groups: targets.group_ids.clone(),
            rules: rules_from_proto(&targets.rules),
        },
        write: WriteDocument {
            deletion_mode: deletion_mode_name(write.deletion_mode).to_owned(),
            deletion_guard_percent: write.deletion_guard_percent,
            deletion_guard_minimum: write.deletion_guard_minimum,
            field_rules,
            write_photos: write.write_photos,
            adopt_existing: write.adopt_existing,
            repair: write.repair,
        },
        schedule,
        repair_interval: (spec.repair_interval_seconds > 0)
            .then(|| format_duration(spec.repair_interval_seconds)),
    }
}

fn rules_from_proto(rules: &[v1::AttributeRule]) -> Vec<RuleDocument> {
    rules
        .iter()
        .map(|rule| RuleDocument {
            attribute: rule.attribute.clone(),
            operator: match v1::attribute_rule::Operator::try_from(rule.operator) {
                Ok(v1::attribute_rule::Operator::StartsWith) => "starts-with",
                Ok(v1::attribute_rule::Operator::In) => "in",
                _ => "equals",
            }
            .to_owned(),
            values: rule.values.clone(),
            exclude: rule.exclude,
        })
        .collect()
}

fn field_rule_name(value: i32) -> &'static str {
    match v1::FieldRule::try_from(value) {
        Ok(v1::FieldRule::OnlyIfEmpty) => "only-if-empty",
        Ok(v1::FieldRule::Never) => "never",
        _ => "overwrite",
    }
}

pub fn deletion_mode_name(value: i32) -> &'static str {
    match v1::DeletionMode::try_from(value) {
        Ok(v1::DeletionMode::Never) => "never",
        Ok(v1::DeletionMode::Mirror) => "mirror",
        Ok(v1::DeletionMode::RemovedFromSource) => "removed-from-source",
        _ => "",
    }
}

/// `every 1h`, `cron 0 6 * * * (Europe/Berlin)`, `on demand`.
pub fn schedule_text(schedule: Option<&v1::Schedule>) -> String {
    let Some(kind) = schedule.and_then(|schedule| schedule.kind.as_ref()) else {
        return "on demand".to_owned();
    };
    let time_zone = schedule
        .map(|schedule| schedule.time_zone.as_str())
        .unwrap_or("");
    match kind {
        v1::schedule::Kind::IntervalSeconds(seconds) => {
            format!("every {}", format_duration(*seconds))
        }
        v1::schedule::Kind::Cron(cron) if time_zone.is_empty() => format!("cron {cron} (UTC)"),
        v1::schedule::Kind::Cron(cron) => format!("cron {cron} ({time_zone})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_survives_the_round_trip_through_the_spec() {
        let toml_text = r#"
            name = "Phones"
            tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47"
            folder = "Contoso"
            repair_interval = "1d"
            [targets]
            groups = ["g1"]
            [source]
            exclude_groups = ["g2"]
            rules = [{ attribute = "department", operator = "in", values = ["Temps"], exclude = true }]
            [write]
            deletion_mode = "mirror"
            field_rules = { mobilePhone = "never" }
            [schedule]
            cron = "0 6 * * *"
            time_zone = "Europe/Berlin"
        "#;
        let document: ProfileDocument = toml::from_str(toml_text).unwrap();
        let spec = to_spec(&document).unwrap();
        assert_eq!(spec.repair_interval_seconds, 86_400);
        assert_eq!(
            spec.write.as_ref().unwrap().field_rules.get("mobilePhone"),
            Some(&(v1::FieldRule::Never as i32))
        );
        assert_eq!(from_spec(&spec), document);
    }

    #[test]
    fn a_bad_field_rule_names_the_field() {
        let mut document = ProfileDocument::default();
        document
            .write
            .field_rules
            .insert("mobilePhone".to_owned(), "hide".to_owned());
        let error = to_spec(&document).unwrap_err();
        assert!(
            error.message.contains("`hide` for mobilePhone"),
            "{}",
            error.message
        );
    }
}
