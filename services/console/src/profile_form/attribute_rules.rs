//! The editor's attribute rules: two text areas, users to keep and users to
//! drop, one rule a line in the syntax of `galsync profile create
//! --include-where` / `--exclude-where`: `ATTRIBUTE=VALUE[,VALUE…]` (the
//! attribute is one of the values) or `ATTRIBUTE^=PREFIX` (it starts with
//! the prefix). The scheduler checks the attribute names.

use galsync_proto::v1;
use v1::attribute_rule::Operator;

use super::FieldError;

/// The form's field for rules keeping users, as errors name it.
pub(super) const INCLUDE_FIELD: &str = "spec.source.include_where";
/// The form's field for rules dropping users.
pub(super) const EXCLUDE_FIELD: &str = "spec.source.exclude_where";

/// The rules typed in the keep (`exclude` false) or drop text area.
pub(super) fn attribute_rules(
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
                field: if exclude { EXCLUDE_FIELD } else { INCLUDE_FIELD }.to_owned(),
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

/// Which text area a scheduler error on `spec.source.rules[N]…` belongs
/// to: the one holding rule N of `rules`.
pub(super) fn field_of_rule_error<'a>(field: &'a str, rules: &[v1::AttributeRule]) -> &'a str {
    let index = field
        .strip_prefix("spec.source.rules[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(index, _)| index.parse::<usize>().ok());
    match index.and_then(|index| rules.get(index)) {
        Some(rule) if rule.exclude => EXCLUDE_FIELD,
        Some(_) => INCLUDE_FIELD,
        None => field,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_rules_and_rules_lines_again() {
        let rules = attribute_rules("department=Sales, Support\r\n\r\njobTitle^=Senior\n", false)
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
            let Err(error) = attribute_rules(&format!("country=NO\n{typed}"), true) else {
                panic!("{typed} was accepted");
            };
            assert_eq!(error.field, EXCLUDE_FIELD);
            assert!(
                error.message.starts_with(&format!("line 2, {typed:?}")),
                "{}",
                error.message
            );
        }
    }
}
