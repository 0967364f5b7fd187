//! One side of `idpc diff`: an output tree (on disk or in memory), its manifest checked
//! against the files it lists, and each stack's plan entry and facts.
#![allow(clippy::indexing_slicing)] // Only `Value` indexing, which yields `Null` for a missing key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;

use crate::emit::{facts, manifest};
use facts::Facts;

/// One side of a diff: the files of an output tree, by `/`-separated relative path. A tree
/// read from disk lists its files and reads one only when the diff needs its contents, so
/// that two large builds that differ little are compared in little time and memory.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    /// Contents held in memory, by relative path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// For a tree on disk: its folder and every file's relative path.
    disk: Option<(PathBuf, BTreeSet<String>)>,
}

/// Why a diff could not be made (exit code 2).
#[derive(Debug)]
pub enum DiffError {
    /// A folder could not be read.
    Io(PathBuf, std::io::Error),
    /// A folder has no `manifest.json`: not an idpc output.
    NotAnOutput(PathBuf),
    /// The manifest is not one idpc writes.
    BadManifest(String, String),
    /// A file does not match the hash the manifest gives it: edited after the build.
    HashMismatch(String, String),
}

impl fmt::Display for DiffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiffError::Io(path, error) => write!(f, "cannot read `{}`: {error}", path.display()),
            DiffError::NotAnOutput(path) => {
                write!(f, "`{}` has no manifest.json; give two folders written by `idpc build`", path.display())
            }
            DiffError::BadManifest(side, why) => write!(f, "the {side} manifest.json is not idpc's: {why}"),
            DiffError::HashMismatch(side, path) => write!(
                f,
                "the {side} build's `{path}` does not match the hash in its manifest.json; it was edited after the build"
            ),
        }
    }
}

impl Tree {
    /// Lists an output folder (every regular file below it); contents are read on demand.
    pub fn read(dir: &Path) -> Result<Tree, DiffError> {
        if !dir.join(manifest::PATH).is_file() {
            return Err(DiffError::NotAnOutput(dir.to_path_buf()));
        }
        let mut paths = BTreeSet::new();
        for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
            let entry = entry.map_err(|e| DiffError::Io(dir.to_path_buf(), e.into()))?;
            if !entry.file_type().is_file() {
                continue;
            }
            paths.extend(crate::source::relative_path(dir, entry.path()));
        }
        Ok(Tree { files: BTreeMap::new(), disk: Some((dir.to_path_buf(), paths)) })
    }

    /// A build held in memory.
    pub fn from_output(output: &crate::emit::Output) -> Tree {
        Tree { files: output.files().map(|(path, bytes)| (path.to_owned(), bytes.to_vec())).collect(), disk: None }
    }

    /// Every file's relative path.
    pub(super) fn paths(&self) -> BTreeSet<&String> {
        match &self.disk {
            Some((_, paths)) => paths.iter().collect(),
            None => self.files.keys().collect(),
        }
    }

    /// A file's contents, `Ok(None)` when the tree has no such file.
    pub(super) fn bytes(&self, path: &str) -> Result<Option<Vec<u8>>, DiffError> {
        match &self.disk {
            Some((dir, paths)) if paths.contains(path) => {
                let full = dir.join(path);
                std::fs::read(&full).map(Some).map_err(|e| DiffError::Io(full, e))
            }
            Some(_) => Ok(None),
            None => Ok(self.files.get(path).cloned()),
        }
    }
}

/// A build's manifest: plan entries and facts by stack name, artifacts by path.
pub(super) struct Manifest {
    /// Each stack's plan entry (its `facts` taken out).
    pub stacks: BTreeMap<String, Value>,
    /// Each stack's facts; a build by an idpc older than `idpc-facts/1` has none.
    pub facts: BTreeMap<String, Facts>,
    /// (kind, sha256, stack) by path.
    pub artifacts: BTreeMap<String, (String, String, Option<String>)>,
}

pub(super) fn parse_manifest(tree: &Tree, side: &str) -> Result<Manifest, DiffError> {
    let bad = |why: &str| DiffError::BadManifest(side.to_owned(), why.to_owned());
    let bytes = tree.bytes(manifest::PATH)?.ok_or_else(|| bad("it is missing"))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| bad(&format!("not JSON ({e})")))?;
    if value["format"] != manifest::FORMAT {
        return Err(bad(&format!("its format is not `{}`", manifest::FORMAT)));
    }
    let with_facts = match value.get("facts_format") {
        None => false,
        Some(format) if *format == facts::FORMAT => true,
        Some(format) => return Err(bad(&format!("its facts are {format}, not `{}`", facts::FORMAT))),
    };
    let (mut stacks, mut all_facts) = (BTreeMap::new(), BTreeMap::new());
    for stack in value["stacks"].as_array().ok_or_else(|| bad("`stacks` is not a list"))? {
        let name = stack["name"].as_str().ok_or_else(|| bad("a stack has no name"))?;
        let mut entry = stack.clone();
        let stack_facts = entry.as_object_mut().and_then(|e| e.remove("facts"));
        if with_facts {
            let stack_facts = stack_facts.ok_or_else(|| bad(&format!("stack `{name}` has no facts")))?;
            let stack_facts: Facts = serde_json::from_value(stack_facts)
                .map_err(|e| bad(&format!("the facts of stack `{name}` are not {} ({e})", facts::FORMAT)))?;
            all_facts.insert(name.to_owned(), stack_facts);
        }
        stacks.insert(name.to_owned(), entry);
    }
    let mut artifacts = BTreeMap::new();
    for artifact in value["artifacts"].as_array().ok_or_else(|| bad("`artifacts` is not a list"))? {
        let (Some(path), Some(kind), Some(sha)) =
            (artifact["path"].as_str(), artifact["kind"].as_str(), artifact["sha256"].as_str())
        else {
            return Err(bad("an artifact lacks path, kind or sha256"));
        };
        let stack = artifact["stack"].as_str().map(str::to_owned);
        artifacts.insert(path.to_owned(), (kind.to_owned(), sha.to_owned(), stack));
    }
    // Every listed file is checked against its hash (in parallel, one file in memory per
    // thread): a file edited after the build is refused, not reviewed.
    artifacts.par_iter().try_for_each(|(path, (_, sha, _))| {
        let bytes = tree.bytes(path)?.ok_or_else(|| bad(&format!("`{path}` is listed but missing")))?;
        if manifest::sha256(&bytes) == *sha {
            Ok(())
        } else {
            Err(DiffError::HashMismatch(side.to_owned(), path.clone()))
        }
    })?;
    Ok(Manifest { stacks, facts: all_facts, artifacts })
}

pub(super) fn json_of(tree: &Tree, path: &str) -> Result<Value, DiffError> {
    Ok(tree.bytes(path)?.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null))
}
