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
