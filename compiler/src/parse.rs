//! Text to `kdl::KdlDocument`, one file at a time; syntax errors only.
//!
//! Before kdl sees a file, a cheap pre-scan refuses files nested deeper than `MAX_DEPTH`: the
//! `kdl` crate recurses per level and overflows the stack (a process abort, not a panic) at
//! about 1,300 levels in release builds and far fewer in debug builds. kdl 6.7.1 reports some
//! errors at offset 0 covering everything before the failure; those spans are moved to the
//! point of failure.

use kdl::KdlDocument;

use crate::diagnostics::{Code, Diagnostic, Diagnostics};
use crate::source::{FileId, Span};

/// Deepest nesting of children blocks accepted.
pub const MAX_DEPTH: usize = 64;

/// A code point KDL v2 forbids anywhere in a document (controls other than whitespace,
/// DEL, bidi overrides and isolates, and a byte-order mark after the start). kdl 6.7.1
/// accepts some of them (DEL), so idpc checks them itself.
fn disallowed(c: char, at: usize) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{e}'..='\u{1f}' | '\u{7f}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        || (c == '\u{feff}' && at > 0)
}

/// The first code point KDL forbids, with its offset.
pub fn first_disallowed(text: &str) -> Option<(usize, char)> {
    text.char_indices().find(|&(at, c)| disallowed(c, at))
}

/// Parses one file; `None` when it has syntax errors (reported to `sink`).
pub fn parse(file: FileId, text: &str, sink: &mut Diagnostics) -> Option<KdlDocument> {
    if let Some((at, c)) = first_disallowed(text) {
        sink.push(
            Diagnostic::new(Code::SyntaxError, format!("invalid KDL: the character U+{:04X} is not allowed", c as u32))
                .primary(Span::new(file, at, at + c.len_utf8()), "disallowed character")
                .help("remove it; KDL forbids control characters, bidi overrides and byte-order marks inside a document (write `\\u{...}` escapes in strings instead)"),
        );
        return None;
    }
    if let Some(at) = single_line_raw_multiline(text) {
        sink.push(
            Diagnostic::new(Code::SyntaxError, "invalid KDL: a multi-line string must start with a line break")
                .primary(Span::new(file, at, at + 1), "here")
                .help("put the text on its own lines after `\"\"\"`, or use a single-quoted string `#\"...\"#`"),
        );
        return None;
    }
    if let Some(offset) = too_deep(text, MAX_DEPTH) {
        sink.push(
            Diagnostic::new(Code::NestingTooDeep, format!("children blocks nested more than {MAX_DEPTH} levels deep"))
                .primary(Span::new(file, offset, offset + 1), format!("level {} starts here", MAX_DEPTH + 1))
                .help("no idpc node nests more than a few levels; look for an unclosed or repeated `{`"),
        );
        return None;
    }
    match KdlDocument::parse_v2(text) {
        Ok(document) => Some(document),
        Err(error) => {
            for d in &error.diagnostics {
                let (start, len) = (d.span.offset(), d.span.len());
                let (start, end) = if start == 0 && len > 1 {
                    // kdl 6.7.1 reports an incomplete value as the whole prefix from offset 0:
                    // the failure is at the end of that prefix.
                    let last = text.get(..len).and_then(|s| s.char_indices().last()).map_or(0, |(i, _)| i);
                    (last, len)
                } else {
                    (start, start + len.max(1))
                };
                let message = d.message.clone().unwrap_or_else(|| "invalid KDL".into());
                let mut diagnostic =
                    Diagnostic::new(Code::SyntaxError, format!("invalid KDL: {}", lower_first(&message)))
                        .primary(Span::new(file, start, end.min(text.len()).max(start)), "here");
                diagnostic = match &d.help {
                    Some(help) => diagnostic.help(help.clone()),
                    None => diagnostic
                        .help("idpc reads KDL v2: strings in double quotes, properties as key=value, #true/#false"),
                };
                sink.push(diagnostic);
            }
            None
        }
    }
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// Byte offset of the first `{` that opens level `limit + 1`, skipping strings and comments.
pub fn too_deep(text: &str, limit: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let at = |i: usize| bytes.get(i).copied();
    let starts = |i: usize, s: &[u8]| bytes.get(i..i + s.len()) == Some(s);
    let (mut i, mut depth) = (0usize, 0usize);
    while i < bytes.len() {
        match at(i) {
            Some(b'/') if at(i + 1) == Some(b'/') => {
                while i < bytes.len() && at(i) != Some(b'\n') {
                    i += 1;
                }
            }
            Some(b'/') if at(i + 1) == Some(b'*') => {
                let mut nested = 0usize;
                while i < bytes.len() {
                    if starts(i, b"/*") {
                        nested += 1;
                        i += 2;
                    } else if starts(i, b"*/") {
                        nested -= 1;
                        i += 2;
                        if nested == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            Some(b'#') => {
                let hashes = bytes.get(i..).unwrap_or_default().iter().take_while(|b| **b == b'#').count();
                i += hashes;
                if at(i) == Some(b'"') {
                    let quote: &[u8] = if starts(i, b"\"\"\"") { b"\"\"\"" } else { b"\"" };
                    i += quote.len();
                    let mut close = quote.to_vec();
                    close.extend(std::iter::repeat_n(b'#', hashes));
                    while i < bytes.len() && !starts(i, &close) {
                        i += 1;
                    }
                    i += close.len();
                }
                continue;
            }
            Some(b'"') => {
                let quote: &[u8] = if starts(i, b"\"\"\"") { b"\"\"\"" } else { b"\"" };
                i += quote.len();
                while i < bytes.len() && !starts(i, quote) {
                    i += if at(i) == Some(b'\\') { 2 } else { 1 };
                }
                i += quote.len();
                continue;
            }
            Some(b'{') => {
                depth += 1;
                if depth > limit {
                    return Some(i);
                }
            }
            Some(b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Offset of a raw multi-line string (`#"""..."""#`) that does not start with a line break,
/// which KDL forbids and kdl 6.7.1 accepts. Strings and comments are skipped as in `too_deep`.
pub fn single_line_raw_multiline(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text.get(from..).and_then(|t| t.find("\"\"\"")) {
        let at = from + found;
        let hashes = text.get(..at).map_or(0, |before| before.len() - before.trim_end_matches('#').len());
        if hashes > 0 {
            let after = text.get(at + 3..).unwrap_or_default();
            let first_line_break = after.find(['\n', '\r']).unwrap_or(after.len());
            let closing = format!("\"\"\"{}", "#".repeat(hashes));
            if after.find(&closing).is_some_and(|close| close < first_line_break) && in_code(text, at - hashes) {
                return Some(at - hashes);
            }
            from = at + 3 + after.find(&closing).map_or(after.len(), |c| c + closing.len());
        } else {
            from = at + 3;
        }
    }
    None
}

/// Whether `offset` lies outside strings and comments (a cheap re-scan from the start).
fn in_code(text: &str, offset: usize) -> bool {
    let prefix = text.get(..offset).unwrap_or_default();
    let quotes = prefix.matches('"').count() - prefix.matches("\\\"").count();
    let line = prefix.rsplit('\n').next().unwrap_or_default();
    quotes % 2 == 0 && !line.contains("//")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Option<usize>) {
        assert_eq!(too_deep(text, 2), expected);
    }

    #[test]
    fn depth_prescan() {
        check("a { b { } }", None);
        check("a { b { c { } } }", Some(10));
        check("a \"{{{\" { b { } }", None);
        check("a #\"{{{\"# { b { } }", None);
        check("a \"\"\"\n{{{\n\"\"\" { b { } }", None);
        check("// {{{\na { b { } }", None);
        check("/* { /* {{ */ { */ a { b { } }", None);
        check("a \"x\\\"{{{\" { }", None);
        check("/-a { b { c { } } }", Some(12));
    }

    #[test]
    fn deep_input_is_refused_without_recursion() {
        let text = "a {".repeat(100_000);
        let mut sink = Diagnostics::new();
        assert!(parse(FileId(0), &text, &mut sink).is_none());
        assert_eq!(sink.into_sorted()[0].code, Code::NestingTooDeep);
    }

    #[test]
    fn kdl_gaps_are_syntax_errors() {
        assert_eq!(first_disallowed("a \u{7f}b"), Some((2, '\u{7f}')));
        assert_eq!(first_disallowed("\u{feff}a \"\\u{7f}\""), None);
        assert_eq!(first_disallowed("a \"x\u{202e}\""), Some((4, '\u{202e}')));
        assert_eq!(single_line_raw_multiline("node #\"\"\"one line\"\"\"#"), Some(5));
        assert_eq!(single_line_raw_multiline("node #\"\"\"\none line\n\"\"\"#"), None);
        assert_eq!(single_line_raw_multiline("node \"\"\"\nx\n\"\"\""), None);
    }

    #[test]
    fn offset_zero_spans_move_to_the_failure() {
        let mut sink = Diagnostics::new();
        assert!(parse(FileId(0), "a b=", &mut sink).is_none());
        let diagnostics = sink.into_sorted();
        assert_eq!(diagnostics[0].primary_span().map(|s| s.start), Some(3));
    }
}
