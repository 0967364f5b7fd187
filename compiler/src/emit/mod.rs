//! Artifacts: what a build writes, rendered in memory.
//!
//! Emitters turn the resolved estate and the plan into JSON values; this module turns values
//! into bytes with the one serializer (pretty-printed, keys sorted, newline at the end), so
//! output is byte-identical for the same input on any machine. Emitters never import each
//! other; shared names come from `naming`.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

pub mod baselines;
pub mod cloudformation;
pub mod datadog;
pub mod domain;
pub mod facts;
pub mod limits;
pub mod manifest;
pub mod openapi;
pub mod reuse;
pub mod rules;
pub mod stage;

use crate::cache::Store;
use crate::diagnostics::Diagnostics;
use crate::graph::{Plan, StackKind};
use crate::naming;
use rayon::prelude::*;

use crate::resolve::Resolved;
use crate::source::SourceSet;

/// What an artifact is, as the manifest names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ArtifactKind {
    /// A CloudFormation template.
    CloudFormation,
    /// An OpenAPI 3.0.1 document in API Gateway import form.
    OpenApi,
    /// The OpenAPI document of a stage in an account idpc requests: import form but for
    /// `${AWS::AccountId}`, which is known at deploy time only (the stage's stack embeds it and
    /// CloudFormation fills it in).
    OpenApiTemplate,
    /// A Datadog monitor payload.
    DatadogMonitor,
    /// A Datadog dashboard payload.
    DatadogDashboard,
    /// A Datadog SLO payload.
    DatadogSlo,
}

impl ArtifactKind {
    /// Every kind.
    pub const ALL: [ArtifactKind; 6] = [
        ArtifactKind::CloudFormation,
        ArtifactKind::OpenApi,
        ArtifactKind::OpenApiTemplate,
        ArtifactKind::DatadogMonitor,
        ArtifactKind::DatadogDashboard,
        ArtifactKind::DatadogSlo,
    ];

    /// The manifest's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::CloudFormation => "cloudformation",
            ArtifactKind::OpenApi => "openapi",
            ArtifactKind::OpenApiTemplate => "openapi-template",
            ArtifactKind::DatadogMonitor => "datadog-monitor",
            ArtifactKind::DatadogDashboard => "datadog-dashboard",
            ArtifactKind::DatadogSlo => "datadog-slo",
        }
    }
}

/// One file of the output, besides the manifest.
#[derive(Clone, Debug)]
pub struct Artifact {
    /// What it is.
    pub kind: ArtifactKind,
    /// Path under OUT, `/`-separated, built from validated names only.
    pub path: String,
    /// The stack it belongs to, if any.
    pub stack: Option<String>,
    /// Contents (empty once handed to a consumer: see [`emit_into`]).
    pub bytes: Vec<u8>,
    /// Lower-case hex sha256 of the contents.
    pub sha256: String,
}

impl Artifact {
    fn new(kind: ArtifactKind, path: String, stack: Option<String>, bytes: Vec<u8>) -> Artifact {
        let sha256 = manifest::sha256(&bytes);
        Artifact { kind, path, stack, bytes, sha256 }
    }
}

/// Receives each artifact as soon as it is rendered (from several threads at once); `emit_into`
/// then drops its bytes, so that memory does not grow with the output.
pub type Consumer<'a> = &'a (dyn Fn(&Artifact) + Sync);

/// The whole output of a build: artifacts sorted by path, and the manifest.
#[derive(Clone, Debug)]
pub struct Output {
    /// Every artifact, sorted by path.
    pub artifacts: Vec<Artifact>,
    /// `manifest.json`.
    pub manifest: Vec<u8>,
    /// Whether the artifacts went to a consumer and carry no bytes.
    pub streamed: bool,
}

impl Output {
    /// Every file to write as (path, bytes), manifest included (artifacts without their bytes
    /// when the output was streamed).
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        std::iter::once((manifest::PATH, self.manifest.as_slice()))
            .chain(self.artifacts.iter().map(|a| (a.path.as_str(), a.bytes.as_slice())))
    }
}

/// The codes of the problems found while rendering (not reported when emitting is skipped).
pub const CODES: &[crate::diagnostics::Code] = &[
    crate::diagnostics::Code::BadTemplate,
    crate::diagnostics::Code::ResourcePolicyTooLarge,
    crate::diagnostics::Code::RouteTableTooLarge,
    crate::diagnostics::Code::StackTooLarge,
];

/// A JSON object from owned entries. Unlike `json!`, which copies every interpolated value
/// through serde (a deep copy of each nested tree, then a drop of the original), this moves
/// them: interpolate only strings and numbers into `json!`, and put values in with this.
pub fn object<const N: usize>(entries: [(&str, serde_json::Value); N]) -> serde_json::Value {
    serde_json::Value::Object(entries.into_iter().map(|(key, value)| (key.to_owned(), value)).collect())
}

/// Serializes a JSON value: two-space indent, keys sorted, trailing newline (byte for byte
/// what `serde_json::to_vec_pretty` writes, plus the newline).
pub fn to_json(value: &serde_json::Value) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(4096);
    print_value(&mut bytes, value, 0);
    bytes.push(b'\n');
    bytes
}

/// Prints a value at `depth` straight into a buffer: through serde, every bracket, comma and
/// string went through a formatter call and an `io::Write` on the buffer, and printing was
/// a fifth of rendering.
fn print_value(out: &mut Vec<u8>, value: &serde_json::Value, depth: usize) {
    use serde_json::Value;
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // serde_json's own digits (itoa and ryu); `Display` writes floats differently.
        Value::Number(number) => {
            if serde_json::to_writer(&mut *out, number).is_err() {
                out.extend_from_slice(b"null");
            }
        }
        Value::String(text) => print_string(out, text),
        Value::Array(items) => block(out, depth, (b'[', b']'), items, |out, item| print_value(out, item, depth + 1)),
        Value::Object(entries) => block(out, depth, (b'{', b'}'), entries, |out, (key, item)| {
            print_string(out, key);
            out.extend_from_slice(b": ");
            print_value(out, item, depth + 1);
        }),
    }
}

/// Prints `items` as a JSON array or object (its `brackets`) at `depth`, each on its own
/// line (`[]` or `{}` when there are none), each with `print`.
fn block<T>(
    out: &mut Vec<u8>,
    depth: usize,
    (open, close): (u8, u8),
    items: impl IntoIterator<Item = T>,
    print: impl Fn(&mut Vec<u8>, T),
) {
    out.push(open);
    let mut empty = true;
    for item in items {
        if !empty {
            out.push(b',');
        }
        empty = false;
        line(out, depth + 1);
        print(out, item);
    }
    if !empty {
        line(out, depth);
    }
    out.push(close);
}

/// A line break and the indentation of `depth` (two spaces a level), in one copy up to 63
/// levels.
fn line(out: &mut Vec<u8>, depth: usize) {
    const BREAK: &[u8; 127] = b"\n                                                                                                                              ";
    let spaces = depth * 2;
    let head = spaces.min(BREAK.len() - 1);
    out.extend_from_slice(BREAK.get(..=head).unwrap_or_default());
    out.resize(out.len() + (spaces - head), b' ');
}

/// A JSON string with serde_json's escapes: `\"`, `\\`, `\b \f \n \r \t`, other control
/// characters as `\u00xx`; everything else as it is.
fn print_string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.push(b'"');
    // Most strings need no escape: one check (without early exit, so it vectorises), one copy.
    if !bytes.iter().fold(false, |any, &b| any | (b < 0x20) | (b == b'"') | (b == b'\\')) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let digit = |n: u8| HEX.get(usize::from(n & 0xf)).copied().unwrap_or(b'0');
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', digit(b >> 4), digit(b)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

/// Renders every artifact of a resolved, acyclic estate. Problems in baseline templates go to
/// `sink`; the caller discards the output when there are errors.
pub fn emit(resolved: &Resolved, plan: &Plan, sources: &SourceSet, sink: &mut Diagnostics) -> Output {
    emit_into(resolved, plan, sources, sink, None, None)
}

/// [`emit`], handing each artifact to `consumer` as soon as it is rendered and keeping only
/// its path, kind, stack and hash (the manifest still lists every artifact); with `renders`,
/// API stages and dashboards rendered before from the same inputs are taken from it
/// ([`reuse`]).
pub fn emit_into(
    resolved: &Resolved,
    plan: &Plan,
    sources: &SourceSet,
    sink: &mut Diagnostics,
    consumer: Option<Consumer<'_>>,
    renders: Option<&dyn Store>,
) -> Output {
    let hand_over = |mut artifact: Artifact| {
        if let Some(consumer) = consumer {
            consumer(&artifact);
            artifact.bytes = Vec::new();
        }
        artifact
    };
    let templates = baselines::prepare(resolved, plan, sources, sink);
    let digests = renders.and_then(|_| reuse::Digests::of(resolved));
    let renders = renders.zip(digests.as_ref());
    // Every stack renders on its own (a baseline stack its templates too); collecting in plan
    // order keeps the result independent of scheduling.
    let per_stack: Vec<(Vec<Artifact>, Diagnostics)> = plan
        .stacks
        .par_iter()
        .map(|stack| {
            let (artifacts, diagnostics) = match (stack.kind, renders) {
                (StackKind::Stage(s), Some((store, digests))) => {
                    let inputs = reuse::StageInputs::of(resolved, digests, stack, &resolved.stages[s]);
                    reuse::artifacts(store, "stage", &inputs, |inputs| match inputs.view() {
                        Some((view, stack)) => stage_artifacts(&view, &stack, &view.stages[0]),
                        None => stage_artifacts(resolved, stack, &resolved.stages[s]),
                    })
                }
                _ => stack_artifacts(resolved, sources, stack, &templates),
            };
            (artifacts.into_iter().map(hand_over).collect(), diagnostics)
        })
        .collect();
    let mut artifacts = Vec::new();
    for (stack_artifacts, diagnostics) in per_stack {
        artifacts.extend(stack_artifacts);
        sink.append(diagnostics);
    }
    let mut stages_of: Vec<Vec<&crate::resolve::Stage>> = vec![Vec::new(); resolved.estate.apis.len()];
    for stage in &resolved.stages {
        stages_of[stage.api].push(stage);
    }
    let dashboards: Vec<Artifact> = resolved
        .estate
        .apis
        .par_iter()
        .zip(stages_of.par_iter())
        .enumerate()
        .filter(|(_, (_, stages))| !stages.is_empty())
        .flat_map_iter(|(index, (api, stages))| {
            let render = |resolved: &Resolved, api: &crate::model::Api, stages: &[&crate::resolve::Stage]| {
                let dashboard = Artifact::new(
                    ArtifactKind::DatadogDashboard,
                    naming::dashboard_path(&api.name.value),
                    None,
                    to_json(&datadog::dashboard(resolved, api, stages)),
                );
                (vec![dashboard], Diagnostics::new())
            };
            let (dashboard, _) = match renders {
                Some((store, digests)) => {
                    let inputs = reuse::DashboardInputs::of(resolved, digests, index, stages);
                    reuse::artifacts(store, "dashboard", &inputs, |inputs| match inputs.view() {
                        Some(view) => {
                            let stages: Vec<&crate::resolve::Stage> = view.stages.iter().collect();
                            render(&view, &view.estate.apis[0], &stages)
                        }
                        None => render(resolved, api, stages),
                    })
                }
                None => render(resolved, api, stages),
            };
            dashboard.into_iter().map(hand_over)
        })
        .collect();
    artifacts.extend(dashboards);
    artifacts.par_sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = manifest::manifest(resolved, plan, &artifacts);
    Output { artifacts, manifest, streamed: consumer.is_some() }
}

/// The artifacts of one baseline or organisation stack (its template; for a baseline stack
/// the monitors its baselines render), with the problems found on the way.
fn stack_artifacts(
    resolved: &Resolved,
    sources: &SourceSet,
    stack: &crate::graph::Stack,
    templates: &baselines::Templates<'_>,
) -> (Vec<Artifact>, Diagnostics) {
    let mut sink = Diagnostics::new();
    let mut artifacts = Vec::new();
    let template = match stack.kind {
        StackKind::Organisation => cloudformation::organisation_stack(resolved),
        StackKind::Gateway(e) => cloudformation::gateway_stack(resolved, e),
        StackKind::Account(_) | StackKind::Environment(_) => {
            let (rendered, diagnostics) = templates.render_stack(resolved, sources, stack.kind);
            sink.append(diagnostics);
            for monitor in rendered.monitors {
                let payload = to_json(&monitor.payload);
                artifacts.push(Artifact::new(ArtifactKind::DatadogMonitor, monitor.path, Some(monitor.stack), payload));
            }
            cloudformation::baseline_stack(resolved, stack, rendered.fragments)
        }
        StackKind::Stage(s) => return stage_artifacts(resolved, stack, &resolved.stages[s]),
    };
    artifacts.push(template_artifact(resolved, stack, &template, &mut sink));
    (artifacts, sink)
}

/// The artifacts of an API stage (its OpenAPI document, Datadog payloads and its stack's
/// template), from the resolved estate, the stage and its stack alone (the render cache gives it a
/// resolved estate holding only the stage's inputs: [`reuse`]).
fn stage_artifacts(
    resolved: &Resolved,
    stack: &crate::graph::Stack,
    stage: &crate::resolve::Stage,
) -> (Vec<Artifact>, Diagnostics) {
    let mut sink = Diagnostics::new();
    let mut artifacts = Vec::new();
    let document = openapi::document(resolved, stage);
    limits::policy(resolved, stack, &document, &mut sink);
    let requested = resolved.estate.accounts[resolved.env_account[stage.env]].id.is_none();
    let openapi = Artifact::new(
        if requested { ArtifactKind::OpenApiTemplate } else { ArtifactKind::OpenApi },
        naming::openapi_path(resolved, stage),
        Some(stack.name.clone()),
        to_json(&document),
    );
    let template = stage::template(resolved, stage, document, &openapi.sha256);
    limits::route_table(resolved, stack, &template, &mut sink);
    artifacts.push(openapi);
    for (kind, payload) in datadog::monitors(resolved, stage) {
        artifacts.push(Artifact::new(
            ArtifactKind::DatadogMonitor,
            naming::stage_monitor_path(resolved, stage, kind),
            Some(stack.name.clone()),
            to_json(&payload),
        ));
    }
    if let Some(slo) = datadog::slo(resolved, stage) {
        artifacts.push(Artifact::new(
            ArtifactKind::DatadogSlo,
            naming::stage_slo_path(resolved, stage),
            Some(stack.name.clone()),
            to_json(&slo),
        ));
    }
    artifacts.push(template_artifact(resolved, stack, &template, &mut sink));
    (artifacts, sink)
}

/// A stack's template as an artifact, checked against CloudFormation's size limit.
fn template_artifact(
    resolved: &Resolved,
    stack: &crate::graph::Stack,
    template: &serde_json::Value,
    sink: &mut Diagnostics,
) -> Artifact {
    let bytes = to_json(template);
    limits::template(resolved, stack, template, bytes.len(), sink);
    Artifact::new(ArtifactKind::CloudFormation, naming::template_path(&stack.name), Some(stack.name.clone()), bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pretty_matches_serde_json() {
        // Every shape the formatter distinguishes: empty and nested containers, first and later
        // items, escapes, numbers, and nesting deeper than its one-write indentation.
        let mut deep = serde_json::json!({ "leaf": [1, {}] });
        for level in 0..80 {
            deep =
                if level % 2 == 0 { serde_json::json!([deep, []]) } else { serde_json::json!({ "k": deep, "e": {} }) };
        }
        let value = serde_json::json!({
            "empty_array": [], "empty_object": {}, "nested": [[], [{}], { "a": [1, 2.5, -3] }],
            "text": "quote \" backslash \\ newline \n tab \t bell \u{7} é 🚀", "null": null, "yes": true,
            "controls": "\u{0}\u{8}\u{c}\r\u{1f}\u{7f}\u{2028} \"\\", "\"key\"\n": "k", "plain": "no escape at all",
            "numbers": [0, -1, 18446744073709551615u64, -9223372036854775808i64, 0.1, 1e21, 1.5e-7, -0.0],
            "deep": deep,
        });
        let mut expected = serde_json::to_vec_pretty(&value).unwrap();
        expected.push(b'\n');
        assert_eq!(String::from_utf8(super::to_json(&value)).unwrap(), String::from_utf8(expected).unwrap());
        for scalar in [serde_json::json!("x"), serde_json::json!(1), serde_json::json!(null), serde_json::json!([])] {
            assert_eq!(super::to_json(&scalar), [serde_json::to_vec_pretty(&scalar).unwrap(), b"\n".to_vec()].concat());
        }
    }

    #[test]
    fn json_keys_are_sorted() {
        // Guards against a dependency enabling serde_json's `preserve_order` through feature
        // unification, which would make output depend on insertion order.
        let value: serde_json::Value = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
        assert_eq!(String::from_utf8(super::to_json(&value)).unwrap(), "{\n  \"a\": 2,\n  \"b\": 1\n}\n");
    }
}
