//! The `idpc` binary as a user runs it: exit codes, what it prints, and what it leaves in
//! the output folder (all or nothing, never a stale or half-written file).
//! Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TODAY: &str = "2026-11-28";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn idpc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_idpc"))
        .args(args)
        .env_remove("IDPC_TODAY")
        .env("NO_COLOR", "1")
        .output()
        .expect("idpc runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every file under `dir` with a digest of its bytes.
fn tree(dir: &Path) -> BTreeMap<String, u64> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                let mut hasher = std::hash::DefaultHasher::new();
                std::hash::Hash::hash(&std::fs::read(&path).unwrap(), &mut hasher);
                files.insert(rel, std::hash::Hasher::finish(&hasher));
            }
        }
    }
    files
}

fn reference() -> String {
    repo().join("examples/reference").display().to_string()
}

fn build(estate: &str, out: &Path) -> Output {
    idpc(&["build", estate, "-o", out.to_str().unwrap(), "--today", TODAY])
}

#[test]
fn builds_the_reference_estate() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let result = build(&reference(), &out);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert!(stderr(&result).contains("built 10 stacks and 35 artifacts"), "{}", stderr(&result));
    let files = tree(&out);
    assert_eq!(files.len(), 36, "{:?}", files.keys());
    assert!(files.contains_key("manifest.json"));
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1, "no temporary folder may remain");
}

#[test]
fn rebuild_removes_stale_files_and_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(build(&reference(), &out).status.code(), Some(0));
    let first = tree(&out);
    std::fs::write(out.join("stale.json"), b"{}").unwrap();
    std::fs::create_dir_all(out.join("apis/gone")).unwrap();
    assert_eq!(build(&reference(), &out).status.code(), Some(0));
    assert_eq!(tree(&out), first);
}

#[test]
fn every_err_case_leaves_out_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(build(&reference(), &out).status.code(), Some(0));
    let before = tree(&out);
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(repo().join("tests/cases/err")).unwrap().filter_map(Result::ok).map(|e| e.path()).collect();
    cases.sort();
    let mut checked = 0;
    for case in cases {
        if case.file_name().unwrap().to_string_lossy().starts_with("environment-expired") {
            continue; // a warning: that build succeeds
        }
        let estate = dir.path().join("estate");
        let _ = std::fs::remove_dir_all(&estate);
        copy_estate(&case, &estate);
        let result = build(estate.to_str().unwrap(), &out);
        let text = stderr(&result);
        assert_eq!(result.status.code(), Some(1), "{}: {text}", case.display());
        assert!(text.contains("nothing was written"), "{}: {text}", case.display());
        assert_eq!(tree(&out), before, "{} changed OUT", case.display());
        checked += 1;
    }
    assert!(checked >= 60, "only {checked} err cases");
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary folders left: {leftovers:?}");
}

fn copy_estate(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().filter_map(Result::ok) {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_estate(&path, &target);
        } else if entry.file_name() != "case.kdl" {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn refuses_to_replace_a_folder_that_is_not_an_idpc_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), b"keep me").unwrap();
    let result = build(&reference(), dir.path());
    assert_eq!(result.status.code(), Some(2), "{}", stderr(&result));
    assert!(stderr(&result).contains("refusing to replace"));
    assert_eq!(std::fs::read(dir.path().join("precious.txt")).unwrap(), b"keep me");
}

#[test]
fn usage_and_io_failures_exit_2() {
    assert_eq!(idpc(&["check", "/nonexistent/estate"]).status.code(), Some(2));
    assert_eq!(idpc(&["check", &reference(), "--today", "2026-13-01"]).status.code(), Some(2));
    assert_eq!(idpc(&["explain", "no-such-code"]).status.code(), Some(2));
    assert_eq!(idpc(&["frobnicate"]).status.code(), Some(2));
    let empty = tempfile::tempdir().unwrap();
    let result = idpc(&["check", empty.path().to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(2));
    assert!(stderr(&result).contains("holds no .kdl file"));
}

#[test]
fn explain_prints_the_page() {
    let result = idpc(&["explain", "cidr-host-bits"]);
    assert_eq!(result.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&result.stdout).starts_with("# cidr-host-bits"));
}

#[test]
fn today_comes_from_the_environment_and_expired_environments_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let result = Command::new(env!("CARGO_BIN_EXE_idpc"))
        .args(["build", &reference(), "-o", out.to_str().unwrap()])
        .env("IDPC_TODAY", "2028-01-01")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = stderr(&result);
    assert_eq!(result.status.code(), Some(0), "{text}");
    assert!(text.contains("environment `acme-pr-1234` expired on 2027-12-31"), "{text}");
    assert!(text.contains("1 warning"), "{text}");
    assert!(!out.join("apis/accounts/acme-pr-1234").exists());
    assert!(out.join("apis/accounts/acme-test/openapi.json").exists());
}

#[test]
fn piped_diagnostics_have_no_escape_codes_and_name_file_line_column() {
    let result = Command::new(env!("CARGO_BIN_EXE_idpc"))
        .args(["check", repo().join("tests/cases/err/unknown-account").to_str().unwrap(), "--today", TODAY])
        .output()
        .unwrap();
    let text = stderr(&result);
    assert_eq!(result.status.code(), Some(1));
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("unknown-account") && text.contains("main.kdl:18:25"), "{text}");
}

#[test]
fn size_and_depth_limits_are_diagnostics_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let estate = dir.path().join("estate");
    std::fs::create_dir_all(&estate).unwrap();
    let base = std::fs::read_to_string(repo().join("tests/cases/ok/minimal/main.kdl")).unwrap();
    std::fs::write(estate.join("main.kdl"), &base).unwrap();

    std::fs::write(estate.join("deep.kdl"), "a {".repeat(100_000)).unwrap();
    let result = idpc(&["check", estate.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(1), "{}", stderr(&result));
    assert!(stderr(&result).contains("nesting-too-deep"));
    std::fs::remove_file(estate.join("deep.kdl")).unwrap();

    let padding = format!("// {}\n", "x".repeat(1024 * 1024));
    std::fs::write(estate.join("big.kdl"), padding).unwrap();
    let result = idpc(&["check", estate.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("file-too-large"), "{}", stderr(&result));
    std::fs::remove_file(estate.join("big.kdl")).unwrap();

    std::fs::write(estate.join("nodes.kdl"), "a\n".repeat(1_000_000)).unwrap();
    let result = idpc(&["check", estate.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("file-too-large"), "{}", stderr(&result));
    std::fs::remove_file(estate.join("nodes.kdl")).unwrap();

    std::fs::write(estate.join("huge.kdl"), "a {\n".repeat(10 * 1024 * 1024 / 4)).unwrap();
    let result = idpc(&["check", estate.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("file-too-large"), "{}", stderr(&result));
    std::fs::remove_file(estate.join("huge.kdl")).unwrap();

    let chunk = format!("// {}\n", "x".repeat(1000 * 1024));
    for i in 0..66 {
        std::fs::write(estate.join(format!("pad{i}.kdl")), &chunk).unwrap();
    }
    let result = idpc(&["check", estate.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("estate-too-large"), "{}", stderr(&result));
}

#[test]
fn explain_baseline_prints_parameters() {
    for name in ["audit-trail", "config-compliance", "cost", "deployments", "jwt-authorizer"] {
        let result = idpc(&["explain", "baseline", name]);
        assert_eq!(result.status.code(), Some(0), "{name}");
        let page = String::from_utf8_lossy(&result.stdout).into_owned();
        assert!(page.starts_with(&format!("# baseline {name} (")), "{page}");
    }
    let cost = String::from_utf8_lossy(&idpc(&["explain", "baseline", "cost"]).stdout).into_owned();
    assert!(cost.contains("- `monthly-limit` (number; required; at least 1;"), "{cost}");
    assert!(cost.contains("- `currency` (string; default USD; one of USD, EUR, GBP)"), "{cost}");
    assert_eq!(idpc(&["explain", "baseline", "nope"]).status.code(), Some(2));
}

#[test]
fn output_does_not_depend_on_time_zone_or_locale() {
    let dir = tempfile::tempdir().unwrap();
    let mut trees = Vec::new();
    for (i, (tz, locale)) in [("UTC", "C"), ("Pacific/Kiritimati", "tr_TR.UTF-8"), ("America/St_Johns", "de_DE.UTF-8")]
        .into_iter()
        .enumerate()
    {
        let out = dir.path().join(format!("out{i}"));
        let result = Command::new(env!("CARGO_BIN_EXE_idpc"))
            .args(["build", &reference(), "-o", out.to_str().unwrap(), "--today", TODAY])
            .env("TZ", tz)
            .env("LC_ALL", locale)
            .env("LANG", locale)
            .output()
            .unwrap();
        assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
        trees.push(tree(&out));
    }
    assert_eq!(trees[0], trees[1]);
    assert_eq!(trees[0], trees[2]);
}

/// Two different outputs of the examples for races over one OUT: OUT holds the reference
/// estate's build; `duration` is how long that build took (in µs).
struct Races {
    dir: tempfile::TempDir,
    out: PathBuf,
    bank: String,
    bank_tree: BTreeMap<String, u64>,
    reference_tree: BTreeMap<String, u64>,
    duration: u64,
}

fn races() -> Races {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let bank = repo().join("examples/bank-platform").display().to_string();
    assert_eq!(build(&bank, &out).status.code(), Some(0));
    let bank_tree = tree(&out);
    let started = std::time::Instant::now();
    assert_eq!(build(&reference(), &out).status.code(), Some(0));
    let duration = started.elapsed().as_micros().max(1000) as u64;
    let reference_tree = tree(&out);
    assert_ne!(bank_tree, reference_tree);
    Races { dir, out, bank, bank_tree, reference_tree, duration }
}

/// A seed for [`next`] from the clock (printed by the tests that use it, to replay a failure).
fn first_seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
}

/// xorshift64: the next pseudo-random number.
fn next(mut seed: u64) -> u64 {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    seed
}

/// No staging folder or other file is left beside OUT.
fn assert_nothing_beside_out(dir: &Path) {
    let leftovers: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "out")
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[test]
fn killing_a_build_at_any_moment_leaves_the_old_or_the_new_tree() {
    let Races { dir, out, bank, bank_tree, reference_tree, duration } = races();
    let mut seed = first_seed();
    let (mut old, mut new) = (0, 0);
    for round in 0..50 {
        seed = next(seed);
        let estate = if round % 2 == 0 { &bank } else { &reference() };
        let mut child = Command::new(env!("CARGO_BIN_EXE_idpc"))
            .args(["build", estate, "-o", out.to_str().unwrap(), "--today", TODAY])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(seed % (duration + duration / 4)));
        let _ = child.kill();
        let _ = child.wait();
        let now = tree(&out);
        if now == bank_tree {
            if round % 2 == 0 { new += 1 } else { old += 1 }
        } else if now == reference_tree {
            if round % 2 == 0 { old += 1 } else { new += 1 }
        } else {
            panic!("round {round} (seed {seed}): OUT is neither the old nor the new tree");
        }
    }
    // Both outcomes should occur; at least the old tree always remains possible.
    assert_eq!(old + new, 50);
    eprintln!("kills: {old} left the old tree, {new} the new one");
    assert_eq!(build(&reference(), &out).status.code(), Some(0));
    assert_nothing_beside_out(dir.path());
}

#[test]
fn builds_into_one_folder_at_once_take_turns() {
    // A build must not remove the staging folder of another that is still writing (it used to,
    // as one a killed build left, and the other failed); each waits for the other instead.
    let Races { dir, out, bank, bank_tree, reference_tree, duration } = races();
    let mut seed = first_seed();
    let spawn = |estate: &str| {
        Command::new(env!("CARGO_BIN_EXE_idpc"))
            .args(["build", estate, "-o", out.to_str().unwrap(), "--today", TODAY])
            .env("NO_COLOR", "1")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut waited = 0;
    for round in 0..30 {
        seed = next(seed);
        let first = spawn(&bank);
        std::thread::sleep(std::time::Duration::from_micros(seed % duration));
        let second = spawn(&reference());
        for child in [first, second] {
            let output = child.wait_with_output().unwrap();
            let stderr = stderr(&output);
            assert_eq!(output.status.code(), Some(0), "round {round} (seed {seed}): {stderr}");
            waited += usize::from(stderr.contains("waiting for it to finish"));
        }
        let now = tree(&out);
        assert!(now == bank_tree || now == reference_tree, "round {round} (seed {seed}): OUT is a mix");
    }
    eprintln!("builds that waited for another: {waited} of 60");
    assert_nothing_beside_out(dir.path());
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn diff_exits_0_for_no_change_1_for_changes_and_2_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new, same) = (dir.path().join("old"), dir.path().join("new"), dir.path().join("same"));
    assert!(build(&reference(), &old).status.success());
    assert!(build(&reference(), &same).status.success());
    let estate = dir.path().join("estate");
    copy_estate(&repo().join("examples/reference"), &estate);
    let payments = estate.join("apis/payments.kdl");
    let text = std::fs::read_to_string(&payments).unwrap();
    std::fs::write(&payments, text.replace("monitor \"latency\" p95-ms=800", "monitor \"latency\" p95-ms=600"))
        .unwrap();
    assert!(build(estate.to_str().unwrap(), &new).status.success());
    let (old, new, same) = (old.to_str().unwrap(), new.to_str().unwrap(), same.to_str().unwrap());

    let result = idpc(&["diff", old, same]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert!(stdout(&result).contains("No change"));

    let result = idpc(&["diff", old, new]);
    assert_eq!(result.status.code(), Some(1), "{}", stderr(&result));
    let markdown = stdout(&result);
    assert!(
        markdown.contains("- `apis/payments/acme-prod/monitors/latency.json` (datadog-monitor) changed"),
        "{markdown}"
    );
    assert!(!markdown.contains("### `idpc-"), "monitors are not in any template: {markdown}");

    let result = idpc(&["diff", old, new, "--format", "json"]);
    assert_eq!(result.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&result)).unwrap();
    assert_eq!(json["format"], "idpc-diff/1");
    let fields = &json["artifacts"][0]["fields"];
    assert!(fields.as_array().unwrap().iter().any(|f| f == "query"), "{json}");

    let result = idpc(&["diff", old, &reference()]);
    assert_eq!(result.status.code(), Some(2));
    assert!(stderr(&result).contains("has no manifest.json"), "{}", stderr(&result));
}

#[test]
fn build_check_passes_only_when_out_is_what_the_estate_builds_to() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_str = out.to_str().unwrap();
    let check = || idpc(&["build", &reference(), "-o", out_str, "--today", TODAY, "--check"]);
    let result = check();
    assert_eq!(result.status.code(), Some(1), "missing OUT: {}", stderr(&result));
    assert!(!out.exists(), "--check writes nothing");

    assert!(build(&reference(), &out).status.success());
    let before = tree(&out);
    let result = check();
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert!(stderr(&result).contains("is up to date"));

    // A stale output (built before a change to the estate): the check shows what changes.
    let result = idpc(&["build", &reference(), "-o", out_str, "--today", "2028-01-01", "--check"]);
    assert_eq!(result.status.code(), Some(1));
    let text = stderr(&result);
    assert!(text.contains("### `idpc-api-accounts--acme-pr-1234` (removed)"), "{text}");
    assert!(text.contains("is not what the estate builds to"), "{text}");

    // A hand-edited artifact.
    let template = out.join("stacks/idpc-organisation.json");
    let mut bytes = std::fs::read(&template).unwrap();
    bytes.push(b'\n');
    std::fs::write(&template, bytes).unwrap();
    let result = check();
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("edited after the build"), "{}", stderr(&result));
    assert_ne!(tree(&out), before);
    std::fs::remove_file(&template).unwrap();
    assert_eq!(check().status.code(), Some(1));
}

#[test]
fn message_formats_go_to_stdout_for_tools() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("unknown-environment");
    copy_estate(&repo().join("tests/cases/err/unknown-environment"), &case);
    let case = case.to_str().unwrap();
    let result = idpc(&["check", case, "--today", TODAY, "--message-format", "json"]);
    assert_eq!(result.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&result)).unwrap();
    assert_eq!(json["errors"], 1);
    let label = &json["diagnostics"][0]["labels"][0];
    assert_eq!(label["file"], format!("{case}/main.kdl"));
    assert_eq!((label["line"].as_u64(), label["column"].as_u64()), (Some(23), Some(12)));

    let result = idpc(&["build", case, "-o", "/nonexistent/out", "--today", TODAY, "--message-format", "github"]);
    assert_eq!(result.status.code(), Some(1));
    let annotations = stdout(&result);
    assert!(annotations.starts_with(&format!("::error file={case}/main.kdl,line=23,col=12,")), "{annotations}");
    assert!(stderr(&result).contains("1 error, 0 warnings; nothing was written"));

    // A valid estate: an empty list, so tools can always parse stdout.
    let result = idpc(&["check", &reference(), "--today", TODAY, "--message-format", "json"]);
    assert_eq!(result.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_str(&stdout(&result)).unwrap();
    assert_eq!(json["diagnostics"], serde_json::json!([]));
}

#[test]
fn graph_prints_the_plan_and_refuses_unknown_filters() {
    let result = idpc(&["graph", &reference(), "--today", TODAY, "--format", "mermaid", "--tenant", "acme-bank"]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert!(stdout(&result).starts_with("flowchart LR\n"));
    let result = idpc(&["graph", &reference(), "--today", TODAY, "--environment", "acme-tst"]);
    assert_eq!(result.status.code(), Some(2));
    assert!(stderr(&result).contains("did you mean `acme-test`?"), "{}", stderr(&result));
    let dir = tempfile::tempdir().unwrap();
    copy_estate(&repo().join("tests/cases/err/dependency-cycle"), dir.path());
    let result = idpc(&["graph", dir.path().to_str().unwrap(), "--today", TODAY]);
    assert_eq!(result.status.code(), Some(1));
    assert!(stdout(&result).is_empty());
    assert!(stderr(&result).contains("dependency-cycle"));
}

#[test]
fn the_example_workflow_uses_only_real_commands_and_flags() {
    let workflow = std::fs::read_to_string(repo().join("examples/pull-request-workflow.yml")).unwrap();
    let mut checked = 0;
    for line in workflow.lines() {
        let Some(at) = line.find("idpc ") else { continue };
        let command = &line[at..];
        let words: Vec<&str> = command.split_whitespace().collect();
        let Some(sub) = words.get(1).filter(|w| ["check", "build", "diff", "graph", "lsp"].contains(w)) else {
            continue;
        };
        let help = stdout(&idpc(&[sub, "--help"]));
        for flag in words.iter().filter(|w| w.starts_with("--")) {
            let flag = flag.trim_end_matches(';');
            assert!(help.contains(flag), "`idpc {sub}` has no {flag} (workflow line: {line})");
        }
        checked += 1;
    }
    assert!(checked >= 4, "the workflow runs idpc check, build and diff");
}

#[test]
fn a_streamed_build_writes_exactly_what_the_library_returns() {
    for estate in ["examples/reference", "examples/bank-platform"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let result = build(repo().join(estate).to_str().unwrap(), &out);
        assert!(result.status.success(), "{}", stderr(&result));
        let files = idpc::source::load_estate(&repo().join(estate)).unwrap();
        let options = idpc::Options { today: idpc::model::Date::parse(TODAY).unwrap() };
        let compilation = idpc::compile(&files, &options);
        let output = compilation.output.expect("valid");
        assert!(!output.streamed);
        let mut expected: Vec<(String, Vec<u8>)> = output.files().map(|(p, b)| (p.to_owned(), b.to_vec())).collect();
        expected.sort();
        let mut written = Vec::new();
        let mut stack = vec![out.clone()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap().filter_map(Result::ok) {
                if entry.path().is_dir() {
                    stack.push(entry.path());
                } else {
                    let rel = entry.path().strip_prefix(&out).unwrap().to_string_lossy().replace('\\', "/");
                    written.push((rel, std::fs::read(entry.path()).unwrap()));
                }
            }
        }
        written.sort();
        assert_eq!(written.len(), expected.len(), "{estate}");
        assert!(written == expected, "{estate}: the written tree differs from the library's output");
    }
}

#[test]
fn a_cache_folder_gives_the_same_build_and_survives_damage() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let cache_arg = cache.to_str().unwrap();
    let (cold, warm, damaged) = (dir.path().join("cold"), dir.path().join("warm"), dir.path().join("damaged"));
    assert!(build(&reference(), &cold).status.success());
    for out in [&warm, &warm] {
        let result =
            idpc(&["build", &reference(), "-o", out.to_str().unwrap(), "--today", TODAY, "--cache", cache_arg]);
        assert!(result.status.success(), "{}", stderr(&result));
        assert_eq!(tree(out), tree(&cold));
    }
    let entries = tree(&cache);
    assert!(entries.len() >= 10, "{entries:?}");
    // Truncate every entry: each is detected and ignored (and written again).
    for entry in entries.keys() {
        let path = cache.join(entry);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    }
    let result =
        idpc(&["build", &reference(), "-o", damaged.to_str().unwrap(), "--today", TODAY, "--cache", cache_arg]);
    assert!(result.status.success(), "{}", stderr(&result));
    assert_eq!(tree(&damaged), tree(&cold));
    assert_eq!(tree(&cache), entries, "the damaged entries were rewritten");
}

#[test]
fn the_explain_url_base_comes_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    copy_estate(&repo().join("tests/cases/err/unknown-environment"), &case);
    let result = Command::new(env!("CARGO_BIN_EXE_idpc"))
        .args(["check", case.to_str().unwrap(), "--today", TODAY, "--message-format", "json"])
        .env("IDPC_EXPLAIN_URL", "https://docs.bank.example/idpc")
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&stdout(&result)).unwrap();
    assert_eq!(json["diagnostics"][0]["url"], "https://docs.bank.example/idpc/unknown-environment");
}
