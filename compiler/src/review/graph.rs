//! `idpc graph`: the deploy plan's stacks and their dependencies as Graphviz DOT, Mermaid or
//! JSON, grouped by deploy wave, optionally narrowed to one tenant or environment.
//!
//! Node ids derive from stack names (never positions), so adding a stack changes only its own
//! lines. Edges point from a stack to the stack that depends on it: the deploy order.
#![allow(clippy::indexing_slicing)] // `depends_on` indices come from `graph::plan` and index its own `stacks`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::graph::{Plan, Stack, StackKind};

/// Which stacks to show.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only the stacks of this tenant (and what they depend on).
    pub tenant: Option<String>,
    /// Only the stacks of this environment (and what they depend on).
    pub environment: Option<String>,
}

/// A stack as shown: selected by the filter, or shown because a selected stack depends on it.
struct Shown<'a> {
    stack: &'a Stack,
    context: bool,
}

fn kind_name(kind: StackKind) -> &'static str {
    match kind {
        StackKind::Organisation => "organisation",
        StackKind::Account(_) => "account",
        StackKind::Environment(_) => "environment",
        StackKind::Gateway(_) => "gateway",
        StackKind::Stage(_) => "api-stage",
    }
}

fn selected(stack: &Stack, filter: &Filter) -> bool {
    let matches = |tag: &str, want: &Option<String>| {
        want.as_ref().is_none_or(|want| stack.tags.get(tag).is_some_and(|v| v == want))
    };
    matches("idpc:tenant", &filter.tenant) && matches("idpc:environment", &filter.environment)
}

/// The stacks to show, in plan order: the selected ones and everything they depend on.
fn shown<'a>(plan: &'a Plan, filter: &Filter) -> Vec<Shown<'a>> {
    let chosen: BTreeSet<usize> = (0..plan.stacks.len()).filter(|&i| selected(&plan.stacks[i], filter)).collect();
    let mut included = chosen.clone();
    let mut todo: Vec<usize> = chosen.iter().copied().collect();
    while let Some(i) = todo.pop() {
        for &d in &plan.stacks[i].depends_on {
            if included.insert(d) {
                todo.push(d);
            }
        }
    }
    included.iter().map(|&i| Shown { stack: &plan.stacks[i], context: !chosen.contains(&i) }).collect()
}

/// Tenant and environment names present in the plan, for usage errors.
pub fn tag_values(plan: &Plan, tag: &str) -> Vec<String> {
    let values: BTreeSet<&String> = plan.stacks.iter().filter_map(|s| s.tags.get(tag)).collect();
    values.into_iter().cloned().collect()
}

fn node_id(name: &str) -> String {
    name.replace('-', "_")
}

fn location(stack: &Stack) -> String {
    format!("{} ({}) {}", stack.account, stack.account_id.as_deref().unwrap_or("requested"), stack.region.as_str())
}

fn edges<'a>(plan: &'a Plan, shown: &[Shown<'a>]) -> Vec<(&'a str, &'a str)> {
    let names: BTreeSet<&str> = shown.iter().map(|s| s.stack.name.as_str()).collect();
    let mut edges = Vec::new();
    for s in shown {
        for &d in &s.stack.depends_on {
            let dependency = plan.stacks[d].name.as_str();
            if names.contains(dependency) {
                edges.push((dependency, s.stack.name.as_str()));
            }
        }
    }
    edges
}

fn waves(shown: &[Shown<'_>]) -> BTreeSet<u32> {
    shown.iter().map(|s| s.stack.wave).collect()
}

/// Graphviz DOT.
pub fn dot(plan: &Plan, filter: &Filter) -> String {
    let shown = shown(plan, filter);
    let mut out = String::from(
        "digraph idpc {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n  edge [color=\"#555555\"];\n",
    );
    for wave in waves(&shown) {
        out.push_str(&format!("  subgraph cluster_wave_{wave} {{\n    label=\"wave {wave}\";\n    style=dashed;\n"));
        for s in shown.iter().filter(|s| s.stack.wave == wave) {
            let style = if s.context { ", style=dashed, fontcolor=\"#777777\"" } else { "" };
            out.push_str(&format!(
                "    {} [label=\"{}\\n{}\\n{}\"{style}];\n",
                node_id(&s.stack.name),
                s.stack.name,
                kind_name(s.stack.kind),
                location(s.stack)
            ));
        }
        out.push_str("  }\n");
    }
    for (from, to) in edges(plan, &shown) {
        out.push_str(&format!("  {} -> {};\n", node_id(from), node_id(to)));
    }
    out.push_str("}\n");
    out
}

/// A Mermaid flowchart.
pub fn mermaid(plan: &Plan, filter: &Filter) -> String {
    let shown = shown(plan, filter);
    let mut out = String::from("flowchart LR\n");
    for wave in waves(&shown) {
        out.push_str(&format!("  subgraph wave_{wave}[\"wave {wave}\"]\n"));
        for s in shown.iter().filter(|s| s.stack.wave == wave) {
            out.push_str(&format!(
                "    {}[\"{}<br/>{}<br/>{}\"]\n",
                node_id(&s.stack.name),
                s.stack.name,
                kind_name(s.stack.kind),
                location(s.stack)
            ));
        }
        out.push_str("  end\n");
    }
    for (from, to) in edges(plan, &shown) {
        out.push_str(&format!("  {} --> {}\n", node_id(from), node_id(to)));
    }
    let context: Vec<String> = shown.iter().filter(|s| s.context).map(|s| node_id(&s.stack.name)).collect();
    if !context.is_empty() {
        out.push_str("  classDef context stroke-dasharray: 4 4,color:#777777\n");
        out.push_str(&format!("  class {} context\n", context.join(",")));
    }
    out
}

/// JSON (`idpc-graph/1`): stacks in deploy order with their dependencies, and the edges.
pub fn json(plan: &Plan, filter: &Filter) -> String {
    let shown = shown(plan, filter);
    let stacks: Vec<Value> = shown
        .iter()
        .map(|s| {
            let depends_on: Vec<&str> = s.stack.depends_on.iter().map(|&d| plan.stacks[d].name.as_str()).collect();
            json!({
                "name": s.stack.name,
                "kind": kind_name(s.stack.kind),
                "account": s.stack.account,
                "account_id": s.stack.account_id,
                "region": s.stack.region.as_str(),
                "tenant": s.stack.tags.get("idpc:tenant"),
                "environment": s.stack.tags.get("idpc:environment"),
                "wave": s.stack.wave,
                "depends_on": depends_on,
                "selected": !s.context,
            })
        })
        .collect();
    let edges: Vec<Value> =
        edges(plan, &shown).into_iter().map(|(from, to)| json!({ "dependency": from, "dependent": to })).collect();
    let mut text = serde_json::to_string_pretty(&json!({ "format": "idpc-graph/1", "stacks": stacks, "edges": edges }))
        .unwrap_or_default();
    text.push('\n');
    text
}
