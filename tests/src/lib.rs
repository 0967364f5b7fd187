//! Shared helpers for idpc's test binaries: loading a case or example folder, compiling it
//! with a pinned date, and rendering what a snapshot shows.

pub mod estate;

use std::path::{Path, PathBuf};

use idpc::diagnostics::human::{self, Style};
use idpc::model::Date;
use idpc::source::{RawFile, load_estate};
use idpc::{Compilation, Options, compile};

/// The date every test compiles with unless a case says otherwise.
pub const TODAY: &str = "2026-11-28";

/// The repository's top folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// Options with `today` pinned.
pub fn options(today: &str) -> Options {
    Options { today: Date::parse(today).expect("valid test date") }
}

/// Reads an estate folder, leaving out a top-level `case.kdl` (the case's own settings).
pub fn load(dir: &Path) -> Vec<RawFile> {
    let mut files = load_estate(dir).unwrap_or_else(|e| panic!("cannot load {}: {e}", dir.display()));
    files.retain(|f| f.path != "case.kdl");
    files
}

/// Compiles files with a pinned date.
pub fn compile_files(files: &[RawFile], today: &str) -> Compilation {
    compile(files, &options(today))
}

/// The human rendering of every diagnostic, as a terminal without colour shows it.
pub fn render_diagnostics(compilation: &Compilation) -> String {
    human::render(&compilation.diagnostics, &compilation.sources, Style::PLAIN)
}

/// `path:line:col code` of every diagnostic, one per line: the data tests assert on.
pub fn locations(compilation: &Compilation) -> Vec<(String, String)> {
    compilation
        .diagnostics
        .iter()
        .map(|d| {
            let at = d.primary_span().map(|s| compilation.sources.location(s)).unwrap_or_else(|| "<estate>".into());
            (d.code.name().to_owned(), at)
        })
        .collect()
}

/// Every label of every diagnostic is a real range of its file: start <= end, both on
/// character boundaries, inside the text, in a file of the compilation; every diagnostic has a
/// primary label. The first violation, described.
pub fn bad_label(compilation: &Compilation) -> Option<String> {
    for diagnostic in &compilation.diagnostics {
        if diagnostic.primary_span().is_none() {
            return Some(format!("`{}` has no primary label: {}", diagnostic.code, diagnostic.message));
        }
        for label in &diagnostic.labels {
            let span = label.span;
            let Some(file) = compilation.sources.file(span.file) else {
                return Some(format!("`{}`: a label in no file", diagnostic.code));
            };
            let (start, end) = (span.start as usize, span.end as usize);
            if start > end
                || end > file.text.len()
                || !file.text.is_char_boundary(start)
                || !file.text.is_char_boundary(end)
            {
                return Some(format!(
                    "`{}`: label {start}..{end} is not a range of {} ({} bytes)",
                    diagnostic.code,
                    file.path,
                    file.text.len()
                ));
            }
        }
    }
    None
}
