//! What `idpc diff` found, and how a reviewer reads it: markdown for a pull-request comment,
//! rolled up across stacks (identical changes listed once with their count, where they are
//! and the list folded) and always short enough for one GitHub comment, or JSON
//! (`idpc-diff/2`) with every change of every stack.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::facts::show;

/// GitHub refuses a comment body over 65,536 characters; a little is kept for what the
/// workflow adds around the report.
pub const COMMENT_LIMIT: usize = 65_536 - 1_536;

/// Added, removed, renamed or changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Only in the new build.
    Added,
    /// Only in the old build.
    Removed,
    /// In both, different.
    Changed,
    /// Only in the old build under one name, only in the new under another: the same API
    /// stage, environment, gateway or account (`renamed-from`, or the same identity).
    Renamed,
}

impl Change {
    /// The word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
            Change::Renamed => "renamed",
        }
    }
}

/// What kind of warning, in the order a reviewer reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WarningKind {
    /// CloudFormation replaces a resource (deletes it and creates a new one).
    Replacement,
    /// CloudFormation deletes a resource or a whole stack.
    Deletion,
    /// A stack of production is renamed: a new stack is created and the old one deleted.
    Rename,
    /// Security is weaker after the change.
    Security,
    /// A guarantee is loosened: a budget, throttle, SLO, monitor or retention.
    Loosened,
    /// idpc cannot tell whether the change replaces the resource.
    Unknown,
}

impl WarningKind {
    /// The `kind` of `idpc-diff/2`.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::Replacement => "replacement",
            WarningKind::Deletion => "deletion",
            WarningKind::Rename => "rename",
            WarningKind::Security => "security",
            WarningKind::Loosened => "loosened",
            WarningKind::Unknown => "unknown-replacement",
        }
    }

    fn label(self) -> &'static str {
        match self {
            WarningKind::Replacement => "REPLACEMENT",
            WarningKind::Deletion => "DELETION",
            WarningKind::Rename => "RENAME",
            WarningKind::Security => "SECURITY",
            WarningKind::Loosened => "LOOSENED",
            WarningKind::Unknown => "CHECK",
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
    /// Whether the subject serves or protects production.
    pub production: bool,
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

/// A route of an API stage added, removed or changed in what it requires.
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

/// A value a person decides on, before and after.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueChange {
    /// What it is (`throttle rate (requests/s)`, ``baseline `cost` monthly-limit``).
    pub what: String,
    /// Before (`None`: not set).
    pub before: Option<Value>,
    /// After (`None`: no longer set).
    pub after: Option<Value>,
    /// Whether the change loosens the guarantee the value gives.
    pub weakens: bool,
}

impl ValueChange {
    /// `what: before → after`.
    pub fn describe(&self) -> String {
        let side = |v: &Option<Value>| v.as_ref().map_or_else(|| "not set".to_owned(), show);
        format!("{}: {} → {}", self.what, side(&self.before), side(&self.after))
    }
}

/// A stack that changed.
#[derive(Clone, Debug, PartialEq)]
pub struct StackChange {
    /// Stack name (the new one when renamed).
    pub name: String,
    /// Added, removed, changed or renamed.
    pub change: Change,
    /// For `Renamed`: the old stack's name.
    pub renamed_from: Option<String>,
    /// The facts' kind (`api-stage`, `environment`, ...); empty without facts.
    pub kind: String,
    /// Its tenant, from its facts.
    pub tenant: Option<String>,
    /// Its environment, from its facts.
    pub environment: Option<String>,
    /// Whether it serves or protects production (in either build).
    pub production: bool,
    /// Changes of the stack's plan entry (account, region, wave, dependencies, tags), in words.
    pub plan: Vec<String>,
    /// Resources of its template that changed.
    pub resources: Vec<ResourceChange>,
    /// Routes of its API that changed.
    pub routes: Vec<RouteChange>,
    /// Security settings that changed.
    pub security: Vec<SecurityChange>,
    /// Decided values that changed.
    pub values: Vec<ValueChange>,
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
    /// Stacks added, removed, renamed and changed, by name.
    pub stacks: Vec<StackChange>,
    /// Artifacts added, removed and changed, by path.
    pub artifacts: Vec<ArtifactChange>,
    /// Files not listed in either manifest that differ (hand-made files in OUT).
    pub unlisted: Vec<(String, Change)>,
    /// Warnings, sorted.
    pub warnings: Vec<Warning>,
    /// A budget raised past this factor is a warning.
    pub budget_factor: f64,
    /// The sides (`old`, `new`) built by an idpc without facts: their security was not
    /// compared.
    pub without_facts: Vec<&'static str>,
}

/// One line of the rolled-up report and the stacks or artifacts it is true of.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Group {
    /// `warnings`, `stacks` or `artifacts`.
    pub section: &'static str,
    /// The line, the same for every subject.
    pub line: String,
    /// Stack names or artifact paths, sorted.
    pub subjects: Vec<String>,
}

/// How much of each group the markdown shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Every subject, folded; every property path.
    Full,
    /// The first few subjects and no property paths.
    Summary,
}

const SUMMARY_SUBJECTS: usize = 8;

impl Report {
    /// Whether the two builds are the same.
    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty() && self.artifacts.is_empty() && self.unlisted.is_empty()
    }

    /// The lines of one stack's change, as the roll-up groups them.
    /// The first line of a stack that is removed, renamed or added (listed first, in that
    /// order), then what changed in it.
    fn stack_lines(stack: &StackChange, detail: Detail) -> (u8, Vec<String>) {
        let mut lines = Vec::new();
        let kind = if stack.kind.is_empty() { "stack".to_owned() } else { format!("{} stack", stack.kind) };
        let rank = match stack.change {
            Change::Added | Change::Removed => {
                lines.push(format!("{kind} {}", stack.change.as_str()));
                return (if stack.change == Change::Removed { 0 } else { 2 }, lines);
            }
            Change::Renamed => {
                lines.push(format!(
                    "{kind} renamed from `{}` (once deployed, remove any `renamed-from=` that says so)",
                    stack.renamed_from.as_deref().unwrap_or_default()
                ));
                1
            }
            Change::Changed => 3,
        };
        lines.extend(stack.plan.iter().map(|l| format!("plan: {l}")));
        // What weakens is a warning already, with the same words; listed once.
        for value in stack.values.iter().filter(|v| !v.weakens) {
            lines.push(value.describe());
        }
        for route in &stack.routes {
            lines.push(format!("route `{} {}` {}", route.method, route.path, route.change.as_str()));
        }
        for change in stack.security.iter().filter(|c| !c.weakens) {
            lines.push(format!("security (does not weaken): {}", change.message));
        }
        // A new deployment replacing the old (its logical id carries the body's hash) is how
        // API Gateway deploys a changed API: one line, the same in every stack.
        let redeployed = stack.resources.iter().any(|r| r.resource_type == super::resources::DEPLOYMENT);
        if redeployed {
            lines.push("API Gateway deployment redeployed (new OpenAPI body)".into());
        }
        for resource in stack.resources.iter().filter(|r| r.resource_type != super::resources::DEPLOYMENT) {
            let mut line =
                format!("resource `{}` ({}) {}", resource.logical_id, resource.resource_type, resource.change.as_str());
            if !resource.replaced_by.is_empty() {
                line.push_str(" and **replaced**");
            }
            if detail == Detail::Full && !resource.properties.is_empty() {
                let shown: Vec<String> = resource
                    .properties
                    .iter()
                    .take(12)
                    .map(|p| format!("`{}` {}", p.path, p.change.as_str()))
                    .collect();
                line.push_str(": ");
                line.push_str(&shown.join(", "));
                if resource.properties.len() > 12 {
                    line.push_str(&format!(" and {} more", resource.properties.len() - 12));
                }
            }
            lines.push(line);
        }
        (rank, lines)
    }

    /// The report rolled up: every line once, with the stacks or artifacts it is true of.
    /// Warnings first (replacements and deletions, renames, security, loosened guarantees,
    /// the rest), then stack changes in the order of their first stack, then artifacts.
    pub fn groups(&self) -> Vec<Group> {
        self.groups_with(Detail::Full)
    }

    fn groups_with(&self, detail: Detail) -> Vec<Group> {
        let mut out = Vec::new();
        // Production first within each kind: it is what the production gate counts.
        let mut warnings: BTreeMap<(WarningKind, bool, &str), Vec<String>> = BTreeMap::new();
        for w in &self.warnings {
            warnings.entry((w.kind, !w.production, &w.message)).or_default().push(w.subject.clone());
        }
        for ((kind, other, message), subjects) in warnings {
            let place = if other { "" } else { " (production)" };
            out.push(Group { section: "warnings", line: format!("**{}**{place} {message}", kind.label()), subjects });
        }
        let mut order: Vec<(u8, usize, String)> = Vec::new();
        let mut stacks: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for stack in &self.stacks {
            let (rank, lines) = Report::stack_lines(stack, detail);
            for (i, line) in lines.into_iter().enumerate() {
                let subjects = stacks.entry(line.clone()).or_default();
                if subjects.is_empty() {
                    // Only a stack's first line carries its rank; what changed inside follows.
                    order.push((if i == 0 { rank } else { 3 }, order.len(), line));
                }
                subjects.push(stack.name.clone());
            }
        }
        order.sort();
        for (_, _, line) in order {
            let subjects = stacks.remove(&line).unwrap_or_default();
            out.push(Group { section: "stacks", line, subjects });
        }
        let mut artifacts: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for a in &self.artifacts {
            let mut line = format!("{} {}", a.kind, a.change.as_str());
            if !a.fields.is_empty() {
                let fields: Vec<String> = a.fields.iter().take(12).map(|f| format!("`{f}`")).collect();
                line.push_str(&format!(" ({})", fields.join(", ")));
            }
            artifacts.entry(line).or_default().push(a.path.clone());
        }
        for (path, change) in &self.unlisted {
            artifacts.entry(format!("not in either manifest, {}", change.as_str())).or_default().push(path.clone());
        }
        out.extend(artifacts.into_iter().map(|(line, subjects)| Group { section: "artifacts", line, subjects }));
        out
    }

    /// Where a group's stacks are: `37 environments of 12 tenants`, when they have facts.
    fn places(by_name: &BTreeMap<&str, &StackChange>, subjects: &[String]) -> Option<String> {
        let mut envs = std::collections::BTreeSet::new();
        let mut tenants = std::collections::BTreeSet::new();
        for subject in subjects {
            let stack = by_name.get(subject.as_str())?;
            if let Some(t) = &stack.tenant {
                tenants.insert(t.as_str());
            }
            if let Some(e) = &stack.environment {
                envs.insert(e.as_str());
            }
        }
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        match (envs.len(), tenants.len()) {
            (0, 0) => None,
            (0, t) => Some(plural(t, "tenant")),
            (e, t) => Some(format!("{} of {}", plural(e, "environment"), plural(t, "tenant"))),
        }
    }

    fn render_group(group: &Group, detail: Detail, by_name: &BTreeMap<&str, &StackChange>) -> String {
        let noun = if group.section == "artifacts" { "file" } else { "stack" };
        let names = |subjects: &[String]| subjects.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ");
        let n = group.subjects.len();
        if n <= 3 {
            return format!("- {} — {}\n", group.line, names(&group.subjects));
        }
        let places = if group.section == "artifacts" { None } else { Report::places(by_name, &group.subjects) };
        let count = format!("{n} {noun}s{}", places.map(|p| format!(" in {p}")).unwrap_or_default());
        let list = match detail {
            Detail::Full => names(&group.subjects),
            Detail::Summary if n > SUMMARY_SUBJECTS => format!(
                "{} and {} more (in the full report)",
                names(group.subjects.get(..SUMMARY_SUBJECTS).unwrap_or_default()),
                n - SUMMARY_SUBJECTS
            ),
            Detail::Summary => names(&group.subjects),
        };
        format!(
            "- {} — **{count}**\n  <details><summary>{n} {noun}s</summary>\n\n  {list}\n\n  </details>\n",
            group.line
        )
    }

    fn header(&self) -> String {
        let count = |changes: &mut dyn Iterator<Item = Change>| {
            let mut counts = [0usize; 4];
            for c in changes {
                if let Some(n) = counts.get_mut(c as usize) {
                    *n += 1;
                }
            }
            counts
        };
        let [sa, sr, sc, sn] = count(&mut self.stacks.iter().map(|s| s.change));
        let [aa, ar, ac, _] = count(&mut self.artifacts.iter().map(|a| a.change));
        let mut kinds: BTreeMap<WarningKind, usize> = BTreeMap::new();
        for w in &self.warnings {
            *kinds.entry(w.kind).or_default() += 1;
        }
        let production = self.warnings.iter().filter(|w| w.production).count();
        let mut text = format!(
            "Stacks: {sa} added, {sr} removed, {sn} renamed, {sc} changed. Artifacts: {aa} added, {ar} removed, {ac} changed. Warnings: {}",
            self.warnings.len()
        );
        if !kinds.is_empty() {
            let parts: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {}", k.as_str())).collect();
            text.push_str(&format!(" ({}; {production} in production)", parts.join(", ")));
        }
        text.push_str(".\n");
        for side in &self.without_facts {
            text.push_str(&format!(
                "\n> The {side} build has no facts (built by an idpc before `idpc-facts/1`): security, values and renames were not compared. Rebuild it with this idpc.\n"
            ));
        }
        text
    }

    fn render(&self, detail: Detail, budget: usize) -> (String, usize) {
        let mut out = format!("# idpc diff\n\n{}", self.header());
        let groups = self.groups_with(detail);
        let by_name: BTreeMap<&str, &StackChange> = self.stacks.iter().map(|s| (s.name.as_str(), s)).collect();
        let mut omitted = 0;
        let mut section = "";
        for group in &groups {
            let mut text = String::new();
            if group.section != section {
                let title = match group.section {
                    "warnings" => "Warnings",
                    "stacks" => "Stacks",
                    _ => "Artifacts",
                };
                text.push_str(&format!("\n## {title}\n\n"));
            }
            text.push_str(&Report::render_group(group, detail, &by_name));
            if out.chars().count() + text.chars().count() > budget {
                omitted += 1;
                continue;
            }
            section = group.section;
            out.push_str(&text);
        }
        (out, omitted)
    }

    /// The review summary as markdown (for a pull-request comment or a terminal): never more
    /// than [`COMMENT_LIMIT`] characters. Past that, groups list their first stacks only, then
    /// the last groups are left out (artifacts first, warnings never before the rest), and the
    /// report says where the rest is.
    pub fn markdown(&self) -> String {
        if self.is_empty() {
            return "# idpc diff\n\nNo change: both builds are identical.\n".to_owned();
        }
        let (full, _) = self.render(Detail::Full, usize::MAX);
        if full.chars().count() <= COMMENT_LIMIT {
            return full;
        }
        let note_room = 600;
        let (mut short, omitted) = self.render(Detail::Summary, COMMENT_LIMIT - note_room);
        short.push_str(&format!(
            "\n---\n\nThis summary is shortened to fit one pull-request comment (the full report has {} characters{}). Every stack's change is in `idpc diff OLD NEW --format json` (`idpc-diff/2`), which the example workflow uploads as the `idpc-review` artifact.\n",
            full.chars().count(),
            if omitted > 0 { format!("; {omitted} lines are left out here") } else { String::new() }
        ));
        short
    }

    /// The review summary as JSON (`idpc-diff/2`).
    pub fn json(&self) -> String {
        let option = |v: &Option<Value>| v.clone().unwrap_or(Value::Null);
        let stacks: Vec<Value> = self
            .stacks
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "change": s.change.as_str(),
                    "renamed_from": s.renamed_from,
                    "kind": s.kind,
                    "tenant": s.tenant,
                    "environment": s.environment,
                    "production": s.production,
                    "plan": s.plan,
                    "routes": s.routes.iter().map(|r| json!({ "method": r.method, "path": r.path, "change": r.change.as_str() })).collect::<Vec<_>>(),
                    "security": s.security.iter().map(|c| json!({ "message": c.message, "weakens": c.weakens })).collect::<Vec<_>>(),
                    "values": s.values.iter().map(|v| json!({ "what": v.what, "before": option(&v.before), "after": option(&v.after), "weakens": v.weakens })).collect::<Vec<_>>(),
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
            .map(|w| json!({ "kind": w.kind.as_str(), "subject": w.subject, "message": w.message, "production": w.production }))
            .collect();
        let unlisted: Vec<Value> =
            self.unlisted.iter().map(|(p, c)| json!({ "path": p, "change": c.as_str() })).collect();
        let groups: Vec<Value> = self
            .groups()
            .iter()
            .map(|g| json!({ "section": g.section, "line": g.line, "subjects": g.subjects }))
            .collect();
        let mut text = serde_json::to_string_pretty(&json!({
            "format": "idpc-diff/2",
            "facts_format": crate::emit::facts::FORMAT,
            "changed": !self.is_empty(),
            "budget_factor": self.budget_factor,
            "without_facts": self.without_facts,
            "stacks": stacks,
            "artifacts": artifacts,
            "unlisted": unlisted,
            "warnings": warnings,
            "groups": groups,
        }))
        .unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(i: usize) -> StackChange {
        StackChange {
            name: format!("idpc-api-svc-{i}--bank-{}-prod", i % 25),
            change: Change::Changed,
            renamed_from: None,
            kind: "api-stage".into(),
            tenant: Some(format!("bank-{}", i % 25)),
            environment: Some(format!("bank-{}-prod", i % 25)),
            production: true,
            plan: vec![format!("tag `owner`: \"team-{i}\" → \"team-{}\"", i + 1)],
            resources: Vec::new(),
            routes: Vec::new(),
            security: Vec::new(),
            values: Vec::new(),
        }
    }

    #[test]
    fn a_report_past_one_comment_keeps_the_warnings_and_says_where_the_rest_is() {
        let stacks: Vec<StackChange> = (0..3_000).map(stack).collect();
        let mut warnings: Vec<Warning> = stacks
            .iter()
            .map(|s| Warning {
                kind: WarningKind::Deletion,
                subject: s.name.clone(),
                message: "the stack is no longer built".into(),
                production: true,
            })
            .collect();
        warnings.push(Warning {
            kind: WarningKind::Security,
            subject: "idpc-api-svc-1--bank-1-prod".into(),
            message: "the IP allow-list is removed: any address can call the API".into(),
            production: true,
        });
        let report = Report { stacks, warnings, budget_factor: 2.0, ..Report::default() };
        let (full, _) = report.render(Detail::Full, usize::MAX);
        assert!(full.chars().count() > COMMENT_LIMIT, "the case must not fit");
        let markdown = report.markdown();
        assert!(markdown.chars().count() <= COMMENT_LIMIT, "{}", markdown.chars().count());
        assert!(markdown.contains("This summary is shortened"), "{markdown}");
        assert!(markdown.contains("lines are left out here"), "{markdown}");
        assert!(markdown.contains("`idpc-review` artifact"), "{markdown}");
        // Both warnings, with their counts, before any change.
        let deletion = markdown.find(
            "**DELETION** (production) the stack is no longer built — **3000 stacks in 25 environments of 25 tenants**",
        );
        let security = markdown.find("**SECURITY** (production) the IP allow-list is removed");
        let first_change = markdown.find("- plan: tag");
        assert!(deletion.is_some() && security.is_some(), "{markdown}");
        assert!(security < first_change || first_change.is_none(), "{markdown}");
        assert!(markdown.contains("and 2992 more (in the full report)"), "{markdown}");
    }
}
