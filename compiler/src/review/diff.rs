//! `idpc diff OLD NEW` and `idpc build --check`: what changes between two builds, for the
//! person reviewing a pull request.
//!
//! Both sides are whole output trees (read from disk, or a build held in memory). The report
//! lists stacks and artifacts added, removed and changed; per changed template, the resources
//! added, removed and modified with the changed property paths; routes, security settings
//! and monitors in words; and a warning for every change that makes CloudFormation replace
//! or delete a resource (from the resource schemas' create-only properties, shipped as data in
//! `cfn-create-only.json`) or that weakens security.
#![allow(clippy::indexing_slicing)] // Only `Value` indexing, which yields `Null` for a missing key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rayon::prelude::*;
use serde_json::{Map, Value, json};

use crate::emit::manifest;

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
    fn paths(&self) -> BTreeSet<&String> {
        match &self.disk {
            Some((_, paths)) => paths.iter().collect(),
            None => self.files.keys().collect(),
        }
    }

    /// A file's contents, `Ok(None)` when the tree has no such file.
    fn bytes(&self, path: &str) -> Result<Option<Vec<u8>>, DiffError> {
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

/// Added, removed or changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Only in the new build.
    Added,
    /// Only in the old build.
    Removed,
    /// In both, different.
    Changed,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }
}

/// What kind of warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WarningKind {
    /// CloudFormation replaces a resource (deletes it and creates a new one).
    Replacement,
    /// CloudFormation deletes a resource or a whole stack.
    Deletion,
    /// Security is weaker after the change.
    Security,
    /// idpc cannot tell whether the change replaces the resource.
    Unknown,
}

impl WarningKind {
    fn as_str(self) -> &'static str {
        match self {
            WarningKind::Replacement => "replacement",
            WarningKind::Deletion => "deletion",
            WarningKind::Security => "security",
            WarningKind::Unknown => "unknown-replacement",
        }
    }
}

/// A change someone must look at before it is deployed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    /// What kind.
    pub kind: WarningKind,
    /// The stack (or artifact path) it concerns.
    pub subject: String,
    /// In words.
    pub message: String,
}

/// A property that changed inside a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertyChange {
    /// `Properties.Body.paths["/x"].get` style path.
    pub path: String,
    /// Added, removed or changed.
    pub change: Change,
}

/// A resource of a template that changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceChange {
    /// Logical id.
    pub logical_id: String,
    /// Resource type (the new one when it changed).
    pub resource_type: String,
    /// Added, removed or changed.
    pub change: Change,
    /// For `Changed`: the property paths that differ.
    pub properties: Vec<PropertyChange>,
    /// For `Changed`: the create-only properties that make CloudFormation replace it.
    pub replaced_by: Vec<String>,
}

/// A route of an API stage added, removed or changed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteChange {
    /// `GET`, `POST`, ...
    pub method: String,
    /// `/payments/{paymentId}`.
    pub path: String,
    /// Added, removed or changed.
    pub change: Change,
}

/// A security setting that changed, in words.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecurityChange {
    /// In words.
    pub message: String,
    /// Whether the change weakens security.
    pub weakens: bool,
}

/// A stack that changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackChange {
    /// Stack name.
    pub name: String,
    /// Added, removed or changed.
    pub change: Change,
    /// Changes of the stack's plan entry (account, region, wave, dependencies, tags), in words.
    pub plan: Vec<String>,
    /// Resources of its template that changed.
    pub resources: Vec<ResourceChange>,
    /// Routes of its API that changed.
    pub routes: Vec<RouteChange>,
    /// Security settings that changed.
    pub security: Vec<SecurityChange>,
}

/// An artifact (file listed in the manifest) that changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactChange {
    /// Path under OUT.
    pub path: String,
    /// Manifest kind (`cloudformation`, `datadog-monitor`, ...).
    pub kind: String,
    /// Added, removed or changed.
    pub change: Change,
    /// For Datadog payloads: the monitor's, SLO's or dashboard's name or title.
    pub title: Option<String>,
    /// For changed Datadog payloads: the fields that differ.
    pub fields: Vec<String>,
}

/// The whole review summary.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Stacks added, removed and changed, by name.
    pub stacks: Vec<StackChange>,
    /// Artifacts added, removed and changed, by path.
    pub artifacts: Vec<ArtifactChange>,
    /// Files not listed in either manifest that differ (hand-made files in OUT).
    pub unlisted: Vec<(String, Change)>,
    /// Warnings, sorted.
    pub warnings: Vec<Warning>,
}

struct Manifest {
    stacks: BTreeMap<String, Value>,
    artifacts: BTreeMap<String, (String, String, Option<String>)>,
}

fn parse_manifest(tree: &Tree, side: &str) -> Result<Manifest, DiffError> {
    let bad = |why: &str| DiffError::BadManifest(side.to_owned(), why.to_owned());
    let bytes = tree.bytes(manifest::PATH)?.ok_or_else(|| bad("it is missing"))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| bad(&format!("not JSON ({e})")))?;
    if value["format"] != manifest::FORMAT {
        return Err(bad(&format!("its format is not `{}`", manifest::FORMAT)));
    }
    let mut stacks = BTreeMap::new();
    for stack in value["stacks"].as_array().ok_or_else(|| bad("`stacks` is not a list"))? {
        let name = stack["name"].as_str().ok_or_else(|| bad("a stack has no name"))?;
        stacks.insert(name.to_owned(), stack.clone());
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
    Ok(Manifest { stacks, artifacts })
}

fn json_of(tree: &Tree, path: &str) -> Result<Value, DiffError> {
    Ok(tree.bytes(path)?.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null))
}

/// Compares two builds.
pub fn diff(old: &Tree, new: &Tree) -> Result<Report, DiffError> {
    let old_manifest = parse_manifest(old, "old")?;
    let new_manifest = parse_manifest(new, "new")?;
    let mut report = Report::default();

    let names: BTreeSet<&String> = old_manifest.stacks.keys().chain(new_manifest.stacks.keys()).collect();
    for name in names {
        let (before, after) = (old_manifest.stacks.get(name), new_manifest.stacks.get(name));
        let sha = |m: &Manifest, entry: Option<&Value>| {
            entry.and_then(|s| s["template"].as_str()).and_then(|p| m.artifacts.get(p)).map(|a| a.1.clone())
        };
        if before.is_some() && before == after && sha(&old_manifest, before) == sha(&new_manifest, after) {
            continue; // Same plan entry, same template bytes: nothing to read.
        }
        let template = |m: Option<&Value>, tree: &Tree| match m.and_then(|s| s["template"].as_str()) {
            Some(path) => json_of(tree, path).map(Some),
            None => Ok(None),
        };
        let (old_template, new_template) = (template(before, old)?, template(after, new)?);
        let change = match (before, after) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            _ => Change::Changed,
        };
        let mut stack = StackChange {
            name: name.clone(),
            change,
            plan: Vec::new(),
            resources: Vec::new(),
            routes: Vec::new(),
            security: Vec::new(),
        };
        if let (Some(before), Some(after)) = (before, after) {
            stack.plan = plan_changes(before, after);
        }
        let empty = Value::Null;
        let (old_t, new_t) = (old_template.as_ref().unwrap_or(&empty), new_template.as_ref().unwrap_or(&empty));
        if old_t != new_t {
            stack.resources = resource_changes(old_t, new_t);
            stack.routes = route_changes(old_t, new_t);
            if change == Change::Changed {
                stack.security = security_changes(old_t, new_t);
            }
        }
        if change == Change::Changed
            && stack.plan.is_empty()
            && stack.resources.is_empty()
            && stack.routes.is_empty()
            && stack.security.is_empty()
            && old_t == new_t
        {
            continue;
        }
        warn_stack(&stack, old_t, &mut report.warnings);
        report.stacks.push(stack);
    }

    let paths: BTreeSet<&String> = old_manifest.artifacts.keys().chain(new_manifest.artifacts.keys()).collect();
    for path in paths {
        let (before, after) = (old_manifest.artifacts.get(path), new_manifest.artifacts.get(path));
        let change = match (before, after) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(b), Some(a)) if b.1 == a.1 => continue,
            _ => Change::Changed,
        };
        let kind = after.or(before).map(|a| a.0.clone()).unwrap_or_default();
        let (old_value, new_value) = (json_of(old, path)?, json_of(new, path)?);
        let title = [&new_value, &old_value]
            .iter()
            .find_map(|v| v["name"].as_str().or_else(|| v["title"].as_str()))
            .map(str::to_owned);
        let mut fields = Vec::new();
        if change == Change::Changed && kind.starts_with("datadog-") {
            let mut changes = Vec::new();
            compare(&old_value, &new_value, &mut Vec::new(), &mut changes);
            fields = changes.into_iter().map(|c| c.path).collect();
        }
        if change == Change::Removed && kind.starts_with("datadog-") {
            report.warnings.push(Warning {
                kind: WarningKind::Deletion,
                subject: path.clone(),
                message: format!(
                    "{} `{}` is no longer built; delete it in Datadog if your deployer does not",
                    kind.trim_start_matches("datadog-"),
                    title.as_deref().unwrap_or(path)
                ),
            });
        }
        report.artifacts.push(ArtifactChange { path: path.clone(), kind, change, title, fields });
    }

    let listed = |m: &Manifest, p: &str| p == manifest::PATH || m.artifacts.contains_key(p);
    let (old_paths, new_paths) = (old.paths(), new.paths());
    let files: BTreeSet<&String> = old_paths.iter().chain(new_paths.iter()).copied().collect();
    for path in files {
        if listed(&old_manifest, path) || listed(&new_manifest, path) {
            continue;
        }
        match (old.bytes(path)?, new.bytes(path)?) {
            (Some(_), None) => report.unlisted.push((path.clone(), Change::Removed)),
            (None, Some(_)) => report.unlisted.push((path.clone(), Change::Added)),
            (Some(a), Some(b)) if a != b => report.unlisted.push((path.clone(), Change::Changed)),
            _ => {}
        }
    }
    report.warnings.sort();
    report.warnings.dedup();
    Ok(report)
}

fn plan_changes(before: &Value, after: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for field in ["account", "account_id", "region", "wave"] {
        if before[field] != after[field] {
            out.push(format!("{field}: {} -> {}", before[field], after[field]));
        }
    }
    let set = |v: &Value| -> BTreeSet<String> {
        v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
    };
    let (old_deps, new_deps) = (set(&before["depends_on"]), set(&after["depends_on"]));
    for added in new_deps.difference(&old_deps) {
        out.push(format!("now depends on `{added}`"));
    }
    for removed in old_deps.difference(&new_deps) {
        out.push(format!("no longer depends on `{removed}`"));
    }
    let (old_tags, new_tags) = (before["tags"].as_object(), after["tags"].as_object());
    let empty = Map::new();
    let (old_tags, new_tags) = (old_tags.unwrap_or(&empty), new_tags.unwrap_or(&empty));
    let keys: BTreeSet<&String> = old_tags.keys().chain(new_tags.keys()).collect();
    for key in keys {
        match (old_tags.get(key), new_tags.get(key)) {
            (Some(a), Some(b)) if a != b => out.push(format!("tag `{key}`: {a} -> {b}")),
            (None, Some(b)) => out.push(format!("tag `{key}` added: {b}")),
            (Some(_), None) => out.push(format!("tag `{key}` removed")),
            _ => {}
        }
    }
    out
}

/// Writes a property path the way a reviewer reads it: `Body.paths["/x"].get`, `Tags[0]`.
fn render_path(segments: &[String]) -> String {
    let mut out = String::new();
    for segment in segments {
        let plain = segment.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if segment.starts_with('[') {
            out.push_str(segment);
        } else if plain && !segment.is_empty() {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        } else {
            out.push_str(&format!("[{}]", Value::String(segment.clone())));
        }
    }
    out
}

/// A difference at a path, with the raw segments kept for create-only matching.
struct Difference {
    segments: Vec<String>,
    change: Change,
}

fn compare_raw(old: &Value, new: &Value, at: &mut Vec<String>, out: &mut Vec<Difference>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                at.push(key.clone());
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => compare_raw(x, y, at, out),
                    (None, Some(_)) => out.push(Difference { segments: at.clone(), change: Change::Added }),
                    (Some(_), None) => out.push(Difference { segments: at.clone(), change: Change::Removed }),
                    (None, None) => {}
                }
                at.pop();
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                at.push(format!("[{i}]"));
                compare_raw(x, y, at, out);
                at.pop();
            }
        }
        (a, b) if a != b => out.push(Difference { segments: at.clone(), change: Change::Changed }),
        _ => {}
    }
}

fn compare(old: &Value, new: &Value, at: &mut Vec<String>, out: &mut Vec<PropertyChange>) {
    let mut raw = Vec::new();
    compare_raw(old, new, at, &mut raw);
    out.extend(raw.into_iter().map(|d| PropertyChange { path: render_path(&d.segments), change: d.change }));
}

/// The CloudFormation resource schemas' create-only properties, by type.
fn create_only() -> &'static BTreeMap<String, Vec<Vec<String>>> {
    static DATA: OnceLock<BTreeMap<String, Vec<Vec<String>>>> = OnceLock::new();
    DATA.get_or_init(|| {
        let value: Value = serde_json::from_str(include_str!("cfn-create-only.json")).unwrap_or(Value::Null);
        let mut types = BTreeMap::new();
        for (ty, paths) in value["types"].as_object().into_iter().flatten() {
            let paths = paths
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|p| p.split('/').map(str::to_owned).collect())
                .collect();
            types.insert(ty.clone(), paths);
        }
        types
    })
}

/// Whether a change at `segments` (below `Properties`) touches the create-only `path`.
fn touches(segments: &[String], path: &[String]) -> bool {
    segments.iter().zip(path).all(|(s, p)| p == "*" || s == p)
}

fn resources(template: &Value) -> BTreeMap<String, &Value> {
    template["Resources"].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v)).collect()).unwrap_or_default()
}

fn resource_changes(old: &Value, new: &Value) -> Vec<ResourceChange> {
    let (a, b) = (resources(old), resources(new));
    let ids: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    for id in ids {
        let (before, after) = (a.get(id), b.get(id));
        let ty = |v: Option<&&Value>| v.and_then(|v| v["Type"].as_str()).unwrap_or("").to_owned();
        let resource_type = if after.is_some() { ty(after) } else { ty(before) };
        match (before, after) {
            (None, Some(_)) | (Some(_), None) => out.push(ResourceChange {
                logical_id: id.clone(),
                resource_type,
                change: if before.is_none() { Change::Added } else { Change::Removed },
                properties: Vec::new(),
                replaced_by: Vec::new(),
            }),
            (Some(x), Some(y)) if x != y => {
                let mut raw = Vec::new();
                compare_raw(x, y, &mut Vec::new(), &mut raw);
                let mut replaced_by = BTreeSet::new();
                if ty(before) != ty(after) {
                    replaced_by.insert("Type".to_owned());
                } else if let Some(paths) = create_only().get(&resource_type) {
                    for difference in &raw {
                        let Some((first, rest)) = difference.segments.split_first() else { continue };
                        if first != "Properties" {
                            continue;
                        }
                        for path in paths {
                            if touches(rest, path) {
                                replaced_by.insert(path.join("."));
                            }
                        }
                        // The whole `Properties` object appearing or disappearing.
                        if rest.is_empty() && !paths.is_empty() {
                            replaced_by.extend(paths.iter().map(|p| p.join(".")));
                        }
                    }
                }
                let properties = raw
                    .into_iter()
                    .map(|d| {
                        let segments = match d.segments.split_first() {
                            Some((first, rest)) if first == "Properties" && !rest.is_empty() => rest.to_vec(),
                            _ => d.segments,
                        };
                        PropertyChange { path: render_path(&segments), change: d.change }
                    })
                    .collect();
                out.push(ResourceChange {
                    logical_id: id.clone(),
                    resource_type,
                    change: Change::Changed,
                    properties,
                    replaced_by: replaced_by.into_iter().collect(),
                });
            }
            _ => {}
        }
    }
    out
}

/// The warnings a stack's changes call for.
fn warn_stack(stack: &StackChange, old_template: &Value, warnings: &mut Vec<Warning>) {
    let push = |warnings: &mut Vec<Warning>, kind, message: String| {
        warnings.push(Warning { kind, subject: stack.name.clone(), message });
    };
    if stack.change == Change::Removed {
        let count = resources(old_template).len();
        push(
            warnings,
            WarningKind::Deletion,
            format!(
                "the stack is no longer built: deleting it deletes its {count} resources (those with DeletionPolicy Retain or RetainExceptOnCreate are kept)"
            ),
        );
        return;
    }
    let old_resources = resources(old_template);
    // API Gateway deployments are immutable snapshots: a new one replacing the old is how a
    // changed API is deployed, not a loss.
    let redeployed = stack.resources.iter().any(|r| r.change == Change::Added && r.resource_type == DEPLOYMENT);
    for resource in &stack.resources {
        let what = format!("`{}` ({})", resource.logical_id, resource.resource_type);
        match resource.change {
            Change::Removed if resource.resource_type == DEPLOYMENT && redeployed => {}
            Change::Removed => {
                let policy = old_resources.get(&resource.logical_id).and_then(|r| r["DeletionPolicy"].as_str());
                let fate = match policy {
                    Some(policy @ ("Retain" | "RetainExceptOnCreate")) => format!(
                        "removed from the stack; kept in the account (DeletionPolicy {policy}), so delete or re-import it by hand"
                    ),
                    _ => "deleted".to_owned(),
                };
                push(warnings, WarningKind::Deletion, format!("{what} is {fate}"));
                if SECURITY_TYPES.contains(&resource.resource_type.as_str()) {
                    push(
                        warnings,
                        WarningKind::Security,
                        format!("{what} is removed: a security control ({}) goes away", resource.resource_type),
                    );
                }
            }
            Change::Changed if !resource.replaced_by.is_empty() => push(
                warnings,
                WarningKind::Replacement,
                format!(
                    "{what} is replaced (deleted and created again) because {} changed",
                    resource.replaced_by.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
                ),
            ),
            Change::Changed if !create_only().contains_key(&resource.resource_type) => push(
                warnings,
                WarningKind::Unknown,
                format!("{what} changed, and idpc has no schema for its type: check whether the change replaces it"),
            ),
            _ => {}
        }
    }
    for change in stack.security.iter().filter(|c| c.weakens) {
        push(warnings, WarningKind::Security, change.message.clone());
    }
}

const DEPLOYMENT: &str = "AWS::ApiGateway::Deployment";

/// Resource types whose removal removes a security or audit control (a custom domain's mTLS
/// is reported by the stage's security comparison instead).
const SECURITY_TYPES: &[&str] = &[
    "AWS::CloudTrail::Trail",
    "AWS::Config::ConfigRule",
    "AWS::Config::ConfigurationRecorder",
    "AWS::Config::DeliveryChannel",
    "AWS::GuardDuty::Detector",
    "AWS::KMS::Key",
    "AWS::Lambda::Permission",
    "AWS::S3::BucketPolicy",
];

const METHODS: &[&str] =
    &["get", "put", "post", "delete", "options", "head", "patch", "trace", "x-amazon-apigateway-any-method"];

/// Every operation of every REST API body in a template, by (path, method).
fn operations(template: &Value) -> BTreeMap<(String, String), &Value> {
    let mut out = BTreeMap::new();
    for resource in resources(template).values() {
        if resource["Type"] != "AWS::ApiGateway::RestApi" {
            continue;
        }
        for (path, item) in resource["Properties"]["Body"]["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                if METHODS.contains(&method.as_str()) {
                    let method =
                        if method == "x-amazon-apigateway-any-method" { "ANY".into() } else { method.to_uppercase() };
                    out.insert((path.clone(), method), operation);
                }
            }
        }
    }
    out
}

fn route_changes(old: &Value, new: &Value) -> Vec<RouteChange> {
    let (a, b) = (operations(old), operations(new));
    let keys: BTreeSet<&(String, String)> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let change = match (a.get(key), b.get(key)) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(x), Some(y)) if x != y => Change::Changed,
            _ => continue,
        };
        out.push(RouteChange { method: key.1.clone(), path: key.0.clone(), change });
    }
    out
}

/// The security settings of an API stage stack or a gateway stack, as facts that can be
/// compared.
#[derive(Default)]
struct Security {
    /// Source IP allow-list of the resource policy, when there is one.
    allow_list: Option<BTreeSet<String>>,
    /// mTLS truststores of the custom domains.
    mtls: BTreeSet<String>,
    /// Custom domains by name with their TLS policy.
    tls: BTreeMap<String, String>,
    /// Whether the default execute-api endpoint is disabled.
    endpoint_disabled: bool,
    /// Per route: the JWT scopes required, `None` when the route needs no JWT.
    jwt: BTreeMap<(String, String), Option<BTreeSet<String>>>,
    /// Whether some stage logs full request and response bodies.
    data_trace: bool,
    /// Whether every stage writes access logs.
    access_logs: bool,
    /// Whether the stack serves requests at all: a REST API, or a custom domain (a gateway's
    /// stack holds the domain, with its TLS policy and mTLS, and no API).
    serves: bool,
    /// Whose tokens the platform's authorizer accepts: the stage's issuer and audience.
    token: Option<(String, String)>,
    /// The Cognito user pools whose tokens API Gateway accepts.
    user_pools: BTreeSet<String>,
}

fn security(template: &Value) -> Security {
    let mut facts = Security { access_logs: true, ..Security::default() };
    // The platform authorizer's route table (its security requirements list no scopes).
    let mut route_table: Option<BTreeMap<(String, String), BTreeSet<String>>> = None;
    for resource in resources(template).values() {
        let properties = &resource["Properties"];
        match resource["Type"].as_str().unwrap_or("") {
            "AWS::ApiGateway::RestApi" => {
                facts.serves = true;
                facts.endpoint_disabled = properties["DisableExecuteApiEndpoint"] == true;
                let body = &properties["Body"];
                for statement in body["x-amazon-apigateway-policy"]["Statement"].as_array().into_iter().flatten() {
                    let ips = &statement["Condition"]["NotIpAddress"]["aws:SourceIp"];
                    if statement["Effect"] == "Deny" && !ips.is_null() {
                        let list = facts.allow_list.get_or_insert_with(BTreeSet::new);
                        match ips {
                            Value::String(ip) => {
                                list.insert(ip.clone());
                            }
                            _ => list.extend(
                                ips.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)),
                            ),
                        }
                    }
                }
                let schemes = body["components"]["securitySchemes"].as_object();
                for scheme in schemes.into_iter().flat_map(|s| s.values()) {
                    let pools = &scheme["x-amazon-apigateway-authorizer"]["providerARNs"];
                    facts.user_pools.extend(
                        pools
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned)),
                    );
                }
                let is_jwt = |name: &str| schemes.is_some_and(|s| s.contains_key(name));
                let default = &body["security"];
                for ((path, method), operation) in operations(&json!({ "Resources": { "api": resource } })) {
                    let requirements =
                        if operation.get("security").is_some() { &operation["security"] } else { default };
                    let mut scopes: Option<BTreeSet<String>> = None;
                    for requirement in requirements.as_array().into_iter().flatten() {
                        for (name, list) in requirement.as_object().into_iter().flatten() {
                            if is_jwt(name) {
                                scopes.get_or_insert_with(BTreeSet::new).extend(
                                    list.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)),
                                );
                            }
                        }
                    }
                    facts.jwt.insert((path, method), scopes);
                }
            }
            "AWS::ApiGateway::DomainName" => {
                facts.serves = true;
                let domain = properties["DomainName"].as_str().unwrap_or("").to_owned();
                if let Some(truststore) = properties["MutualTlsAuthentication"]["TruststoreUri"].as_str() {
                    facts.mtls.insert(format!("{domain} ({truststore})"));
                }
                facts.tls.insert(domain, properties["SecurityPolicy"].as_str().unwrap_or("TLS_1_0").to_owned());
            }
            "AWS::ApiGateway::Stage" => {
                let traced = properties["MethodSettings"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| s["DataTraceEnabled"] == true);
                facts.data_trace |= traced;
                facts.access_logs &= !properties["AccessLogSetting"].is_null();
                let variables = &properties["Variables"];
                if let (Some(issuer), Some(audience)) =
                    (variables["jwtIssuer"].as_str(), variables["jwtAudience"].as_str())
                {
                    facts.token = Some((issuer.to_owned(), audience.to_owned()));
                }
            }
            "AWS::SSM::Parameter" if properties["Name"].as_str().is_some_and(|n| n.ends_with("/route-scopes")) => {
                let table: Value =
                    properties["Value"].as_str().and_then(|v| serde_json::from_str(v).ok()).unwrap_or_default();
                let routes = route_table.get_or_insert_with(BTreeMap::new);
                for (route, scopes) in table["routes"].as_object().into_iter().flatten() {
                    let Some((method, path)) = route.split_once(' ') else { continue };
                    let scopes = scopes.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned));
                    routes.insert((path.to_owned(), method.to_owned()), scopes.collect());
                }
            }
            _ => {}
        }
    }
    for (route, scopes) in route_table.into_iter().flatten() {
        if let Some(Some(required)) = facts.jwt.get_mut(&route) {
            required.extend(scopes);
        }
    }
    facts
}

/// Whether every address of `new` lies inside some network of `old`.
fn within(new: &str, old: &BTreeSet<String>) -> bool {
    let Ok(net) = new.parse::<ipnet::IpNet>().or_else(|_| new.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
    else {
        return old.contains(new);
    };
    old.iter().any(|o| {
        o.parse::<ipnet::IpNet>()
            .or_else(|_| o.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .is_ok_and(|o| o.contains(&net))
    })
}

fn security_changes(old: &Value, new: &Value) -> Vec<SecurityChange> {
    let (a, b) = (security(old), security(new));
    let mut out = Vec::new();
    let mut say = |weakens: bool, message: String| out.push(SecurityChange { message, weakens });
    if !(a.serves && b.serves) {
        return Vec::new();
    }
    match (&a.allow_list, &b.allow_list) {
        (Some(_), None) => say(true, "the IP allow-list is removed: any address can call the API".into()),
        (None, Some(list)) => say(false, format!("an IP allow-list is added: {}", join(list))),
        (Some(x), Some(y)) => {
            for added in y.difference(x) {
                let widens = !within(added, x);
                say(
                    widens,
                    if widens {
                        format!("the IP allow-list is widened: `{added}` may now call the API")
                    } else {
                        format!("the IP allow-list gains `{added}`, already inside an allowed network")
                    },
                );
            }
            for removed in x.difference(y) {
                say(false, format!("the IP allow-list no longer admits `{removed}`: callers from there are refused"));
            }
        }
        (None, None) => {}
    }
    let host = |m: &String| m.split(' ').next().unwrap_or_default().to_owned();
    let old_hosts: BTreeSet<String> = a.mtls.iter().map(host).collect();
    let new_hosts: BTreeSet<String> = b.mtls.iter().map(host).collect();
    let gone: Vec<&String> = a.mtls.iter().filter(|m| !new_hosts.contains(&host(m))).collect();
    let new: Vec<&String> = b.mtls.iter().filter(|m| !old_hosts.contains(&host(m))).collect();
    for changed in a.mtls.difference(&b.mtls).filter(|m| new_hosts.contains(&host(m))) {
        say(false, format!("the mTLS truststore of {changed} changes"));
    }
    // A domain of the stack renamed keeps its mTLS under its new name: no loss. Only a domain
    // with mTLS that nothing replaces weakens the stack.
    for (i, removed) in gone.iter().enumerate() {
        match new.get(i) {
            Some(successor) => say(false, format!("the mTLS domain {removed} is replaced by {successor}")),
            None => say(true, format!("mTLS is removed from {removed}: clients no longer need a certificate")),
        }
    }
    for added in new.iter().skip(gone.len()) {
        say(false, format!("mTLS is required on {added}"));
    }
    for (domain, policy) in &a.tls {
        if let Some(new_policy) = b.tls.get(domain)
            && new_policy != policy
        {
            say(new_policy == "TLS_1_0", format!("the TLS policy of `{domain}` changes from {policy} to {new_policy}"));
        }
    }
    if a.endpoint_disabled && !b.endpoint_disabled {
        say(
            true,
            "the default execute-api endpoint is enabled: the API can be called without the custom domain's mTLS"
                .into(),
        );
    }
    for (route, before) in &a.jwt {
        let name = format!("`{} {}`", route.1, route.0);
        match (before, b.jwt.get(route)) {
            (Some(_), Some(None)) => say(true, format!("JWT is removed from {name}: it can be called without a token")),
            (Some(x), Some(Some(y))) => {
                for scope in x.difference(y) {
                    say(true, format!("{name} no longer requires the scope `{scope}`"));
                }
                for scope in y.difference(x) {
                    say(false, format!("{name} now requires the scope `{scope}`"));
                }
            }
            (None, Some(Some(_))) => say(false, format!("{name} now requires a JWT")),
            _ => {}
        }
    }
    for (route, scopes) in &b.jwt {
        if !a.jwt.contains_key(route) && scopes.is_none() {
            say(true, format!("the new route `{} {}` requires no JWT", route.1, route.0));
        }
    }
    if let (Some(x), Some(y)) = (&a.token, &b.token)
        && x != y
    {
        // Another issuer or audience: other tokens open the stage (another tenant's, another
        // environment's), which a reviewer must see.
        say(
            true,
            format!(
                "the stage accepts other tokens: issuer `{}`, audience `{}` (was issuer `{}`, audience `{}`)",
                y.0, y.1, x.0, x.1
            ),
        );
    }
    for pool in b.user_pools.difference(&a.user_pools) {
        say(true, format!("the stage accepts the tokens of the Cognito user pool {pool}"));
    }
    if !a.data_trace && b.data_trace {
        say(true, "data tracing is on: full requests and responses (tokens, personal data) go to the logs".into());
    }
    if a.access_logs && !b.access_logs {
        say(true, "access logging is off: calls leave no audit trail".into());
    }
    out
}

fn join(list: &BTreeSet<String>) -> String {
    list.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

impl Report {
    /// Whether the two builds are the same.
    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty() && self.artifacts.is_empty() && self.unlisted.is_empty()
    }

    fn counts<'a>(changes: impl Iterator<Item = &'a Change>) -> [usize; 3] {
        let mut counts = [0; 3];
        for change in changes {
            counts[*change as usize] += 1;
        }
        counts
    }

    /// The review summary as markdown (for a pull-request comment or a terminal).
    pub fn markdown(&self) -> String {
        let mut out = String::from("# idpc diff\n\n");
        if self.is_empty() {
            out.push_str("No change: both builds are identical.\n");
            return out;
        }
        let [sa, sr, sc] = Report::counts(self.stacks.iter().map(|s| &s.change));
        let [aa, ar, ac] = Report::counts(self.artifacts.iter().map(|a| &a.change));
        out.push_str(&format!(
            "Stacks: {sa} added, {sr} removed, {sc} changed. Artifacts: {aa} added, {ar} removed, {ac} changed. Warnings: {}.\n",
            self.warnings.len()
        ));
        if !self.warnings.is_empty() {
            out.push_str("\n## Warnings\n\n");
            for warning in &self.warnings {
                let label = match warning.kind {
                    WarningKind::Replacement => "REPLACEMENT",
                    WarningKind::Deletion => "DELETION",
                    WarningKind::Security => "SECURITY",
                    WarningKind::Unknown => "CHECK",
                };
                out.push_str(&format!("- **{label}** `{}`: {}\n", warning.subject, warning.message));
            }
        }
        if !self.stacks.is_empty() {
            out.push_str("\n## Stacks\n");
        }
        for stack in &self.stacks {
            out.push_str(&format!("\n### `{}` ({})\n\n", stack.name, stack.change.as_str()));
            for line in &stack.plan {
                out.push_str(&format!("- plan: {line}\n"));
            }
            for route in &stack.routes {
                out.push_str(&format!("- route `{} {}` {}\n", route.method, route.path, route.change.as_str()));
            }
            for change in &stack.security {
                let mark = if change.weakens { " (weakens security)" } else { "" };
                out.push_str(&format!("- security: {}{mark}\n", change.message));
            }
            if stack.change != Change::Changed {
                let count = stack.resources.len();
                out.push_str(&format!(
                    "- {count} resource{} {}\n",
                    if count == 1 { "" } else { "s" },
                    stack.change.as_str()
                ));
                continue;
            }
            for resource in &stack.resources {
                out.push_str(&format!(
                    "- resource `{}` ({}) {}",
                    resource.logical_id,
                    resource.resource_type,
                    resource.change.as_str()
                ));
                if !resource.replaced_by.is_empty() {
                    out.push_str(" and **replaced**");
                }
                out.push('\n');
                for property in &resource.properties {
                    out.push_str(&format!("  - `{}` {}\n", property.path, property.change.as_str()));
                }
            }
        }
        if !self.artifacts.is_empty() {
            out.push_str("\n## Artifacts\n\n");
        }
        for artifact in &self.artifacts {
            out.push_str(&format!("- `{}` ({}) {}", artifact.path, artifact.kind, artifact.change.as_str()));
            if let Some(title) = &artifact.title {
                out.push_str(&format!(": {title}"));
            }
            if !artifact.fields.is_empty() {
                let fields: Vec<String> = artifact.fields.iter().map(|f| format!("`{f}`")).collect();
                out.push_str(&format!(" ({})", fields.join(", ")));
            }
            out.push('\n');
        }
        if !self.unlisted.is_empty() {
            out.push_str("\n## Files not in either manifest\n\n");
            for (path, change) in &self.unlisted {
                out.push_str(&format!("- `{path}` {}\n", change.as_str()));
            }
        }
        out
    }

    /// The review summary as JSON (`idpc-diff/1`).
    pub fn json(&self) -> String {
        let stacks: Vec<Value> = self
            .stacks
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "change": s.change.as_str(),
                    "plan": s.plan,
                    "routes": s.routes.iter().map(|r| json!({ "method": r.method, "path": r.path, "change": r.change.as_str() })).collect::<Vec<_>>(),
                    "security": s.security.iter().map(|c| json!({ "message": c.message, "weakens": c.weakens })).collect::<Vec<_>>(),
                    "resources": s.resources.iter().map(|r| json!({
                        "logical_id": r.logical_id,
                        "type": r.resource_type,
                        "change": r.change.as_str(),
                        "replaced_by": r.replaced_by,
                        "properties": r.properties.iter().map(|p| json!({ "path": p.path, "change": p.change.as_str() })).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let artifacts: Vec<Value> = self
            .artifacts
            .iter()
            .map(|a| json!({ "path": a.path, "kind": a.kind, "change": a.change.as_str(), "title": a.title, "fields": a.fields }))
            .collect();
        let warnings: Vec<Value> = self
            .warnings
            .iter()
            .map(|w| json!({ "kind": w.kind.as_str(), "subject": w.subject, "message": w.message }))
            .collect();
        let unlisted: Vec<Value> =
            self.unlisted.iter().map(|(p, c)| json!({ "path": p, "change": c.as_str() })).collect();
        let mut text = serde_json::to_string_pretty(&json!({
            "format": "idpc-diff/1",
            "changed": !self.is_empty(),
            "stacks": stacks,
            "artifacts": artifacts,
            "unlisted": unlisted,
            "warnings": warnings,
        }))
        .unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_like_code() {
        let segments: Vec<String> = ["Body", "paths", "/payments/{id}", "get", "[0]"].map(String::from).to_vec();
        assert_eq!(render_path(&segments), r#"Body.paths["/payments/{id}"].get[0]"#);
    }

    #[test]
    fn create_only_data_covers_every_type_idpc_emits() {
        for ty in [
            "AWS::ApiGateway::Account",
            "AWS::ApiGateway::BasePathMapping",
            "AWS::ApiGateway::Deployment",
            "AWS::ApiGateway::DomainName",
            "AWS::ApiGateway::RestApi",
            "AWS::ApiGateway::Stage",
            "AWS::Budgets::Budget",
            "AWS::CloudTrail::Trail",
            "AWS::Config::ConfigRule",
            "AWS::Config::ConfigurationRecorder",
            "AWS::Config::DeliveryChannel",
            "AWS::Events::Rule",
            "AWS::IAM::Role",
            "AWS::KMS::Key",
            "AWS::Lambda::Function",
            "AWS::Lambda::Permission",
            "AWS::Logs::LogGroup",
            "AWS::Organizations::Account",
            "AWS::S3::Bucket",
            "AWS::S3::BucketPolicy",
            "AWS::SNS::Topic",
            "AWS::SNS::TopicPolicy",
        ] {
            assert!(create_only().contains_key(ty), "{ty}");
        }
        assert_eq!(create_only()["AWS::ApiGateway::DomainName"], vec![vec!["DomainName".to_owned()]]);
    }

    #[test]
    fn allow_list_widening_uses_containment() {
        let old: BTreeSet<String> = ["10.0.0.0/8".to_owned()].into();
        assert!(within("10.1.0.0/16", &old));
        assert!(!within("11.0.0.0/16", &old));
        assert!(!within("0.0.0.0/0", &old));
    }
}
