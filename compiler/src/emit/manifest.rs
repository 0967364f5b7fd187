//! `manifest.json`: the deploy plan (stacks with accounts, regions, dependencies, waves and
//! tags) and every artifact with its kind, path and sha256.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Artifact, ArtifactKind};
use crate::graph::Plan;
use crate::resolve::Resolved;

/// Where the manifest goes under OUT.
pub const PATH: &str = "manifest.json";

/// Format marker, bumped when the manifest's shape changes incompatibly.
pub const FORMAT: &str = "idpc-manifest/1";

pub use crate::digest::sha256;

// The manifest is serialized from these borrowed views, not from a `serde_json::Value`: it
// lists every artifact, and a tree of it was the largest allocation of a build (100 MB at
// 2,500 APIs). Fields are declared in sorted order, as `to_json` writes every object.

/// The manifest of a build.
#[derive(Serialize)]
pub struct Manifest<'a> {
    artifacts: Vec<ArtifactEntry<'a>>,
    format: &'static str,
    platform: &'a str,
    stacks: Vec<StackEntry<'a>>,
}

#[derive(Serialize)]
struct ArtifactEntry<'a> {
    kind: &'static str,
    path: &'a str,
    sha256: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    stack: Option<&'a str>,
}

#[derive(Serialize)]
struct StackEntry<'a> {
    account: &'a str,
    account_id: Option<&'a str>,
    depends_on: Vec<&'a str>,
    name: &'a str,
    region: &'a str,
    tags: &'a BTreeMap<String, String>,
    template: Option<&'a str>,
    wave: u32,
}

/// The manifest of a build.
pub fn manifest<'a>(resolved: &'a Resolved, plan: &'a Plan, artifacts: &'a [Artifact]) -> Manifest<'a> {
    // Each stack's template, found once rather than by a scan of every artifact per stack.
    let templates: BTreeMap<&str, &str> = artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::CloudFormation)
        .filter_map(|a| Some((a.stack.as_deref()?, a.path.as_str())))
        .collect();
    let stacks = plan
        .stacks
        .iter()
        .map(|stack| StackEntry {
            account: &stack.account,
            account_id: stack.account_id.as_deref(),
            depends_on: stack.depends_on.iter().map(|&d| plan.stacks[d].name.as_str()).collect(),
            name: &stack.name,
            region: stack.region.as_str(),
            tags: &stack.tags,
            template: templates.get(stack.name.as_str()).copied(),
            wave: stack.wave,
        })
        .collect();
    let artifacts = artifacts
        .iter()
        .map(|a| ArtifactEntry { kind: a.kind.as_str(), path: &a.path, sha256: &a.sha256, stack: a.stack.as_deref() })
        .collect();
    Manifest { artifacts, format: FORMAT, platform: resolved.platform().name.value.as_str(), stacks }
}
