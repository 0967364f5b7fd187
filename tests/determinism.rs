//! Byte-identical output: across 100 random splits of each example into files (random names,
//! random folders, random order of files, of top-level nodes and of children), and across the
//! `TZ` and `LC_ALL` the binary runs under.

use std::collections::BTreeMap;
use std::path::PathBuf;

use idpc::source::RawFile;
use idpc_tests::{TODAY, compile_files, load, render_diagnostics, repo_root};

/// A small deterministic generator (xorshift64*), so a failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// A node's text with its children (and theirs) in random order.
fn shuffle_node(text: &str, rng: &mut Rng) -> String {
    let doc: kdl::KdlDocument = text.parse().expect("node parses");
    let Some(node) = doc.nodes().first() else { return text.to_owned() };
    let Some(children) = node.children() else { return text.to_owned() };
    let span = children.span();
    let (start, end) = (span.offset(), span.offset() + span.len());
    let mut parts: Vec<String> = children
        .nodes()
        .iter()
        .map(|c| shuffle_node(&text[c.span().offset()..c.span().offset() + c.span().len()], rng))
        .collect();
    rng.shuffle(&mut parts);
    format!("{}{}{}", &text[..start], parts.join("\n"), &text[end..])
}

fn nodes(files: &[RawFile]) -> Vec<String> {
    let mut nodes = Vec::new();
    for file in files.iter().filter(|f| !f.path.starts_with("baselines/")) {
        let text = String::from_utf8(file.bytes.clone()).expect("utf-8");
        let doc: kdl::KdlDocument = text.parse().expect("parses");
        for node in doc.nodes() {
            nodes.push(text[node.span().offset()..node.span().offset() + node.span().len()].to_owned());
        }
    }
    nodes
}

fn outputs(files: &[RawFile]) -> BTreeMap<String, Vec<u8>> {
    let compilation = compile_files(files, TODAY);
    let output = compilation.output.as_ref().unwrap_or_else(|| panic!("{}", render_diagnostics(&compilation)));
    output.files().map(|(p, b)| (p.to_owned(), b.to_vec())).collect()
}

fn examples() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo_root().join("examples"))
        .expect("examples")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn one_hundred_random_splits_and_orders_build_the_same_bytes() {
    for dir in examples() {
        let files = load(&dir);
        let expected = outputs(&files);
        let nodes = nodes(&files);
        for seed in 1..=100u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let mut shuffled: Vec<String> = nodes.iter().map(|n| shuffle_node(n, &mut rng)).collect();
            rng.shuffle(&mut shuffled);
            let parts = 1 + rng.below(6);
            let mut texts = vec![String::new(); parts];
            for node in shuffled {
                let i = rng.below(parts);
                texts[i].push_str(&node);
                texts[i].push_str("\n\n");
            }
            let mut random: Vec<RawFile> = texts
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    let folder = if rng.below(2) == 0 { String::new() } else { format!("d{}/", rng.below(3)) };
                    RawFile { path: format!("{folder}{:x}-{i}.kdl", rng.next() % 4096), bytes: t.into_bytes() }
                })
                .collect();
            random.extend(files.iter().filter(|f| f.path.starts_with("baselines/")).cloned());
            random.sort_by(|a, b| a.path.cmp(&b.path));
            let actual = outputs(&random);
            assert!(actual == expected, "{}: seed {seed} builds different bytes", dir.display());
        }
    }
}
