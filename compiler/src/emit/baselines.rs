//! Baseline templates: every template of every baseline instance, rendered with Handlebars in
//! strict mode and parsed back.
//!
//! Templates stay dumb: names, ARNs and thresholds are computed here and in `naming`, and put
//! in the context. Every value goes in through the `json` helper (HTML escaping is off, and a
//! lint refuses any other insertion), so user text cannot break out of its JSON string. A
//! template that fails to parse or render, or renders something that is not the fragment its
//! artifact needs, is a `bad-template` diagnostic pointing at the baseline use and the
//! template line.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use std::collections::BTreeMap;

use handlebars::{Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason};
use serde_json::{Map, Value, json};

use crate::diagnostics::{Code, Diagnostic, Diagnostics};
use crate::graph::{Plan, StackKind};
use crate::model::{ParamType, ParamValue, TemplateArtifact};
use crate::naming;
use crate::resolve::{Instance, Owner, Resolved};
use crate::source::{FileId, SourceSet, Span};

/// A CloudFormation fragment of one baseline instance.
#[derive(Clone, Debug)]
pub struct Fragment {
    /// Index into `Resolved::instances`.
    pub instance: usize,
    /// `Resources`, by logical id.
    pub resources: Map<String, Value>,
    /// `Outputs`, by logical id.
    pub outputs: Map<String, Value>,
}

/// A Datadog monitor rendered by a baseline.
#[derive(Clone, Debug)]
pub struct Monitor {
    /// Path under OUT.
    pub path: String,
    /// The stack of the instance that rendered it.
    pub stack: String,
    /// The payload.
    pub payload: Value,
}

/// What the baselines of one stack rendered.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    /// CloudFormation fragments, in instance order.
    pub fragments: Vec<Fragment>,
    /// Datadog monitors, in instance order.
    pub monitors: Vec<Monitor>,
}

/// One template to render for one baseline use.
struct Job<'a> {
    index: usize,
    instance: &'a Instance,
    stack: &'a crate::graph::Stack,
    decl: &'a crate::model::BaselineDecl,
    template: &'a crate::model::TemplateDecl,
    path: String,
    file: FileId,
}

/// The baseline templates of a build, each registered once, and what each planned baseline
/// stack renders with them. A stack's templates render when the stack does
/// ([`Templates::render_stack`]), so that no stack's fragments wait in memory for the others.
pub struct Templates<'a> {
    registry: Handlebars<'a>,
    jobs: BTreeMap<StackKind, Vec<Job<'a>>>,
}

/// Registers every template that an instance of a planned stack uses; a missing or broken
/// template is reported once per use that needs it.
pub fn prepare<'a>(
    resolved: &'a Resolved,
    plan: &'a Plan,
    sources: &SourceSet,
    sink: &mut Diagnostics,
) -> Templates<'a> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    registry.register_escape_fn(handlebars::no_escape);
    registry.register_helper("json", Box::new(json_helper));
    registry.register_helper("concat", Box::new(concat_helper));
    let files: BTreeMap<&str, FileId> = sources.iter().map(|(id, f)| (f.path.as_str(), id)).collect();
    let mut registered: BTreeMap<String, Result<(), Diagnostic>> = BTreeMap::new();
    let stacks: BTreeMap<StackKind, &crate::graph::Stack> = plan.stacks.iter().map(|s| (s.kind, s)).collect();
    let mut jobs: BTreeMap<StackKind, Vec<Job<'a>>> = BTreeMap::new();
    for (index, instance) in resolved.instances.iter().enumerate() {
        let kind = match instance.owner {
            Owner::Account(a) => StackKind::Account(a),
            Owner::Environment(e) => StackKind::Environment(e),
        };
        let Some(&stack) = stacks.get(&kind) else { continue };
        let decl = &resolved.estate.baselines[instance.decl];
        for template in &decl.templates {
            let path = format!("{}/{}", decl.folder, template.file.value);
            let Some(&file) = files.get(path.as_str()) else {
                sink.push(
                    Diagnostic::new(Code::BadTemplate, format!("template `{path}` does not exist"))
                        .primary(instance.span, format!("`{}` needs this template", instance.name))
                        .secondary(template.file.span, "declared here")
                        .help(format!(
                            "add `{}` to the baseline's folder, or remove the `template` line",
                            template.file.value
                        )),
                );
                continue;
            };
            let status =
                registered.entry(path.clone()).or_insert_with(|| register(&mut registry, &path, file, sources));
            if let Err(problem) = status {
                sink.push(
                    problem.clone().primary(instance.span, format!("`{}` cannot be rendered", template.file.value)),
                );
                continue;
            }
            jobs.entry(kind).or_default().push(Job { index, instance, stack, decl, template, path, file });
        }
    }
    Templates { registry, jobs }
}

impl Templates<'_> {
    /// Renders the templates of one baseline stack's instances, in instance order, into
    /// checked fragments and monitors.
    pub fn render_stack(&self, resolved: &Resolved, sources: &SourceSet, kind: StackKind) -> (Rendered, Diagnostics) {
        let mut sink = Diagnostics::new();
        let mut rendered = Rendered::default();
        for job in self.jobs.get(&kind).map(Vec::as_slice).unwrap_or_default() {
            let failure = |message: String, at: Span| {
                Diagnostic::new(Code::BadTemplate, message)
                    .primary(job.instance.span, format!("rendering `{}` for this use failed", job.template.file.value))
                    .secondary(at, "template")
            };
            let whole_template = Span::new(job.file, 0, 0);
            let context = context(resolved, job.instance, &job.stack.name);
            let text = match self.registry.render(&job.path, &context) {
                Ok(text) => text,
                Err(error) => {
                    let at = template_span(sources, job.file, error.line_no.zip(error.column_no));
                    sink.push(failure(format!("template `{}` failed: {}", job.path, error.reason()), at));
                    continue;
                }
            };
            let value: Value = match serde_json::from_str::<Unique>(&text) {
                Ok(Unique(value)) => value,
                Err(error) if error.is_data() => {
                    // A key written twice (`serde_json` would keep the last value silently):
                    // pointed at the key's second occurrence in the template where it is there.
                    let message = format!("template `{}` rendered {error}", job.path);
                    let key = error.to_string();
                    let key = key.split('`').nth(1).unwrap_or_default().to_owned();
                    let source = sources.file(job.file).map(|f| f.text.as_str()).unwrap_or_default();
                    let quoted = format!("\"{key}\"");
                    let at = source
                        .match_indices(&quoted)
                        .nth(1)
                        .map_or(whole_template, |(i, _)| Span::new(job.file, i, i + quoted.len()));
                    sink.push(failure(message, at));
                    continue;
                }
                Err(error) => {
                    let message = format!(
                        "template `{}` rendered invalid JSON: {error} (line {} of the output)",
                        job.path,
                        error.line()
                    );
                    sink.push(failure(message, whole_template));
                    continue;
                }
            };
            let path = &job.path;
            match job.template.artifact {
                TemplateArtifact::CloudFormation => match fragment(job.index, &job.decl.name.value.pascal(), value) {
                    Ok(fragment) => {
                        insecure_resources(resolved, sources, job, &fragment, &mut sink);
                        rendered.fragments.push(fragment);
                    }
                    Err(problem) => sink.push(failure(format!("template `{path}` {problem}"), whole_template)),
                },
                TemplateArtifact::DatadogMonitor => match value {
                    Value::Null => {}
                    Value::Object(_) => rendered.monitors.push(Monitor {
                        path: naming::baseline_monitor_path(
                            &job.stack.name,
                            job.instance.name.as_str(),
                            job.template.stem(),
                        ),
                        stack: job.stack.name.clone(),
                        payload: value,
                    }),
                    _ => sink.push(failure(
                        format!("template `{path}` must render one monitor object or null"),
                        whole_template,
                    )),
                },
            }
        }
        check_collisions(resolved, &rendered.fragments, &mut sink);
        (rendered, sink)
    }
}

/// `insecure-resource` over one rendered fragment: an error where the owner's tenant's profile
/// lists the policy, else a warning. The diagnostic points at the baseline's use and at the
/// resource's logical id in the template.
fn insecure_resources(
    resolved: &Resolved,
    sources: &SourceSet,
    job: &Job<'_>,
    fragment: &Fragment,
    sink: &mut Diagnostics,
) {
    let tenant = match job.instance.owner {
        Owner::Account(a) => resolved.account_tenant[a],
        Owner::Environment(e) => resolved.env_tenant(e),
    };
    let listed = crate::check::lists_policy(resolved, tenant, Code::InsecureResource);
    let text = sources.file(job.file).map(|f| f.text.as_str()).unwrap_or_default();
    for (id, problem) in super::rules::insecure(&fragment.resources) {
        let quoted = format!("\"{id}\"");
        let at = text.find(&quoted).map_or(Span::new(job.file, 0, 0), |i| Span::new(job.file, i, i + quoted.len()));
        let mut diagnostic = Diagnostic::new(
            Code::InsecureResource,
            format!("baseline `{}` creates `{id}`, and {problem}", job.decl.name.value),
        )
        .primary(job.instance.span, format!("`{}` applied here", job.decl.name.value))
        .secondary(at, format!("`{id}` in {}", job.path))
        .help("fix the template: name the principals, grant only the actions needed, block public access, encrypt with a KMS key")
        .note("this policy cannot be waived");
        if !listed {
            diagnostic.severity = crate::diagnostics::Severity::Warning;
        }
        sink.push(diagnostic);
    }
}

fn register(registry: &mut Handlebars<'_>, path: &str, file: FileId, sources: &SourceSet) -> Result<(), Diagnostic> {
    let text = sources.file(file).map(|f| f.text.as_str()).unwrap_or_default();
    if let Some(offset) = partial(text) {
        return Err(Diagnostic::new(Code::BadTemplate, format!("template `{path}` uses a partial"))
            .secondary(Span::new(file, offset, offset + 3), "partial")
            .help("write the text in the template itself: a partial (`{{> name}}`, `{{#> name}}...{{/name}}`, `{{#*inline}}`) inserts template text the lint has not read"));
    }
    if let Some(offset) = raw_insertion(text) {
        return Err(Diagnostic::new(Code::BadTemplate, format!("template `{path}` inserts a value without `json`"))
            .secondary(Span::new(file, offset, offset + 2), "raw insertion")
            .help(
                "insert every value as `{{json ...}}` (strings built with `(concat ...)`), so that it stays valid JSON",
            ));
    }
    registry.register_template_string(path, text).map_err(|error| {
        let at = template_span(sources, file, error.pos());
        Diagnostic::new(Code::BadTemplate, format!("template `{path}` does not parse: {}", error.reason()))
            .secondary(at, "here")
            .help("fix the Handlebars syntax at this line")
    })
}

/// Offset of the first partial: `{{> name}}`, the block form `{{#> name}}`, or an inline
/// partial's definition `{{#*inline ...}}` (each with optional `~` and spaces).
pub fn partial(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text.get(from..).and_then(|t| t.find("{{")) {
        let at = from + found;
        let rest = text.get(at + 2..).unwrap_or_default().trim_start_matches('~').trim_start();
        let rest = rest.strip_prefix('#').map_or(rest, str::trim_start);
        if rest.starts_with('>') || rest.starts_with('*') {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

/// Offset of the first `{{...}}` that is neither a `json` insertion nor a block, comment or
/// `else`; triple-stash `{{{` is always refused.
pub fn raw_insertion(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text.get(from..).and_then(|t| t.find("{{")) {
        let at = from + found;
        let rest = text.get(at + 2..).unwrap_or_default();
        if rest.starts_with('{') {
            return Some(at);
        }
        let rest = rest.trim_start_matches('~').trim_start();
        let allowed = ["json ", "#", "/", "else", "!"].iter().any(|p| rest.starts_with(p));
        if !allowed {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

/// The span of a 1-based line and column of a template, or its first byte.
fn template_span(sources: &SourceSet, file: FileId, position: Option<(usize, usize)>) -> Span {
    let text = sources.file(file).map(|f| f.text.as_str()).unwrap_or_default();
    let offset = position.map_or(0, |(line, column)| {
        let line_start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
        (line_start + column.saturating_sub(1)).min(text.len())
    });
    Span::new(file, offset, (offset + 1).min(text.len()).max(offset))
}

fn fragment(instance: usize, prefix: &str, value: Value) -> Result<Fragment, String> {
    let Value::Object(mut object) = value else { return Err("must render a JSON object".into()) };
    let mut take = |key: &str| match object.remove(key) {
        None => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(format!("has a `{key}` that is not an object")),
    };
    let resources = take("Resources")?;
    let outputs = take("Outputs")?;
    if let Some(key) = object.keys().next() {
        return Err(format!("has `{key}`; a fragment holds only `Resources` and `Outputs`"));
    }
    for (id, resource) in resources.iter().chain(outputs.iter()) {
        if !id.starts_with(prefix) || !id.bytes().all(|b| b.is_ascii_alphanumeric()) || id.len() > 255 {
            return Err(format!("has logical id `{id}`; ids are alphanumeric and start with `{prefix}`"));
        }
        if !resource.is_object() {
            return Err(format!("has `{id}`, which is not an object"));
        }
    }
    for (id, resource) in &resources {
        if !resource.get("Type").is_some_and(Value::is_string) {
            return Err(format!("has resource `{id}` without a `Type`"));
        }
    }
    Ok(Fragment { instance, resources, outputs })
}

/// A JSON value in which no object has a key twice (RFC 8259 leaves duplicates to the reader:
/// `serde_json` keeps the last, CloudFormation refuses the template).
struct Unique(Value);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Unique(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!("the key `{key}` twice in one object")));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Two baselines of one stack must not define the same logical id.
fn check_collisions(resolved: &Resolved, fragments: &[Fragment], sink: &mut Diagnostics) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for fragment in fragments {
        for id in fragment.resources.keys().chain(fragment.outputs.keys()) {
            if let Some(&first) = seen.get(id.as_str()) {
                let (a, b) = (&resolved.instances[first], &resolved.instances[fragment.instance]);
                sink.push(
                    Diagnostic::new(Code::BadTemplate, format!("`{}` and `{}` both define `{id}`", a.name, b.name))
                        .primary(b.span, "second definition")
                        .secondary(a.span, "first definition")
                        .help("logical ids start with the baseline's own name; rename one"),
                );
            } else {
                seen.insert(id, fragment.instance);
            }
        }
    }
}

/// The template context of one instance.
pub fn context(resolved: &Resolved, instance: &Instance, stack_name: &str) -> Value {
    let estate = &resolved.estate;
    let decl = &estate.baselines[instance.decl];
    let (account, env) = match instance.owner {
        Owner::Account(a) => (a, None),
        Owner::Environment(e) => (resolved.env_account[e], Some(e)),
    };
    let platform = resolved.platform();
    let tenant = &estate.tenants[resolved.account_tenant[account]];
    let profile = tenant.compliance.as_ref().and_then(|c| estate.profiles.iter().find(|p| p.name.value == c.value));
    let mut params = Map::new();
    let mut s3 = Map::new();
    for (name, value) in &instance.params {
        params.insert(name.replace('-', "_"), param_json(value));
        let is_s3 = decl.params.iter().any(|p| &p.name.value == name && p.ty == ParamType::S3Uri);
        if let (true, ParamValue::String(uri)) = (is_s3, value) {
            let (bucket, key) = uri.trim_start_matches("s3://").split_once('/').unwrap_or_default();
            s3.insert(name.replace('-', "_"), json!({ "bucket": bucket, "key": key, "uri": uri }));
        }
    }
    let config_rules: Vec<Value> = profile
        .map(|p| {
            p.config_rules
                .iter()
                .map(|rule| {
                    let (name, logical_id) = naming::config_rule_names(&rule.identifier);
                    let input = if rule.input.is_empty() { Value::Null } else { json!(rule.input) };
                    json!({
                        "identifier": rule.identifier,
                        "name": name,
                        "logical_id": logical_id,
                        "description": rule.description,
                        "input_parameters": input,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let a = &estate.accounts[account];
    let mut context = json!({
        "platform": {
            "name": platform.name.value.as_str(),
            "notify": platform.datadog.notify.value.join(" "),
            "datadog_site": platform.datadog.site.value,
        },
        "tenant": {
            "name": tenant.name.value.as_str(),
            "compliance": tenant.compliance.as_ref().map(|c| c.value.as_str()),
        },
        "account": {
            "name": a.name.value.as_str(),
            "id": a.id.as_ref().map(|id| id.value.0.as_str()),
            "region": resolved.account_region(account).as_str(),
        },
        "stack": { "name": stack_name },
        "names": naming::baseline_names(resolved, account, env),
        "datadog": { "tags": naming::datadog_tags(resolved, account, env) },
    });
    if let Some(map) = context.as_object_mut() {
        map.insert("params".into(), Value::Object(params));
        map.insert("s3".into(), Value::Object(s3));
        map.insert("config_rules".into(), Value::Array(config_rules));
        if let Some(e) = env {
            let environment = &estate.environments[e];
            map.insert(
                "environment".into(),
                json!({ "name": environment.name.value.as_str(), "tier": environment.tier.value.as_str() }),
            );
        }
    }
    context
}

/// A parameter as JSON; whole numbers as integers, so that `2500` renders as `2500`.
fn param_json(value: &ParamValue) -> Value {
    match value {
        ParamValue::String(s) => json!(s),
        ParamValue::Integer(i) => json!(i),
        ParamValue::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => json!(*n as i64),
        ParamValue::Number(n) => json!(n),
        ParamValue::Boolean(b) => json!(b),
    }
}

/// `{{json value}}`: the value as JSON text.
fn json_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let param = h.param(0).ok_or(RenderErrorReason::ParamNotFoundForIndex("json", 0))?;
    missing(param)?;
    let text = serde_json::to_string(param.value()).map_err(|e| RenderErrorReason::Other(e.to_string()))?;
    out.write(&text)?;
    Ok(())
}

/// Strict mode for helper parameters: handlebars passes a missing path as null; we refuse it.
fn missing(param: &handlebars::PathAndJson<'_>) -> Result<(), RenderErrorReason> {
    match param.relative_path() {
        Some(path) if param.is_value_missing() => {
            Err(RenderErrorReason::Other(format!("`{path}` is not in the context")))
        }
        _ => Ok(()),
    }
}

/// `(concat a b ...)`: strings and numbers joined into one string.
fn concat_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let mut text = String::new();
    for param in h.params() {
        missing(param)?;
        match param.value() {
            Value::String(s) => text.push_str(s),
            Value::Number(n) => text.push_str(&n.to_string()),
            Value::Bool(b) => text.push_str(&b.to_string()),
            other => {
                return Err(RenderErrorReason::Other(format!("concat takes strings and numbers, not {other}")).into());
            }
        }
    }
    out.write(&text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Option<usize>) {
        assert_eq!(raw_insertion(text), expected);
    }

    #[test]
    fn raw_insertions() {
        check(r#"{"a": {{json x}}}"#, None);
        check(r#"{{#each xs}}{{json this}}{{/each}}{{#if a}}1{{else}}2{{/if}}{{! note }}"#, None);
        check(r#"{"a": "{{x}}"}"#, Some(7));
        check(r#"{"a": {{{x}}}}"#, Some(6));
        check(r#"{{~json x~}}"#, None);
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let error = serde_json::from_str::<Unique>(r#"{"a": {"b": 1, "b": 2}}"#).err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("the key `b` twice")));
        let Ok(Unique(value)) = serde_json::from_str::<Unique>(r#"{"a": [1, 2.5, "x", null, true]}"#) else {
            panic!("valid JSON refused")
        };
        assert_eq!(value, json!({"a": [1, 2.5, "x", null, true]}));
    }

    #[test]
    fn partials() {
        assert_eq!(partial(r#"{{> name}}"#), Some(0));
        assert_eq!(partial(r#"{"a": 1, {{#> name}}{"x": 1}{{/name}}}"#), Some(9));
        assert_eq!(partial(r#"{{~# > name}}"#), Some(0));
        assert_eq!(partial(r#"{{#*inline "x"}}{{/inline}}"#), Some(0));
        assert_eq!(partial(r#"{{#each xs}}{{json this}}{{/each}}"#), None);
    }
}
