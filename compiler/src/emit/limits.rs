//! Limits no scanner checks before deploy time: API Gateway's 8,192-character resource
//! policy, and CloudFormation's resource count and template size (with a margin: 450
//! resources, 900 KB), checked on each rendered value where the emitter makes it.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use serde_json::Value;

use crate::diagnostics::{Code, Diagnostic, Diagnostics};
use crate::graph::{Stack, StackKind};
use crate::resolve::Resolved;
use crate::source::Span;

/// API Gateway's limit on a REST API's resource policy, in characters.
pub const MAX_POLICY_CHARS: usize = 8_192;
/// Resources per stack idpc writes (CloudFormation refuses more than 500).
pub const MAX_RESOURCES: usize = 450;
/// Template bytes idpc writes (CloudFormation refuses more than 1 MB from S3).
pub const MAX_TEMPLATE_BYTES: usize = 900 * 1024;

/// Reports a stage whose OpenAPI document carries a resource policy longer than API Gateway takes.
pub fn policy(resolved: &Resolved, stack: &Stack, document: &Value, sink: &mut Diagnostics) {
    let Some(policy) = document.get("x-amazon-apigateway-policy") else { return };
    let length = serde_json::to_string(policy).map_or(0, |p| p.chars().count());
    if length <= MAX_POLICY_CHARS {
        return;
    }
    let span = match stack.kind {
        StackKind::Stage(s) => resolved.estate.apis[resolved.stages[s].api].security.span,
        _ => None,
    };
    sink.push(
        Diagnostic::new(
            Code::ResourcePolicyTooLarge,
            format!(
                "the resource policy of `{}` is {length} characters; API Gateway allows {MAX_POLICY_CHARS}",
                stack.name
            ),
        )
        .primary(span.unwrap_or_else(|| cause(resolved, stack.kind)), "its allow-list makes the policy too long")
        .help("merge adjacent ranges, or put the callers behind fewer egress ranges"),
    );
}

/// Reports a stage whose route table (`stage::route_scopes`) passes what an SSM parameter
/// holds (8 KB in the advanced tier).
pub fn route_table(resolved: &Resolved, stack: &Stack, template: &Value, sink: &mut Diagnostics) {
    let Some(table) = template.pointer("/Resources/RouteScopes/Properties/Value").and_then(Value::as_str) else {
        return;
    };
    if table.len() <= super::stage::ROUTE_TABLE_MAX_BYTES {
        return;
    }
    let span = match stack.kind {
        StackKind::Stage(s) => resolved.estate.apis[resolved.stages[s].api].name.span,
        _ => cause(resolved, stack.kind),
    };
    sink.push(
        Diagnostic::new(
            Code::RouteTableTooLarge,
            format!(
                "the route table of `{}` is {} bytes; an SSM parameter holds {}",
                stack.name,
                table.len(),
                super::stage::ROUTE_TABLE_MAX_BYTES
            ),
        )
        .primary(span, "its routes and scopes make the table too long")
        .help("split the API, or use shorter scope names; the JWT authorizer reads each stage's routes from one parameter"),
    );
}

/// Reports a stack template with too many resources or too many bytes.
pub fn template(resolved: &Resolved, stack: &Stack, template: &Value, bytes: usize, sink: &mut Diagnostics) {
    let resources = template.get("Resources").and_then(Value::as_object).map_or(0, |r| r.len());
    if resources <= MAX_RESOURCES && bytes <= MAX_TEMPLATE_BYTES {
        return;
    }
    sink.push(
        Diagnostic::new(
            Code::StackTooLarge,
            format!("stack `{}` has {resources} resources and {bytes} bytes", stack.name),
        )
        .primary(cause(resolved, stack.kind), "this makes the stack too large")
        .help(format!(
            "a stack holds at most {MAX_RESOURCES} resources and {} KB; split what it holds",
            MAX_TEMPLATE_BYTES / 1024
        )),
    );
}

/// The node that asked for a stack.
fn cause(resolved: &Resolved, kind: StackKind) -> Span {
    let estate = &resolved.estate;
    match kind {
        StackKind::Organisation => resolved.platform().name.span,
        StackKind::Account(a) => estate.accounts[a].name.span,
        StackKind::Environment(e) => estate.environments[e].name.span,
        StackKind::Gateway(e) => {
            estate.environments[e].gateway.as_ref().map_or(estate.environments[e].name.span, |g| g.host.span)
        }
        StackKind::Stage(s) => estate.apis[resolved.stages[s].api].name.span,
    }
}
