//! The diagnostic model every pass reports through, and its renderers.
//!
//! We own one plain type, [`Diagnostic`]; passes build it with the small builder below and push it
//! into a [`Diagnostics`] sink. Renderers are leaves: `human` adapts to miette, `machine` writes JSON and GitHub workflow commands. Nothing here
//! prints: `main.rs` decides where rendered text goes.

pub mod codes;
pub mod human;
pub mod machine;

pub use codes::Code;

use crate::source::Span;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The estate cannot be built.
    Error,
    /// Built anyway; someone should look.
    Warning,
}

impl Severity {
    /// Lower-case name used in machine output.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A span with a short text saying what it is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What the span is, in a few words.
    pub message: String,
    /// The primary label is the offending token itself.
    pub primary: bool,
}

/// One problem found in an estate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// Stable code from the registry.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// Short lower-case phrase.
    pub message: String,
    /// Primary label first, then secondary ones (possibly in other files).
    pub labels: Vec<Label>,
    /// What to do about it.
    pub help: Option<String>,
    /// Further facts.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity.
    pub fn new(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            labels: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    /// Adds the primary label.
    pub fn primary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.insert(0, Label { span, message: message.into(), primary: true });
        self
    }

    /// Adds a secondary label.
    pub fn secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into(), primary: false });
        self
    }

    /// Sets the help text.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// The primary span, if any.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }

    fn sort_key(&self) -> (Option<Span>, Code, &str) {
        (self.primary_span(), self.code, self.message.as_str())
    }
}

/// The diagnostics of one run: passes push, the driver sorts and de-duplicates once at the end.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty sink.
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// Records a diagnostic.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Moves every diagnostic of another sink into this one.
    pub fn append(&mut self, mut other: Diagnostics) {
        self.items.append(&mut other.items);
    }

    /// Whether nothing at all was recorded.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether any error (not warning) was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Number of errors recorded so far.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.severity == Severity::Error).count()
    }

    /// Sorted by (file, offset, code, message) and de-duplicated.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.items.dedup();
        self.items
    }
}

/// A did-you-mean suggestion: the closest candidate within a small edit distance.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        // A word that starts a candidate ("prod" for "production") counts as one edit away.
        .map(|c| {
            let prefix = word.len() >= 3 && c.starts_with(word);
            (if prefix { 1 } else { strsim::damerau_levenshtein(word, c) }, c)
        })
        .filter(|(d, c)| *d <= (c.len() / 3).max(2) && *d < c.len().max(word.len()))
        .min()
        .map(|(_, c)| c)
}

/// Help text listing the allowed words, with a did-you-mean when one is close.
pub fn suggest(word: &str, candidates: &[&str]) -> String {
    let list = candidates.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
    match did_you_mean(word, candidates.iter().copied()) {
        Some(best) => format!("did you mean `{best}`? expected one of {list}"),
        None => format!("expected one of {list}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(word: &str, expected: Option<&str>) {
        assert_eq!(did_you_mean(word, ["production", "acceptance", "test", "development", "ephemeral"]), expected);
    }

    #[test]
    fn suggestions() {
        check("prod", Some("production"));
        check("productoin", Some("production"));
        check("tset", Some("test"));
        check("xyz", None);
    }
}
