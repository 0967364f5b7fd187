//! `manifest.json`: the deploy plan (stacks with accounts, regions, dependencies, waves and
//! tags) and every artifact with its kind, path and sha256.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::{Artifact, ArtifactKind, block, print_string};
use crate::graph::Plan;
use crate::resolve::Resolved;

/// Where the manifest goes under OUT.
pub const PATH: &str = "manifest.json";

/// Format marker, bumped when the manifest's shape changes incompatibly.
pub const FORMAT: &str = "idpc-manifest/1";

pub use crate::digest::sha256;

/// The manifest of a build as `to_json` writes JSON (two-space indent, keys sorted, trailing
/// newline). It lists every artifact (49,501 entries at 2,500 APIs, 17 MB), so it is printed
/// straight from the plan and the artifacts into one buffer of about its size, without a
/// `serde_json::Value` tree of it (which was the largest allocation of a build).
pub fn manifest(resolved: &Resolved, plan: &Plan, artifacts: &[Artifact]) -> Vec<u8> {
    // Each stack's template, found once rather than by a scan of every artifact per stack.
    let templates: BTreeMap<&str, &str> = artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::CloudFormation)
        .filter_map(|a| Some((a.stack.as_deref()?, a.path.as_str())))
        .collect();
    // Generous (240 bytes an artifact and 720 a stack are written at 2,500 APIs): what is not
    // written is never touched, so it costs no memory, and the buffer seldom grows by copying.
    // Each stack's facts, printed on all cores (about 1 KB a stage: printed in turn, they
    // were a tenth of a 2,500-API build).
    let facts: Vec<Vec<u8>> = plan
        .stacks
        .par_iter()
        .map(|stack| {
            let mut out = Vec::with_capacity(2048);
            let value = serde_json::to_value(super::facts::of(resolved, stack)).unwrap_or_default();
            super::print_value(&mut out, &value, 3);
            out
        })
        .collect();
    let capacity = 4096 + artifacts.len() * 512 + plan.stacks.len() * 1024 + facts.iter().map(Vec::len).sum::<usize>();
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(b"{\n  \"artifacts\": ");
    block(&mut out, 1, (b'[', b']'), artifacts, |out, a| {
        out.extend_from_slice(b"{\n      \"kind\": ");
        print_string(out, a.kind.as_str());
        out.extend_from_slice(b",\n      \"path\": ");
        print_string(out, &a.path);
        out.extend_from_slice(b",\n      \"sha256\": ");
        print_string(out, &a.sha256);
        if let Some(stack) = &a.stack {
            out.extend_from_slice(b",\n      \"stack\": ");
            print_string(out, stack);
        }
        out.extend_from_slice(b"\n    }");
    });
    out.extend_from_slice(b",\n  \"facts_format\": ");
    print_string(&mut out, super::facts::FORMAT);
    out.extend_from_slice(b",\n  \"format\": ");
    print_string(&mut out, FORMAT);
    out.extend_from_slice(b",\n  \"platform\": ");
    print_string(&mut out, resolved.platform().name.value.as_str());
    out.extend_from_slice(b",\n  \"stacks\": ");
    block(&mut out, 1, (b'[', b']'), plan.stacks.iter().zip(&facts), |out, (stack, facts)| {
        out.extend_from_slice(b"{\n      \"account\": ");
        print_string(out, &stack.account);
        out.extend_from_slice(b",\n      \"account_id\": ");
        print_optional(out, stack.account_id.as_deref());
        out.extend_from_slice(b",\n      \"depends_on\": ");
        block(out, 3, (b'[', b']'), &stack.depends_on, |out, &d| print_string(out, &plan.stacks[d].name));
        out.extend_from_slice(b",\n      \"facts\": ");
        out.extend_from_slice(facts);
        out.extend_from_slice(b",\n      \"name\": ");
        print_string(out, &stack.name);
        out.extend_from_slice(b",\n      \"region\": ");
        print_string(out, stack.region.as_str());
        out.extend_from_slice(b",\n      \"tags\": ");
        block(out, 3, (b'{', b'}'), &stack.tags, |out, (key, value)| {
            print_string(out, key);
            out.extend_from_slice(b": ");
            print_string(out, value);
        });
        out.extend_from_slice(b",\n      \"template\": ");
        print_optional(out, templates.get(stack.name.as_str()).copied());
        out.extend_from_slice(format!(",\n      \"wave\": {}\n    }}", stack.wave).as_bytes());
    });
    out.extend_from_slice(b"\n}\n");
    out
}

fn print_optional(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => print_string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{block, print_string};

    fn canonical(bytes: &[u8]) -> Vec<u8> {
        let value: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        let mut canonical = serde_json::to_vec_pretty(&value).unwrap();
        canonical.push(b'\n');
        canonical
    }

    #[test]
    fn arrays_print_as_serde_json_does() {
        for n in [0, 1, 2, 100] {
            let items: Vec<String> = (0..n).map(|i| format!("item \"{i}\"")).collect();
            let mut out = b"{\n  \"a\": ".to_vec();
            block(&mut out, 1, (b'[', b']'), &items, |out, item| print_string(out, item));
            out.extend_from_slice(b"\n}\n");
            assert_eq!(String::from_utf8(canonical(&out)).unwrap(), String::from_utf8(out).unwrap(), "{n} items");
        }
    }

    #[test]
    fn a_manifest_is_canonical_json_with_every_optional_field() {
        // An account without an id yet (vended later) gives a stack with `"account_id": null`.
        let estate = r#"
platform "p" {
    management-account "111111111111"
    region "eu-west-1"
    datadog site="datadoghq.eu" notify="@alerts"
}
tenant "t" {
    contact "platform@example.com"
    region "eu-west-1"
    compliance "eu-banking"
}
account "a" tenant="t" email="aws+a@example.com" {
    baseline "jwt-authorizer" code="s3://bucket-x/authorizer.zip"
}
"#;
        let files = [crate::source::RawFile { path: "main.kdl".into(), bytes: estate.as_bytes().to_vec() }];
        let options = crate::Options { today: crate::model::Date::from_days_since_epoch(20_000) };
        let compilation = crate::compile(&files, &options);
        assert!(compilation.diagnostics.is_empty(), "{:?}", compilation.diagnostics);
        let manifest = compilation.output.expect("output").manifest;
        assert_eq!(String::from_utf8(canonical(&manifest)).unwrap(), String::from_utf8(manifest.clone()).unwrap());
        let text = String::from_utf8(manifest).unwrap();
        assert!(text.contains("\"account_id\": null"), "{text}");
        assert!(text.contains("\"depends_on\": []"), "{text}");
    }
}
