//! SQL identifiers chosen by the user (schema and table names), validated before they reach
//! any SQL.

use std::fmt;

/// Longest accepted identifier, leaving room for index-name suffixes within SQL limits.
const MAX_LEN: usize = 40;

/// A schema or table name that is not `[A-Za-z0-9_]{1,40}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SQL identifier {0:?}: use 1 to 40 characters from [A-Za-z0-9_]")]
pub struct InvalidIdentifier(pub String);

/// A validated identifier: safe to splice into SQL text (inside double quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident(String);

impl Ident {
    /// Checks `name` against `[A-Za-z0-9_]{1,40}`.
    pub fn new(name: &str) -> Result<Self, InvalidIdentifier> {
        let ok = !name.is_empty()
            && name.len() <= MAX_LEN
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(InvalidIdentifier(name.to_owned()))
        }
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names_and_refuses_the_rest() {
        for good in ["sessions", "Sessions_2", "_x", "1abc"] {
            assert!(Ident::new(good).is_ok(), "{good}");
        }
        let long = "a".repeat(41);
        for bad in ["", "a b", "a;drop", "a\"b", "tab.le", "é", long.as_str()] {
            assert_eq!(Ident::new(bad), Err(InvalidIdentifier(bad.to_owned())));
        }
    }
}
