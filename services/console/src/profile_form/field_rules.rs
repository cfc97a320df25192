//! The editor's field rules: typed one a line as `FIELD=RULE`, shown the
//! same way.

use galsync_proto::v1;

use super::{lines, FieldError};

/// The field rules typed one a line as `field=rule`; the scheduler checks
/// the field names.
pub(super) fn field_rules(
    text: &str,
) -> Result<std::collections::HashMap<String, i32>, FieldError> {
    let mut rules = std::collections::HashMap::new();
    for line in lines(text) {
        let parsed = line.split_once('=').and_then(|(field, rule)| {
            let rule = match rule.trim() {
                "overwrite" => v1::FieldRule::Overwrite,
                "only-if-empty" => v1::FieldRule::OnlyIfEmpty,
                "never" => v1::FieldRule::Never,
                _ => return None,
            };
            Some((field.trim().to_owned(), rule as i32))
        });
        let Some((field, rule)) = parsed.filter(|(field, _)| !field.is_empty()) else {
            return Err(FieldError {
                field: "spec.write.field_rules".to_owned(),
                message: format!(
                    "{line:?} is not FIELD=RULE; write e.g. jobTitle=only-if-empty (rules: overwrite, only-if-empty, never)"
                ),
            });
        };
        rules.insert(field, rule);
    }
    Ok(rules)
}

/// A profile's field rules as the editor shows them, one a line, sorted.
pub(super) fn field_rule_lines(rules: &std::collections::HashMap<String, i32>) -> Vec<String> {
    let mut lines: Vec<String> = rules
        .iter()
        .map(|(field, rule)| {
            let rule = match v1::FieldRule::try_from(*rule) {
                Ok(v1::FieldRule::OnlyIfEmpty) => "only-if-empty",
                Ok(v1::FieldRule::Never) => "never",
                _ => "overwrite",
            };
            format!("{field}={rule}")
        })
        .collect();
    lines.sort();
    lines
}
