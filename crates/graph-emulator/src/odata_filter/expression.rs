//! The directory's and Entra's `$filter` grammar: `eq`, `ne`, `in`,
//! `startswith`, `endswith`, `not`, `and`, `or`, parentheses, string /
//! boolean / null literals. Parsing yields raw property paths; each
//! endpoint binds them to its properties (see `directory::filter_eval`).

use axum::http::StatusCode;

use super::lexer::{tokenize, Token, Words};
use crate::errors::GraphError;

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
}

/// A filter expression over fields of type `F`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr<F> {
    And(Box<Expr<F>>, Box<Expr<F>>),
    Or(Box<Expr<F>>, Box<Expr<F>>),
    Not(Box<Expr<F>>),
    Compare(F, CompareOp, Literal),
    In(F, Vec<Literal>),
    StartsWith(F, String),
    EndsWith(F, String),
}

pub fn unsupported_query(property: &str, resource: &str) -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "Request_UnsupportedQuery",
        format!(
            "Unsupported or invalid query filter clause specified for property '{property}' of resource '{resource}'."
        ),
    )
}

fn syntax_error(filter: &str, position: usize) -> GraphError {
    GraphError::bad_request(format!(
        "Invalid filter clause: Syntax error at position {position} in '{filter}'."
    ))
}

struct Parser<'a> {
    filter: &'a str,
    tokens: Vec<(Token, usize)>,
    position: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position).map(|(token, _)| token)
    }

    fn error_here(&self) -> GraphError {
        let offset = self
            .tokens
            .get(self.position)
            .map(|(_, offset)| *offset)
            .unwrap_or(self.filter.chars().count());
        syntax_error(self.filter, offset)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self
            .tokens
            .get(self.position)
            .map(|(token, _)| token.clone());
        self.position += 1;
        token
    }

    fn expect(&mut self, expected: Token) -> Result<(), GraphError> {
        if self.peek() == Some(&expected) {
            self.position += 1;
            Ok(())
        } else {
            Err(self.error_here())
        }
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(word)) if word.eq_ignore_ascii_case(keyword))
    }

    fn parse_or(&mut self) -> Result<Expr<String>, GraphError> {
        let mut left = self.parse_and()?;
        while self.peek_keyword("or") {
            self.position += 1;
            let right = self.parse_and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Expr<String>, GraphError> {
        let mut left = self.parse_unary()?;
        while self.peek_keyword("and") {
            self.position += 1;
            let right = self.parse_unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Expr<String>, GraphError> {
        if self.peek_keyword("not") {
            self.position += 1;
            let inner = self.parse_unary()?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Token::Open) {
            self.position += 1;
            let inner = self.parse_or()?;
            self.expect(Token::Close)?;
            return Ok(inner);
        }
        self.parse_primary()
    }

    fn parse_literal(&mut self) -> Result<Literal, GraphError> {
        match self.next() {
            Some(Token::Text(text)) => Ok(Literal::Text(text)),
            Some(Token::Word(word)) if word == "true" => Ok(Literal::Bool(true)),
            Some(Token::Word(word)) if word == "false" => Ok(Literal::Bool(false)),
            Some(Token::Word(word)) if word == "null" => Ok(Literal::Null),
            _ => {
                self.position -= 1;
                Err(self.error_here())
            }
        }
    }

    fn parse_primary(&mut self) -> Result<Expr<String>, GraphError> {
        let Some(Token::Word(word)) = self.next() else {
            self.position -= 1;
            return Err(self.error_here());
        };
        let lowered = word.to_ascii_lowercase();
        if (lowered == "startswith" || lowered == "endswith") && self.peek() == Some(&Token::Open) {
            self.position += 1;
            let Some(Token::Word(path)) = self.next() else {
                self.position -= 1;
                return Err(self.error_here());
            };
            self.expect(Token::Comma)?;
            let Some(Token::Text(text)) = self.next() else {
                self.position -= 1;
                return Err(self.error_here());
            };
            self.expect(Token::Close)?;
            return Ok(if lowered == "startswith" {
                Expr::StartsWith(path, text)
            } else {
                Expr::EndsWith(path, text)
            });
        }
        if self.peek() == Some(&Token::Open) {
            // Any other function (contains, any(), …) is outside what we accept.
            return Err(unsupported_query(&word, "User"));
        }
        let Some(Token::Word(operator)) = self.next() else {
            self.position -= 1;
            return Err(self.error_here());
        };
        match operator.to_ascii_lowercase().as_str() {
            "eq" => Ok(Expr::Compare(word, CompareOp::Eq, self.parse_literal()?)),
            "ne" => Ok(Expr::Compare(word, CompareOp::Ne, self.parse_literal()?)),
            "in" => {
                self.expect(Token::Open)?;
                let mut values = vec![self.parse_literal()?];
                while self.peek() == Some(&Token::Comma) {
                    self.position += 1;
                    values.push(self.parse_literal()?);
                }
                self.expect(Token::Close)?;
                Ok(Expr::In(word, values))
            }
            "gt" | "ge" | "lt" | "le" | "has" => Err(unsupported_query(&word, "User")),
            _ => {
                self.position -= 1;
                Err(self.error_here())
            }
        }
    }
}

/// Parses a `$filter` into an expression over raw property paths.
pub fn parse(filter: &str) -> Result<Expr<String>, GraphError> {
    let tokens =
        tokenize(filter, Words::PropertyPaths).map_err(|error| syntax_error(filter, error.at))?;
    let mut parser = Parser {
        filter,
        tokens,
        position: 0,
    };
    let expression = parser.parse_or()?;
    if parser.position < parser.tokens.len() {
        return Err(parser.error_here());
    }
    if parser
        .tokens
        .iter()
        .any(|(token, _)| *token == Token::Colon)
    {
        return Err(GraphError::bad_request("Invalid filter clause."));
    }
    Ok(expression)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_precedence_and_lists() {
        let expression = parse("accountEnabled eq true and (department in ('Sales','R&D') or startswith(displayName,'O''Br'))")
            .expect("valid filter");
        let Expr::And(_, right) = expression else {
            panic!("and must bind looser than the parenthesised or");
        };
        let Expr::Or(left, right) = *right else {
            panic!("expected or");
        };
        assert_eq!(
            *left,
            Expr::In(
                "department".to_owned(),
                vec![Literal::Text("Sales".into()), Literal::Text("R&D".into())]
            )
        );
        assert_eq!(
            *right,
            Expr::StartsWith("displayName".to_owned(), "O'Br".to_owned())
        );
    }

    #[test]
    fn rejects_trailing_garbage_and_unclosed_strings() {
        assert!(parse("mail eq 'a' foo").is_err());
        assert!(parse("mail eq 'a").is_err());
        assert!(parse("mail eq").is_err());
    }
}
