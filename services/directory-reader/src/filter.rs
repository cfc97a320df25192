//! The source filter: which directory users become contacts. Validated once
//! into a [`CompiledFilter`], then applied to every user with a count of how
//! many users each rule dropped (a user counts under the first rule that drops it).

use std::collections::HashSet;

use galsync_proto::v1;
use v1::attribute_rule::Operator;

use crate::error::{Error, Result};
use crate::source::{is_blank, is_known_attribute, SourceUser};

/// One validated attribute rule, values lowercased for comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledRule {
    attribute: String,
    operator: Operator,
    values: Vec<String>,
    exclude: bool,
    description: String,
}

impl CompiledRule {
    pub fn compile(rule: &v1::AttributeRule, field: &'static str) -> Result<CompiledRule> {
        if !is_known_attribute(&rule.attribute) {
            return Err(Error::invalid(
                field,
                format!(
                    "unknown attribute {:?}: use department, companyName, officeLocation, country, jobTitle, employeeType or extensionAttribute1..15",
                    rule.attribute
                ),
            ));
        }
        let operator = Operator::try_from(rule.operator).unwrap_or(Operator::Unspecified);
        let values: Vec<String> = rule
            .values
            .iter()
            .map(|value| value.trim().to_lowercase())
            .collect();
        let operator_name = match operator {
            Operator::Equals => "eq",
            Operator::StartsWith => "starts with",
            Operator::In => "in",
            Operator::Unspecified => {
                return Err(Error::invalid(
                    field,
                    format!("rule on {} has no operator", rule.attribute),
                ))
            }
        };
        let wants_one_value = matches!(operator, Operator::Equals | Operator::StartsWith);
        if values.is_empty() || (wants_one_value && values.len() != 1) {
            return Err(Error::invalid(
                field,
                format!(
                    "rule on {} needs {} value(s)",
                    rule.attribute,
                    if wants_one_value {
                        "exactly one"
                    } else {
                        "at least one"
                    }
                ),
            ));
        }
        let shown_values = match operator {
            Operator::In => format!("({})", rule.values.join(", ")),
            _ => format!("'{}'", rule.values.join("")),
        };
        let prefix = if rule.exclude { "exclude " } else { "" };
        Ok(CompiledRule {
            attribute: rule.attribute.clone(),
            operator,
            values,
            exclude: rule.exclude,
            description: format!("{prefix}{} {operator_name} {shown_values}", rule.attribute),
        })
    }

    fn matches(&self, user: &SourceUser) -> bool {
        let Some(value) = user.attribute(&self.attribute) else {
            return false;
        };
        let value = value.trim().to_lowercase();
        match self.operator {
            Operator::Equals | Operator::In => self.values.contains(&value),
            Operator::StartsWith => self
                .values
                .iter()
                .any(|prefix| value.starts_with(prefix.as_str())),
            Operator::Unspecified => false,
        }
    }

    /// Whether this rule drops `user`.
    pub fn drops(&self, user: &SourceUser) -> bool {
        self.matches(user) == self.exclude
    }

    pub fn description(&self) -> &str {
        &self.description
    }
}

pub fn compile_rules(
    rules: &[v1::AttributeRule],
    field: &'static str,
) -> Result<Vec<CompiledRule>> {
    let mut compiled = Vec::with_capacity(rules.len());
    for rule in rules {
        compiled.push(CompiledRule::compile(rule, field)?);
    }
    Ok(compiled)
}

/// A group id as it may appear in a Graph path.
pub fn validate_object_id(id: &str, field: &'static str) -> Result<String> {
    let trimmed = id.trim();
    let well_formed = !trimmed.is_empty()
        && trimmed.len() <= 64
        && trimmed
            .chars()
            .all(|character| character.is_ascii_hexdigit() || character == '-');
    if !well_formed {
        return Err(Error::invalid(
            field,
            format!("{id:?} is not a directory object id"),
        ));
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// The parts of a [`v1::SourceFilter`] applied to users already read.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledFilter {
    pub include_disabled: bool,
    pub include_without_mail: bool,
    pub include_guests: bool,
    pub include_resource_mailboxes: bool,
    pub include_group_ids: Vec<String>,
    pub exclude_group_ids: Vec<String>,
    pub rules: Vec<CompiledRule>,
    /// Passed to Graph as `$filter` on full reads; empty = none.
    pub odata_prefilter: String,
}

/// Members of the include and exclude groups, read for one snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupMembers {
    pub included: Option<HashSet<String>>,
    pub excluded: HashSet<String>,
}

/// How many users each rule dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterCounts {
    pub users_read: u64,
    pub users_kept: u64,
    /// `(rule, dropped)` in evaluation order; every active rule is listed.
    pub rules: Vec<(String, u64)>,
}

impl CompiledFilter {
    pub fn compile(filter: &v1::SourceFilter) -> Result<CompiledFilter> {
        let mut include_group_ids = Vec::new();
        for id in &filter.include_group_ids {
            include_group_ids.push(validate_object_id(id, "filter.include_group_ids")?);
        }
        let mut exclude_group_ids = Vec::new();
        for id in &filter.exclude_group_ids {
            exclude_group_ids.push(validate_object_id(id, "filter.exclude_group_ids")?);
        }
        let prefilter = filter.odata_prefilter.trim();
        if prefilter.contains(['&', '#', '\n']) {
            return Err(Error::invalid(
                "filter.odata_prefilter",
                "must be a single OData $filter expression",
            ));
        }
        Ok(CompiledFilter {
            include_disabled: filter.include_disabled,
            include_without_mail: filter.include_without_mail,
            include_guests: filter.include_guests,
            include_resource_mailboxes: filter.include_resource_mailboxes,
            include_group_ids,
            exclude_group_ids,
            rules: compile_rules(&filter.rules, "filter.rules")?,
            odata_prefilter: prefilter.to_owned(),
        })
    }

    /// Rule names in evaluation order, for the counts.
    fn rule_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if !self.include_guests {
            names.push("exclude guests".to_owned());
        }
        if !self.include_resource_mailboxes {
            names.push("exclude shared/room/equipment mailboxes".to_owned());
        }
        if !self.include_disabled {
            names.push("exclude disabled accounts".to_owned());
        }
        if !self.include_without_mail {
            names.push("exclude users without mail".to_owned());
        }
        if !self.include_group_ids.is_empty() {
            names.push(format!(
                "members of groups ({})",
                self.include_group_ids.join(", ")
            ));
        }
        if !self.exclude_group_ids.is_empty() {
            names.push(format!(
                "exclude members of groups ({})",
                self.exclude_group_ids.join(", ")
            ));
        }
        for rule in &self.rules {
            names.push(rule.description().to_owned());
        }
        names
    }

    /// The index (in [`Self::rule_names`] order) of the first rule dropping `user`.
    fn first_dropping_rule(&self, user: &SourceUser, groups: &GroupMembers) -> Option<usize> {
        let mut index = 0;
        let mut checks: Vec<bool> = Vec::with_capacity(6 + self.rules.len());
        if !self.include_guests {
            checks.push(user.is_guest);
        }
        if !self.include_resource_mailboxes {
            checks.push(user.is_resource_mailbox());
        }
        if !self.include_disabled {
            checks.push(!user.account_enabled);
        }
        if !self.include_without_mail {
            checks.push(is_blank(user.mail.as_deref()));
        }
        if !self.include_group_ids.is_empty() {
            let is_member = groups
                .included
                .as_ref()
                .is_some_and(|members| members.contains(&user.id));
            checks.push(!is_member);
        }
        if !self.exclude_group_ids.is_empty() {
            checks.push(groups.excluded.contains(&user.id));
        }
        for check in checks {
            if check {
                return Some(index);
            }
            index += 1;
        }
        for rule in &self.rules {
            if rule.drops(user) {
                return Some(index);
            }
            index += 1;
        }
        None
    }

    /// Applies the filter; returns the kept users and the counts.
    pub fn apply<'a>(
        &self,
        users: impl Iterator<Item = &'a SourceUser>,
        groups: &GroupMembers,
    ) -> (Vec<&'a SourceUser>, FilterCounts) {
        let names = self.rule_names();
        let mut dropped = vec![0u64; names.len()];
        let mut kept = Vec::new();
        let mut users_read = 0u64;
        for user in users {
            users_read += 1;
            match self.first_dropping_rule(user, groups) {
                Some(rule_index) => dropped[rule_index] += 1,
                None => kept.push(user),
            }
        }
        let counts = FilterCounts {
            users_read,
            users_kept: kept.len() as u64,
            rules: names.into_iter().zip(dropped).collect(),
        };
        (kept, counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        attribute: &str,
        operator: Operator,
        values: &[&str],
        exclude: bool,
    ) -> v1::AttributeRule {
        v1::AttributeRule {
            attribute: attribute.to_owned(),
            operator: operator as i32,
            values: values.iter().map(|value| value.to_string()).collect(),
            exclude,
        }
    }

    fn member(id: &str, department: &str) -> SourceUser {
        SourceUser {
            id: id.to_owned(),
            mail: Some(format!("{id}@contoso.example")),
            account_enabled: true,
            licensed: true,
            department: Some(department.to_owned()),
            extension_attributes: vec![None; 15],
            ..SourceUser::default()
        }
    }

    #[test]
    fn rules_compare_case_insensitively_and_count_the_first_drop() {
        let filter = CompiledFilter::compile(&v1::SourceFilter {
            rules: vec![
                rule("department", Operator::In, &["SALES", "support "], false),
                rule("Department", Operator::StartsWith, &["sup"], true),
            ],
            ..Default::default()
        })
        .unwrap();
        let mut disabled = member("d", "Sales");
        disabled.account_enabled = false;
        disabled.licensed = true;
        let users = [
            member("a", "sales"),
            member("b", "Support"),
            member("c", "Legal"),
            disabled,
        ];
        let (kept, counts) = filter.apply(users.iter(), &GroupMembers::default());
        let kept_ids: Vec<&str> = kept.iter().map(|user| user.id.as_str()).collect();
        assert_eq!(kept_ids, ["a"]);
        assert_eq!(counts.users_read, 4);
        let dropped: Vec<(&str, u64)> = counts
            .rules
            .iter()
            .map(|(name, count)| (name.as_str(), *count))
            .collect();
        assert_eq!(
            dropped,
            [
                ("exclude guests", 0),
                ("exclude shared/room/equipment mailboxes", 0),
                ("exclude disabled accounts", 1),
                ("exclude users without mail", 0),
                ("department in (SALES, support )", 1),
                ("exclude Department starts with 'sup'", 1),
            ]
        );
    }

    #[test]
    fn malformed_rules_and_group_ids_are_refused() {
        let unknown = v1::SourceFilter {
            rules: vec![rule("salary", Operator::Equals, &["1"], false)],
            ..Default::default()
        };
        assert!(CompiledFilter::compile(&unknown).is_err());
        let two_values = v1::SourceFilter {
            rules: vec![rule("country", Operator::Equals, &["US", "UK"], false)],
            ..Default::default()
        };
        assert!(CompiledFilter::compile(&two_values).is_err());
        let path_injection = v1::SourceFilter {
            include_group_ids: vec!["../users".to_owned()],
            ..Default::default()
        };
        assert!(CompiledFilter::compile(&path_injection).is_err());
    }
}
