//! Human rendering of diagnostics through miette: graphical with colour on a terminal, the same
//! layout without colour when piped or with `NO_COLOR`, fixed width in tests.
//!
//! A label in a second file (a stdlib template, another estate file) becomes a related
//! diagnostic with its own snippet. User text inside messages is escaped so that control and
//! bidi characters cannot rewrite the reader's terminal.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use super::{Diagnostic, Severity};
use crate::source::{FileId, SourceSet};

/// How to render.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// ANSI colours.
    pub color: bool,
    /// Wrap width in columns.
    pub width: usize,
}

impl Style {
    /// No colour, 100 columns: what tests and pipes get.
    pub const PLAIN: Style = Style { color: false, width: 100 };
}

/// Renders diagnostics one after another, each followed by a blank line.
pub fn render(diagnostics: &[Diagnostic], sources: &SourceSet, style: Style) -> String {
    let theme = if style.color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(style.width).with_links(false);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let report = Report::build(diagnostic, sources);
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&format!("{}[{}]: {}\n", diagnostic.severity.name(), diagnostic.code, diagnostic.message));
        }
        out.push('\n');
    }
    out
}

/// One line per diagnostic: `file:line:col: severity[code]: message`.
pub fn render_short(diagnostic: &Diagnostic, sources: &SourceSet) -> String {
    let location = diagnostic.primary_span().map(|s| sources.location(s)).unwrap_or_else(|| "<estate>".into());
    format!("{location}: {}[{}]: {}", diagnostic.severity.name(), diagnostic.code, escape(&diagnostic.message))
}

/// Escapes control, bidi and other invisible formatting characters (newlines kept).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let invisible =
            matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if (c.is_control() && c != '\n') || invisible {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Debug)]
struct Report {
    code: String,
    severity: miette::Severity,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl Report {
    fn build(diagnostic: &Diagnostic, sources: &SourceSet) -> Report {
        let primary_file = diagnostic.labels.first().map(|l| l.span.file);
        let mut help = diagnostic.help.as_deref().map(escape);
        for note in &diagnostic.notes {
            let note = format!("note: {}", escape(note));
            help = Some(match help {
                Some(h) => format!("{h}\n{note}"),
                None => note,
            });
        }
        let mut report = Report {
            code: diagnostic.code.name().to_owned(),
            severity: match diagnostic.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            },
            message: escape(&diagnostic.message),
            help,
            source: primary_file.and_then(|f| named_source(sources, f)),
            labels: Vec::new(),
            related: Vec::new(),
        };
        for label in &diagnostic.labels {
            let span = SourceSpan::new((label.span.start as usize).into(), label.span.len());
            let text = Some(escape(&label.message));
            if Some(label.span.file) == primary_file {
                report.labels.push(if label.primary {
                    LabeledSpan::new_primary_with_span(text, span)
                } else {
                    LabeledSpan::new_with_span(text, span)
                });
            } else {
                report.related.push(Report {
                    code: String::new(),
                    severity: miette::Severity::Advice,
                    message: escape(&label.message),
                    help: None,
                    source: named_source(sources, label.span.file),
                    labels: vec![LabeledSpan::new_with_span(None, span)],
                    related: Vec::new(),
                });
            }
        }
        report
    }
}

fn named_source(sources: &SourceSet, file: FileId) -> Option<NamedSource<String>> {
    sources.file(file).map(|f| NamedSource::new(escape(&f.path), safe_source(&f.text)).with_language("kdl"))
}

/// The source as a terminal may show it: control, bidi and other invisible formatting
/// characters replaced by a visible one of the same UTF-8 length, so that spans still fit.
pub fn safe_source(text: &str) -> String {
    text.chars()
        .map(|c| {
            let invisible =
                matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
            if c.is_control() && !matches!(c, '\n' | '\r' | '\t') {
                // Same UTF-8 length: C0 controls are one byte, C1 controls two.
                if c.len_utf8() == 1 { '?' } else { '\u{bf}' }
            } else if invisible {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        if self.code.is_empty() { None } else { Some(Box::new(&self.code)) }
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() { None } else { Some(Box::new(self.labels.iter().cloned())) }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_keep_their_length() {
        for text in ["a\u{1b}[31mb", "x\u{202e}y", "\u{feff}a", "a\u{85}b", "ok\tline\r\n"] {
            let safe = safe_source(text);
            assert_eq!(safe.len(), text.len(), "{text:?}");
            assert!(!safe.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')), "{safe:?}");
            assert!(!safe.contains('\u{202e}') && !safe.contains('\u{feff}'), "{safe:?}");
        }
    }

    #[test]
    fn escapes_control_and_bidi() {
        assert_eq!(escape("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(escape("x\u{202e}y\nz"), "x\\u{202e}y\nz");
    }
}
