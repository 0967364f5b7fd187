//! The fuzz targets' committed seeds (tests/fuzz/corpus/), run as ordinary tests with the
//! same properties the targets assert: no panic, in-bounds spans, the same output twice, and
//! names that parse are safe path parts. Every crash a fuzzing campaign finds is added there.

use std::path::PathBuf;

use idpc::model::Name;
use idpc::source::RawFile;
use idpc_tests::{TODAY, compile_files, repo_root};

fn seeds(target: &str) -> Vec<PathBuf> {
    let dir = repo_root().join("tests/fuzz/corpus").join(target);
    let mut seeds: Vec<PathBuf> =
        std::fs::read_dir(&dir).expect("corpus").filter_map(Result::ok).map(|e| e.path()).collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

#[test]
fn compile_seeds_hold_the_fuzz_properties() {
    for seed in seeds("compile").into_iter().chain(seeds("parse")) {
        let files = [RawFile { path: "main.kdl".into(), bytes: std::fs::read(&seed).expect("seed") }];
        let first = compile_files(&files, TODAY);
        for diagnostic in &first.diagnostics {
            for label in &diagnostic.labels {
                let file = first.sources.file(label.span.file).expect("label file");
                assert!(label.span.end as usize <= file.text.len(), "{}: span past the end", seed.display());
            }
        }
        let second = compile_files(&files, TODAY);
        assert_eq!(first.diagnostics, second.diagnostics, "{}", seed.display());
        let bytes =
            |c: &idpc::Compilation| c.output.as_ref().map(|o| o.files().map(|(_, b)| b.to_vec()).collect::<Vec<_>>());
        assert_eq!(bytes(&first), bytes(&second), "{}", seed.display());
    }
}

#[test]
fn name_seeds_hold_the_fuzz_properties() {
    for seed in seeds("names") {
        let Ok(text) = String::from_utf8(std::fs::read(&seed).expect("seed")) else { continue };
        if let Ok(name) = Name::parse(&text) {
            let s = name.as_str();
            assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{s}");
            assert!(!s.contains("--") && !s.ends_with('-') && s.len() <= 40, "{s}");
        }
    }
}
