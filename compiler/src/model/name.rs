//! Validated names of tenants, accounts, environments, APIs and baselines.
//!
//! Names become stack names, logical-id parts and file names, so the rule is strict:
//! `[a-z][a-z0-9-]*`, at most 40 characters, no `--` (idpc joins names with `--`), no trailing
//! `-`, and never a Windows device name. A `Name` that exists is valid: the only constructor checks.

use std::fmt;

/// Longest name accepted.
pub const MAX_NAME_LEN: usize = 40;

/// A name that satisfies the naming rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Name(String);

/// Why a string is not a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameError {
    /// The empty string.
    Empty,
    /// Longer than `MAX_NAME_LEN`.
    TooLong(usize),
    /// Does not start with `a`..`z`.
    BadStart,
    /// Holds a character outside `[a-z0-9-]` (the character).
    BadChar(char),
    /// Holds `--`.
    DoubleHyphen,
    /// Ends with `-`.
    TrailingHyphen,
    /// A Windows device name such as `con` or `lpt1`.
    Reserved,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => write!(f, "a name cannot be empty"),
            NameError::TooLong(n) => write!(f, "a name has at most {MAX_NAME_LEN} characters, this one has {n}"),
            NameError::BadStart => write!(f, "a name starts with a lower-case letter"),
            NameError::BadChar(c) if c.is_ascii() => write!(f, "a name holds only a-z, 0-9 and `-`, not {c:?}"),
            NameError::BadChar(c) => {
                write!(f, "a name holds only a-z, 0-9 and `-`, not {:?} (U+{:04X})", c, *c as u32)
            }
            NameError::DoubleHyphen => {
                write!(f, "a name cannot contain `--` (idpc joins names with it)")
            }
            NameError::TrailingHyphen => write!(f, "a name cannot end with `-`"),
            NameError::Reserved => write!(f, "this name is reserved by Windows and cannot be a file name"),
        }
    }
}

const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "lpt1", "lpt2",
    "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

impl Name {
    /// Checks `text` against the naming rule.
    pub fn parse(text: &str) -> Result<Name, NameError> {
        let count = text.chars().count();
        let first = text.chars().next().ok_or(NameError::Empty)?;
        if count > MAX_NAME_LEN {
            return Err(NameError::TooLong(count));
        }
        if !first.is_ascii() {
            return Err(NameError::BadChar(first));
        }
        if !first.is_ascii_lowercase() {
            return Err(NameError::BadStart);
        }
        if let Some(c) = text.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
            return Err(NameError::BadChar(c));
        }
        if text.contains("--") {
            return Err(NameError::DoubleHyphen);
        }
        if text.ends_with('-') {
            return Err(NameError::TrailingHyphen);
        }
        if RESERVED.contains(&text) {
            return Err(NameError::Reserved);
        }
        Ok(Name(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `PascalCase` form for CloudFormation logical ids: `acme-prod` gives `AcmeProd`.
    pub fn pascal(&self) -> String {
        let mut pascal = String::with_capacity(self.0.len());
        for part in self.0.split('-') {
            push_capitalized(&mut pascal, part);
        }
        pascal
    }
}

/// Appends `part` with its first character in upper case (the step of every `PascalCase`
/// idpc writes: logical ids, operation ids, Config rule ids).
pub fn push_capitalized(out: &mut String, part: &str) {
    let mut chars = part.chars();
    if let Some(first) = chars.next() {
        out.push(first.to_ascii_uppercase());
        out.push_str(chars.as_str());
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<&str, NameError>) {
        assert_eq!(Name::parse(text).map(|n| n.0), expected.map(str::to_owned));
    }

    #[test]
    fn names() {
        check("acme-prod", Ok("acme-prod"));
        check("a1", Ok("a1"));
        check("", Err(NameError::Empty));
        check("Acme", Err(NameError::BadStart));
        check("1a", Err(NameError::BadStart));
        check("../etc", Err(NameError::BadStart));
        check("a/b", Err(NameError::BadChar('/')));
        check("a\\b", Err(NameError::BadChar('\\')));
        check("a\0b", Err(NameError::BadChar('\0')));
        check("acme\u{2010}prod", Err(NameError::BadChar('\u{2010}')));
        check("аcme", Err(NameError::BadChar('а')));
        check("a--b", Err(NameError::DoubleHyphen));
        check("a-", Err(NameError::TrailingHyphen));
        check("con", Err(NameError::Reserved));
        check("lpt1", Err(NameError::Reserved));
        check(&"a".repeat(40), Ok(&"a".repeat(40)));
        check(&"a".repeat(41), Err(NameError::TooLong(41)));
    }

    #[test]
    fn pascal_case() {
        assert_eq!(Name::parse("acme-prod").unwrap().pascal(), "AcmeProd");
        assert_eq!(Name::parse("a1-b2").unwrap().pascal(), "A1B2");
    }
}
