//! Keeps the project honest about its own rules: every code has an explain page and an err
//! case (and every err case names a code), the stdlib list equals the folder, every module
//! opens with `//!`, only `main.rs` prints, and imports respect the pass order.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use idpc::diagnostics::Code;
use idpc_tests::repo_root;

/// Codes that no estate on disk can trigger: idpc's own failure, and input-size limits that
/// are tested by generating input (compiler/tests/cli.rs), not by committing megabytes.
const NO_CASE: &[&str] = &["internal-error", "file-too-large", "estate-too-large"];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable").filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn every_code_has_a_page_and_a_case() {
    let cases: BTreeSet<String> = std::fs::read_dir(repo_root().join("tests/cases/err"))
        .expect("err cases")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().split("--").next().unwrap_or_default().to_owned())
        .collect();
    for code in Code::ALL {
        let page = code.explain();
        assert!(page.starts_with(&format!("# {}", code.name())), "{code}: page must start with its title");
        assert!(page.contains("## What to do"), "{code}: page must say what to do");
        if !NO_CASE.contains(&code.name()) {
            assert!(cases.contains(code.name()), "{code}: no tests/cases/err/{code}*");
        }
    }
    for case in &cases {
        assert!(Code::from_name(case).is_some(), "tests/cases/err/{case} names no code");
    }
    let pages: BTreeSet<String> = std::fs::read_dir(repo_root().join("compiler/src/diagnostics/explain"))
        .expect("explain pages")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().trim_end_matches(".md").to_owned())
        .collect();
    let names: BTreeSet<String> = Code::ALL.iter().map(|c| c.name().to_owned()).collect();
    assert_eq!(pages, names, "explain pages and codes differ");
}

#[test]
fn stdlib_list_equals_folder() {
    let root = repo_root().join("stdlib");
    let mut on_disk = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("stdlib").filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(&root).expect("inside").to_string_lossy().replace('\\', "/");
                on_disk.push(format!("{}{rel}", idpc::stdlib::PREFIX));
            }
        }
    }
    on_disk.sort();
    let mut embedded: Vec<String> = idpc::stdlib::FILES.iter().map(|(p, _, _)| (*p).to_owned()).collect();
    embedded.sort();
    assert_eq!(embedded, on_disk);
}

#[test]
fn modules_open_with_docs_and_only_main_prints() {
    for path in rust_files(&repo_root().join("compiler/src")) {
        let text = std::fs::read_to_string(&path).expect("readable");
        let name = path.display().to_string();
        assert!(text.starts_with("//!"), "{name} must open with a //! paragraph");
        if !name.ends_with("main.rs") {
            for banned in ["println!", "eprintln!", "print!(", "eprint!(", "dbg!("] {
                assert!(!text.contains(banned), "{name} uses {banned}; only main.rs prints");
            }
        }
    }
}

#[test]
fn imports_follow_the_pipeline() {
    // Each module may import its own layer and earlier ones only.
    let layers: &[(&str, u8)] = &[
        ("source", 0),
        ("diagnostics", 0),
        ("digest", 0),
        ("stdlib", 0),
        ("model", 1),
        ("parse", 1),
        ("lower", 2),
        ("cache", 2),
        ("resolve", 3),
        ("check", 4),
        ("naming", 5),
        ("graph", 6),
        ("emit", 7),
        ("write", 8),
        ("review", 9),
        ("explain", 9),
        ("lsp", 10),
    ];
    let layer = |module: &str| layers.iter().find(|(m, _)| *m == module).map(|(_, l)| *l);
    let src = repo_root().join("compiler/src");
    for path in rust_files(&src) {
        let rel = path.strip_prefix(&src).expect("inside").to_string_lossy().replace('\\', "/");
        let module = rel.split('/').next().unwrap_or_default().trim_end_matches(".rs");
        let Some(own) = layer(module) else { continue };
        let text = std::fs::read_to_string(&path).expect("readable");
        for (other, level) in layers {
            if *level > own && text.contains(&format!("crate::{other}")) {
                panic!("{rel} (layer {own}) imports crate::{other} (layer {level})");
            }
        }
        if module == "model" {
            assert!(!text.contains("kdl::"), "{rel}: the model never sees KDL types");
        }
        if module == "emit" {
            assert!(!text.contains("kdl::"), "{rel}: emitters never see KDL types");
        }
    }
}

#[test]
fn the_readme_build_command_names_the_package() {
    // The workspace has several binaries (idpc, gen-estate, kdl-floor): a bare `cargo run`
    // at the top refuses to choose, so the README's first command must name the package.
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let first = readme.lines().find(|l| l.starts_with("cargo run")).expect("a cargo run line");
    assert!(first.starts_with("cargo run --release -p idpc -- build examples/reference"), "{first}");
    let manifests = ["compiler/Cargo.toml", "tests/Cargo.toml"];
    let binaries: usize = manifests
        .iter()
        .map(|m| std::fs::read_to_string(repo_root().join(m)).expect("manifest").matches("[[bin]]").count())
        .sum::<usize>()
        + std::fs::read_dir(repo_root().join("tests/src/bin")).map(|d| d.count()).unwrap_or(0);
    assert!(binaries > 1, "with one binary this test no longer guards anything; simplify the README");
}
