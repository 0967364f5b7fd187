//! Text to `kdl::KdlDocument`, one file at a time; syntax errors only.
//!
//! kdl 6.7.1 recurses once per children block and once per token of a multi-line comment, and
//! a recursion deeper than the thread's stack aborts the process (no panic to catch). So no
//! document reaches kdl unread: `scan` reads its lexical structure exactly as kdl reads a valid
//! document, refuses nesting past `MAX_DEPTH` there, and replaces multi-line comments by
//! spaces; kdl then runs on a stack sized from the text itself (one level per `{` it holds,
//! up to `MAX_STACK`). A document with a lexical error never reaches kdl: the scanner's
//! error is reported. The parsed document's depth is measured again.
//!
//! kdl reports some errors at offset 0 covering everything before the failure; those spans
//! are moved to the point of failure, and every span is widened to character boundaries.

pub mod scan;

use kdl::KdlDocument;

use crate::diagnostics::{Code, Diagnostic, Diagnostics};
use crate::source::{FileId, Span};

/// Deepest nesting of children blocks accepted.
pub const MAX_DEPTH: usize = 64;

/// Stack kdl may use for one level of children (measured: 6.7 KB at opt-level 2, see
/// BENCHMARKS.md "Parser stack"), with room for unoptimised builds.
const STACK_PER_BLOCK: usize = 16 << 10;
/// Stack for everything around the recursion.
const STACK_BASE: usize = 1 << 20;
/// The largest stack a parse gets (address space, touched only as deep as kdl goes).
pub const MAX_STACK: usize = 512 << 20;

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

/// The stack kdl needs at most for `text` without multi-line comments: every level of its
/// recursion then consumes a `{`.
fn stack_bound(text: &str) -> usize {
    STACK_BASE + text.bytes().filter(|b| *b == b'{').count() * STACK_PER_BLOCK
}

/// `[start, end)` widened to character boundaries of `text` and kept inside it, start <= end.
pub fn char_range(text: &str, start: usize, end: usize) -> (usize, usize) {
    let mut start = start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    (start, end)
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
    let scan = scan::scan(text, MAX_DEPTH);
    if let Some(offset) = scan.too_deep {
        sink.push(too_deep(file, offset));
        return None;
    }
    match scan.error {
        None => {
            let blanked = scan::blank_comments(text, &scan.comments);
            run_kdl(file, text, &blanked, stack_bound(&blanked).min(MAX_STACK), sink)
        }
        Some(lex) => {
            // kdl's error recovery on such a text may read the rest differently (a `{` in a
            // string as a block) and takes time and memory that grow with it (30 s and 3.7 GB
            // for 20,000 braces after a bad escape): the scanner's error is reported instead,
            // the first lexical mistake, where it is.
            let (start, end) = char_range(text, lex.start, lex.end.max(lex.start + 1));
            sink.push(
                Diagnostic::new(Code::SyntaxError, format!("invalid KDL: {}", lex.message))
                    .primary(Span::new(file, start, end), "here")
                    .help(lex.help),
            );
            None
        }
    }
}

/// Parses `text` if it can be read safely, reporting nothing (the KDL suite and the mutation
/// tests compare what it accepts with what kdl does).
pub fn parse_quiet(text: &str) -> Option<KdlDocument> {
    parse(FileId(0), text, &mut Diagnostics::new())
}

fn too_deep(file: FileId, offset: usize) -> Diagnostic {
    Diagnostic::new(Code::NestingTooDeep, format!("children blocks nested more than {MAX_DEPTH} levels deep"))
        .primary(Span::new(file, offset, offset + 1), format!("level {} starts here", MAX_DEPTH + 1))
        .help("no idpc node nests more than a few levels; look for an unclosed or repeated `{`")
}

/// kdl over `input` (the text, or the text with comments blanked: same offsets) on a stack of
/// `stack` bytes; diagnostics point into `text`.
fn run_kdl(file: FileId, text: &str, input: &str, stack: usize, sink: &mut Diagnostics) -> Option<KdlDocument> {
    enum Outcome {
        Parsed(KdlDocument),
        TooDeep(usize),
        Failed(kdl::KdlError),
    }
    // The document is measured (and, when too deep, dropped: drop recurses too) on the
    // same stack.
    let outcome = stacker::grow(stack, || match KdlDocument::parse_v2(input) {
        Ok(document) => match deeper_than(&document, MAX_DEPTH) {
            Some(offset) => Outcome::TooDeep(offset),
            None => Outcome::Parsed(document),
        },
        Err(error) => Outcome::Failed(error),
    });
    match outcome {
        Outcome::Parsed(document) => Some(document),
        Outcome::TooDeep(offset) => {
            sink.push(too_deep(file, offset));
            None
        }
        Outcome::Failed(error) => {
            for d in &error.diagnostics {
                let (start, len) = (d.span.offset(), d.span.len());
                let (start, end) = if start == 0 && len > 1 {
                    // kdl 6.7.1 reports an incomplete value as the whole prefix from offset 0:
                    // the failure is at the end of that prefix.
                    let (prefix, _) = char_range(text, len, len);
                    let last = text.get(..prefix).and_then(|s| s.char_indices().last()).map_or(0, |(i, _)| i);
                    (last, prefix)
                } else {
                    (start, start + len.max(1))
                };
                let (start, end) = char_range(text, start, end);
                let message = d.message.clone().unwrap_or_else(|| "invalid KDL".into());
                let mut diagnostic =
                    Diagnostic::new(Code::SyntaxError, format!("invalid KDL: {}", lower_first(&message)))
                        .primary(Span::new(file, start, end), "here");
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

/// The offset of the first children block deeper than `limit` in a parsed document (walked
/// without recursion).
fn deeper_than(document: &KdlDocument, limit: usize) -> Option<usize> {
    let mut stack: Vec<(&KdlDocument, usize)> = vec![(document, 0)];
    while let Some((doc, depth)) = stack.pop() {
        for node in doc.nodes() {
            if let Some(children) = node.children() {
                if depth + 1 > limit {
                    return Some(children.span().offset());
                }
                stack.push((children, depth + 1));
            }
        }
    }
    None
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// Byte offset of the first `{` that opens level `limit + 1`, skipping strings and comments
/// as KDL does (`scan`); `None` also when a lexical error comes first.
pub fn too_deep_at(text: &str, limit: usize) -> Option<usize> {
    scan::scan(text, limit).too_deep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Option<usize>) {
        assert_eq!(too_deep_at(text, 2), expected);
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
        let raw = |text: &str| scan::scan(text, MAX_DEPTH).error.map(|e| e.start);
        assert_eq!(raw("node #\"\"\"one line\"\"\"#"), Some(5));
        assert_eq!(raw("node #\"\"\"\none line\n\"\"\"#"), None);
        assert_eq!(raw("node \"\"\"\nx\n\"\"\""), None);
    }

    #[test]
    fn offset_zero_spans_move_to_the_failure() {
        let mut sink = Diagnostics::new();
        assert!(parse(FileId(0), "a b=", &mut sink).is_none());
        let diagnostics = sink.into_sorted();
        assert_eq!(diagnostics[0].primary_span().map(|s| s.start), Some(3));
    }
}
