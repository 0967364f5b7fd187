//! The template side of a diff: resources added, removed and changed with their property
//! paths, and which changes make CloudFormation replace a resource (the resource schemas'
//! create-only properties, shipped as data in `cfn-create-only.json`).
#![allow(clippy::indexing_slicing)] // Only `Value` indexing, which yields `Null` for a missing key.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::Value;

use super::report::{Change, PropertyChange, ResourceChange};

/// Writes a property path the way a reviewer reads it: `Body.paths["/x"].get`, `Tags[0]`.
pub(super) fn render_path(segments: &[String]) -> String {
    let mut out = String::new();
    for segment in segments {
        let plain = segment.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if segment.starts_with('[') {
            out.push_str(segment);
        } else if plain && !segment.is_empty() {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        } else {
            out.push_str(&format!("[{}]", Value::String(segment.clone())));
        }
    }
    out
}

/// A difference at a path, with the raw segments kept for create-only matching.
struct Difference {
    segments: Vec<String>,
    change: Change,
}

fn compare_raw(old: &Value, new: &Value, at: &mut Vec<String>, out: &mut Vec<Difference>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                at.push(key.clone());
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => compare_raw(x, y, at, out),
                    (None, Some(_)) => out.push(Difference { segments: at.clone(), change: Change::Added }),
                    (Some(_), None) => out.push(Difference { segments: at.clone(), change: Change::Removed }),
                    (None, None) => {}
                }
                at.pop();
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                at.push(format!("[{i}]"));
                compare_raw(x, y, at, out);
                at.pop();
            }
        }
        (a, b) if a != b => out.push(Difference { segments: at.clone(), change: Change::Changed }),
        _ => {}
    }
}

pub(super) fn compare(old: &Value, new: &Value, at: &mut Vec<String>, out: &mut Vec<PropertyChange>) {
    let mut raw = Vec::new();
    compare_raw(old, new, at, &mut raw);
    out.extend(raw.into_iter().map(|d| PropertyChange { path: render_path(&d.segments), change: d.change }));
}

/// The CloudFormation resource schemas' create-only properties, by type.
pub(super) fn create_only() -> &'static BTreeMap<String, Vec<Vec<String>>> {
    static DATA: OnceLock<BTreeMap<String, Vec<Vec<String>>>> = OnceLock::new();
    DATA.get_or_init(|| {
        let value: Value = serde_json::from_str(include_str!("cfn-create-only.json")).unwrap_or(Value::Null);
        let mut types = BTreeMap::new();
        for (ty, paths) in value["types"].as_object().into_iter().flatten() {
            let paths = paths
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|p| p.split('/').map(str::to_owned).collect())
                .collect();
            types.insert(ty.clone(), paths);
        }
        types
    })
}

/// Whether a change at `segments` (below `Properties`) touches the create-only `path`.
fn touches(segments: &[String], path: &[String]) -> bool {
    segments.iter().zip(path).all(|(s, p)| p == "*" || s == p)
}

pub(super) fn resources(template: &Value) -> BTreeMap<String, &Value> {
    template["Resources"].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v)).collect()).unwrap_or_default()
}

pub(super) fn resource_changes(old: &Value, new: &Value) -> Vec<ResourceChange> {
    let (a, b) = (resources(old), resources(new));
    let ids: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    for id in ids {
        let (before, after) = (a.get(id), b.get(id));
        let ty = |v: Option<&&Value>| v.and_then(|v| v["Type"].as_str()).unwrap_or("").to_owned();
        let resource_type = if after.is_some() { ty(after) } else { ty(before) };
        match (before, after) {
            (None, Some(_)) | (Some(_), None) => out.push(ResourceChange {
                logical_id: id.clone(),
                resource_type,
                change: if before.is_none() { Change::Added } else { Change::Removed },
                properties: Vec::new(),
                replaced_by: Vec::new(),
            }),
            (Some(x), Some(y)) if x != y => {
                let mut raw = Vec::new();
                compare_raw(x, y, &mut Vec::new(), &mut raw);
                let mut replaced_by = BTreeSet::new();
                if ty(before) != ty(after) {
                    replaced_by.insert("Type".to_owned());
                } else if let Some(paths) = create_only().get(&resource_type) {
                    for difference in &raw {
                        let Some((first, rest)) = difference.segments.split_first() else { continue };
                        if first != "Properties" {
                            continue;
                        }
                        for path in paths {
                            if touches(rest, path) {
                                replaced_by.insert(path.join("."));
                            }
                        }
                        // The whole `Properties` object appearing or disappearing.
                        if rest.is_empty() && !paths.is_empty() {
                            replaced_by.extend(paths.iter().map(|p| p.join(".")));
                        }
                    }
                }
                let properties = raw
                    .into_iter()
                    .map(|d| {
                        let segments = match d.segments.split_first() {
                            Some((first, rest)) if first == "Properties" && !rest.is_empty() => rest.to_vec(),
                            _ => d.segments,
                        };
                        PropertyChange { path: render_path(&segments), change: d.change }
                    })
                    .collect();
                out.push(ResourceChange {
                    logical_id: id.clone(),
                    resource_type,
                    change: Change::Changed,
                    properties,
                    replaced_by: replaced_by.into_iter().collect(),
                });
            }
            _ => {}
        }
    }
    out
}

pub(super) const DEPLOYMENT: &str = "AWS::ApiGateway::Deployment";

/// Resource types whose removal removes a security or audit control (a custom domain's mTLS
/// is reported by the stage's security comparison instead).
pub(super) const SECURITY_TYPES: &[&str] = &[
    "AWS::CloudTrail::Trail",
    "AWS::Config::ConfigRule",
    "AWS::Config::ConfigurationRecorder",
    "AWS::Config::DeliveryChannel",
    "AWS::GuardDuty::Detector",
    "AWS::KMS::Key",
    "AWS::Lambda::Permission",
    "AWS::S3::BucketPolicy",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_like_code() {
        let segments: Vec<String> = ["Body", "paths", "/payments/{id}", "get", "[0]"].map(String::from).to_vec();
        assert_eq!(render_path(&segments), r#"Body.paths["/payments/{id}"].get[0]"#);
    }

    #[test]
    fn create_only_data_covers_every_type_idpc_emits() {
        for ty in [
            "AWS::ApiGateway::Account",
            "AWS::ApiGateway::BasePathMapping",
            "AWS::ApiGateway::Deployment",
            "AWS::ApiGateway::DomainName",
            "AWS::ApiGateway::RestApi",
            "AWS::ApiGateway::Stage",
            "AWS::Budgets::Budget",
            "AWS::CloudTrail::Trail",
            "AWS::Config::ConfigRule",
            "AWS::Config::ConfigurationRecorder",
            "AWS::Config::DeliveryChannel",
            "AWS::Events::Rule",
            "AWS::IAM::Role",
            "AWS::KMS::Key",
            "AWS::Lambda::Function",
            "AWS::Lambda::Permission",
            "AWS::Logs::LogGroup",
            "AWS::Organizations::Account",
            "AWS::S3::Bucket",
            "AWS::S3::BucketPolicy",
            "AWS::SNS::Topic",
            "AWS::SNS::TopicPolicy",
        ] {
            assert!(create_only().contains_key(ty), "{ty}");
        }
        assert_eq!(create_only()["AWS::ApiGateway::DomainName"], vec![vec!["DomainName".to_owned()]]);
    }
}
