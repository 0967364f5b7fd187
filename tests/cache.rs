//! The cache of lowered files: a warm compile gives exactly the cold result, an edit re-lowers
//! only the edited file, spans read back point into the right file whatever its position in
//! the new compilation, and corrupt entries are ignored.

use std::collections::BTreeMap;
use std::sync::Mutex;

use idpc::cache::{self, MemoryStore, Store};
use idpc::source::RawFile;
use idpc::{Compilation, Hooks, compile_with};
use idpc_tests::{TODAY, load, locations, options, render_diagnostics, repo_root};

/// A store that counts reads that hit.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    hits: Mutex<usize>,
    writes: Mutex<usize>,
}

impl Store for Counting {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        let entry = self.inner.get(key);
        if entry.is_some() {
            *self.hits.lock().unwrap() += 1;
        }
        entry
    }

    fn put(&self, key: &str, entry: Vec<u8>) {
        *self.writes.lock().unwrap() += 1;
        self.inner.put(key, entry);
    }
}

fn compile_cached(files: &[RawFile], store: &dyn Store) -> Compilation {
    compile_with(files, &options(TODAY), Hooks { cache: Some(store), ..Hooks::default() })
}

fn outputs(compilation: &Compilation) -> BTreeMap<String, Vec<u8>> {
    let output = compilation.output.as_ref().unwrap_or_else(|| panic!("{}", render_diagnostics(compilation)));
    output.files().map(|(p, b)| (p.to_owned(), b.to_vec())).collect()
}

fn spec_and_stdlib_files(files: &[RawFile]) -> usize {
    let stdlib = idpc::stdlib::FILES.iter().filter(|(_, kind, _)| *kind != idpc::source::FileKind::BaselineTemplate);
    files.iter().filter(|f| f.path.ends_with(".kdl")).count() + stdlib.count()
}

#[test]
fn a_warm_compile_is_the_cold_one_and_an_edit_relowers_one_file() {
    for example in ["reference", "bank-platform"] {
        let files = load(&repo_root().join("examples").join(example));
        let cold = outputs(&compile_cached(&files, &MemoryStore::default()));
        let store = Counting::default();
        assert_eq!(outputs(&compile_cached(&files, &store)), cold, "{example}: first (filling) run");
        let lowered = spec_and_stdlib_files(&files);
        assert_eq!(*store.writes.lock().unwrap(), lowered);
        assert_eq!(*store.hits.lock().unwrap(), 0);
        assert_eq!(outputs(&compile_cached(&files, &store)), cold, "{example}: warm run");
        assert_eq!(*store.hits.lock().unwrap(), lowered, "every file came from the cache");
        assert_eq!(*store.writes.lock().unwrap(), lowered, "nothing was lowered again");

        // One file edited: only it is lowered again, and the result is the cold one.
        let mut edited = files.clone();
        let file = edited.iter_mut().find(|f| f.path.ends_with(".kdl") && f.path.starts_with("apis/")).unwrap();
        file.bytes.extend_from_slice(b"\n// edited\n");
        let cold_edited = outputs(&compile_cached(&edited, &MemoryStore::default()));
        assert_eq!(outputs(&compile_cached(&edited, &store)), cold_edited, "{example}: after an edit");
        assert_eq!(*store.writes.lock().unwrap(), lowered + 1);
        assert_eq!(*store.hits.lock().unwrap(), 2 * lowered - 1);
    }
}

#[test]
fn spans_read_back_point_into_the_file_at_its_new_position() {
    // The reference to the unknown environment lies in a file that lowers cleanly (the
    // problem is found by `resolve`), so it is cached.
    let files = load(&repo_root().join("tests/cases/err/unknown-environment"));
    let store = MemoryStore::default();
    let cold = compile_cached(&files, &store);
    assert_eq!(locations(&cold), [("unknown-environment".to_owned(), "main.kdl:23:12".to_owned())]);
    // A file sorted before it moves every file id by one.
    let mut shifted = vec![RawFile { path: "aaa.kdl".into(), bytes: b"// first\n".to_vec() }];
    shifted.extend(files);
    let store_len = store.len();
    let warm = compile_cached(&shifted, &store);
    assert_eq!(store.len(), store_len + 1, "only the new file was lowered");
    assert_eq!(locations(&warm), locations(&cold));
    assert_eq!(render_diagnostics(&warm), render_diagnostics(&cold));
}

#[test]
fn corrupt_entries_are_ignored() {
    let files = load(&repo_root().join("examples/reference"));
    let cold = outputs(&compile_cached(&files, &MemoryStore::default()));
    let store = MemoryStore::default();
    compile_cached(&files, &store);
    // Every kind of damage, to a copy of every entry.
    let sources: Vec<idpc::source::SourceFile> = files
        .iter()
        .filter(|f| f.path.ends_with(".kdl"))
        .map(|f| idpc::source::SourceFile {
            path: f.path.clone(),
            text: String::from_utf8(f.bytes.clone()).unwrap(),
            kind: idpc::source::classify(&f.path).unwrap(),
        })
        .collect();
    let damages: [&dyn Fn(Vec<u8>) -> Vec<u8>; 5] = [
        &|mut e| {
            let last = e.len() - 2;
            e[last] ^= 1;
            e
        },
        &|e| e[..e.len() / 2].to_vec(),
        &|_| Vec::new(),
        &|e| [b"idpc-cache/0".as_slice(), &e[12..]].concat(),
        &|e| {
            // A valid checksum over a payload that is not a lowered file.
            let payload = b"{\"tenants\": 7}";
            let checksum: String = sha_hex(payload);
            let _ = e;
            [format!("idpc-cache/1\n{checksum}\n").as_bytes(), payload].concat()
        },
    ];
    for damage in damages {
        let damaged = MemoryStore::default();
        for source in &sources {
            let key = cache::key(source);
            damaged.put(&key, damage(store.get(&key).expect("cached")));
        }
        assert_eq!(outputs(&compile_cached(&files, &damaged)), cold);
    }
}

fn sha_hex(bytes: &[u8]) -> String {
    idpc::emit::manifest::sha256(bytes)
}

#[test]
fn keys_change_with_path_kind_and_text() {
    let file = |path: &str, text: &str| idpc::source::SourceFile {
        path: path.into(),
        text: text.into(),
        kind: idpc::source::classify(path).unwrap(),
    };
    let base = cache::key(&file("a.kdl", "x"));
    assert_eq!(base, cache::key(&file("a.kdl", "x")));
    assert_ne!(base, cache::key(&file("b.kdl", "x")));
    assert_ne!(base, cache::key(&file("a.kdl", "y")));
    assert_ne!(cache::key(&file("baselines/a/baseline.kdl", "x")), cache::key(&file("a.kdl", "x")));
}

#[test]
fn a_disk_cache_forgets_what_no_build_used_for_a_month_and_nothing_else() {
    use std::time::{Duration, SystemTime};
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("cache");
    let store = cache::DiskStore::new(dir.clone());
    let files = load(&repo_root().join("examples/reference"));
    let cold = outputs(&compile_cached(&files, &store));
    let set_age = |path: &std::path::Path, days: u64| {
        let file = std::fs::File::options().append(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(days * 86_400)).unwrap();
    };
    let mut entries: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|f| f.path().is_dir())
        .flat_map(|f| std::fs::read_dir(f.path()).unwrap().filter_map(Result::ok).map(|e| e.path()))
        .collect();
    entries.sort();
    assert!(entries.len() >= 3);
    let (unused, used, kept) = (&entries[0], &entries[1], &entries[2]);
    // Two entries untouched for 40 days; a build then reads one of them, which marks it used.
    set_age(unused, 40);
    set_age(used, 40);
    let used_key = used.file_name().unwrap().to_str().unwrap();
    assert!(store.get(used_key).is_some());
    // Old files the store did not write, in and beside its folders, are not its to remove.
    let prefix = unused.parent().unwrap();
    let foreign = [prefix.join("notes.txt"), dir.join("zz").join("a".repeat(64)), dir.join("old.log")];
    for path in &foreign {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "not idpc's").unwrap();
        set_age(path, 400);
    }
    store.sweep();
    assert!(!unused.exists(), "an entry unused for 40 days is removed");
    assert!(used.exists() && kept.exists());
    for path in &foreign {
        assert!(path.exists(), "{} was removed", path.display());
    }
    // At most one sweep a day: an entry that turns old now stays until tomorrow's.
    set_age(kept, 40);
    store.sweep();
    assert!(kept.exists());
    // What was swept is only a miss: the next build lowers that file again, same output.
    assert_eq!(outputs(&compile_cached(&files, &store)), cold);
    assert!(unused.exists(), "the missing entry is written again");
}
