//! Binding a parsed `$filter` to a resource's properties (rejecting, as Graph
//! does, what needs an advanced query when the request is not one) and
//! evaluating it against stored objects with Graph's case-insensitive matching.

use axum::http::StatusCode;

use crate::errors::GraphError;

use super::properties::Filterable;
use crate::odata_filter::expression::{unsupported_query, CompareOp, Expr, Literal};

/// The type of a filterable property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    Bool,
}

/// What binding needs to know of a property.
pub struct BoundProperty<F> {
    pub field: F,
    pub filterable: Filterable,
    pub kind: ValueKind,
}

/// A property's value as filters see it.
pub enum FieldValue<'a> {
    Text(Option<&'a str>),
    Bool(bool),
    /// An object id: compared as a GUID, whatever its spelling.
    Id(uuid::Uuid),
}

/// Something a bound filter can be evaluated against.
pub trait FilterSubject<F> {
    fn field_value(&self, field: &F) -> FieldValue<'_>;
}

fn advanced_operator_required(operator: &str) -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "Request_UnsupportedQuery",
        format!(
            "Operator '{operator}' is not supported because the required parameters might be missing. Try adding $count with a value of true and ConsistencyLevel header with a value of 'eventual'."
        ),
    )
}

/// Resolves paths to fields and enforces Graph's rules on plain vs advanced queries.
pub fn bind<F>(
    expression: Expr<String>,
    resource: &str,
    advanced: bool,
    resolve: &dyn Fn(&str) -> Option<BoundProperty<F>>,
) -> Result<Expr<F>, GraphError> {
    let lookup = |path: &str| -> Result<BoundProperty<F>, GraphError> {
        let Some(property) = resolve(path) else {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                format!(
                    "Could not find a property named '{path}' on type 'microsoft.graph.{}'.",
                    resource.to_ascii_lowercase()
                ),
            ));
        };
        match property.filterable {
            Filterable::No => Err(unsupported_query(path, resource)),
            Filterable::AdvancedOnly if !advanced => Err(unsupported_query(path, resource)),
            _ => Ok(property),
        }
    };
    let check_literal = |path: &str, kind: ValueKind, literal: &Literal| {
        match (kind, literal) {
        (ValueKind::Text, Literal::Text(_)) | (ValueKind::Bool, Literal::Bool(_)) => Ok(()),
        (_, Literal::Null) if advanced => Ok(()),
        (_, Literal::Null) => Err(unsupported_query(path, resource)),
        _ => Err(GraphError::bad_request(format!(
            "A binary operator with incompatible types was detected. Found operand types for property '{path}' that do not match."
        ))),
    }
    };
    match expression {
        Expr::And(left, right) => Ok(Expr::And(
            Box::new(bind(*left, resource, advanced, resolve)?),
            Box::new(bind(*right, resource, advanced, resolve)?),
        )),
        Expr::Or(left, right) => Ok(Expr::Or(
            Box::new(bind(*left, resource, advanced, resolve)?),
            Box::new(bind(*right, resource, advanced, resolve)?),
        )),
        Expr::Not(inner) => {
            if !advanced {
                return Err(advanced_operator_required("not"));
            }
            Ok(Expr::Not(Box::new(bind(
                *inner, resource, advanced, resolve,
            )?)))
        }
        Expr::Compare(path, operator, literal) => {
            if operator == CompareOp::Ne && !advanced {
                return Err(advanced_operator_required("ne"));
            }
            let property = lookup(&path)?;
            check_literal(&path, property.kind, &literal)?;
            Ok(Expr::Compare(property.field, operator, literal))
        }
        Expr::In(path, values) => {
            let property = lookup(&path)?;
            for value in &values {
                check_literal(&path, property.kind, value)?;
            }
            Ok(Expr::In(property.field, values))
        }
        Expr::StartsWith(path, prefix) => {
            let property = lookup(&path)?;
            if property.kind != ValueKind::Text {
                return Err(unsupported_query(&path, resource));
            }
            Ok(Expr::StartsWith(property.field, prefix))
        }
        Expr::EndsWith(path, suffix) => {
            if !advanced {
                return Err(advanced_operator_required("endsWith"));
            }
            let property = lookup(&path)?;
            if property.kind != ValueKind::Text {
                return Err(unsupported_query(&path, resource));
            }
            Ok(Expr::EndsWith(property.field, suffix))
        }
    }
}

/// Case-insensitive equality without allocating (directory string matching is case-insensitive).
pub fn equals_ignore_case(left: &str, right: &str) -> bool {
    if left.is_ascii() && right.is_ascii() {
        return left.eq_ignore_ascii_case(right);
    }
    left.chars()
        .flat_map(char::to_lowercase)
        .eq(right.chars().flat_map(char::to_lowercase))
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    let mut text_characters = text.chars().flat_map(char::to_lowercase);
    for prefix_character in prefix.chars().flat_map(char::to_lowercase) {
        if text_characters.next() != Some(prefix_character) {
            return false;
        }
    }
    true
}

fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    let lowered_text = text.to_lowercase();
    lowered_text.ends_with(&suffix.to_lowercase())
}

fn literal_matches(value: &FieldValue<'_>, literal: &Literal) -> bool {
    match (value, literal) {
        (FieldValue::Text(Some(text)), Literal::Text(expected)) => {
            equals_ignore_case(text, expected)
        }
        (FieldValue::Text(None), Literal::Null) => true,
        (FieldValue::Id(id), Literal::Text(expected)) => expected
            .parse::<uuid::Uuid>()
            .is_ok_and(|parsed| parsed == *id),
        (FieldValue::Bool(actual), Literal::Bool(expected)) => actual == expected,
        _ => false,
    }
}

/// Evaluates a bound filter against one object.
pub fn evaluate<F, S: FilterSubject<F>>(expression: &Expr<F>, subject: &S) -> bool {
    match expression {
        Expr::And(left, right) => evaluate(left, subject) && evaluate(right, subject),
        Expr::Or(left, right) => evaluate(left, subject) || evaluate(right, subject),
        Expr::Not(inner) => !evaluate(inner, subject),
        Expr::Compare(field, operator, literal) => {
            let matches = literal_matches(&subject.field_value(field), literal);
            match operator {
                CompareOp::Eq => matches,
                CompareOp::Ne => !matches,
            }
        }
        Expr::In(field, values) => {
            let value = subject.field_value(field);
            values
                .iter()
                .any(|literal| literal_matches(&value, literal))
        }
        Expr::StartsWith(field, prefix) => match subject.field_value(field) {
            FieldValue::Text(Some(text)) => starts_with_ignore_case(text, prefix),
            _ => false,
        },
        Expr::EndsWith(field, suffix) => match subject.field_value(field) {
            FieldValue::Text(Some(text)) => ends_with_ignore_case(text, suffix),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_matching_handles_non_ascii() {
        assert!(equals_ignore_case("MÜLLER", "müller"));
        assert!(starts_with_ignore_case("Ødegaard", "øde"));
        assert!(!starts_with_ignore_case("Ode", "Øde"));
    }
}
