//! Walks `tests/cases/{ok,err}/<case>/` and makes each case its own test.
//!
//! An ok case must compile without errors; its diagnostics (warnings), manifest and every
//! artifact are snapshotted. An err case is named `<code>` or `<code>--<variant>`: it must
//! produce that code and no output; `case.kdl` lists `expect "<code>" at="<file>:<line>:<col>"`
//! for the primary location of each expected diagnostic, asserted as data, and may pin
//! `today "YYYY-MM-DD"`. Snapshots go to `snapshots/cases/<case>/`.
//!
//! Every case is also compiled twice through a cache of rendered artifacts (filling it, then
//! reading it): both must give exactly the plain compile's diagnostics and files.

use std::path::{Path, PathBuf};

use idpc::cache::MemoryStore;
use idpc::diagnostics::Code;
use idpc::source::RawFile;
use idpc::{Compilation, Hooks, compile_with};
use idpc_tests::{TODAY, compile_files, load, locations, options, render_diagnostics, repo_root};
use libtest_mimic::{Arguments, Failed, Trial};

struct Settings {
    today: String,
    expect: Vec<(String, String)>,
    /// `generate apis=N tenants=T`: the case's estate is a generated one (`idpc_tests::estate`)
    /// plus its own files, for sizes no hand-written estate has.
    generate: Option<(usize, Option<usize>)>,
}

fn settings(dir: &Path) -> Settings {
    let mut settings = Settings { today: TODAY.to_owned(), expect: Vec::new(), generate: None };
    let Ok(text) = std::fs::read_to_string(dir.join("case.kdl")) else {
        return settings;
    };
    let doc: kdl::KdlDocument = text.parse().unwrap_or_else(|e| panic!("{}: bad case.kdl: {e:?}", dir.display()));
    for node in doc.nodes() {
        let arg = node.entries().iter().find(|e| e.name().is_none()).and_then(|e| e.value().as_string());
        match (node.name().value(), arg) {
            ("today", Some(date)) => settings.today = date.to_owned(),
            ("expect", Some(code)) => {
                let at = node
                    .get("at")
                    .and_then(|v| v.as_string())
                    .unwrap_or_else(|| panic!("expect without at= in {}", dir.display()));
                settings.expect.push((code.to_owned(), at.to_owned()));
            }
            ("generate", None) => {
                let number = |key: &str| {
                    node.get(key).map(|v| {
                        let n =
                            v.as_integer().unwrap_or_else(|| panic!("{}: generate {key}= is a number", dir.display()));
                        usize::try_from(n).expect("a positive count")
                    })
                };
                let apis = number("apis").unwrap_or_else(|| panic!("{}: generate needs apis=", dir.display()));
                settings.generate = Some((apis, number("tenants")));
            }
            (other, _) => panic!("{}: unknown case setting `{other}`", dir.display()),
        }
    }
    settings
}

fn snapshot(case: &str, name: &str, contents: &str) {
    let mut insta = insta::Settings::clone_current();
    insta.set_snapshot_path(repo_root().join("snapshots/cases").join(case));
    insta.set_prepend_module_to_snapshot(false);
    insta.set_omit_expression(true);
    insta.bind(|| insta::assert_snapshot!(name.to_owned(), contents));
}

/// Compiles `files` through a render cache, empty then filled, and compares both with `plain`.
fn same_through_render_cache(files: &[RawFile], today: &str, plain: &Compilation) -> Result<(), Failed> {
    let files_of = |c: &Compilation| {
        c.output.as_ref().map(|o| o.files().map(|(p, b)| (p.to_owned(), b.to_vec())).collect::<Vec<_>>())
    };
    let store = MemoryStore::default();
    for run in ["filling", "warm"] {
        let cached = compile_with(files, &options(today), Hooks { renders: Some(&store), ..Hooks::default() });
        if render_diagnostics(&cached) != render_diagnostics(plain) {
            return Err(format!("{run} render cache: other diagnostics:\n{}", render_diagnostics(&cached)).into());
        }
        if files_of(&cached) != files_of(plain) {
            return Err(format!("{run} render cache: other output").into());
        }
    }
    Ok(())
}

fn run_ok(name: &str, dir: &Path) -> Result<(), Failed> {
    let settings = settings(dir);
    let files = files(dir, &settings);
    let compilation = compile_files(&files, &settings.today);
    same_through_render_cache(&files, &settings.today, &compilation)?;
    let rendered = render_diagnostics(&compilation);
    if compilation.has_errors() {
        return Err(format!("ok case has errors:\n{rendered}").into());
    }
    if let Some(bad) = idpc_tests::bad_label(&compilation) {
        return Err(bad.into());
    }
    let output = compilation.output.as_ref().ok_or("no output")?;
    snapshot(name, "diagnostics", &rendered);
    snapshot(name, "manifest.json", &String::from_utf8_lossy(&output.manifest));
    for artifact in &output.artifacts {
        snapshot(name, &artifact.path.replace('/', "__"), &String::from_utf8_lossy(&artifact.bytes));
    }
    Ok(())
}

/// The case's files, with the generated estate its settings ask for.
fn files(dir: &Path, settings: &Settings) -> Vec<RawFile> {
    let mut files = load(dir);
    if let Some((apis, tenants)) = settings.generate {
        let generated = idpc_tests::estate::generate(apis, tenants);
        files.extend(generated.into_iter().map(|(path, text)| RawFile { path, bytes: text.into_bytes() }));
        files.sort_by(|a, b| a.path.cmp(&b.path));
    }
    files
}

fn run_err(name: &str, dir: &Path) -> Result<(), Failed> {
    let code_name = name.split("--").next().unwrap_or(name);
    Code::from_name(code_name).ok_or_else(|| format!("err case `{name}` names no code"))?;
    let settings = settings(dir);
    let files = files(dir, &settings);
    let compilation = compile_files(&files, &settings.today);
    same_through_render_cache(&files, &settings.today, &compilation)?;
    let found = locations(&compilation);
    let rendered = render_diagnostics(&compilation);
    if !found.iter().any(|(c, _)| c == code_name) {
        return Err(format!("expected `{code_name}`, got:\n{rendered}").into());
    }
    if settings.expect.is_empty() {
        return Err(format!("err case `{name}` has no `expect ... at=` in case.kdl").into());
    }
    for (expected_code, at) in &settings.expect {
        if !found.iter().any(|(c, l)| c == expected_code && l == at) {
            return Err(format!("expected `{expected_code}` at {at}, got {found:?}:\n{rendered}").into());
        }
    }
    // A policy code is a warning for tenants whose profile does not hold it: the case's own
    // diagnostics say whether it has an error.
    if compilation.has_errors() && compilation.output.is_some() {
        return Err("an estate with errors produced output".into());
    }
    if let Some(bad) = idpc_tests::bad_label(&compilation) {
        return Err(bad.into());
    }
    snapshot(name, "diagnostics", &rendered);
    Ok(())
}

fn cases(kind: &str) -> Vec<(String, PathBuf)> {
    let root = repo_root().join("tests/cases").join(kind);
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    cases.sort();
    cases
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for (name, dir) in cases("ok") {
        let test = name.clone();
        trials.push(Trial::test(format!("ok::{name}"), move || run_ok(&test, &dir)));
    }
    for (name, dir) in cases("err") {
        let test = name.clone();
        trials.push(Trial::test(format!("err::{name}"), move || run_err(&test, &dir)));
    }
    libtest_mimic::run(&args, trials).exit();
}
