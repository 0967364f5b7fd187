//! The cache of lowered files: a warm compile gives exactly the cold result, an edit re-lowers
//! only the edited file, spans read back point into the right file whatever its position in
//! the new compilation, and corrupt entries are ignored.

use std::collections::BTreeMap;
use std::sync::Mutex;

use idpc::cache::{self, MemoryStore, Store};
use idpc::source::RawFile;
use idpc::{Compilation, Hooks, compile_with};
use idpc_tests::{TODAY, compile_files, load, locations, options, render_diagnostics, repo_root};

/// A store that counts reads that hit.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    hits: Mutex<usize>,
    writes: Mutex<usize>,
    keys: Mutex<Vec<String>>,
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
        self.keys.lock().unwrap().push(key.to_owned());
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
    let keys: Vec<String> = sources.iter().map(cache::key).collect();
    let damages: [&dyn Fn(usize, Vec<u8>) -> Vec<u8>; 6] = [
        &|_, mut e| {
            let last = e.len() - 2;
            e[last] ^= 1;
            e
        },
        &|_, e| e[..e.len() / 2].to_vec(),
        &|_, _| Vec::new(),
        &|_, e| [b"idpc-cache/0".as_slice(), &e[12..]].concat(),
        &|index, _| {
            // A valid checksum over a payload that is not a lowered file.
            let payload = b"{\"tenants\": 7}";
            cache::seal(cache::FORMAT, &keys[index], payload)
        },
        // One file's entry, whole and well-formed, under every key.
        &|_, _| store.get(&keys[0]).expect("cached"),
    ];
    for (number, damage) in damages.iter().enumerate() {
        let damaged = MemoryStore::default();
        for (index, key) in keys.iter().enumerate() {
            damaged.put(key, damage(index, store.get(key).expect("cached")));
        }
        assert_eq!(outputs(&compile_cached(&files, &damaged)), cold, "damage {number}");
    }
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

/// A compile that takes rendered API stages and dashboards from (and keeps them in) `store`.
fn compile_rendered(files: &[RawFile], store: &dyn Store) -> Compilation {
    compile_with(files, &options(TODAY), Hooks { renders: Some(store), ..Hooks::default() })
}

/// Whether an output file stands for a render unit: an API stage (its OpenAPI document) or a
/// dashboard.
fn is_render_unit(path: &str) -> bool {
    path.ends_with("/openapi.json") || path.ends_with("/openapi.template.json") || path.ends_with("/dashboard.json")
}

/// The number of render units of an output.
fn render_units(outputs: &BTreeMap<String, Vec<u8>>) -> usize {
    outputs.keys().filter(|p| is_render_unit(p)).count()
}

#[test]
fn a_warm_render_is_the_cold_one_and_an_edit_renders_what_it_touches_again() {
    for example in ["reference", "bank-platform"] {
        let files = load(&repo_root().join("examples").join(example));
        let plain = outputs(&compile_files(&files, TODAY));
        let units = render_units(&plain);
        assert!(units >= 4, "{example}: {units} units");
        let store = Counting::default();
        assert_eq!(outputs(&compile_rendered(&files, &store)), plain, "{example}: filling run");
        assert_eq!((*store.hits.lock().unwrap(), *store.writes.lock().unwrap()), (0, units));
        assert_eq!(outputs(&compile_rendered(&files, &store)), plain, "{example}: warm run");
        assert_eq!((*store.hits.lock().unwrap(), *store.writes.lock().unwrap()), (units, units));

        // A comment at the end of an API file moves nothing: every unit is still found.
        let mut appended = files.clone();
        let api = appended.iter().position(|f| f.path.starts_with("apis/")).unwrap();
        appended[api].bytes.extend_from_slice(b"\n// appended\n");
        assert_eq!(outputs(&compile_rendered(&appended, &store)), plain, "{example}: comment appended");
        assert_eq!((*store.hits.lock().unwrap(), *store.writes.lock().unwrap()), (2 * units, units));

        // A changed API renders its stages and its dashboard again, nothing else.
        let mut edited = files.clone();
        let text = String::from_utf8(edited[api].bytes.clone()).unwrap();
        let (name, rest) = text.split_once("api \"").unwrap().1.split_once('"').unwrap();
        assert!(rest.starts_with(" version=\""), "{example}: {rest}");
        edited[api].bytes = text.replacen(" version=\"", " version=\"9", 1).into_bytes();
        let expected = outputs(&compile_files(&edited, TODAY));
        assert_ne!(expected, plain);
        let touched = expected.keys().filter(|p| p.starts_with(&format!("apis/{name}/")) && is_render_unit(p)).count();
        assert!(touched >= 2, "{example}: {name} has {touched} units");
        assert_eq!(outputs(&compile_rendered(&edited, &store)), expected, "{example}: API edited");
        assert_eq!(*store.writes.lock().unwrap(), units + touched, "{example}: only {name}'s units rendered again");
        assert_eq!(*store.hits.lock().unwrap(), 3 * units - touched);

        // The platform is read by every unit.
        let mut platform = files.clone();
        let at = platform.iter().position(|f| f.path == "platform.kdl").unwrap();
        platform[at].bytes.splice(0..0, b"// moved down a line\n".iter().copied());
        assert_eq!(outputs(&compile_rendered(&platform, &store)), plain, "{example}: platform moved");
        assert_eq!(*store.writes.lock().unwrap(), 2 * units + touched, "{example}: everything rendered again");
    }
}

#[test]
fn corrupt_render_entries_are_ignored_and_replaced() {
    let files = load(&repo_root().join("examples/reference"));
    let plain = outputs(&compile_files(&files, TODAY));
    let store = MemoryStore::default();
    compile_rendered(&files, &store);
    let keys: Vec<String> = {
        let recorder = Counting::default();
        compile_rendered(&files, &recorder);
        recorder.keys.into_inner().unwrap()
    };
    assert_eq!(keys.len(), render_units(&plain));
    let damages: [&dyn Fn(Vec<u8>) -> Vec<u8>; 5] = [
        &|mut e| {
            let last = e.len() - 2;
            e[last] ^= 1;
            e
        },
        &|e| e[..e.len() / 2].to_vec(),
        &|_| Vec::new(),
        &|e| [b"idpc-render/0".as_slice(), &e[13..]].concat(),
        // One unit's entry, whole and well-formed, under every key.
        &|e| e,
    ];
    for (number, damage) in damages.iter().enumerate() {
        let damaged = Counting::default();
        for key in &keys {
            let source = if number == 4 { &keys[0] } else { key };
            damaged.inner.put(key, damage(store.get(source).expect("kept")));
        }
        assert_eq!(outputs(&compile_rendered(&files, &damaged)), plain, "damage {number}");
        assert_eq!(*damaged.hits.lock().unwrap(), keys.len(), "damage {number}: entries were read");
        // Under the last damage, the first key holds its own entry, which is sound.
        let rendered = if number == 4 { keys.len() - 1 } else { keys.len() };
        assert_eq!(*damaged.writes.lock().unwrap(), rendered, "damage {number}: and rendered again");
        assert_eq!(outputs(&compile_rendered(&files, &damaged.inner)), plain, "damage {number}: replaced");
    }
}

#[test]
fn a_disk_entry_larger_than_any_idpc_writes_is_not_read() {
    let folder = tempfile::tempdir().unwrap();
    let store = cache::DiskStore::new(folder.path().join("cache"));
    let files = load(&repo_root().join("examples/reference"));
    let plain = outputs(&compile_files(&files, TODAY));
    let both = |store: &dyn Store| {
        compile_with(&files, &options(TODAY), Hooks { cache: Some(store), renders: Some(store), ..Hooks::default() })
    };
    assert_eq!(outputs(&both(&store)), plain);
    let entry = |name: &str| folder.path().join("cache").join(&name[..2]).join(name);
    let keys: Vec<String> = {
        let recorder = Counting::default();
        both(&recorder);
        recorder.keys.into_inner().unwrap()
    };
    // Every entry turned into a sparse file one byte over the limit: all misses, all replaced.
    for key in &keys {
        let file = std::fs::File::options().write(true).open(entry(key)).unwrap();
        file.set_len(cache::DiskStore::MAX_ENTRY_BYTES + 1).unwrap();
    }
    assert!(keys.iter().all(|key| store.get(key).is_none()));
    assert_eq!(outputs(&both(&store)), plain);
    for key in &keys {
        let size = std::fs::metadata(entry(key)).unwrap().len();
        assert!(size < cache::DiskStore::MAX_ENTRY_BYTES, "{key}: {size} bytes");
        assert!(store.get(key).is_some());
    }
}
