//! The mutation battery: a deterministic mutator over both examples and every test case
//! (line deletion, duplication and swap, byte flips, truncation, every KDL newline, every
//! string and comment form, deep nesting, huge numbers, hostile Unicode), a few thousand
//! estates compiled in this process with a fixed seed. Each must come back as diagnostics
//! (the CLI's exit 1) or a build (exit 0): no panic, no abort (an abort ends this process and
//! fails the test), every label a range of its file, and a build's every artifact valid JSON.
//!
//! Beside it, the scanner's exactness on every mutated text kdl can safely be run on: what kdl
//! accepts the scanner calls clean, and kdl reads the text with comments blanked as the same
//! document. Longer runs belong to the cargo-fuzz targets (tests/fuzz), whose corpus holds the
//! inputs that once aborted idpc.

use std::collections::BTreeMap;
use std::path::PathBuf;

use idpc::source::RawFile;
use idpc_tests::{TODAY, bad_label, compile_files, load, repo_root};

/// Estates mutated per run, and the seed: fixed, so that a failure names its input.
const INPUTS: usize = 3_000;
const SEED: u64 = 0x1dbc_2026_1202;

/// splitmix64: small, deterministic on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Every estate the battery starts from: both examples and each case folder.
fn estates() -> Vec<(String, Vec<RawFile>)> {
    let root = repo_root();
    let mut dirs: Vec<PathBuf> = vec![root.join("examples/reference"), root.join("examples/bank-platform")];
    for kind in ["ok", "err"] {
        let mut cases: Vec<PathBuf> = std::fs::read_dir(root.join("tests/cases").join(kind))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        cases.sort();
        dirs.extend(cases);
    }
    dirs.into_iter()
        .map(|dir| (dir.strip_prefix(&root).unwrap().display().to_string(), load(&dir)))
        // A case whose estate is generated has no files of its own worth mutating.
        .filter(|(_, files)| files.iter().any(|f| f.path.ends_with(".kdl")))
        .collect()
}

/// Text inserted by the mutations that write KDL's own forms.
const NEWLINES: &[&str] = &["\n", "\r\n", "\r", "\u{85}", "\u{b}", "\u{c}", "\u{2028}", "\u{2029}"];
const FORMS: &[&str] = &[
    "\"",
    "\"\"\"",
    "\"\"\"\n",
    "#\"",
    "\"#",
    "##\"",
    "#\"\"\"",
    "\"\"\"#",
    "\\",
    "\\\n",
    "/*",
    "*/",
    "//",
    "/-",
    "{",
    "}",
    ";",
    "=",
    "(",
    ")",
    "#true",
    "#null",
    "#inf",
    "\\u{",
    "\\u{110000}",
    "\\q",
    "\"a\"\"b\"",
    "a\"{\"",
];
const NUMBERS: &[&str] = &[
    "99999999999999999999999999999999",
    "-99999999999999999999999999999999",
    "1e309",
    "-1e-400",
    "0x7fffffffffffffffffff",
    "0b1111111111111111111111111111111111111111111111111111111111111111111",
    "1.7976931348623157e308",
    "#nan",
    "#-inf",
    "4294967296",
    "-0",
];
const HOSTILE: &[&str] = &[
    "\u{202e}",
    "\u{200b}",
    "\u{feff}",
    "\u{2066}",
    "\u{7f}",
    "\u{0}",
    "\u{1b}[31m",
    "e\u{301}",
    "🏦",
    "\u{10ffff}",
    "\\u{202e}",
    "\\u{0}",
    "\\u{1b}",
    "\\u{d800}",
    "é",
    "\u{fffd}",
    "\u{2028}",
];

/// Applies one mutation to `text`'s bytes.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) -> &'static str {
    let at = |rng: &mut Rng, bytes: &Vec<u8>| rng.below(bytes.len() + 1);
    let insert = |bytes: &mut Vec<u8>, at: usize, what: &[u8]| {
        bytes.splice(at..at, what.iter().copied());
    };
    let lines = |bytes: &Vec<u8>| -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'\n' {
                out.push((start, i + 1));
                start = i + 1;
            }
        }
        if start < bytes.len() {
            out.push((start, bytes.len()));
        }
        out
    };
    match rng.below(11) {
        0 => {
            let ls = lines(bytes);
            if let Some(&(s, e)) = ls.get(rng.below(ls.len())) {
                bytes.drain(s..e);
            }
            "delete a line"
        }
        1 => {
            let ls = lines(bytes);
            if let Some(&(s, e)) = ls.get(rng.below(ls.len())) {
                let line = bytes[s..e].to_vec();
                insert(bytes, s, &line);
            }
            "duplicate a line"
        }
        2 => {
            let ls = lines(bytes);
            if ls.len() >= 2 {
                let (a, b) = (rng.below(ls.len()), rng.below(ls.len()));
                let (a, b) = (ls[a.min(b)], ls[a.max(b)]);
                if a != b {
                    let (first, second) = (bytes[a.0..a.1].to_vec(), bytes[b.0..b.1].to_vec());
                    bytes.splice(b.0..b.1, first);
                    bytes.splice(a.0..a.1, second);
                }
            }
            "swap two lines"
        }
        3 => {
            if !bytes.is_empty() {
                let i = rng.below(bytes.len());
                bytes[i] = rng.next() as u8;
            }
            "flip a byte"
        }
        4 => {
            let cut = at(rng, bytes);
            bytes.truncate(cut);
            "truncate"
        }
        5 => {
            let i = at(rng, bytes);
            insert(bytes, i, rng.pick(NEWLINES).as_bytes());
            "insert a newline form"
        }
        6 => {
            let i = at(rng, bytes);
            insert(bytes, i, rng.pick(FORMS).as_bytes());
            "insert a string or comment form"
        }
        7 => {
            let depth = [40, 63, 64, 65, 66, 300, 1_500, 20_000][rng.below(8)];
            let closed = rng.below(2) == 0;
            let open = ["x {\n", "x{", "/- x {", "(t)x {"][rng.below(4)];
            // Half the time after text a pre-scan may read differently from kdl: a string or
            // comment form, or a comment ended by another newline than LF.
            let lead = match rng.below(4) {
                0 => rng.pick(FORMS).to_string(),
                1 => format!("// c{}", rng.pick(NEWLINES)),
                _ => String::new(),
            };
            let mut nest = lead + &open.repeat(depth);
            if closed {
                nest.push_str(&"}\n".repeat(depth));
            }
            let i = lines(bytes).get(rng.below(lines(bytes).len())).map_or(0, |l| l.0);
            insert(bytes, i, nest.as_bytes());
            "nest deeply"
        }
        8 => {
            // Replace the first digit run after a random point with a huge or odd number.
            let from = at(rng, bytes);
            let number = rng.pick(NUMBERS).as_bytes();
            match bytes.iter().skip(from).position(u8::is_ascii_digit) {
                Some(p) => {
                    let s = from + p;
                    let e = s + bytes[s..].iter().take_while(|b| b.is_ascii_digit() || **b == b'.').count();
                    bytes.splice(s..e, number.iter().copied());
                }
                None => insert(bytes, from, number),
            }
            "huge number"
        }
        9 => {
            let i = at(rng, bytes);
            insert(bytes, i, rng.pick(HOSTILE).as_bytes());
            "hostile unicode"
        }
        _ => {
            // Inside a string: right after a quote, where most values are.
            let quotes: Vec<usize> =
                bytes.iter().enumerate().filter(|(_, b)| **b == b'"').map(|(i, _)| i + 1).collect();
            let i = quotes.get(rng.below(quotes.len())).copied().unwrap_or(0);
            let what = if rng.below(2) == 0 { rng.pick(HOSTILE) } else { rng.pick(FORMS) };
            insert(bytes, i, what.as_bytes());
            "insert into a string"
        }
    }
}

/// The scanner reads `text` as kdl does, where kdl can be run on it directly without risk
/// (few braces and comment tokens: its recursion stays far from the test thread's stack).
fn scanner_agrees(text: &str) -> Result<(), String> {
    if idpc::parse::first_disallowed(text).is_some() {
        return Ok(());
    }
    let risky = text.bytes().filter(|b| matches!(b, b'{' | b'*' | b'/')).count();
    if risky > 150 {
        return Ok(());
    }
    let Ok(expected) = kdl::KdlDocument::parse_v2(text) else { return Ok(()) };
    let scan = idpc::parse::scan::scan(text, idpc::parse::MAX_DEPTH);
    if let Some(error) = scan.error {
        // KDL v2 forbids a one-line `#"""..."""#`, which kdl 6.7.1 accepts.
        return if text.contains("#\"\"\"") {
            Ok(())
        } else {
            Err(format!("kdl accepts it, the scanner says {error:?}"))
        };
    }
    let content = |d: &kdl::KdlDocument| {
        let mut d = d.clone();
        d.clear_format_recursive();
        d.to_string()
    };
    match idpc::parse::parse_quiet(text) {
        Some(ours) if content(&ours) == content(&expected) => Ok(()),
        Some(_) => Err("the parse with comments blanked is another document".into()),
        None if scan.too_deep.is_some() => Ok(()),
        None => Err("kdl accepts it, idpc's parse refuses it".into()),
    }
}

#[test]
fn no_mutated_estate_crashes_idpc_and_every_answer_is_well_formed() {
    let estates = estates();
    assert!(estates.len() >= 200, "only {} estates", estates.len());
    let building: Vec<(String, Vec<RawFile>)> =
        estates.iter().filter(|(name, _)| !name.starts_with("tests/cases/err/")).cloned().collect();
    let mut rng = Rng(SEED);
    let mut exits: BTreeMap<&str, usize> = BTreeMap::new();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut panics = Vec::new();
    for input in 0..INPUTS {
        // Half the inputs start from an estate that builds, so that mutants reach the passes
        // after resolution (an err case's mutants mostly stop where the case does).
        let (name, files) = if rng.below(2) == 0 { rng.pick(&building) } else { rng.pick(&estates) };
        let mut files = files.clone();
        let kdl: Vec<usize> = (0..files.len()).filter(|&i| files[i].path.ends_with(".kdl")).collect();
        let target = *rng.pick(&kdl);
        let mut applied = Vec::new();
        for _ in 0..1 + rng.below(2) {
            applied.push(mutate(&mut rng, &mut files[target].bytes));
        }
        for kind in &applied {
            *kinds.entry(kind).or_default() += 1;
        }
        let what = format!("input {input}: {name}/{} after {applied:?}", files[target].path);
        if let Ok(text) = std::str::from_utf8(&files[target].bytes)
            && let Err(problem) = scanner_agrees(text)
        {
            panic!("{what}: {problem}\n{text:?}");
        }
        let compiled = std::panic::catch_unwind(|| compile_files(&files, TODAY));
        let Ok(compilation) = compiled else {
            panics.push(what);
            *exits.entry("70 (panic)").or_default() += 1;
            continue;
        };
        if let Some(bad) = bad_label(&compilation) {
            panic!("{what}: {bad}");
        }
        if compilation.has_errors() {
            assert!(compilation.output.is_none(), "{what}: output from an estate with errors");
            *exits.entry("1 (diagnostics)").or_default() += 1;
        } else {
            let output = compilation.output.as_ref().unwrap_or_else(|| panic!("{what}: no errors and no output"));
            for (path, bytes) in output.files() {
                if path.ends_with(".json") {
                    let parsed: Result<serde_json::Value, _> = serde_json::from_slice(bytes);
                    assert!(parsed.is_ok(), "{what}: {path} is not JSON");
                }
            }
            *exits.entry("0 (built)").or_default() += 1;
        }
    }
    println!("mutation battery: {INPUTS} inputs from {} estates, seed {SEED:#x}", estates.len());
    println!("  exits: {exits:?}");
    println!("  mutations: {kinds:?}");
    assert!(panics.is_empty(), "{} panics:\n{}", panics.len(), panics.join("\n"));
    assert_eq!(exits.values().sum::<usize>(), INPUTS);
    // The battery reaches both outcomes: a mutator that only ever broke files would not test
    // the passes after parsing.
    assert!(exits.get("0 (built)").copied().unwrap_or(0) >= INPUTS / 50, "{exits:?}");
}
