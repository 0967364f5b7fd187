//! What AWS requires of a built estate across stacks, read from the artifacts of every example
//! and every ok case as a deployer would get them:
//!
//! - every account id and region written in an API stage's template and OpenAPI document
//!   (outside `${AWS::...}` pseudo-parameters) is the stage's own: a stage cannot use another
//!   account's certificate or grant API Gateway access to another account's function, and
//!   regional API Gateway resources use resources of their own region only;
//! - no custom domain name is created twice in one region (API Gateway refuses the second);
//! - every stage of an environment with a gateway is mapped onto that gateway (same host,
//!   same account and region), and its stack deploys after the gateway's.

use std::collections::BTreeMap;
use std::path::PathBuf;

use idpc::model::REGIONS;
use idpc_tests::{TODAY, compile_files, load, render_diagnostics, repo_root};
use serde_json::Value;

fn estates() -> Vec<(String, PathBuf, String)> {
    let mut estates = Vec::new();
    for (kind, root) in [("examples", repo_root().join("examples")), ("ok", repo_root().join("tests/cases/ok"))] {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .expect("folder")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let today = std::fs::read_to_string(dir.join("case.kdl"))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| l.trim().strip_prefix("today \"").map(|d| d.trim_end_matches('"').to_owned()))
                })
                .unwrap_or_else(|| TODAY.to_owned());
            estates.push((format!("{kind}/{}", dir.file_name().unwrap().to_string_lossy()), dir, today));
        }
    }
    estates
}

/// Every string in a JSON value.
fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k);
            strings(v, out)
        }),
        _ => {}
    }
}

/// The 12-digit runs and known region names in a text.
fn places(text: &str) -> (Vec<String>, Vec<&'static str>) {
    let mut ids = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            // An account id stands alone or between ARN separators (`:123456789012:`), never
            // inside a hash or a word.
            let before = start.checked_sub(1).map(|b| bytes[b]);
            let after = bytes.get(i).copied();
            let separated = |b: Option<u8>| b.is_none_or(|b| b == b':' || b == b'/');
            if i - start == 12 && separated(before) && separated(after) {
                ids.push(text[start..i].to_owned());
            }
        } else {
            i += 1;
        }
    }
    let regions = REGIONS.iter().copied().filter(|r| text.contains(r)).collect();
    (ids, regions)
}

/// Stage stacks and the problems found in them, for one compiled estate's files.
fn problems(files: &BTreeMap<String, Value>) -> (usize, Vec<String>) {
    let manifest = &files["manifest.json"];
    let stacks = manifest["stacks"].as_array().expect("stacks");
    let by_name: BTreeMap<&str, &Value> = stacks.iter().map(|s| (s["name"].as_str().unwrap(), s)).collect();
    let template = |stack: &Value| &files[stack["template"].as_str().unwrap()];
    let mut problems = Vec::new();
    let mut domains: BTreeMap<(String, String), String> = BTreeMap::new();
    for stack in stacks {
        let name = stack["name"].as_str().unwrap();
        let region = stack["region"].as_str().unwrap();
        for (id, resource) in template(stack)["Resources"].as_object().unwrap() {
            if resource["Type"] == "AWS::ApiGateway::DomainName" {
                let host = resource["Properties"]["DomainName"].as_str().unwrap().to_owned();
                if let Some(first) = domains.insert((host.clone(), region.to_owned()), format!("{name}/{id}")) {
                    problems.push(format!("{host} created in {region} by {first} and by {name}/{id}"));
                }
            }
        }
    }
    let mut stages = 0;
    for stack in stacks.iter().filter(|s| s["name"].as_str().unwrap().starts_with("idpc-api-")) {
        stages += 1;
        let name = stack["name"].as_str().unwrap();
        let region = stack["region"].as_str().unwrap();
        let account = stack["account_id"].as_str();
        let (api, env) = name.trim_start_matches("idpc-api-").split_once("--").unwrap();
        let mut texts = Vec::new();
        strings(template(stack), &mut texts);
        let openapi = &files[&format!("apis/{api}/{env}/openapi.json")];
        strings(openapi, &mut texts);
        for text in texts {
            let (ids, regions) = places(text);
            for id in ids {
                if Some(id.as_str()) != account {
                    problems.push(format!("{name}: account {id} in `{text}` (the stage's: {account:?})"));
                }
            }
            for other in regions.into_iter().filter(|r| *r != region) {
                problems.push(format!("{name}: region {other} in `{text}` (the stage's: {region})"));
            }
        }
        let Some(gateway) = by_name.get(format!("idpc-gateway-{env}").as_str()) else { continue };
        let resources = &template(stack)["Resources"];
        if resources.get("DomainName").is_some() {
            continue; // a domain of its own, checked for uniqueness above
        }
        let host = &template(gateway)["Resources"]["DomainName"]["Properties"]["DomainName"];
        let mapping = &resources["BasePathMapping"]["Properties"]["DomainName"];
        if mapping != host {
            problems.push(format!("{name}: mapped on {mapping}, its environment's gateway is {host}"));
        }
        if gateway["account"] != stack["account"] || gateway["region"] != stack["region"] {
            problems.push(format!("{name}: the gateway is in another account or region"));
        }
        let depends = stack["depends_on"].as_array().unwrap();
        if !depends.iter().any(|d| d == &gateway["name"]) || gateway["wave"].as_u64() >= stack["wave"].as_u64() {
            problems.push(format!("{name}: does not deploy after {}", gateway["name"]));
        }
    }
    (stages, problems)
}

fn output(dir: &std::path::Path, today: &str) -> BTreeMap<String, Value> {
    let compilation = compile_files(&load(dir), today);
    let output = compilation.output.as_ref().unwrap_or_else(|| panic!("{}", render_diagnostics(&compilation)));
    output.files().map(|(p, b)| (p.to_owned(), serde_json::from_slice(b).expect("json"))).collect()
}

#[test]
fn every_stage_uses_its_own_account_and_region_and_its_environments_gateway() {
    let mut stages = 0;
    for (name, dir, today) in estates() {
        let (count, problems) = problems(&output(&dir, &today));
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
        stages += count;
    }
    assert!(stages >= 20, "{stages} stages checked");
}

#[test]
fn a_generated_estate_deploys_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in idpc_tests::estate::generate(60, Some(4)) {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let (stages, problems) = problems(&output(dir.path(), TODAY));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(stages, 180);
}

#[test]
fn the_checks_catch_a_stage_that_reaches_into_another_account() {
    // The same problems() over a reference build whose stage was edited by hand, as a
    // v0 estate (or a bug) would write it: each kind of problem must be found.
    let mut files = output(&repo_root().join("examples/reference"), TODAY);
    let stage = "stacks/idpc-api-accounts--acme-test.json";
    let text = files[stage].to_string().replace(
        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:accounts",
        "arn:aws:lambda:eu-west-1:222222222222:function:accounts",
    );
    files.insert(stage.to_owned(), serde_json::from_str(&text).unwrap());
    let mapping = "/Resources/BasePathMapping/Properties/DomainName";
    *files.get_mut("stacks/idpc-api-payments--acme-test.json").unwrap().pointer_mut(mapping).unwrap() =
        Value::from("api.acme-bank.example");
    let gateway = files["stacks/idpc-gateway-acme-prod.json"]["Resources"]["DomainName"].clone();
    files.get_mut("stacks/idpc-api-accounts--acme-prod.json").unwrap()["Resources"]["Extra"] = gateway;
    let (_, problems) = problems(&files);
    let found = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(found("idpc-api-accounts--acme-test: account 222222222222"), "{problems:?}");
    assert!(found("idpc-api-accounts--acme-test: region eu-west-1"), "{problems:?}");
    assert!(found("idpc-api-payments--acme-test: mapped on"), "{problems:?}");
    assert!(found("api.acme-bank.example created in eu-central-1"), "{problems:?}");
}
