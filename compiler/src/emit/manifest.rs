//! `manifest.json`: the deploy plan (stacks with accounts, regions, dependencies, waves and
//! tags) and every artifact with its kind, path and sha256.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use rayon::prelude::*;
use serde_json::{Value, json};

use super::{Artifact, ArtifactKind, object};
use crate::graph::Plan;
use crate::resolve::Resolved;

/// Where the manifest goes under OUT.
pub const PATH: &str = "manifest.json";

/// Format marker, bumped when the manifest's shape changes incompatibly.
pub const FORMAT: &str = "idpc-manifest/1";

pub use crate::digest::sha256;

/// The manifest of a build.
pub fn manifest(resolved: &Resolved, plan: &Plan, artifacts: &[Artifact]) -> Value {
    // Each stack's template, found once rather than by a scan of every artifact per stack.
    let templates: std::collections::BTreeMap<&str, &str> = artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::CloudFormation)
        .filter_map(|a| Some((a.stack.as_deref()?, a.path.as_str())))
        .collect();
    // Entries are built in parallel and collected in order.
    let stacks: Vec<Value> = plan
        .stacks
        .par_iter()
        .map(|stack| {
            let depends_on: Vec<&str> = stack.depends_on.iter().map(|&d| plan.stacks[d].name.as_str()).collect();
            let template = templates.get(stack.name.as_str());
            json!({
                "template": template,
                "name": stack.name,
                "account": stack.account,
                "account_id": stack.account_id,
                "region": stack.region.as_str(),
                "depends_on": depends_on,
                "wave": stack.wave,
                "tags": stack.tags,
            })
        })
        .collect();
    let artifacts: Vec<Value> = artifacts
        .par_iter()
        .map(|a| {
            let mut entry = json!({ "kind": a.kind.as_str(), "path": a.path, "sha256": a.sha256 });
            if let (Some(stack), Some(map)) = (&a.stack, entry.as_object_mut()) {
                map.insert("stack".into(), json!(stack));
            }
            entry
        })
        .collect();
    object([
        ("format", json!(FORMAT)),
        ("platform", json!(resolved.platform().name.value.as_str())),
        ("stacks", Value::Array(stacks)),
        ("artifacts", Value::Array(artifacts)),
    ])
}
