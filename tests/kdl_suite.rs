//! The KDL compliance suite that ships with the `kdl` crate: every input must compile without
//! a panic, every `_fail` input must give our `syntax-error` (never a crash, never success),
//! and every label must be a range of its file on character boundaries.

use std::path::PathBuf;

use idpc::diagnostics::Code;
use idpc::source::RawFile;
use idpc_tests::{TODAY, compile_files};

/// The suite's input folder inside the `kdl` package that cargo downloaded for this build.
fn suite() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    let kdl = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "kdl")
        .expect("kdl is a dependency");
    let manifest = PathBuf::from(kdl["manifest_path"].as_str().expect("manifest path"));
    manifest.parent().expect("package folder").join("tests/test_cases/input")
}

#[test]
fn every_kdl_suite_input_compiles_without_panic_and_failures_are_syntax_errors() {
    let dir = suite();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 300, "only {} suite inputs", inputs.len());
    let mut failing = 0;
    for input in &inputs {
        let name = input.file_name().expect("name").to_string_lossy().into_owned();
        let files = [RawFile { path: "input.kdl".into(), bytes: std::fs::read(input).expect("readable") }];
        let compilation = compile_files(&files, TODAY);
        if let Some(bad) = idpc_tests::bad_label(&compilation) {
            panic!("{name}: {bad}");
        }
        if name.ends_with("_fail.kdl") {
            failing += 1;
            let codes: Vec<Code> = compilation.diagnostics.iter().map(|d| d.code).collect();
            assert!(
                codes.iter().any(|c| matches!(c, Code::SyntaxError | Code::InvalidUtf8 | Code::NestingTooDeep)),
                "{name}: expected a syntax error, got {codes:?}"
            );
            assert!(compilation.output.is_none(), "{name}: output from an invalid file");
        }
    }
    assert!(failing >= 80, "only {failing} failing inputs");
}

/// A document's content without its formatting: names, type annotations, entries, children.
fn content(document: &kdl::KdlDocument) -> String {
    let mut document = document.clone();
    document.clear_format_recursive();
    document.to_string()
}

/// The scanner reads the suite as kdl does: every input kdl accepts is clean for it and parses
/// (comments blanked) to the same content; every input it calls wrong, kdl refuses too, but
/// for the one form KDL v2 forbids and kdl 6.7.1 accepts (a one-line `#"""..."""#`).
#[test]
fn the_scanner_reads_every_suite_input_as_kdl_does() {
    let dir = suite();
    let mut inputs: Vec<PathBuf> =
        std::fs::read_dir(&dir).expect("suite").filter_map(Result::ok).map(|e| e.path()).collect();
    inputs.sort();
    let (mut valid, mut refused) = (0, 0);
    for input in &inputs {
        let name = input.file_name().expect("name").to_string_lossy().into_owned();
        let Ok(text) = std::fs::read_to_string(input) else { continue };
        if idpc::parse::first_disallowed(&text).is_some() {
            continue;
        }
        let scan = idpc::parse::scan::scan(&text, idpc::parse::MAX_DEPTH);
        match kdl::KdlDocument::parse_v2(&text) {
            Ok(expected) => {
                if let Some(error) = &scan.error {
                    assert!(text.contains("#\"\"\""), "{name}: kdl accepts it, the scanner says {error:?}");
                    continue;
                }
                valid += 1;
                let ours = idpc::parse::parse_quiet(&text).unwrap_or_else(|| panic!("{name}: refused"));
                assert_eq!(content(&ours), content(&expected), "{name}: another document");
            }
            Err(_) => refused += 1,
        }
    }
    assert!(valid >= 200 && refused >= 60, "{valid} valid, {refused} refused");
}
