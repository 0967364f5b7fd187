//! Injection: arbitrary Unicode in every free-text field (quotes, newlines, `${`, `{{`, `@`,
//! `$context`, control and bidi characters). Whatever the text, a build either refuses it
//! with coded diagnostics, or writes artifacts that all parse, where the text round-trips
//! exactly, no key appears that the spec did not ask for, every `Fn::Sub` references only
//! idpc's own variables, and Datadog `@` mentions come only from the platform's `notify`.

use std::collections::BTreeSet;

use idpc::source::RawFile;
use idpc_tests::{TODAY, compile_files, repo_root};
use proptest::prelude::*;
use serde_json::Value;

/// A KDL string literal holding exactly `text`.
fn kdl_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}') =>
            {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Where the text goes.
#[derive(Clone, Copy, Debug)]
enum Field {
    DisplayName,
    Audience,
    TagValue,
    CostCenter,
}

fn estate(text: &str, field: Field) -> Vec<RawFile> {
    let base = std::fs::read_to_string(repo_root().join("tests/cases/ok/minimal/main.kdl")).expect("minimal case");
    let value = kdl_string(text);
    let edited = match field {
        Field::DisplayName => base.replace(
            "    contact \"platform@example.com\"",
            &format!("    contact \"platform@example.com\"\n    display-name {value}"),
        ),
        Field::Audience => base.replace("audience=\"svc\"", &format!("audience={value}")),
        Field::TagValue => base.replace("tag \"team\" \"platform\"", &format!("tag \"team\" {value}")),
        Field::CostCenter => base.replace(
            "    contact \"platform@example.com\"",
            &format!("    contact \"platform@example.com\"\n    cost-center {value}"),
        ),
    };
    vec![RawFile { path: "main.kdl".into(), bytes: edited.into_bytes() }]
}

/// Every JSON object key, with its path, of every artifact.
fn keys(value: &Value, path: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{path}/{k}");
                out.insert(p.clone());
                keys(v, &p, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, &format!("{path}[]"), out)),
        _ => {}
    }
}

fn sub_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("Fn::Sub", Value::String(s)) => out.push(s.clone()),
                    ("Fn::Sub", Value::Array(parts)) => {
                        out.extend(parts.first().and_then(Value::as_str).map(str::to_owned))
                    }
                    _ => sub_strings(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| sub_strings(v, out)),
        _ => {}
    }
}

fn artifacts(files: &[RawFile]) -> Option<Vec<(String, Value)>> {
    let compilation = compile_files(files, TODAY);
    for diagnostic in &compilation.diagnostics {
        assert!(diagnostic.primary_span().is_some() || diagnostic.code == idpc::diagnostics::Code::MissingPlatform);
    }
    let output = compilation.output?;
    Some(
        output
            .files()
            .map(|(path, bytes)| {
                (path.to_owned(), serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{path}: {e}")))
            })
            .collect(),
    )
}

fn nasty() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("\"".to_owned()),
        Just("\n".to_owned()),
        Just("${AWS::AccountId}".to_owned()),
        Just("${!x}".to_owned()),
        Just("{{json params}}".to_owned()),
        Just("}}".to_owned()),
        Just("@channel".to_owned()),
        Just("$context.requestId".to_owned()),
        Just("\\".to_owned()),
        Just("\u{202e}".to_owned()),
        Just("\u{1b}[31m".to_owned()),
        Just("\0".to_owned()),
        Just("'".to_owned()),
        "\\PC{0,6}",
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(fragment, 1..6).prop_map(|parts| parts.concat())
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![Just(Field::DisplayName), Just(Field::Audience), Just(Field::TagValue), Just(Field::CostCenter)]
}

/// The properties every build of `text` in `field` must have; `Ok(false)` when it was refused.
fn check(text: &str, field: Field) -> Result<bool, TestCaseError> {
    let baseline = artifacts(&estate("svc", Field::Audience)).expect("the plain estate builds");
    let Some(built) = artifacts(&estate(text, field)) else { return Ok(false) };
    let stage: &Value = &built.iter().find(|(p, _)| p == "stacks/idpc-api-svc--e.json").expect("stage stack").1;
    if let Field::Audience = field {
        prop_assert_eq!(stage["Resources"]["Stage"]["Properties"]["Variables"]["jwtAudience"].as_str(), Some(text));
    }
    if let Field::CostCenter = field {
        let manifest = &built.iter().find(|(p, _)| p == "manifest.json").expect("manifest").1;
        prop_assert_eq!(manifest["stacks"][0]["tags"]["idpc:cost-center"].as_str(), Some(text));
    }
    let key_set = |artifacts: &[(String, Value)]| -> BTreeSet<String> {
        let mut set = BTreeSet::new();
        for (path, value) in artifacts.iter().filter(|(p, _)| p != "manifest.json") {
            keys(value, path, &mut set);
        }
        // Logical ids of deployments carry a hash of the body, which the text changes.
        set.into_iter().map(|k| k.split("/Deployment").next().unwrap_or_default().to_owned()).collect()
    };
    prop_assert_eq!(key_set(&built), key_set(&baseline));
    let allowed = [
        "AWS::Partition",
        "AWS::Region",
        "AWS::AccountId",
        "RestApi",
        "AuditTrailBucket.Arn",
        "JwtAuthorizerLogGroup.Arn",
        "AuthorizerArn",
        // Bound by its Fn::Sub's own map (the last part of AWS::StackId), never by user text.
        "StackUuid",
    ];
    for (path, value) in &built {
        let mut subs = Vec::new();
        sub_strings(value, &mut subs);
        for sub in subs {
            for reference in sub.split("${").skip(1) {
                let name = reference.split('}').next().unwrap_or_default();
                prop_assert!(allowed.contains(&name), "{}: Fn::Sub references `{}`", path, name);
            }
        }
        if path.contains("monitor") {
            let message = value["message"].as_str().unwrap_or_default();
            prop_assert_eq!(message.matches('@').count(), 1, "{}: {}", path, message);
            prop_assert!(message.ends_with("@alerts"), "{}", message);
        }
    }
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn free_text_never_escapes_its_string(text in nasty(), field in field()) {
        check(&text, field)?;
    }
}

#[test]
fn hostile_text_that_is_accepted_round_trips() {
    let hostile = "quo\"te ${AWS::AccountId} ${!x} {{json params}} @channel $context.requestId \\ ' <b> é 日本";
    for field in [Field::DisplayName, Field::Audience] {
        assert!(check(hostile, field).expect("properties hold"), "{field:?} refused the hostile text");
    }
    assert!(check("CC-1042 @finance/eu:team=a+b", Field::CostCenter).expect("properties hold"));
    assert!(!check("line\nbreak", Field::Audience).expect("properties hold"), "control characters are refused");
}
