//! The error every flag check gives: the flag and what to do about it. A
//! leaf, so the modules that check flags (`config`, `tls`, `https`) depend
//! on it and not on each other.

/// A configuration problem, naming the flag and what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("invalid --{flag}: {problem}")]
pub struct ConfigError {
    /// The flag's long name without dashes, e.g. `store-url`.
    pub flag: String,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl ConfigError {
    pub fn new(flag: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            flag: flag.into(),
            problem: problem.into(),
        }
    }
}
