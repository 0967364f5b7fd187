//! Diagnostics for tools: one JSON document with a stable schema (`idpc-diagnostics/1`), and
//! GitHub Actions workflow commands (`::error file=...,line=...,col=...::message`).
//!
//! Paths are the estate's relative paths joined to `root` (the estate folder as the user named
//! it), so that CI annotations land on the repository's files; stdlib files keep their
//! `<stdlib>/...` path. Lines and columns are 1-based; columns count characters.

use serde_json::{Value, json};

use super::{Diagnostic, Label, Severity};
use crate::source::SourceSet;

/// Format marker of the JSON document, bumped when its shape changes incompatibly.
pub const FORMAT: &str = "idpc-diagnostics/1";

/// Where a code's explain page is published (`<base><code>`) unless `IDPC_EXPLAIN_URL` names
/// another base (a platform team's own copy of the pages); `idpc explain <code>` prints the
/// same page offline.
pub const EXPLAIN_URL: &str = "https://idpc.dev/explain/";

/// The explain base to use: `IDPC_EXPLAIN_URL` when set and not empty, else [`EXPLAIN_URL`].
pub fn explain_base(configured: Option<&str>) -> String {
    match configured.map(str::trim).filter(|b| !b.is_empty()) {
        Some(base) if base.ends_with('/') => base.to_owned(),
        Some(base) => format!("{base}/"),
        None => EXPLAIN_URL.to_owned(),
    }
}

/// The path a tool should show for a file: `root/relative`, or the stdlib path as is.
fn display_path(root: &str, path: &str) -> String {
    if path.starts_with(crate::stdlib::PREFIX) || root.is_empty() || root == "." {
        return path.to_owned();
    }
    format!("{}/{path}", root.trim_end_matches('/'))
}

fn label_json(label: &Label, sources: &SourceSet, root: &str) -> Value {
    let Some(file) = sources.file(label.span.file) else {
        return json!({ "message": label.message, "primary": label.primary });
    };
    let (line, column) = file.line_col(label.span.start);
    let (end_line, end_column) = file.line_col(label.span.end);
    json!({
        "file": display_path(root, &file.path),
        "byte_start": label.span.start,
        "byte_end": label.span.end,
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "message": label.message,
        "primary": label.primary,
    })
}

/// One diagnostic as a JSON object.
pub fn diagnostic_json(diagnostic: &Diagnostic, sources: &SourceSet, root: &str, explain: &str) -> Value {
    let labels: Vec<Value> = diagnostic.labels.iter().map(|l| label_json(l, sources, root)).collect();
    json!({
        "code": diagnostic.code.name(),
        "severity": diagnostic.severity.name(),
        "message": diagnostic.message,
        "help": diagnostic.help,
        "notes": diagnostic.notes,
        "url": format!("{explain}{}", diagnostic.code.name()),
        "labels": labels,
    })
}

/// Every diagnostic of a run as one JSON document, followed by a newline.
pub fn render_json(diagnostics: &[Diagnostic], sources: &SourceSet, root: &str, explain: &str) -> String {
    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let document = json!({
        "format": FORMAT,
        "errors": errors,
        "warnings": diagnostics.len() - errors,
        "diagnostics": diagnostics.iter().map(|d| diagnostic_json(d, sources, root, explain)).collect::<Vec<_>>(),
    });
    let mut text = invisible_escaped(&serde_json::to_string(&document).unwrap_or_default());
    text.push('\n');
    text
}

/// JSON text with bidi and invisible formatting characters written as `\uXXXX` escapes:
/// `serde_json` escapes control characters but writes these raw, and a reader's terminal or
/// log viewer would reorder the text around them. They occur only inside strings, where the
/// escape decodes to the same value.
fn invisible_escaped(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}') {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A usage or I/O failure (no estate, an unreadable file, an OUT idpc refuses to replace) as
/// the JSON document: no diagnostics, one error, the message under `failure`.
pub fn render_failure_json(message: &str) -> String {
    let document = json!({ "format": FORMAT, "errors": 1, "warnings": 0, "diagnostics": [], "failure": message });
    let mut text = serde_json::to_string(&document).unwrap_or_default();
    text.push('\n');
    text
}

/// A usage or I/O failure as a workflow command.
pub fn render_failure_github(message: &str) -> String {
    format!("::error title=idpc::{}\n", escape_data(message))
}

/// Escapes a workflow command's message: control, bidi and invisible characters of user text
/// as `\u{...}` (as the human format shows them: a raw ESC or BEL would reach the runner's
/// log, U+202E would reorder what a reviewer reads), then `%`, CR and LF.
fn escape_data(text: &str) -> String {
    super::human::escape(text).replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow command's property value (also `:` and `,`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Every diagnostic as a GitHub Actions workflow command, one per line. The message carries
/// the help, notes and secondary labels, since an annotation shows only its own text.
pub fn render_github(diagnostics: &[Diagnostic], sources: &SourceSet, root: &str, explain: &str) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let command = match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = Vec::new();
        let primary = diagnostic.labels.iter().find(|l| l.primary);
        let mut text = diagnostic.message.clone();
        if let Some(label) = primary
            && let Some(file) = sources.file(label.span.file)
        {
            let (line, column) = file.line_col(label.span.start);
            let (end_line, end_column) = file.line_col(label.span.end);
            properties.push(format!("file={}", escape_property(&display_path(root, &file.path))));
            properties.push(format!("line={line}"));
            properties.push(format!("col={column}"));
            properties.push(format!("endLine={end_line}"));
            if end_line == line {
                properties.push(format!("endColumn={end_column}"));
            }
            text.push_str(&format!(": {}", label.message));
        }
        properties.push(format!("title={}", escape_property(&format!("idpc {}", diagnostic.code))));
        for label in diagnostic.labels.iter().filter(|l| !l.primary) {
            let location = match sources.file(label.span.file) {
                Some(file) => {
                    let (line, column) = file.line_col(label.span.start);
                    format!("{}:{line}:{column}", display_path(root, &file.path))
                }
                None => "<estate>".to_owned(),
            };
            text.push_str(&format!("\n{location}: {}", label.message));
        }
        if let Some(help) = &diagnostic.help {
            text.push_str(&format!("\nhelp: {help}"));
        }
        for note in &diagnostic.notes {
            text.push_str(&format!("\nnote: {note}"));
        }
        text.push_str(&format!("\nsee `idpc explain {}` or {explain}{}", diagnostic.code, diagnostic.code));
        out.push_str(&format!("::{command} {}::{}\n", properties.join(","), escape_data(&text)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_cannot_be_broken_out_of() {
        assert_eq!(escape_data("a%b\n::error::x"), "a%25b%0A::error::x");
        assert_eq!(escape_data("a\u{1b}[31mb\u{7}c\u{202e}d"), "a\\u{1b}[31mb\\u{7}c\\u{202e}d");
        assert_eq!(escape_property("a,b:c%"), "a%2Cb%3Ac%25");
    }

    #[test]
    fn json_escapes_bidi_characters_to_the_same_value() {
        let text = invisible_escaped(&serde_json::to_string(&json!({ "m": "a\u{202e}b" })).unwrap_or_default());
        assert_eq!(text, r#"{"m":"a\u202eb"}"#);
        assert_eq!(serde_json::from_str::<Value>(&text).ok(), Some(json!({ "m": "a\u{202e}b" })));
    }

    #[test]
    fn the_explain_base_can_be_configured() {
        assert_eq!(explain_base(None), EXPLAIN_URL);
        assert_eq!(explain_base(Some("  ")), EXPLAIN_URL);
        assert_eq!(explain_base(Some("https://docs.bank.example/idpc")), "https://docs.bank.example/idpc/");
        assert_eq!(explain_base(Some("https://docs.bank.example/idpc/")), "https://docs.bank.example/idpc/");
    }

    #[test]
    fn paths_join_the_estate_root() {
        assert_eq!(display_path("examples/reference/", "apis/payments.kdl"), "examples/reference/apis/payments.kdl");
        assert_eq!(display_path(".", "apis/payments.kdl"), "apis/payments.kdl");
        assert_eq!(display_path("x", "<stdlib>/compliance/eu-banking.kdl"), "<stdlib>/compliance/eu-banking.kdl");
    }
}
