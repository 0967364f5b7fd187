//! Writes a generated estate of the real shape for benchmarks (`idpc_tests::estate`):
//! `gen-estate --apis N [--tenants T] --out DIR`.
#![allow(clippy::print_stderr)]

use std::path::PathBuf;

fn main() {
    let mut apis = 250usize;
    let mut tenants = None;
    let mut out = PathBuf::from("estate");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--apis", Some(n)) => apis = n.parse().unwrap_or_else(|_| usage()),
            ("--tenants", Some(n)) => tenants = Some(n.parse().unwrap_or_else(|_| usage())),
            ("--out", Some(dir)) => out = PathBuf::from(dir),
            _ => usage(),
        }
    }
    for (path, text) in idpc_tests::estate::generate(apis, tenants) {
        let path = out.join(path);
        let written = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(&path, text));
        if let Err(error) = written {
            eprintln!("gen-estate: {}: {error}", path.display());
            std::process::exit(2);
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: gen-estate --apis N [--tenants T] --out DIR");
    std::process::exit(2);
}
