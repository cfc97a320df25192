//! The `$filter` language of the emulated endpoints: one lexer and the two
//! grammars Graph applies.
//!
//! - [`expression`]: the directory's and Entra's (users, groups,
//!   applications, service principals): `eq`, `ne`, `in`, `startswith`,
//!   `endswith`, `not`, `and`, `or`, parentheses; errors are
//!   `Request_UnsupportedQuery` or a syntax error at a position.
//! - [`conditions`]: Exchange's on contacts and contact folders: `and`-ed
//!   `eq` conditions, `startswith` and `any()` lambdas; errors are
//!   `ErrorInvalidUrlQueryFilter` or `BadRequest`.
//!
//! Each endpoint binds what its grammar yields to its own properties
//! (`directory::filter_eval`, `mailbox::filter`).

pub mod conditions;
pub mod expression;
mod lexer;
