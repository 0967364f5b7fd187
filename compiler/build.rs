//! Fingerprints the code that turns a file into its lowered model (`source`, `parse`, `lower`,
//! `model`), so that a cache entry written by a build with other lowering code is never read
//! (`--cache`): the fingerprint is part of every cache key.

use std::fs;
use std::path::{Path, PathBuf};

fn files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> =
            fs::read_dir(path).map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
        entries.sort();
        for entry in entries {
            files(&entry, out);
        }
    } else {
        out.push(path.to_path_buf());
    }
}

fn main() {
    let inputs = ["src/source.rs", "src/parse.rs", "src/lower", "src/model", "build.rs", "Cargo.toml", "../Cargo.lock"];
    let mut paths = Vec::new();
    for input in inputs {
        println!("cargo:rerun-if-changed={input}");
        files(Path::new(input), &mut paths);
    }
    // FNV-1a over every path and its bytes: stable across machines and toolchains.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for path in paths {
        let bytes = fs::read(&path).unwrap_or_default();
        for byte in path.to_string_lossy().bytes().chain([0]).chain(bytes) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=IDPC_LOWERING_FINGERPRINT={hash:016x}");
}
