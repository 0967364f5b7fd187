//! The lexical structure of a KDL v2 document, read exactly as kdl 6.7.1 reads a valid one:
//! where strings (quoted, multi-line, raw) and comments start and end, and where children
//! blocks open and close. It is what lets `parse` refuse deep documents before kdl recurses
//! into them, and hide multi-line comments from kdl (whose comment parser recurses once per
//! `*` or `/` inside a comment).
//!
//! A document the scanner calls clean has every string and comment closed, every escape
//! valid, no newline in a single-line string, and every string set apart from what comes
//! before and after it as KDL requires: kdl then reads the same strings and comments (its
//! error recovery, which skips text and may read a `{` inside a string as a block, never
//! runs). Anything else is the first lexical error, with its offset.
//!
//! Grammar references are the KDL v2 specification's rule names (`newline`, `unicode-space`,
//! `escline`, `multi-line-comment`, `raw-string`, ...), which kdl's `v2_parser.rs` follows.

/// What the scanner found.
#[derive(Debug, Default)]
pub struct Scan {
    /// The first lexical error; nothing after it was read.
    pub error: Option<LexError>,
    /// The offset of the `{` that opens level `limit + 1`, if one does before any error.
    pub too_deep: Option<usize>,
    /// Byte ranges of the multi-line comments (outermost only), in order.
    pub comments: Vec<(usize, usize)>,
}

/// A lexical error: where, what and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub start: usize,
    pub end: usize,
    pub message: &'static str,
    pub help: &'static str,
}

/// `newline`: CRLF, CR, LF, NEL, VT, FF, LS, PS (the specification's table, kdl's `NEWLINES`).
pub fn newline_len(text: &str, at: usize) -> Option<usize> {
    let rest = text.get(at..)?;
    if rest.starts_with("\r\n") {
        return Some(2);
    }
    let c = rest.chars().next()?;
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{b}' | '\u{c}' | '\u{2028}' | '\u{2029}').then(|| c.len_utf8())
}

/// `unicode-space` (the specification's table, kdl's `UNICODE_SPACES`).
fn space_len(text: &str, at: usize) -> Option<usize> {
    let c = text.get(at..)?.chars().next()?;
    matches!(c, '\t' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
        .then(|| c.len_utf8())
}

/// Whether `c` may end an identifier, keyword or number that a string directly after it would
/// be glued to (`identifier-char` minus nothing: every code point but spaces, newlines and
/// `\/(){};[]"#=`). A string right after such a character is not a new value in KDL.
fn glues(c: char) -> bool {
    !(matches!(c, '\\' | '/' | '(' | ')' | '{' | '}' | ';' | '[' | ']' | '"' | '#' | '=')
        || c.is_whitespace()
        || matches!(c, '\u{85}' | '\u{b}' | '\u{c}' | '\u{2028}' | '\u{2029}'))
}

struct Scanner<'t> {
    text: &'t str,
    bytes: &'t [u8],
    i: usize,
    depth: usize,
    /// Where each `{` still open starts, outermost first (only to `limit + 1` levels: a
    /// deeper text is refused anyway).
    open: Vec<usize>,
    limit: usize,
    /// The last character read in code (outside strings and comments), for what glues.
    last_code: Option<char>,
    out: Scan,
}

type Step = Result<(), LexError>;

fn error(start: usize, end: usize, message: &'static str, help: &'static str) -> LexError {
    LexError { start, end, message, help }
}

impl Scanner<'_> {
    fn at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    fn starts(&self, i: usize, s: &str) -> bool {
        self.bytes.get(i..i + s.len()) == Some(s.as_bytes())
    }

    fn char_at(&self, i: usize) -> Option<char> {
        self.text.get(i..).and_then(|t| t.chars().next())
    }

    /// Moves past one character.
    fn bump(&mut self) {
        self.i += self.char_at(self.i).map_or(1, char::len_utf8);
    }

    fn run(&mut self) -> Step {
        while self.i < self.bytes.len() {
            match self.at(self.i) {
                Some(b'/') if self.at(self.i + 1) == Some(b'/') => {
                    while self.i < self.bytes.len() && newline_len(self.text, self.i).is_none() {
                        self.bump();
                    }
                    self.last_code = Some('\n');
                }
                Some(b'/') if self.at(self.i + 1) == Some(b'-') => {
                    // `slashdash`: what follows may be a string (`/-"x"`).
                    self.i += 2;
                    self.last_code = Some('/');
                }
                Some(b'/') if self.at(self.i + 1) == Some(b'*') => {
                    let start = self.i;
                    self.comment()?;
                    self.out.comments.push((start, self.i));
                    self.last_code = Some(' ');
                }
                Some(b'"') => {
                    let start = self.i;
                    self.check_glue(start)?;
                    if self.starts(self.i, "\"\"\"") {
                        self.multi_line(start, 0)?;
                    } else {
                        self.quoted(start)?;
                    }
                    self.check_end(start)?;
                }
                Some(b'#') => {
                    let start = self.i;
                    let hashes =
                        self.bytes.get(self.i..).unwrap_or_default().iter().take_while(|b| **b == b'#').count();
                    if self.at(self.i + hashes) == Some(b'"') {
                        self.check_glue(start)?;
                        self.i += hashes;
                        if self.starts(self.i, "\"\"\"") {
                            self.multi_line(start, hashes)?;
                        } else {
                            self.raw(start, hashes)?;
                        }
                        self.check_end(start)?;
                    } else {
                        self.i += hashes;
                        self.last_code = Some('#');
                    }
                }
                Some(b'{') => {
                    self.depth += 1;
                    if self.depth <= self.limit + 1 {
                        self.open.push(self.i);
                    }
                    if self.depth > self.limit && self.out.too_deep.is_none() {
                        self.out.too_deep = Some(self.i);
                    }
                    self.i += 1;
                    self.last_code = Some('{');
                }
                Some(b'}') => {
                    if self.depth <= self.limit + 1 {
                        self.open.pop();
                    }
                    self.depth = self.depth.saturating_sub(1);
                    self.i += 1;
                    self.last_code = Some('}');
                }
                _ => {
                    self.last_code = self.char_at(self.i);
                    self.bump();
                }
            }
        }
        Ok(())
    }

    /// A string glued to the identifier, number or keyword before it (`a"b"`, `1"x"`): kdl
    /// reads it as a bad value and skips it character by character, braces included.
    fn check_glue(&self, start: usize) -> Step {
        match self.last_code {
            Some(c) if glues(c) || c == '"' || c == '#' => Err(error(
                start,
                start + 1,
                "a string must be separated from the value before it",
                "put a space before the string",
            )),
            _ => Ok(()),
        }
    }

    /// What follows a string must end the value (`value-terminator` in kdl: a space, a
    /// newline, `=`, `)`, `{`, `}`, `;`, a comment, an escline or the end).
    fn check_end(&mut self, start: usize) -> Step {
        let ends = match self.at(self.i) {
            None => true,
            Some(b'=' | b')' | b'{' | b'}' | b';' | b'\\') => true,
            Some(b'/') => matches!(self.at(self.i + 1), Some(b'/' | b'*')),
            _ => space_len(self.text, self.i).is_some() || newline_len(self.text, self.i).is_some(),
        };
        if ends {
            self.last_code = Some('"');
            Ok(())
        } else {
            let end = self.i + self.char_at(self.i).map_or(1, char::len_utf8);
            Err(error(
                start,
                end,
                "a string must be followed by a space, a newline or the end of the node",
                "put a space after the closing quote (or escape the quote if it belongs to the string)",
            ))
        }
    }

    /// `multi-line-comment`, nested; `self.i` is at `/*`.
    fn comment(&mut self) -> Step {
        let start = self.i;
        let mut nested = 0usize;
        while self.i < self.bytes.len() {
            if self.starts(self.i, "/*") {
                nested += 1;
                self.i += 2;
            } else if self.starts(self.i, "*/") {
                nested -= 1;
                self.i += 2;
                if nested == 0 {
                    return Ok(());
                }
            } else {
                self.bump();
            }
        }
        Err(error(start, start + 2, "unterminated multi-line comment", "close the comment with `*/`"))
    }

    /// A backslash in a quoted string: `escape` (`\\ \" \b \f \n \r \t \s \u{...}`) or a
    /// whitespace escape (`\` then unicode spaces and newlines, at least one).
    fn escape(&mut self) -> Step {
        let start = self.i;
        self.i += 1;
        match self.at(self.i) {
            Some(b'\\' | b'"' | b'b' | b'f' | b'n' | b'r' | b't' | b's') => {
                self.i += 1;
                Ok(())
            }
            Some(b'u') if self.at(self.i + 1) == Some(b'{') => {
                let digits = self.bytes.get(self.i + 2..).unwrap_or_default();
                let n = digits.iter().take_while(|b| b.is_ascii_hexdigit()).count();
                let value = std::str::from_utf8(digits.get(..n).unwrap_or_default())
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok());
                if (1..=6).contains(&n) && digits.get(n) == Some(&b'}') && value.and_then(char::from_u32).is_some() {
                    self.i += 2 + n + 1;
                    Ok(())
                } else {
                    Err(error(
                        start,
                        self.i + 2 + n.min(6),
                        "invalid unicode escape",
                        "write `\\u{` with 1 to 6 hex digits of a Unicode scalar value, then `}`",
                    ))
                }
            }
            _ => {
                let mut any = false;
                while let Some(n) = space_len(self.text, self.i).or_else(|| newline_len(self.text, self.i)) {
                    self.i += n;
                    any = true;
                }
                if any {
                    Ok(())
                } else {
                    let end = self.i + self.char_at(self.i).map_or(0, char::len_utf8);
                    Err(error(
                        start,
                        end,
                        "invalid escape in a string",
                        "the escapes are \\\\ \\\" \\b \\f \\n \\r \\t \\s and \\u{...}; write `\\\\` for a backslash",
                    ))
                }
            }
        }
    }

    /// `quoted-string` on one line; `self.i` is at `"`.
    fn quoted(&mut self, start: usize) -> Step {
        self.i += 1;
        loop {
            match self.at(self.i) {
                None => {
                    return Err(error(start, start + 1, "unterminated string", "close the string with `\"`"));
                }
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => self.escape()?,
                _ if newline_len(self.text, self.i).is_some() => {
                    return Err(error(
                        start,
                        self.i,
                        "unexpected newline in a single-line string",
                        "close the string on its line, or make it multi-line with `\"\"\"` and a newline right after it",
                    ));
                }
                _ => self.bump(),
            }
        }
    }

    /// `raw-string` on one line (`#"..."#`); `self.i` is at `"`.
    fn raw(&mut self, start: usize, hashes: usize) -> Step {
        let close = format!("\"{}", "#".repeat(hashes));
        self.i += 1;
        loop {
            if self.i >= self.bytes.len() {
                return Err(error(
                    start,
                    start + hashes + 1,
                    "unterminated raw string",
                    "close the raw string with `\"#`",
                ));
            }
            if self.starts(self.i, &close) {
                self.i += close.len();
                return Ok(());
            }
            if newline_len(self.text, self.i).is_some() {
                return Err(error(
                    start,
                    self.i,
                    "unexpected newline in a single-line raw string",
                    "close it on its line, or make it multi-line: `#\"\"\"`, a newline, the text, then `\"\"\"#` on its own line",
                ));
            }
            self.bump();
        }
    }

    /// `multi-line-string` (`hashes == 0`) or a multi-line `raw-string`; `self.i` is at `"""`.
    /// The opening quotes are followed by a newline; the closing ones stand on their own line
    /// after whitespace, and every other line not made of whitespace starts with that
    /// whitespace (the dedent rule).
    fn multi_line(&mut self, start: usize, hashes: usize) -> Step {
        let close = format!("\"\"\"{}", "#".repeat(hashes));
        self.i += 3;
        let Some(n) = newline_len(self.text, self.i) else {
            return Err(error(
                start,
                self.i,
                "multi-line string opening quotes must be followed by a newline",
                "put the text on its own lines after `\"\"\"`, or use a single-line string",
            ));
        };
        self.i += n;
        // Line starts (offsets just after a newline that no whitespace escape took).
        let mut lines = vec![self.i];
        let mut escaped = false;
        loop {
            if self.i >= self.bytes.len() {
                return Err(error(
                    start,
                    start + hashes + 3,
                    "unterminated multi-line string",
                    "close it with `\"\"\"` on its own line",
                ));
            }
            if self.starts(self.i, &close) {
                break;
            }
            if hashes == 0 && self.at(self.i) == Some(b'\\') {
                let before = self.i;
                self.escape()?;
                // A whitespace escape across newlines joins lines; dedent is then not checked
                // here (kdl drops such escapes from the prefix, a rare form).
                escaped |= self.bytes.get(before..self.i).is_some_and(|s| s.iter().any(|b| matches!(b, b'\n' | b'\r')));
                continue;
            }
            if let Some(n) = newline_len(self.text, self.i) {
                self.i += n;
                lines.push(self.i);
                continue;
            }
            self.bump();
        }
        let closing = self.i;
        self.i += close.len();
        let last = lines.last().copied().unwrap_or(closing);
        let prefix = self.text.get(last..closing).unwrap_or_default();
        if escaped {
            return Ok(());
        }
        if prefix.char_indices().any(|(at, _)| space_len(prefix, at).is_none()) {
            return Err(error(
                closing,
                closing + 3,
                "multi-line string closing quotes must be on their own line",
                "put the closing `\"\"\"` on a line of its own, after whitespace only",
            ));
        }
        for pair in lines.windows(2) {
            let (from, to) = match pair {
                [from, to] => (*from, *to),
                _ => continue,
            };
            let line = self.text.get(from..to).unwrap_or_default();
            let blank =
                line.char_indices().all(|(at, _)| space_len(line, at).is_some() || newline_len(line, at).is_some());
            if !blank && !line.starts_with(prefix) {
                return Err(error(
                    from,
                    from + line.len().min(prefix.len()).max(1),
                    "a multi-line string line does not start with the closing line's indentation",
                    "indent every line of the string at least as far as the closing `\"\"\"`, with the same whitespace",
                ));
            }
        }
        Ok(())
    }
}

/// Scans `text`; `limit` is the deepest nesting accepted.
pub fn scan(text: &str, limit: usize) -> Scan {
    let mut scanner = Scanner {
        text,
        bytes: text.as_bytes(),
        i: 0,
        depth: 0,
        open: Vec::new(),
        limit,
        last_code: None,
        out: Scan::default(),
    };
    if let Err(e) = scanner.run() {
        scanner.out.error = Some(e);
    } else if let (Some(&start), None) = (scanner.open.last(), scanner.out.too_deep) {
        // kdl reports a block that never closes at the start of the file; the block is here.
        // The innermost one still open at the end is named: the missing `}` belongs to it or
        // to a block closed too early inside it.
        scanner.out.error = Some(LexError {
            start,
            end: start + 1,
            message: "this `{` is never closed",
            help: "add the `}` that ends this block (or a block inside it that a `}` closed too early)",
        });
    }
    scanner.out
}

/// `text` with every multi-line comment replaced by spaces of the same byte length, so that
/// offsets are unchanged and kdl reads whitespace where it would have recursed per token.
/// A comment is `ws` in KDL's grammar, so whitespace in its place means the same document.
pub fn blank_comments(text: &str, comments: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for &(start, end) in comments {
        out.push_str(text.get(from..start).unwrap_or_default());
        out.extend(std::iter::repeat_n(' ', end.saturating_sub(start)));
        from = end;
    }
    out.push_str(text.get(from..).unwrap_or_default());
    out
}
