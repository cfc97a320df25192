//! `$filter` on applications and service principals (`eq`, `ne`, `in`,
//! `startswith`, `and`, `or`, `not` over a few string properties, parsed by
//! the directory's parser) and alternate keys in the URL
//! (`applications(appId='…')`).

use std::collections::HashMap;

use crate::errors::GraphError;
use crate::odata_filter::expression::{parse, unsupported_query, CompareOp, Expr, Literal};

/// A parsed `$filter` bound to the properties a resource can be filtered on.
pub struct ObjectFilter {
    expression: Expr<String>,
}

impl ObjectFilter {
    /// Parses `filter`; properties outside `filterable` → 400
    /// `Request_UnsupportedQuery`, as Graph answers.
    pub fn parse(
        filter: &str,
        filterable: &[&str],
        resource: &str,
    ) -> Result<ObjectFilter, GraphError> {
        let expression = parse(filter)?;
        check_properties(&expression, filterable, resource)?;
        Ok(ObjectFilter { expression })
    }

    /// Whether an object with these property values matches. Values compare
    /// case-insensitively, as the directory compares strings and GUIDs.
    pub fn matches(&self, values: &HashMap<&str, Vec<String>>) -> bool {
        evaluate(&self.expression, values)
    }
}

fn check_properties(
    expression: &Expr<String>,
    filterable: &[&str],
    resource: &str,
) -> Result<(), GraphError> {
    let check = |property: &String| {
        if filterable
            .iter()
            .any(|known| known.eq_ignore_ascii_case(property))
        {
            Ok(())
        } else {
            Err(unsupported_query(property, resource))
        }
    };
    match expression {
        Expr::And(left, right) | Expr::Or(left, right) => {
            check_properties(left, filterable, resource)?;
            check_properties(right, filterable, resource)
        }
        Expr::Not(inner) => check_properties(inner, filterable, resource),
        Expr::Compare(property, _, _)
        | Expr::In(property, _)
        | Expr::StartsWith(property, _)
        | Expr::EndsWith(property, _) => check(property),
    }
}

fn property_values<'a>(values: &'a HashMap<&str, Vec<String>>, property: &str) -> &'a [String] {
    values
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(property))
        .map(|(_, found)| found.as_slice())
        .unwrap_or(&[])
}

fn literal_matches(value: &str, literal: &Literal) -> bool {
    match literal {
        Literal::Text(text) => value.eq_ignore_ascii_case(text),
        Literal::Bool(_) | Literal::Null => false,
    }
}

fn evaluate(expression: &Expr<String>, values: &HashMap<&str, Vec<String>>) -> bool {
    match expression {
        Expr::And(left, right) => evaluate(left, values) && evaluate(right, values),
        Expr::Or(left, right) => evaluate(left, values) || evaluate(right, values),
        Expr::Not(inner) => !evaluate(inner, values),
        Expr::Compare(property, operator, literal) => {
            let found = property_values(values, property);
            let equal = match literal {
                Literal::Null => found.is_empty(),
                _ => found.iter().any(|value| literal_matches(value, literal)),
            };
            match operator {
                CompareOp::Eq => equal,
                CompareOp::Ne => !equal,
            }
        }
        Expr::In(property, literals) => property_values(values, property).iter().any(|value| {
            literals
                .iter()
                .any(|literal| literal_matches(value, literal))
        }),
        Expr::StartsWith(property, prefix) => {
            property_values(values, property).iter().any(|value| {
                value
                    .to_ascii_lowercase()
                    .starts_with(&prefix.to_ascii_lowercase())
            })
        }
        Expr::EndsWith(property, suffix) => property_values(values, property).iter().any(|value| {
            value
                .to_ascii_lowercase()
                .ends_with(&suffix.to_ascii_lowercase())
        }),
    }
}

/// An alternate key from the URL: `(appId='…')` → ("appId", "…").
pub fn alternate_key(segment: &str) -> Option<(String, String)> {
    let inner = segment.strip_prefix('(')?.strip_suffix(')')?;
    let (name, quoted) = inner.split_once('=')?;
    let value = quoted.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    Some((name.trim().to_owned(), value.replace("''", "'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternate_keys_are_read_from_the_segment() {
        assert_eq!(
            alternate_key("(appId='abc')"),
            Some(("appId".to_owned(), "abc".to_owned()))
        );
        assert_eq!(
            alternate_key("(uniqueName='o''brien')"),
            Some(("uniqueName".to_owned(), "o'brien".to_owned()))
        );
        assert_eq!(alternate_key("(appId=abc)"), None);
        assert_eq!(alternate_key("s"), None);
    }

    #[test]
    fn filters_match_case_insensitively_and_refuse_unknown_properties() {
        let filter = ObjectFilter::parse(
            "appId eq 'ABC' and displayName ne 'x'",
            &["appId", "displayName"],
            "Application",
        )
        .expect("valid filter");
        let values = HashMap::from([
            ("appId", vec!["abc".to_owned()]),
            ("displayName", vec!["galsync".to_owned()]),
        ]);
        assert!(filter.matches(&values));
        assert!(ObjectFilter::parse("owner eq 'x'", &["appId"], "Application").is_err());
    }
}
