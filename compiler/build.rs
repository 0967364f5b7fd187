//! Fingerprints the code behind each kind of cache entry (`--cache`), so that an entry written
//! by a build with other code is never read: the fingerprint is part of every key. Lowered
//! files depend on `source`, `parse`, `lower` and `model`; rendered artifacts on any of the
//! compiler's code (and the stdlib, embedded in it).

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

/// FNV-1a over every file's path and bytes: stable across machines and toolchains.
fn fingerprint(inputs: &[&str]) -> String {
    let mut paths = Vec::new();
    for input in inputs {
        println!("cargo:rerun-if-changed={input}");
        files(Path::new(input), &mut paths);
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for path in paths {
        let bytes = fs::read(&path).unwrap_or_default();
        for byte in path.to_string_lossy().bytes().chain([0]).chain(bytes) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

fn main() {
    let build = ["build.rs", "Cargo.toml", "../Cargo.lock"];
    let lowering = fingerprint(&[&["src/source.rs", "src/parse.rs", "src/lower", "src/model"][..], &build].concat());
    println!("cargo:rustc-env=IDPC_LOWERING_FINGERPRINT={lowering}");
    let rendering = fingerprint(&[&["src", "../stdlib"][..], &build].concat());
    println!("cargo:rustc-env=IDPC_RENDERING_FINGERPRINT={rendering}");
}
