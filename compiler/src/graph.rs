//! The dependency graph: platform, tenants, accounts, environments, baseline instances and API
//! stages as petgraph nodes; containment, `uses`, `requires` and authorizer edges between
//! them; cycles reported as one diagnostic each; stacks and their deploy waves.
//!
//! An edge points from the dependent to what it depends on. A stack depends on another when
//! one of its entities reaches an entity of the other through entities that belong to no
//! stack (an environment reaches the organisation stack through its requested account).
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use rayon::prelude::*;

use crate::diagnostics::{Code, Diagnostic, Diagnostics};
use crate::model::Region;
use crate::naming;
pub use crate::naming::StackKind;
use crate::resolve::stage::{Zone, zone_of};
use crate::resolve::{Owner, Resolved};
use crate::source::Span;

/// A thing in the estate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entity {
    /// The platform.
    Platform,
    /// Index into `Estate::tenants`.
    Tenant(usize),
    /// Index into `Estate::accounts`.
    Account(usize),
    /// Index into `Estate::environments`.
    Environment(usize),
    /// Index into `Resolved::instances`.
    Instance(usize),
    /// The gateway of an environment (index into `Estate::environments`).
    Gateway(usize),
    /// Index into `Resolved::stages`.
    Stage(usize),
}

/// Why one entity depends on another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// Lives inside.
    Contains,
    /// `uses`.
    Uses,
    /// A baseline's `requires`.
    Requires,
    /// An API stage's JWT authorizer.
    Authorizer,
    /// An API stage's deployment tracking (environment baselines).
    Tracking,
    /// An API stage's mapping on its environment's gateway.
    Mapping,
    /// A custom domain's records in its account's `dns-zone`.
    Zone,
}

/// A CloudFormation stack in the deploy plan.
#[derive(Clone, Debug)]
pub struct Stack {
    /// Unique stack name.
    pub name: String,
    /// What it deploys.
    pub kind: StackKind,
    /// Account name (`management` for the organisation stack).
    pub account: String,
    /// Account id, `None` while the account is requested.
    pub account_id: Option<String>,
    /// Region.
    pub region: Region,
    /// Indices (into `Plan::stacks`) of the stacks it depends on, sorted.
    pub depends_on: Vec<usize>,
    /// Deploy wave: greater than the wave of everything it depends on; first wave is 1.
    pub wave: u32,
    /// Stack tags.
    pub tags: BTreeMap<String, String>,
}

/// The deploy plan: stacks sorted by (wave, name).
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Stacks in deploy order.
    pub stacks: Vec<Stack>,
}

/// The entity graph.
pub struct Graph {
    /// Nodes are entities; edges go from dependent to dependency.
    pub graph: DiGraph<Entity, (EdgeKind, Option<Span>)>,
    nodes: BTreeMap<Entity, NodeIndex>,
}

impl Graph {
    /// Builds the entity graph of a resolved estate.
    pub fn build(resolved: &Resolved) -> Graph {
        let mut g = Graph { graph: DiGraph::new(), nodes: BTreeMap::new() };
        let estate = &resolved.estate;
        g.node(Entity::Platform);
        for t in 0..estate.tenants.len() {
            g.edge(Entity::Tenant(t), Entity::Platform, EdgeKind::Contains, None);
        }
        for (a, &t) in resolved.account_tenant.iter().enumerate() {
            g.edge(Entity::Account(a), Entity::Tenant(t), EdgeKind::Contains, None);
        }
        for (e, &a) in resolved.env_account.iter().enumerate() {
            if resolved.env_active[e] {
                g.edge(Entity::Environment(e), Entity::Account(a), EdgeKind::Contains, None);
            }
        }
        for (i, instance) in resolved.instances.iter().enumerate() {
            let owner = match instance.owner {
                Owner::Account(a) => Entity::Account(a),
                Owner::Environment(e) if resolved.env_active[e] => Entity::Environment(e),
                Owner::Environment(_) => continue,
            };
            g.edge(Entity::Instance(i), owner, EdgeKind::Contains, Some(instance.span));
            for required in &estate.baselines[instance.decl].requires {
                let mut owners = vec![instance.owner];
                if let Owner::Environment(e) = instance.owner {
                    owners.push(Owner::Account(resolved.env_account[e]));
                }
                let target = owners.into_iter().find_map(|owner| {
                    resolved.instances_of(owner).find(|(_, o)| o.name == required.value).map(|(i, _)| i)
                });
                if let Some(target) = target {
                    g.edge(Entity::Instance(i), Entity::Instance(target), EdgeKind::Requires, Some(required.span));
                }
            }
        }
        for (e, env) in estate.environments.iter().enumerate() {
            let Some(gateway) = env.gateway.as_ref().filter(|_| resolved.env_active[e]) else {
                continue;
            };
            g.edge(Entity::Gateway(e), Entity::Environment(e), EdgeKind::Contains, None);
            let a = resolved.env_account[e];
            if zone_of(gateway, &estate.accounts[a]) == Some(Zone::Account) {
                for (i, instance) in resolved.instances_of(Owner::Account(a)) {
                    if instance.name.as_str() == naming::DNS_ZONE_BASELINE {
                        g.edge(Entity::Gateway(e), Entity::Instance(i), EdgeKind::Zone, None);
                    }
                }
            }
        }
        for (s, stage) in resolved.stages.iter().enumerate() {
            let account = resolved.env_account[stage.env];
            g.edge(Entity::Stage(s), Entity::Environment(stage.env), EdgeKind::Contains, None);
            // API Gateway maps a stage on an existing domain only: the gateway's stack first.
            if stage.settings.endpoint.as_ref().is_some_and(|e| !e.dedicated) {
                g.edge(Entity::Stage(s), Entity::Gateway(stage.env), EdgeKind::Mapping, None);
            }
            // A domain of its own in the account's dns-zone imports the zone's id.
            if stage.settings.endpoint.as_ref().is_some_and(|e| e.dedicated && e.zone == Some(Zone::Account)) {
                for (i, instance) in resolved.instances_of(Owner::Account(account)) {
                    if instance.name.as_str() == naming::DNS_ZONE_BASELINE {
                        g.edge(Entity::Stage(s), Entity::Instance(i), EdgeKind::Zone, None);
                    }
                }
            }
            // Every stage needs the account's jwt-authorizer baseline: its authorizer (with `jwt`)
            // and the account's API Gateway logging role (always).
            for (i, instance) in resolved.instances_of(Owner::Account(account)) {
                if instance.name.as_str() == "jwt-authorizer" {
                    g.edge(Entity::Stage(s), Entity::Instance(i), EdgeKind::Authorizer, None);
                }
            }
            for (i, _) in resolved.instances_of(Owner::Environment(stage.env)) {
                g.edge(Entity::Stage(s), Entity::Instance(i), EdgeKind::Tracking, None);
            }
        }
        for edge in &resolved.uses {
            g.edge(Entity::Stage(edge.from), Entity::Stage(edge.to), EdgeKind::Uses, Some(edge.span));
        }
        g
    }

    fn node(&mut self, entity: Entity) -> NodeIndex {
        if let Some(&index) = self.nodes.get(&entity) {
            return index;
        }
        let index = self.graph.add_node(entity);
        self.nodes.insert(entity, index);
        index
    }

    fn edge(&mut self, from: Entity, to: Entity, kind: EdgeKind, span: Option<Span>) {
        let (a, b) = (self.node(from), self.node(to));
        self.graph.add_edge(a, b, (kind, span));
    }

    /// Reports every cycle once (cycles that repeat per environment are one diagnostic).
    /// Returns whether the graph is acyclic.
    pub fn check_cycles(&self, resolved: &Resolved, sink: &mut Diagnostics) -> bool {
        let mut seen: BTreeSet<Vec<Span>> = BTreeSet::new();
        let mut acyclic = true;
        for component in tarjan_scc(&self.graph) {
            let members: BTreeSet<NodeIndex> = component.iter().copied().collect();
            // Only the members' own edges: scanning every edge per component would be
            // quadratic, since each node of an acyclic graph is a component of its own.
            let mut edges: Vec<(Span, Entity, Entity)> = members
                .iter()
                .flat_map(|&m| self.graph.edges(m))
                .filter(|e| members.contains(&e.target()))
                .filter_map(|e| e.weight().1.map(|span| (span, self.graph[e.source()], self.graph[e.target()])))
                .collect();
            if edges.is_empty() {
                continue;
            }
            acyclic = false;
            edges.sort();
            let key: Vec<Span> = edges.iter().map(|(s, _, _)| *s).collect();
            if !seen.insert(key) {
                continue;
            }
            let mut names: Vec<String> = members.iter().map(|&m| describe(resolved, self.graph[m])).collect();
            names.sort();
            names.dedup();
            let mut diagnostic =
                Diagnostic::new(Code::DependencyCycle, format!("dependency cycle between {}", names.join(", ")))
                    .help("break the cycle: one of these must not depend on the others");
            for (i, (span, from, to)) in edges.iter().enumerate() {
                let label = format!("{} depends on {}", describe(resolved, *from), describe(resolved, *to));
                diagnostic = if i == 0 { diagnostic.primary(*span, label) } else { diagnostic.secondary(*span, label) };
            }
            sink.push(diagnostic);
        }
        acyclic
    }

    /// The stacks of the estate with their dependencies and waves (the graph must be acyclic).
    pub fn plan(&self, resolved: &Resolved) -> Plan {
        let estate = &resolved.estate;
        let platform = resolved.platform();
        let mut kinds: BTreeSet<StackKind> = BTreeSet::new();
        let mut owner: BTreeMap<Entity, StackKind> = BTreeMap::new();
        for (a, account) in estate.accounts.iter().enumerate() {
            if account.id.is_none() {
                owner.insert(Entity::Account(a), StackKind::Organisation);
            }
        }
        for (i, instance) in resolved.instances.iter().enumerate() {
            match instance.owner {
                Owner::Account(a) => owner.insert(Entity::Instance(i), StackKind::Account(a)),
                Owner::Environment(e) if resolved.env_active[e] => {
                    owner.insert(Entity::Instance(i), StackKind::Environment(e))
                }
                Owner::Environment(_) => None,
            };
        }
        for (e, env) in estate.environments.iter().enumerate() {
            if resolved.env_active[e] && env.gateway.is_some() {
                owner.insert(Entity::Gateway(e), StackKind::Gateway(e));
            }
        }
        for s in 0..resolved.stages.len() {
            owner.insert(Entity::Stage(s), StackKind::Stage(s));
        }
        kinds.extend(owner.values().copied());

        let mut depends: BTreeMap<StackKind, BTreeSet<StackKind>> = BTreeMap::new();
        for (&entity, &kind) in &owner {
            let Some(&start) = self.nodes.get(&entity) else {
                continue;
            };
            let mut stack = vec![start];
            let mut visited = BTreeSet::from([start]);
            while let Some(node) = stack.pop() {
                for next in self.graph.neighbors(node) {
                    if !visited.insert(next) {
                        continue;
                    }
                    match owner.get(&self.graph[next]) {
                        Some(&other) if other != kind => {
                            depends.entry(kind).or_default().insert(other);
                        }
                        Some(_) => stack.push(next),
                        None => stack.push(next),
                    }
                }
            }
        }

        // A stack's wave is one more than the latest of its dependencies' (1 without any),
        // assigned in topological order (Kahn): each stack once, when its last dependency is.
        // Stacks on a cycle, which `check_cycles` reported, keep wave 0.
        let kinds: Vec<StackKind> = kinds.into_iter().collect();
        let index: BTreeMap<StackKind, usize> = kinds.iter().enumerate().map(|(i, &k)| (k, i)).collect();
        let deps: Vec<Vec<usize>> = kinds
            .iter()
            .map(|k| depends.get(k).into_iter().flatten().filter_map(|d| index.get(d).copied()).collect())
            .collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); kinds.len()];
        for (i, of) in deps.iter().enumerate() {
            for &d in of {
                dependents[d].push(i);
            }
        }
        let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
        let mut ready: Vec<usize> = (0..kinds.len()).filter(|&i| waiting[i] == 0).collect();
        let mut waves = vec![0u32; kinds.len()];
        while let Some(i) = ready.pop() {
            waves[i] = deps[i].iter().map(|&d| waves[d]).max().map_or(1, |w| w + 1);
            for &j in &dependents[i] {
                waiting[j] -= 1;
                if waiting[j] == 0 {
                    ready.push(j);
                }
            }
        }

        // Names and tags are most of the work: built in parallel, collected in `kinds` order.
        let mut stacks: Vec<Stack> = kinds
            .par_iter()
            .zip(waves.par_iter())
            .map(|(&kind, &wave)| {
                let (account, account_id, region) = match kind {
                    StackKind::Organisation => (
                        "management".to_owned(),
                        Some(platform.management_account.value.0.clone()),
                        Region("us-east-1".to_owned()),
                    ),
                    StackKind::Account(a) => account_of(resolved, a),
                    StackKind::Environment(e) | StackKind::Gateway(e) => account_of(resolved, resolved.env_account[e]),
                    StackKind::Stage(s) => account_of(resolved, resolved.env_account[resolved.stages[s].env]),
                };
                Stack {
                    name: naming::stack_name(resolved, kind),
                    kind,
                    account,
                    account_id,
                    region,
                    depends_on: Vec::new(),
                    wave,
                    tags: naming::stack_tags(resolved, kind),
                }
            })
            .collect();
        stacks.sort_by(|a, b| (a.wave, &a.name).cmp(&(b.wave, &b.name)));
        let position: BTreeMap<StackKind, usize> = stacks.iter().enumerate().map(|(i, s)| (s.kind, i)).collect();
        for stack in &mut stacks {
            let mut deps: Vec<usize> =
                depends.get(&stack.kind).into_iter().flatten().filter_map(|d| position.get(d).copied()).collect();
            deps.sort_unstable();
            stack.depends_on = deps;
        }
        Plan { stacks }
    }
}

fn account_of(resolved: &Resolved, a: usize) -> (String, Option<String>, Region) {
    let account = &resolved.estate.accounts[a];
    let region = resolved.account_region(a).clone();
    (account.name.value.to_string(), account.id.as_ref().map(|id| id.value.0.clone()), region)
}

/// A short human description of an entity for messages.
pub fn describe(resolved: &Resolved, entity: Entity) -> String {
    let estate = &resolved.estate;
    match entity {
        Entity::Platform => "the platform".to_owned(),
        Entity::Tenant(t) => format!("tenant `{}`", estate.tenants[t].name.value),
        Entity::Account(a) => format!("account `{}`", estate.accounts[a].name.value),
        Entity::Environment(e) => format!("environment `{}`", estate.environments[e].name.value),
        Entity::Instance(i) => {
            let instance = &resolved.instances[i];
            let owner = match instance.owner {
                Owner::Account(a) => estate.accounts[a].name.value.as_str(),
                Owner::Environment(e) => estate.environments[e].name.value.as_str(),
            };
            format!("baseline `{}` of `{owner}`", instance.name)
        }
        Entity::Gateway(e) => format!("the gateway of `{}`", estate.environments[e].name.value),
        Entity::Stage(s) => {
            let stage = &resolved.stages[s];
            format!("`{}` in `{}`", estate.apis[stage.api].name.value, estate.environments[stage.env].name.value)
        }
    }
}
