//! The flags of `profile create` and `profile edit` that set a profile's
//! common fields, applied onto a [`ProfileDocument`].

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{parse_duration, ProfileDocument, RuleDocument, ScheduleDocument, TargetsDocument};
use crate::error::{CliError, CliResult};

/// Flags for the common fields; on `edit` only the flags given change anything.
#[derive(Debug, Default, Args)]
pub struct ProfileFlags {
    /// Read the profile from a TOML or JSON file (see docs/cli.md); flags given too override it.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Profile name, unique per tenant.
    #[arg(long)]
    pub name: Option<String>,
    /// Directory (tenant) ID GUID registered with `galsync tenant add`.
    #[arg(long)]
    pub tenant_id: Option<String>,
    /// Contact folder name in each mailbox (default "Company Directory").
    #[arg(long)]
    pub folder: Option<String>,
    /// Write into every user mailbox (an enabled Exchange Online plan, not a shared/room/equipment mailbox).
    #[arg(long)]
    pub targets_all: bool,
    /// Write into the mailboxes of this group's (transitive) members; repeatable.
    #[arg(long = "target-group", value_name = "GROUP_ID")]
    pub target_groups: Vec<String>,
    /// Write into this user's mailbox; repeatable.
    #[arg(long = "target-user", value_name = "UPN")]
    pub target_users: Vec<String>,
    /// Only sync members of this group; repeatable.
    #[arg(long = "include-group", value_name = "GROUP_ID")]
    pub include_groups: Vec<String>,
    /// Never sync members of this group; repeatable.
    #[arg(long = "exclude-group", value_name = "GROUP_ID")]
    pub exclude_groups: Vec<String>,
    /// Never sync users of this department; repeatable.
    #[arg(long = "exclude-department", value_name = "DEPARTMENT")]
    pub exclude_departments: Vec<String>,
    /// Run every so often, e.g. 30m, 1h, 1d.
    #[arg(long, value_name = "DURATION", conflicts_with_all = ["cron", "on_demand"])]
    pub interval: Option<String>,
    /// Run on a cron schedule, e.g. "0 6 * * *" (with --time-zone).
    #[arg(long, value_name = "EXPR", conflicts_with = "on_demand")]
    pub cron: Option<String>,
    /// IANA time zone for --cron, e.g. Europe/Berlin (default UTC).
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,
    /// No schedule: run only with `galsync run start`.
    #[arg(long)]
    pub on_demand: bool,
    /// Which contacts galsync deletes.
    #[arg(long, value_enum)]
    pub deletion_mode: Option<DeletionModeArg>,
    /// Never write this contact field (e.g. mobilePhone); repeatable.
    #[arg(long = "hide-field", value_name = "FIELD")]
    pub hide_fields: Vec<String>,
    /// Also write contact photos.
    #[arg(long)]
    pub photos: bool,
    /// Repair pass interval (restores contacts users edited), e.g. 1d.
    #[arg(long, value_name = "DURATION")]
    pub repair_interval: Option<String>,
    /// Keep only users whose attribute is one of the values
    /// (`department=Sales,Support`), or starts with a prefix (`officeLocation^=Berlin`).
    #[arg(long = "include-where", value_name = "ATTRIBUTE=VALUE[,VALUE…]")]
    pub include_where: Vec<String>,
    /// Drop users whose attribute is one of the values, or starts with a prefix (`^=`).
    #[arg(long = "exclude-where", value_name = "ATTRIBUTE=VALUE[,VALUE…]")]
    pub exclude_where: Vec<String>,
    /// How galsync writes one contact field: `jobTitle=only-if-empty`
    /// (overwrite, only-if-empty or never).
    #[arg(long = "field-rule", value_name = "FIELD=RULE")]
    pub field_rules: Vec<String>,
    /// Hold a run's deletes for approval when they exceed this share of a mailbox's contacts.
    #[arg(long, value_name = "PERCENT")]
    pub deletion_guard_percent: Option<f64>,
    /// …and at least this many contacts.
    #[arg(long, value_name = "COUNT")]
    pub deletion_guard_minimum: Option<u32>,
    /// Claim contacts already in the folder whose email matches a user instead of adding a second one.
    #[arg(long)]
    pub adopt_existing: bool,
    /// Restore contacts users edited or deleted on every run (see also --repair-interval).
    #[arg(long)]
    pub repair: bool,
    /// Also turn disabled accounts into contacts.
    #[arg(long)]
    pub include_disabled: bool,
    /// Also turn users without mail into contacts.
    #[arg(long)]
    pub include_without_mail: bool,
    /// Also turn guests into contacts.
    #[arg(long)]
    pub include_guests: bool,
    /// Also turn shared, room and equipment mailboxes into contacts.
    #[arg(long)]
    pub include_resource_mailboxes: bool,
    /// An OData `$filter` Graph applies when reading users (e.g. `companyName eq 'Contoso'`).
    #[arg(long, value_name = "ODATA")]
    pub odata_prefilter: Option<String>,
    /// Stop writing photos.
    #[arg(long, conflicts_with = "photos")]
    pub no_photos: bool,
    /// Create or set the profile disabled (no scheduled runs).
    #[arg(long, conflicts_with = "enable")]
    pub disable: bool,
    /// Enable the profile.
    #[arg(long)]
    pub enable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeletionModeArg {
    /// Never delete contacts.
    Never,
    /// Delete contacts whose user left the source (default).
    RemovedFromSource,
    /// Also delete galsync contacts the writer cannot account for.
    Mirror,
}

impl ProfileFlags {
    /// Applies the flags given onto `document`; target flags replace the targets.
    pub fn apply(&self, document: &mut ProfileDocument) -> CliResult {
        if let Some(name) = &self.name {
            document.name = name.clone();
        }
        if let Some(tenant_id) = &self.tenant_id {
            document.tenant_id = tenant_id.trim().to_owned();
        }
        if let Some(folder) = &self.folder {
            document.folder = folder.clone();
        }
        if self.targets_all || !self.target_groups.is_empty() || !self.target_users.is_empty() {
            document.targets = TargetsDocument {
                all_mailboxes: self.targets_all,
                users: self.target_users.clone(),
                groups: self.target_groups.clone(),
                rules: Vec::new(),
            };
        }
        if !self.include_groups.is_empty() {
            document.source.include_groups = self.include_groups.clone();
        }
        if !self.exclude_groups.is_empty() {
            document.source.exclude_groups = self.exclude_groups.clone();
        }
        if !self.exclude_departments.is_empty() {
            document
                .source
                .rules
                .retain(|rule| !(rule.attribute == "department" && rule.exclude));
            document.source.rules.push(RuleDocument {
                attribute: "department".to_owned(),
                operator: "in".to_owned(),
                values: self.exclude_departments.clone(),
                exclude: true,
            });
        }
        self.apply_schedule(document)?;
        if let Some(mode) = self.deletion_mode {
            document.write.deletion_mode = mode
                .to_possible_value()
                .map(|value| value.get_name().to_owned())
                .unwrap_or_default();
        }
        for field in &self.hide_fields {
            document
                .write
                .field_rules
                .insert(field.trim().to_owned(), "never".to_owned());
        }
        for (flag, texts, exclude) in [
            ("include-where", &self.include_where, false),
            ("exclude-where", &self.exclude_where, true),
        ] {
            for text in texts {
                document.source.rules.push(where_rule(flag, text, exclude)?);
            }
        }
        for text in &self.field_rules {
            let (field, rule) = field_rule(text)?;
            document.write.field_rules.insert(field, rule);
        }
        if let Some(percent) = self.deletion_guard_percent {
            if !(0.0..=100.0).contains(&percent) {
                return Err(CliError::usage(format!(
                    "invalid --deletion-guard-percent {percent}: give a share between 0 and 100"
                )));
            }
            document.write.deletion_guard_percent = percent;
        }
        if let Some(minimum) = self.deletion_guard_minimum {
            document.write.deletion_guard_minimum = minimum;
        }
        if self.adopt_existing {
            document.write.adopt_existing = true;
        }
        if self.repair {
            document.write.repair = true;
        }
        let source = &mut document.source;
        source.include_disabled |= self.include_disabled;
        source.include_without_mail |= self.include_without_mail;
        source.include_guests |= self.include_guests;
        source.include_resource_mailboxes |= self.include_resource_mailboxes;
        if let Some(prefilter) = &self.odata_prefilter {
            source.odata_prefilter = prefilter.trim().to_owned();
        }
        if self.photos {
            document.write.write_photos = true;
        }
        if self.no_photos {
            document.write.write_photos = false;
        }
        if let Some(repair_interval) = &self.repair_interval {
            parse_duration("repair-interval", repair_interval)?;
            document.repair_interval = Some(repair_interval.clone());
        }
        if self.disable {
            document.enabled = false;
        }
        if self.enable {
            document.enabled = true;
        }
        Ok(())
    }

    fn apply_schedule(&self, document: &mut ProfileDocument) -> CliResult {
        if self.on_demand {
            document.schedule = None;
        }
        if let Some(interval) = &self.interval {
            parse_duration("interval", interval)?;
            document.schedule = Some(ScheduleDocument {
                interval: Some(interval.clone()),
                cron: None,
                time_zone: String::new(),
            });
        }
        if let Some(cron) = &self.cron {
            document.schedule = Some(ScheduleDocument {
                interval: None,
                cron: Some(cron.clone()),
                time_zone: String::new(),
            });
        }
        if let Some(time_zone) = &self.time_zone {
            match document.schedule.as_mut() {
                Some(schedule) if schedule.cron.is_some() => schedule.time_zone = time_zone.clone(),
                _ => {
                    return Err(CliError::usage(
                        "invalid --time-zone: it applies to a cron schedule; give --cron too",
                    ))
                }
            }
        }
        Ok(())
    }
}

/// `ATTRIBUTE=V1[,V2…]` (equals one of them) or `ATTRIBUTE^=PREFIX` as a rule.
fn where_rule(flag: &str, text: &str, exclude: bool) -> CliResult<RuleDocument> {
    let invalid = || {
        CliError::usage(format!(
            "invalid --{flag} `{text}`: use ATTRIBUTE=VALUE[,VALUE…] (e.g. department=Sales,Support) or ATTRIBUTE^=PREFIX"
        ))
    };
    let (attribute, operator, rest) = match text.split_once("^=") {
        Some((attribute, prefix)) => (attribute, "starts-with", prefix),
        None => {
            let (attribute, values) = text.split_once('=').ok_or_else(invalid)?;
            (attribute, "in", values)
        }
    };
    let values: Vec<String> = rest
        .split(',')
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .collect();
    if attribute.trim().is_empty() || values.is_empty() {
        return Err(invalid());
    }
    Ok(RuleDocument {
        attribute: attribute.trim().to_owned(),
        operator: operator.to_owned(),
        values,
        exclude,
    })
}

/// `FIELD=overwrite|only-if-empty|never`.
fn field_rule(text: &str) -> CliResult<(String, String)> {
    let invalid = || {
        CliError::usage(format!(
            "invalid --field-rule `{text}`: use FIELD=overwrite, FIELD=only-if-empty or FIELD=never (e.g. jobTitle=only-if-empty)"
        ))
    };
    let (field, rule) = text.split_once('=').ok_or_else(invalid)?;
    let rule = rule.trim();
    if field.trim().is_empty() || !matches!(rule, "overwrite" | "only-if-empty" | "never") {
        return Err(invalid());
    }
    Ok((field.trim().to_owned(), rule.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zone_without_cron_is_a_usage_error() {
        let flags = ProfileFlags {
            time_zone: Some("Europe/Berlin".to_owned()),
            ..Default::default()
        };
        let error = flags.apply(&mut ProfileDocument::default()).unwrap_err();
        assert!(error.message.contains("give --cron too"));
    }
}
