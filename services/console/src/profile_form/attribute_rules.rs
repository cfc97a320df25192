//! The editor's attribute rules, for the source filter (users kept and
//! dropped) and for the targets (mailboxes kept and dropped): two text
//! areas each, one rule a line in the syntax of `galsync profile create
//! --include-where` / `--exclude-where`: `ATTRIBUTE=VALUE[,VALUE…]` (the
//! attribute is one of the values) or `ATTRIBUTE^=PREFIX` (it starts with
//! the prefix). The scheduler checks the attribute names.

use galsync_proto::v1;
use v1::attribute_rule::Operator;

use super::{or_note, FieldError};

/// Which rules of the spec a pair of text areas edits, and the names the
/// form's fields and the scheduler's errors give them.
#[derive(Clone, Copy)]
pub(super) struct RuleSide {
    /// The form's field for rules keeping users, as errors name it.
    pub include_field: &'static str,
    /// The form's field for rules dropping users.
    pub exclude_field: &'static str,
    /// How the scheduler names rule N: `{rules_field}[N]…`.
    rules_field: &'static str,
}

/// The source filter's rules (`spec.source.rules`).
pub(super) const SOURCE: RuleSide = RuleSide {
    include_field: "spec.source.include_where",
    exclude_field: "spec.source.exclude_where",
    rules_field: "spec.source.rules",
};

/// The targets' rules (`spec.targets.rules`), narrowing the mailboxes.
pub(super) const TARGETS: RuleSide = RuleSide {
    include_field: "spec.targets.include_where",
    exclude_field: "spec.targets.exclude_where",
    rules_field: "spec.targets.rules",
};

impl RuleSide {
    /// The rules typed in the keep (`exclude` false) or drop text area.
    pub(super) fn parse(
        self,
        text: &str,
        exclude: bool,
    ) -> Result<Vec<v1::AttributeRule>, FieldError> {
        let mut rules = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some(rule) = attribute_rule(line, exclude) else {
                return Err(FieldError {
                    field: if exclude {
                        self.exclude_field
                    } else {
                        self.include_field
                    }
                    .to_owned(),
                    message: format!(
                        "line {}, {line:?}, is not ATTRIBUTE=VALUE[,VALUE…] or ATTRIBUTE^=PREFIX; write e.g. department=Sales,Support or jobTitle^=Senior",
                        index + 1
                    ),
                });
            };
            rules.push(rule);
        }
        Ok(rules)
    }

    /// The keep rules typed in `include`, then the drop rules typed in
    /// `exclude`; a text area that cannot be read keeps its rules of `old`
    /// and notes the first error.
    pub(super) fn merge(
        self,
        include: &str,
        exclude: &str,
        old: &[v1::AttributeRule],
        first: &mut Option<FieldError>,
    ) -> Vec<v1::AttributeRule> {
        let kept = |drop: bool| -> Vec<v1::AttributeRule> {
            old.iter()
                .filter(|rule| rule.exclude == drop)
                .cloned()
                .collect()
        };
        let mut rules = or_note(self.parse(include, false), kept(false), first);
        rules.extend(or_note(self.parse(exclude, true), kept(true), first));
        rules
    }

    /// Which text area a scheduler error on `{rules_field}[N]…` belongs
    /// to: the one holding rule N of `rules`; any other field as it is.
    pub(super) fn field_of_rule_error<'a>(
        self,
        field: &'a str,
        rules: &[v1::AttributeRule],
    ) -> &'a str {
        let index = field
            .strip_prefix(self.rules_field)
            .and_then(|rest| rest.strip_prefix('['))
            .and_then(|rest| rest.split_once(']'))
            .and_then(|(index, _)| index.parse::<usize>().ok());
        match index.and_then(|index| rules.get(index)) {
            Some(rule) if rule.exclude => self.exclude_field,
            Some(_) => self.include_field,
            None => field,
        }
    }
}

fn attribute_rule(line: &str, exclude: bool) -> Option<v1::AttributeRule> {
    let (attribute, operator, rest) = match line.split_once("^=") {
        Some((attribute, prefix)) => (attribute, Operator::StartsWith, prefix),
        None => {
            let (attribute, values) = line.split_once('=')?;
            (attribute, Operator::In, values)
        }
    };
    let values: Vec<String> = if operator == Operator::StartsWith {
        vec![rest.trim().to_owned()]
    } else {
        rest.split(',')
            .map(|value| value.trim().to_owned())
            .collect()
    };
    let values: Vec<String> = values
        .into_iter()
        .filter(|value| !value.is_empty())
        .collect();
    let attribute = attribute.trim();
    if attribute.is_empty() || attribute.contains(char::is_whitespace) || values.is_empty() {
        return None;
    }
    Some(v1::AttributeRule {
        attribute: attribute.to_owned(),
        operator: operator as i32,
        values,
        exclude,
    })
}

/// The keep (`exclude` false) or drop rules of `rules` as the editor shows
/// them, one a line, in their order.
pub(crate) fn attribute_rule_lines(rules: &[v1::AttributeRule], exclude: bool) -> Vec<String> {
    rules
        .iter()
        .filter(|rule| rule.exclude == exclude)
        .map(|rule| match Operator::try_from(rule.operator) {
            Ok(Operator::StartsWith) => format!("{}^={}", rule.attribute, rule.values.join("")),
            _ => format!("{}={}", rule.attribute, rule.values.join(",")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_rules_and_rules_lines_again() {
        let rules = SOURCE
            .parse("department=Sales, Support\r\n\r\njobTitle^=Senior\n", false)
            .unwrap_or_else(|error| panic!("{}", error.message));
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].values, ["Sales", "Support"]);
        assert_eq!(rules[0].operator, Operator::In as i32);
        assert_eq!(rules[1].operator, Operator::StartsWith as i32);
        assert_eq!(
            attribute_rule_lines(&rules, false),
            ["department=Sales,Support", "jobTitle^=Senior"]
        );
        assert!(attribute_rule_lines(&rules, true).is_empty());
    }

    #[test]
    fn a_malformed_line_is_named_with_its_number() {
        for typed in ["department Sales", "=Sales", "department=", "job title=x"] {
            let Err(error) = TARGETS.parse(&format!("country=NO\n{typed}"), true) else {
                panic!("{typed} was accepted");
            };
            assert_eq!(error.field, "spec.targets.exclude_where");
            assert!(
                error.message.starts_with(&format!("line 2, {typed:?}")),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn a_rule_error_belongs_to_the_text_area_of_its_side_holding_the_rule() {
        let rules = SOURCE
            .parse("department=Sales", false)
            .into_iter()
            .chain(SOURCE.parse("country=NO", true))
            .flatten()
            .collect::<Vec<_>>();
        assert_eq!(
            TARGETS.field_of_rule_error("spec.targets.rules[1].attribute", &rules),
            "spec.targets.exclude_where"
        );
        assert_eq!(
            SOURCE.field_of_rule_error("spec.source.rules[0].attribute", &rules),
            "spec.source.include_where"
        );
        assert_eq!(
            SOURCE.field_of_rule_error("spec.targets.rules[0].attribute", &rules),
            "spec.targets.rules[0].attribute"
        );
    }
}
