//! Exchange's `$filter` grammar on contacts and contact folders: `and`-ed
//! conditions, each `path eq 'text'`, `startswith(path, 'text')` or
//! `collection/any(variable: conditions)`. What a condition means is the
//! endpoint's to say (see `mailbox::filter`).

use axum::http::StatusCode;

use super::lexer::{tokenize, Token, Words};
use crate::errors::GraphError;

/// Exchange's answer to a filter outside the forms it takes.
pub fn unsupported_filter() -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "ErrorInvalidUrlQueryFilter",
        "The query filter contains one or more invalid nodes.",
    )
}

/// A filter that is not even tokens (a text never closed).
fn malformed_filter(text: &str) -> GraphError {
    GraphError::bad_request(format!("Invalid filter clause: '{text}'."))
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare {
        path: String,
        literal: String,
    },
    Any {
        collection: String,
        variable: String,
        inner: Vec<Condition>,
    },
    /// `startswith(path, 'literal')`
    StartsWith {
        path: String,
        literal: String,
    },
}

type Tokens = std::iter::Peekable<std::vec::IntoIter<Token>>;

/// condition ('and' condition)*, up to the end or a closing parenthesis.
fn parse_conditions(tokens: &mut Tokens) -> Result<Vec<Condition>, GraphError> {
    let mut conditions = vec![parse_condition(tokens)?];
    while let Some(Token::Word(word)) = tokens.peek() {
        if !word.eq_ignore_ascii_case("and") {
            return Err(unsupported_filter());
        }
        tokens.next();
        conditions.push(parse_condition(tokens)?);
    }
    Ok(conditions)
}

fn parse_condition(tokens: &mut Tokens) -> Result<Condition, GraphError> {
    let Some(Token::Word(path)) = tokens.next() else {
        return Err(GraphError::bad_request("Invalid filter clause."));
    };
    let lowered = path.to_ascii_lowercase();
    if lowered == "startswith" {
        // The tokenizer leaves the comma on the path: `ep/value,`.
        let (Some(Token::Open), Some(Token::Word(argument)), Some(Token::Text(literal))) =
            (tokens.next(), tokens.next(), tokens.next())
        else {
            return Err(GraphError::bad_request("Invalid filter clause."));
        };
        if tokens.next() != Some(Token::Close) {
            return Err(GraphError::bad_request("Invalid filter clause."));
        }
        let Some(path) = argument.strip_suffix(',') else {
            return Err(GraphError::bad_request("Invalid filter clause."));
        };
        return Ok(Condition::StartsWith {
            path: path.to_owned(),
            literal,
        });
    }
    if lowered.ends_with("/any") {
        let collection = path[..path.len() - "/any".len()].to_owned();
        let (Some(Token::Open), Some(Token::Word(variable)), Some(Token::Colon)) =
            (tokens.next(), tokens.next(), tokens.next())
        else {
            return Err(GraphError::bad_request("Invalid filter clause."));
        };
        let inner = parse_conditions(tokens)?;
        if tokens.next() != Some(Token::Close) {
            return Err(GraphError::bad_request("Invalid filter clause."));
        }
        return Ok(Condition::Any {
            collection,
            variable,
            inner,
        });
    }
    match (tokens.next(), tokens.next()) {
        (Some(Token::Word(operator)), Some(Token::Text(literal)))
            if operator.eq_ignore_ascii_case("eq") =>
        {
            Ok(Condition::Compare { path, literal })
        }
        _ => Err(unsupported_filter()),
    }
}
/// Parses a filter into its `and`-ed conditions.
pub fn parse_filter_conditions(text: &str) -> Result<Vec<Condition>, GraphError> {
    // Exchange's words run up to a delimiter, so no comma token is made.
    let tokens: Vec<Token> = tokenize(text, Words::UpToDelimiters)
        .map_err(|_| malformed_filter(text))?
        .into_iter()
        .map(|(token, _)| token)
        .collect();
    parse_conditions(&mut tokens.into_iter().peekable())
}
