//! Source files of one compilation: the estate's files, sorted by path, and the embedded stdlib.
//!
//! This module owns file identity (`FileId`), byte spans (`Span`) and line/column arithmetic.
//! `load_estate` is one of the two places that touch the file system (the other is `write`);
//! everything after it works on the in-memory `SourceSet`.

use std::fmt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// Largest spec file idpc reads; larger files are refused before parsing.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Largest estate (all files together) idpc reads: some four times a 10,000-API estate.
pub const MAX_ESTATE_BYTES: usize = 64 * 1024 * 1024;

/// Index of a file in a `SourceSet`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

thread_local! {
    /// The file whose lowered model is being read back from the cache: every span in a
    /// file's model lies in that file, so the cache stores no file id and reading assigns
    /// this one (the same file has another id in another compilation).
    static LOADING: std::cell::Cell<FileId> = const { std::cell::Cell::new(FileId(u32::MAX)) };
}

impl FileId {
    /// Runs `f` with spans read back (deserialized) in this file.
    pub fn loading<T>(self, f: impl FnOnce() -> T) -> T {
        let previous = LOADING.with(|l| l.replace(self));
        let result = f();
        LOADING.with(|l| l.set(previous));
        result
    }
}

impl serde::Serialize for FileId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl<'de> serde::Deserialize<'de> for FileId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<FileId, D::Error> {
        <()>::deserialize(deserializer)?;
        Ok(LOADING.with(std::cell::Cell::get))
    }
}

/// A byte range in one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Span {
    /// The file the range lies in.
    pub file: FileId,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span covering `start..end` of `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Span { file, start: clamp(start), end: clamp(end.max(start)) }
    }

    /// The span of a kdl node, entry or identifier.
    pub fn from_kdl(file: FileId, span: miette::SourceSpan) -> Span {
        Span::new(file, span.offset(), span.offset() + span.len())
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether the span is empty.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// What a file is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    /// A spec file of the estate (platform, tenants, accounts, ...).
    Spec,
    /// A `baselines/<name>/baseline.kdl` declaration (estate or stdlib).
    BaselineDecl,
    /// A baseline template (`baselines/<name>/*.json.hbs`).
    BaselineTemplate,
    /// A compliance profile (`stdlib/compliance/<profile>.kdl`).
    Compliance,
}

/// One source file held in memory.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Estate-relative path with `/` separators, or `<stdlib>/...` for embedded files.
    pub path: String,
    /// The file's text.
    pub text: String,
    /// What the file is for.
    pub kind: FileKind,
}

impl SourceFile {
    /// 1-based line and column (in characters) of a byte offset. Lines end at `\n`, `\r\n`
    /// or a lone `\r`, as in the Language Server Protocol and in miette's rendering (KDL's
    /// other newlines, NEL, VT, FF, LS and PS, do not start a line in editors).
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let (line, start, offset) = self.line_of(offset as usize);
        let column = self.text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        (line + 1, column)
    }

    /// 0-based line, the byte offset its line starts at, and `offset` moved back to a
    /// character boundary inside the text.
    fn line_of(&self, offset: usize) -> (usize, usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = self.text.as_bytes().get(..offset).unwrap_or_default();
        let (mut line, mut start) = (0, 0);
        for (i, b) in before.iter().enumerate() {
            let ends = *b == b'\n' || (*b == b'\r' && before.get(i + 1) != Some(&b'\n'));
            if ends {
                line += 1;
                start = i + 1;
            }
        }
        (line, start, offset)
    }

    /// 0-based line and UTF-16 column of a byte offset (the Language Server Protocol's
    /// positions); an offset inside a character counts from that character's start.
    pub fn line_col_utf16(&self, offset: u32) -> (u32, u32) {
        let (line, start, offset) = self.line_of(offset as usize);
        let column = self.text.get(start..offset).map_or(0, |s| s.encode_utf16().count());
        (u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(column).unwrap_or(u32::MAX))
    }

    /// The byte offset of a 0-based line and UTF-16 column, clamped to the line's end.
    pub fn offset_utf16(&self, line: u32, column: u32) -> usize {
        let bytes = self.text.as_bytes();
        let ends_at = |i: usize| match bytes.get(i) {
            Some(b'\n') => Some(1),
            Some(b'\r') => Some(if bytes.get(i + 1) == Some(&b'\n') { 2 } else { 1 }),
            _ => None,
        };
        let mut start = 0;
        let mut i = 0;
        let mut seen = 0;
        while seen < line {
            if i >= bytes.len() {
                return self.text.len();
            }
            match ends_at(i) {
                Some(n) => {
                    i += n;
                    seen += 1;
                    start = i;
                }
                None => i += 1,
            }
        }
        let mut units = 0;
        for (i, c) in self.text.get(start..).unwrap_or("").char_indices() {
            if c == '\n' || c == '\r' || units >= column as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        self.text.len()
    }
}

/// Every file of one compilation, estate files sorted by path, then the stdlib.
#[derive(Clone, Debug, Default)]
pub struct SourceSet {
    files: Vec<SourceFile>,
}

impl SourceSet {
    /// An empty set.
    pub fn new() -> SourceSet {
        SourceSet::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, path: impl Into<String>, text: impl Into<String>, kind: FileKind) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile { path: path.into(), text: text.into(), kind });
        id
    }

    /// The file with this id.
    pub fn file(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// All files with their ids, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i as u32), f))
    }

    /// Total bytes of the estate's own files (the stdlib does not count).
    pub fn estate_bytes(&self) -> usize {
        self.files.iter().filter(|f| !f.path.starts_with(crate::stdlib::PREFIX)).map(|f| f.text.len()).sum()
    }

    /// `path:line:column` of a span's start, for messages and tests.
    pub fn location(&self, span: Span) -> String {
        match self.file(span.file) {
            Some(file) => {
                let (line, column) = file.line_col(span.start);
                format!("{}:{line}:{column}", file.path)
            }
            None => "<unknown>".to_owned(),
        }
    }
}

/// Why an estate could not be read at all (a usage or I/O failure, exit code 2).
#[derive(Debug)]
pub enum LoadError {
    /// The estate path does not exist or is not a folder.
    NotAFolder(PathBuf),
    /// A file or folder could not be read.
    Io(PathBuf, std::io::Error),
    /// The folder holds no `.kdl` spec file.
    Empty(PathBuf),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotAFolder(p) => write!(f, "estate `{}` is not a folder", p.display()),
            LoadError::Io(p, e) => write!(f, "cannot read `{}`: {e}", p.display()),
            LoadError::Empty(p) => write!(f, "estate `{}` holds no .kdl file", p.display()),
        }
    }
}

/// A file as read from disk: its estate-relative path and raw bytes.
#[derive(Clone, Debug)]
pub struct RawFile {
    /// Estate-relative path with `/` separators.
    pub path: String,
    /// Raw bytes; checked for size and UTF-8 by `compile`, not here.
    pub bytes: Vec<u8>,
}

/// Reads an estate folder: every `.kdl` file below it (recursively, sorted by path), and the
/// `baselines/<name>/` folders beside them. Hidden folders and symbolic links are not followed.
pub fn load_estate(root: &Path) -> Result<Vec<RawFile>, LoadError> {
    if !root.is_dir() {
        return Err(LoadError::NotAFolder(root.to_path_buf()));
    }
    let mut paths = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e.path().map_or_else(|| root.to_path_buf(), Path::to_path_buf);
            LoadError::Io(path, e.into())
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(path) = relative_path(root, entry.path()) else {
            continue;
        };
        if classify(&path).is_none() {
            continue;
        }
        // The size on disk, before anything is read (a sparse 2 GiB file must not be).
        let size = entry.metadata().map_or(0, |m| m.len());
        paths.push((path, entry.into_path(), size));
    }
    // Past the estate's limit nothing more is read: the files read so far already exceed it,
    // and `compile` refuses the estate on them (the rest stay empty).
    let mut budget = MAX_ESTATE_BYTES as u64 + 1;
    let wanted: Vec<(String, PathBuf, bool)> = paths
        .into_iter()
        .map(|(path, full, size)| {
            let read = budget > 0;
            budget = budget.saturating_sub(size.min(MAX_FILE_BYTES as u64 + 1));
            (path, full, read)
        })
        .collect();
    // Files are read in parallel (2,500 APIs: 22 -> 13 ms from start to all read); the first
    // failure in path order is the one reported.
    let read: Vec<Result<RawFile, LoadError>> = wanted
        .into_par_iter()
        .map(|(path, full, read)| match if read { read_bounded(&full) } else { Ok(Vec::new()) } {
            Ok(bytes) => Ok(RawFile { path, bytes }),
            Err(e) => Err(LoadError::Io(full, e)),
        })
        .collect();
    let mut files = read.into_iter().collect::<Result<Vec<RawFile>, LoadError>>()?;
    if !files.iter().any(|f| classify(&f.path) == Some(FileKind::Spec)) {
        return Err(LoadError::Empty(root.to_path_buf()));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// A file's bytes, at most one more than `MAX_FILE_BYTES`: enough for `compile` to see that it
/// is too large, whatever its size on disk (or its growth while it is read).
pub fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let hint = file.metadata().map_or(0, |m| m.len()).min(MAX_FILE_BYTES as u64 + 1);
    let mut bytes = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    file.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `path` relative to `root`, `/`-separated whatever the platform; `None` outside `root`.
pub fn relative_path(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    Some(relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"))
}

/// What an estate-relative path is, or `None` when idpc does not read it.
pub fn classify(path: &str) -> Option<FileKind> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["baselines", _, "baseline.kdl"] => Some(FileKind::BaselineDecl),
        ["baselines", _, file] if file.ends_with(".json.hbs") => Some(FileKind::BaselineTemplate),
        ["baselines", ..] => None,
        _ if path.ends_with(".kdl") => Some(FileKind::Spec),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, offset: u32, expected: (usize, usize)) {
        let file = SourceFile { path: "a.kdl".into(), text: text.into(), kind: FileKind::Spec };
        assert_eq!(file.line_col(offset), expected);
    }

    #[test]
    fn line_col_counts_characters() {
        check("abc", 0, (1, 1));
        check("a\nbc", 3, (2, 2));
        check("é x", 3, (1, 3));
        check("a", 99, (1, 2));
        // A lone carriage return ends a line (as in editors and miette); CRLF is one break.
        check("a\rbc", 3, (2, 2));
        check("a\r\nbc", 4, (2, 2));
        check("a\u{2028}bc", 5, (1, 4));
    }

    #[test]
    fn utf16_positions_round_trip() {
        let file = SourceFile { path: "a.kdl".into(), text: "ab\n🚀é \"x\"\r\nz".into(), kind: FileKind::Spec };
        // 🚀 is 4 bytes and 2 UTF-16 units; é is 2 bytes and 1 unit.
        assert_eq!(file.line_col_utf16(3), (1, 0));
        assert_eq!(file.line_col_utf16(7), (1, 2));
        assert_eq!(file.line_col_utf16(9), (1, 3));
        assert_eq!(file.line_col_utf16(5), (1, 0), "inside a character: its start");
        for offset in [0, 2, 3, 7, 9, 10, 13, 15] {
            let (line, column) = file.line_col_utf16(offset);
            assert_eq!(file.offset_utf16(line, column), offset as usize, "offset {offset}");
        }
        assert_eq!(file.offset_utf16(0, 99), 2, "past the end of a line: its end");
        assert_eq!(file.offset_utf16(9, 0), file.text.len());
    }

    #[test]
    fn classify_paths() {
        assert_eq!(classify("a.kdl"), Some(FileKind::Spec));
        assert_eq!(classify("tenants/acme.kdl"), Some(FileKind::Spec));
        assert_eq!(classify("baselines/x/baseline.kdl"), Some(FileKind::BaselineDecl));
        assert_eq!(classify("baselines/x/r.json.hbs"), Some(FileKind::BaselineTemplate));
        assert_eq!(classify("baselines/x/other.kdl"), None);
        assert_eq!(classify("README.md"), None);
    }
}
