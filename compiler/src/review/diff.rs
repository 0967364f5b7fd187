//! `idpc diff OLD NEW` and `idpc build --check`: what changes between two builds, for the
//! person reviewing a pull request.
//!
//! Both sides are whole output trees (`tree`). Stacks are matched by name, then renamed ones
//! by identity (`rename`); for each pair the plan entries are compared here, the templates'
//! resources in `resources` (with the create-only properties that replace a resource), and
//! the stacks' facts in `facts` (routes, security, decided values). Every change that replaces
//! or deletes a resource, renames a production stack, weakens security or loosens a guarantee
//! is a warning. `report` rolls the result up for a reviewer.
#![allow(clippy::indexing_slicing)] // Only `Value` indexing, which yields `Null` for a missing key.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

pub use super::report::{
    ArtifactChange, COMMENT_LIMIT, Change, Group, PropertyChange, Report, ResourceChange, RouteChange, SecurityChange,
    StackChange, ValueChange, Warning, WarningKind,
};
use super::resources::{self, DEPLOYMENT, SECURITY_TYPES, create_only};
pub use super::tree::{DiffError, Tree};
use super::tree::{Manifest, json_of, parse_manifest};
use crate::emit::facts::Facts;

/// What the reviewer chooses.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// A budget raised by more than this factor is a warning.
    pub budget_factor: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options { budget_factor: 2.0 }
    }
}

/// Compares two builds with the default options.
pub fn diff(old: &Tree, new: &Tree) -> Result<Report, DiffError> {
    diff_with(old, new, Options::default())
}

/// Compares two builds.
pub fn diff_with(old: &Tree, new: &Tree, options: Options) -> Result<Report, DiffError> {
    let old_manifest = parse_manifest(old, "old")?;
    let new_manifest = parse_manifest(new, "new")?;
    let mut report = Report { budget_factor: options.budget_factor, ..Report::default() };
    // A side with stacks and no facts was built by an older idpc (an empty base has nothing
    // to compare anyway).
    for (side, m) in [("old", &old_manifest), ("new", &new_manifest)] {
        if m.facts.is_empty() && !m.stacks.is_empty() {
            report.without_facts.push(side);
        }
    }

    let removed: BTreeMap<&str, &Facts> = old_manifest
        .facts
        .iter()
        .filter(|(n, _)| !new_manifest.stacks.contains_key(*n))
        .map(|(n, f)| (n.as_str(), f))
        .collect();
    let added: BTreeMap<&str, &Facts> = new_manifest
        .facts
        .iter()
        .filter(|(n, _)| !old_manifest.stacks.contains_key(*n))
        .map(|(n, f)| (n.as_str(), f))
        .collect();
    let renamed = super::rename::pairs(&removed, &added);
    let renamed_old: BTreeSet<&String> = renamed.values().collect();

    let names: BTreeSet<&String> = old_manifest.stacks.keys().chain(new_manifest.stacks.keys()).collect();
    for name in names {
        if renamed_old.contains(name) {
            continue; // Reported under its new name.
        }
        let old_name = renamed.get(name).unwrap_or(name);
        let (before, after) = (old_manifest.stacks.get(old_name), new_manifest.stacks.get(name));
        let sha = |m: &Manifest, entry: Option<&Value>| {
            entry.and_then(|s| s["template"].as_str()).and_then(|p| m.artifacts.get(p)).map(|a| a.1.clone())
        };
        let same_facts = old_manifest.facts.get(old_name) == new_manifest.facts.get(name);
        if before.is_some() && before == after && same_facts && sha(&old_manifest, before) == sha(&new_manifest, after)
        {
            continue; // Same plan entry, facts and template bytes: nothing to read.
        }
        let template = |m: Option<&Value>, tree: &Tree| match m.and_then(|s| s["template"].as_str()) {
            Some(path) => json_of(tree, path).map(Some),
            None => Ok(None),
        };
        let (old_template, new_template) = (template(before, old)?, template(after, new)?);
        let change = match (before, after) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            _ if old_name != name => Change::Renamed,
            _ => Change::Changed,
        };
        let (old_facts, new_facts) = (old_manifest.facts.get(old_name), new_manifest.facts.get(name));
        let facts = new_facts.or(old_facts);
        let mut stack = StackChange {
            name: name.clone(),
            change,
            renamed_from: (old_name != name).then(|| old_name.clone()),
            kind: facts.map(|f| f.kind.clone()).unwrap_or_default(),
            tenant: facts.and_then(|f| f.tenant.clone()),
            environment: facts.and_then(|f| f.environment.clone()),
            production: old_facts.is_some_and(|f| f.production) || new_facts.is_some_and(|f| f.production),
            plan: Vec::new(),
            resources: Vec::new(),
            routes: Vec::new(),
            security: Vec::new(),
            values: Vec::new(),
        };
        if let (Some(before), Some(after)) = (before, after) {
            stack.plan = plan_changes(before, after);
        }
        let empty = Value::Null;
        let (old_t, new_t) = (old_template.as_ref().unwrap_or(&empty), new_template.as_ref().unwrap_or(&empty));
        if old_t != new_t {
            stack.resources = resources::resource_changes(old_t, new_t);
        }
        let no_facts = Facts::default();
        let (of, nf) = (old_facts.unwrap_or(&no_facts), new_facts.unwrap_or(&no_facts));
        stack.routes = super::facts::route_changes(of, nf);
        if matches!(change, Change::Changed | Change::Renamed) {
            stack.security = super::facts::security_changes(of, nf);
            stack.values = super::facts::value_changes(of, nf, options.budget_factor);
            if let (Some(before), Some(after)) = (url(of), url(nf))
                && before != after
            {
                stack.values.push(ValueChange {
                    what: "URL".into(),
                    before: Some(before.into()),
                    after: Some(after.into()),
                    weakens: false,
                });
            }
        }
        if change == Change::Added {
            stack.security = super::facts::exposure(nf);
        }
        if change == Change::Changed
            && stack.plan.is_empty()
            && stack.resources.is_empty()
            && stack.routes.is_empty()
            && stack.security.is_empty()
            && stack.values.is_empty()
            && old_t == new_t
        {
            continue;
        }
        warn_stack(&stack, old_t, new_t, &mut report.warnings);
        report.stacks.push(stack);
    }
    // The names a rename changed (API, environment, stack), for the artifacts the renamed
    // stacks carry: `apis/payments/...` is `apis/payments-v2/...` recreated, not a loss.
    let mut renames: BTreeMap<String, String> = BTreeMap::new();
    for (new_name, old_name) in &renamed {
        renames.insert(old_name.clone(), new_name.clone());
        if let (Some(o), Some(n)) = (old_manifest.facts.get(old_name), new_manifest.facts.get(new_name)) {
            for (a, b) in [(&o.api, &n.api), (&o.environment, &n.environment)] {
                if let (Some(a), Some(b)) = (a, b)
                    && a != b
                {
                    renames.insert(a.clone(), b.clone());
                }
            }
        }
    }
    artifact_changes(old, new, &old_manifest, &new_manifest, &renames, &mut report)?;
    report.warnings.sort();
    report.warnings.dedup();
    Ok(report)
}

/// Artifacts added, removed and changed, and files in neither manifest.
fn artifact_changes(
    old: &Tree,
    new: &Tree,
    old_manifest: &Manifest,
    new_manifest: &Manifest,
    renames: &BTreeMap<String, String>,
    report: &mut Report,
) -> Result<(), DiffError> {
    let renamed_path = |path: &str| -> String {
        path.split('/')
            .map(|segment| renames.get(segment).map_or(segment, String::as_str))
            .collect::<Vec<_>>()
            .join("/")
    };
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
            resources::compare(&old_value, &new_value, &mut Vec::new(), &mut changes);
            fields = changes.into_iter().map(|c| c.path).collect();
        }
        if change == Change::Removed && kind.starts_with("datadog-") {
            let stack = before.and_then(|b| b.2.as_ref());
            let production = stack.and_then(|s| old_manifest.facts.get(s)).is_some_and(|f| f.production);
            let what = kind.trim_start_matches("datadog-");
            let title = title.as_deref().unwrap_or(path);
            let successor = renamed_path(path);
            let recreated = successor != *path
                && new_manifest.artifacts.contains_key(&successor)
                && !old_manifest.artifacts.contains_key(&successor);
            let (kind, message) = if recreated {
                (
                    WarningKind::Rename,
                    if what == "dashboard" {
                        format!(
                            "dashboard `{title}` is recreated as `{successor}` by the rename: a new dashboard at a new URL (links to the old one break); delete the old one if your deployer does not"
                        )
                    } else {
                        format!(
                            "{what} `{title}` is recreated as `{successor}` by the rename: a new {what} in Datadog, without the old one's history, mutes and downtimes; delete the old one if your deployer does not"
                        )
                    },
                )
            } else {
                (
                    WarningKind::Deletion,
                    format!("{what} `{title}` is no longer built; delete it in Datadog if your deployer does not"),
                )
            };
            report.warnings.push(Warning { kind, subject: path.clone(), message, production });
        }
        report.artifacts.push(ArtifactChange { path: path.clone(), kind, change, title, fields });
    }

    let listed = |m: &Manifest, p: &str| p == crate::emit::manifest::PATH || m.artifacts.contains_key(p);
    let (old_paths, new_paths) = (old.paths(), new.paths());
    let files: BTreeSet<&String> = old_paths.iter().chain(new_paths.iter()).copied().collect();
    for path in files {
        if listed(old_manifest, path) || listed(new_manifest, path) {
            continue;
        }
        match (old.bytes(path)?, new.bytes(path)?) {
            (Some(_), None) => report.unlisted.push((path.clone(), Change::Removed)),
            (None, Some(_)) => report.unlisted.push((path.clone(), Change::Added)),
            (Some(a), Some(b)) if a != b => report.unlisted.push((path.clone(), Change::Changed)),
            _ => {}
        }
    }
    Ok(())
}

/// Where a stage is served: `https://HOST/BASE-PATH`.
fn url(facts: &Facts) -> Option<String> {
    let host = facts.domain.as_ref().filter(|_| facts.kind == "api-stage")?;
    Some(match &facts.base_path {
        Some(path) => format!("https://{host}/{path}"),
        None => format!("https://{host}"),
    })
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Whether CloudFormation keeps a resource when its stack deletes it.
fn kept(resource: &Value) -> Option<&str> {
    resource["DeletionPolicy"].as_str().filter(|p| matches!(*p, "Retain" | "RetainExceptOnCreate"))
}

fn plan_changes(before: &Value, after: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for field in ["account", "account_id", "region", "wave"] {
        if before[field] != after[field] {
            out.push(format!("{field}: {} → {}", before[field], after[field]));
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
            (Some(a), Some(b)) if a != b => out.push(format!("tag `{key}`: {a} → {b}")),
            (None, Some(b)) => out.push(format!("tag `{key}` added: {b}")),
            (Some(_), None) => out.push(format!("tag `{key}` removed")),
            _ => {}
        }
    }
    out
}

/// The warnings a stack's changes call for.
fn warn_stack(stack: &StackChange, old_template: &Value, new_template: &Value, warnings: &mut Vec<Warning>) {
    let push = |warnings: &mut Vec<Warning>, kind, message: String| {
        warnings.push(Warning { kind, subject: stack.name.clone(), message, production: stack.production });
    };
    let old_resources = resources::resources(old_template);
    match stack.change {
        Change::Removed => {
            let count = old_resources.len();
            let retained = old_resources.values().filter(|r| kept(r).is_some()).count();
            push(
                warnings,
                WarningKind::Deletion,
                format!(
                    "the stack is no longer built: deleting it deletes {} ({retained} kept by their DeletionPolicy)",
                    plural(count - retained, "resource")
                ),
            );
            return;
        }
        // A stack cannot be renamed in CloudFormation: the deployer creates the new stack and
        // deletes the old one, so everything in it is created again (a new API id, a new
        // mapping on the domain; callers of the old one fail while both change).
        Change::Renamed if stack.production => {
            let retained = old_resources.values().filter(|r| kept(r).is_some()).count();
            push(
                warnings,
                WarningKind::Rename,
                format!(
                    "renamed from `{}` in production: CloudFormation creates a new stack and deleting the old one deletes {} ({retained} kept by their DeletionPolicy, to delete by hand)",
                    stack.renamed_from.as_deref().unwrap_or_default(),
                    plural(old_resources.len() - retained, "resource")
                ),
            );
        }
        _ => {}
    }
    if stack.change == Change::Renamed {
        // API Gateway refuses a custom domain name or a base path mapping that already exists
        // (`ConflictException`): the new stack cannot create what the old one still holds.
        let names = |template: &Value, ty: &str, field: &str| -> BTreeSet<String> {
            resources::resources(template)
                .values()
                .filter(|r| r["Type"] == ty)
                .map(|r| r["Properties"][field].to_string())
                .collect()
        };
        let domain = "AWS::ApiGateway::DomainName";
        for host in names(old_template, domain, "DomainName").intersection(&names(new_template, domain, "DomainName")) {
            push(
                warnings,
                WarningKind::Replacement,
                format!(
                    "the new stack creates the domain {host}, which the old stack `{}` still holds: API Gateway refuses a domain that exists, so the old stack must be deleted first, and the domain is down in between",
                    stack.renamed_from.as_deref().unwrap_or_default()
                ),
            );
        }
        let mapping = |t: &Value| -> BTreeSet<String> {
            resources::resources(t)
                .values()
                .filter(|r| r["Type"] == "AWS::ApiGateway::BasePathMapping")
                .map(|r| format!("{} {}", r["Properties"]["DomainName"], r["Properties"]["BasePath"]))
                .collect()
        };
        for shared in mapping(old_template).intersection(&mapping(new_template)) {
            push(
                warnings,
                WarningKind::Replacement,
                format!(
                    "the new stack maps {shared} (domain, base path), which the old stack `{}` still maps: API Gateway refuses a second mapping, so the old stack must be deleted first, and the path is down in between",
                    stack.renamed_from.as_deref().unwrap_or_default()
                ),
            );
        }
    }
    for value in stack.values.iter().filter(|v| v.what == "URL" && stack.production) {
        push(warnings, WarningKind::Rename, format!("{}: callers of the old URL fail", value.describe()));
    }
    // A renamed stack is a new stack: all of it is created and the old stack deleted (the
    // rename warning says so, with what its DeletionPolicy keeps); its resources are not
    // "replaced" one by one.
    let resources: &[ResourceChange] = if stack.change == Change::Renamed { &[] } else { &stack.resources };
    // API Gateway deployments are immutable snapshots: a new one replacing the old is how a
    // changed API is deployed, not a loss.
    let redeployed = resources.iter().any(|r| r.change == Change::Added && r.resource_type == DEPLOYMENT);
    for resource in resources {
        let what = format!("`{}` ({})", resource.logical_id, resource.resource_type);
        match resource.change {
            Change::Removed if resource.resource_type == DEPLOYMENT && redeployed => {}
            Change::Removed => {
                let fate = match old_resources.get(&resource.logical_id).and_then(|r| kept(r)) {
                    Some(policy) => format!(
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
            Change::Changed if !resource.replaced_by.is_empty() => {
                let because = resource.replaced_by.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ");
                // The policy of the template being deployed decides what happens to the old one.
                let retained = resources::resources(new_template)
                    .get(&resource.logical_id)
                    .and_then(|r| r["UpdateReplacePolicy"].as_str())
                    .is_some_and(|p| p == "Retain");
                let fate = if retained {
                    "a new one is created and the old one is kept, orphaned (UpdateReplacePolicy Retain): delete it by hand"
                } else {
                    "deleted and created again"
                };
                push(
                    warnings,
                    WarningKind::Replacement,
                    format!("{what} is replaced ({fate}) because {because} changed"),
                );
            }
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
    for value in stack.values.iter().filter(|v| v.weakens) {
        push(warnings, WarningKind::Loosened, format!("{} loosens a guarantee", value.describe()));
    }
}
