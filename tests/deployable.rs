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
        let openapi = files
            .get(&format!("apis/{api}/{env}/openapi.json"))
            .or_else(|| files.get(&format!("apis/{api}/{env}/openapi.template.json")))
            .expect("the stage's OpenAPI document");
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

// --- Deployment rules: AWS facts no linter checks, each over every built stack ---------------

/// Every stack as (manifest entry, template).
fn stacks(files: &BTreeMap<String, Value>) -> Vec<(&Value, &Value)> {
    let manifest = &files["manifest.json"];
    manifest["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|stack| (stack, &files[stack["template"].as_str().unwrap()]))
        .collect()
}

fn resources(template: &Value) -> &serde_json::Map<String, Value> {
    template["Resources"].as_object().unwrap()
}

/// Lambda refuses a function with `TracingConfig: Active` whose execution role may not call
/// `xray:PutTraceSegments` and `xray:PutTelemetryRecords` ("The provided execution role does
/// not have permissions to call PutTraceSegments on XRAY"; Lambda developer guide, "Visualize
/// Lambda function invocations using AWS X-Ray": the role needs these actions, as in the
/// AWSXRayDaemonWriteAccess managed policy).
fn traced_functions_may_write_traces(files: &BTreeMap<String, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    for (stack, template) in stacks(files) {
        let resources = resources(template);
        for (id, function) in resources.iter().filter(|(_, r)| r["Type"] == "AWS::Lambda::Function") {
            if function["Properties"]["TracingConfig"]["Mode"] != "Active" {
                continue;
            }
            let role = function["Properties"]["Role"]["Fn::GetAtt"][0].as_str().and_then(|r| resources.get(r));
            let Some(role) = role else {
                problems.push(format!("{}: {id} is traced, with a role outside the stack", stack["name"]));
                continue;
            };
            let managed = role["Properties"]["ManagedPolicyArns"].to_string().contains("AWSXRayDaemonWriteAccess");
            let actions: Vec<String> = role["Properties"]["Policies"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().cloned().unwrap_or_default())
                .filter(|s| s["Effect"] == "Allow")
                .flat_map(|s| match &s["Action"] {
                    Value::String(a) => vec![a.clone()],
                    Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
                    _ => Vec::new(),
                })
                .collect();
            let may = |action: &str| actions.iter().any(|a| a == action || a == "xray:*");
            let may_write = managed || (may("xray:PutTraceSegments") && may("xray:PutTelemetryRecords"));
            if !may_write {
                problems.push(format!("{}: {id} has active tracing, but its role may not write traces", stack["name"]));
            }
        }
    }
    problems
}

/// Only the account that owns a function can add to its resource-based policy
/// (`lambda:AddPermission`): every `AWS::Lambda::Permission` names a function of its own stack,
/// or an ARN of the stack's own account (literal, or `${AWS::AccountId}`).
fn permissions_name_functions_of_their_account(files: &BTreeMap<String, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    for (stack, template) in stacks(files) {
        let resources = resources(template);
        for (id, permission) in resources.iter().filter(|(_, r)| r["Type"] == "AWS::Lambda::Permission") {
            let name = &permission["Properties"]["FunctionName"];
            let own = match name {
                Value::String(arn) => {
                    stack["account_id"].as_str().is_some_and(|a| arn.contains(&format!(":{a}:function:")))
                }
                _ if name.get("Fn::Sub").is_some() => {
                    name["Fn::Sub"].as_str().is_some_and(|s| s.contains(":${AWS::AccountId}:function:"))
                }
                _ => {
                    let target = name["Fn::GetAtt"][0].as_str().or(name["Ref"].as_str());
                    target.and_then(|t| resources.get(t)).is_some_and(|r| r["Type"] == "AWS::Lambda::Function")
                }
            };
            if !own {
                problems.push(format!(
                    "{}: {id} grants access to {name}, not a function of account {}",
                    stack["name"], stack["account_id"]
                ));
            }
        }
    }
    problems
}

/// Every resource a stack names by a literal ARN is in the stack's account and region: a stack
/// cannot create, grant or attach another account's resource, and regional services (API
/// Gateway, ACM for regional domains, Lambda) use resources of their own region. ARNs without a
/// region (IAM, S3, Organizations) or of AWS itself (managed policies) are not bound to either.
fn literal_arns_are_of_the_stack(files: &BTreeMap<String, Value>) -> Vec<String> {
    let arn = |text: &str| -> Vec<(String, String)> {
        text.match_indices("arn:aws:")
            .filter_map(|(at, _)| {
                let parts: Vec<&str> = text[at..].splitn(6, ':').collect();
                match parts.as_slice() {
                    // An API Gateway service ARN names a service where an account would stand
                    // (`arn:aws:apigateway:REGION:lambda:path/...`): only its region counts.
                    [_, _, "apigateway", region, _, _] => Some(((*region).to_owned(), String::new())),
                    [_, _, _, region, account, _] => Some(((*region).to_owned(), (*account).to_owned())),
                    _ => None,
                }
            })
            .collect()
    };
    let mut problems = Vec::new();
    for (stack, template) in stacks(files) {
        let mut texts = Vec::new();
        strings(template, &mut texts);
        for text in texts {
            for (region, account) in arn(text) {
                let region_ok = region.is_empty()
                    || region == "*"
                    || region.starts_with("${")
                    || stack["region"] == region.as_str();
                let account_ok = account.is_empty()
                    || account == "*"
                    || account == "aws"
                    || account.starts_with("${")
                    || stack["account_id"] == account.as_str();
                if !region_ok || !account_ok {
                    problems.push(format!(
                        "{}: `{text}` is not of account {} in {}",
                        stack["name"], stack["account_id"], stack["region"]
                    ));
                }
            }
        }
    }
    problems
}

/// Orderings AWS requires within and across stacks:
/// - AWS Config: "you must create a configuration recorder before you can create a delivery
///   channel" (PutDeliveryChannel), and Config must be allowed to write to the bucket first (its
///   bucket policy): the channel `DependsOn` both;
/// - API Gateway maps a stage only on an existing custom domain (CreateBasePathMapping answers
///   NotFoundException): a mapping names a domain of its own stack, or of a stack it depends on.
fn required_orderings_are_explicit(files: &BTreeMap<String, Value>) -> Vec<String> {
    let all = stacks(files);
    let mut problems = Vec::new();
    let domain_stacks: BTreeMap<(String, String, String), String> = all
        .iter()
        .flat_map(|(stack, template)| {
            resources(template).values().filter(|r| r["Type"] == "AWS::ApiGateway::DomainName").map(move |r| {
                let key = (
                    stack["account"].to_string(),
                    stack["region"].to_string(),
                    r["Properties"]["DomainName"].to_string(),
                );
                (key, stack["name"].as_str().unwrap().to_owned())
            })
        })
        .collect();
    for (stack, template) in &all {
        let resources = resources(template);
        let of_type = |t: &str| {
            resources.iter().filter(move |(_, r)| r["Type"] == t).map(|(id, _)| id.as_str()).collect::<Vec<_>>()
        };
        for (id, channel) in resources.iter().filter(|(_, r)| r["Type"] == "AWS::Config::DeliveryChannel") {
            let depends: Vec<&str> =
                channel["DependsOn"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            for recorder in of_type("AWS::Config::ConfigurationRecorder") {
                if !depends.contains(&recorder) {
                    problems.push(format!("{}: {id} does not depend on the recorder {recorder}", stack["name"]));
                }
            }
            let bucket = &channel["Properties"]["S3BucketName"];
            for (policy_id, policy) in resources.iter().filter(|(_, r)| r["Type"] == "AWS::S3::BucketPolicy") {
                if &policy["Properties"]["Bucket"] == bucket && !depends.contains(&policy_id.as_str()) {
                    problems.push(format!("{}: {id} does not depend on the bucket policy {policy_id}", stack["name"]));
                }
            }
        }
        for (id, mapping) in resources.iter().filter(|(_, r)| {
            r["Type"] == "AWS::ApiGateway::BasePathMapping" || r["Type"] == "AWS::ApiGatewayV2::ApiMapping"
        }) {
            let domain = &mapping["Properties"]["DomainName"];
            if let Some(own) = domain["Ref"].as_str() {
                if resources.get(own).is_none_or(|r| r["Type"] != "AWS::ApiGateway::DomainName") {
                    problems.push(format!("{}: {id} refers to {own}, which is no domain", stack["name"]));
                }
                continue;
            }
            let key = (stack["account"].to_string(), stack["region"].to_string(), domain.to_string());
            let creator = domain_stacks.get(&key);
            let depends = stack["depends_on"].as_array().unwrap();
            if !creator.is_some_and(|c| depends.iter().any(|d| d == c.as_str())) {
                problems
                    .push(format!("{}: {id} maps on {domain}, which no stack it depends on creates", stack["name"]));
            }
        }
    }
    problems
}

/// A service-linked role exists only once the service (or the console) made it: a stack that
/// names one (`role/aws-service-role/...`) must create it (`AWS::IAM::ServiceLinkedRole`), or a
/// new account lacks it (AWS Config's `AWSServiceRoleForConfig` is made by the console, not by
/// CloudFormation).
fn service_linked_roles_exist(files: &BTreeMap<String, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    for (stack, template) in stacks(files) {
        let creates = resources(template).values().any(|r| r["Type"] == "AWS::IAM::ServiceLinkedRole");
        if template.to_string().contains("role/aws-service-role/") && !creates {
            problems.push(format!("{}: relies on a service-linked role it does not create", stack["name"]));
        }
    }
    problems
}

/// A resource kept with `Retain` stays behind when the create that made it rolls back, and
/// one with a fixed name (a log group, a hosted zone) then fails every retry with "already
/// exists": what is kept is `RetainExceptOnCreate`, deleted by a rolled-back create. Accounts
/// are the exception: deleting an `AWS::Organizations::Account` closes it.
fn a_failed_create_can_be_retried(files: &BTreeMap<String, Value>) -> Vec<String> {
    each_resource(files, |resource| {
        (resource["DeletionPolicy"] == "Retain" && resource["Type"] != "AWS::Organizations::Account")
            .then(|| "is kept when its create rolls back".to_owned())
    })
}

/// A kept resource outlives its stack; one whose name is unique in its account and region (a
/// log group, an SSM parameter, a KMS alias) or in AWS (a bucket) and written as a fixed string
/// makes the next create of a stack of that name fail with "already exists": an ephemeral
/// environment that comes back, an account stack deleted and deployed again. Its name must
/// hold something new with each create (the stack's id, a resource's id).
fn a_deleted_stack_can_be_created_again(files: &BTreeMap<String, Value>) -> Vec<String> {
    const UNIQUE_NAMES: &[(&str, &str)] = &[
        ("AWS::Logs::LogGroup", "LogGroupName"),
        ("AWS::S3::Bucket", "BucketName"),
        ("AWS::SSM::Parameter", "Name"),
        ("AWS::KMS::Alias", "AliasName"),
    ];
    each_resource(files, |resource| {
        let kept = resource["DeletionPolicy"] == "Retain" || resource["DeletionPolicy"] == "RetainExceptOnCreate";
        let (_, property) = UNIQUE_NAMES.iter().find(|(kind, _)| resource["Type"] == *kind)?;
        let name = &resource["Properties"][property];
        // `${AWS::Region}` and the like are the same at the next create; only another
        // variable (a resource, or one bound by the Fn::Sub's map) changes.
        let template = name.as_str().or_else(|| name["Fn::Sub"].as_str());
        let fixed = template.is_some_and(|t| t.split("${").skip(1).all(|v| v.starts_with("AWS::")));
        (kept && fixed).then(|| format!("is kept with the fixed name {name}"))
    })
}

/// API Gateway uses a method's `authorizationScopes` with a `COGNITO_USER_POOLS` authorizer
/// only, and OpenAPI 3.0 wants the requirement of any scheme but oauth2 and openIdConnect
/// empty: scopes on the platform authorizer's `apiKey` scheme look enforced and are not (its
/// route table enforces them). Only the Cognito scheme's requirements carry scopes.
fn scopes_only_where_api_gateway_checks_them(files: &BTreeMap<String, Value>) -> Vec<String> {
    each_resource(files, |resource| {
        let body = &resource["Properties"]["Body"];
        let schemes = body["components"]["securitySchemes"].as_object()?;
        let mut problems = Vec::new();
        for (path, item) in body["paths"].as_object()? {
            for (method, operation) in item.as_object()? {
                for requirement in operation["security"].as_array().into_iter().flatten() {
                    for (scheme, scopes) in requirement.as_object().into_iter().flatten() {
                        let cognito = schemes
                            .get(scheme)
                            .is_some_and(|s| s["x-amazon-apigateway-authorizer"]["type"] == "cognito_user_pools");
                        if !cognito && scopes.as_array().is_some_and(|a| !a.is_empty()) {
                            problems.push(format!("{method} {path} lists scopes {scopes} on `{scheme}`"));
                        }
                    }
                }
            }
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    })
}

/// AWS Budgets accepts no cost unit but USD ("AUD is not in the supported unit set: [USD]",
/// awslabs/landing-zone-accelerator-on-aws#682), although its API reference names GBP.
fn budgets_count_in_usd(files: &BTreeMap<String, Value>) -> Vec<String> {
    each_resource(files, |resource| {
        let unit = &resource["Properties"]["Budget"]["BudgetLimit"]["Unit"];
        (resource["Type"] == "AWS::Budgets::Budget" && unit != "USD").then(|| format!("counts in {unit}"))
    })
}

/// The problem `check` finds with each resource of every built stack, as `stack: id problem`.
/// No emitted resource opens its account (`insecure-resource`, the rules idpc applies to every
/// baseline as it renders), in every stack, idpc's own stage and gateway stacks included.
fn no_resource_opens_its_account(files: &BTreeMap<String, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, template) in files.iter().filter(|(p, _)| p.starts_with("stacks/")) {
        for (id, problem) in idpc::emit::rules::insecure(resources(template)) {
            problems.push(format!("{path}: {id}: {problem}"));
        }
    }
    problems
}

fn each_resource(files: &BTreeMap<String, Value>, check: impl Fn(&Value) -> Option<String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (stack, template) in stacks(files) {
        for (id, resource) in resources(template) {
            problems.extend(check(resource).map(|problem| format!("{}: {id} {problem}", stack["name"])));
        }
    }
    problems
}

/// CloudFormation substitutes `${...}` only in the string of an `Fn::Sub`; anywhere else it
/// reaches AWS as it is (an ARN naming the account `${AWS::AccountId}`), which cfn-lint
/// reports as E1029.
fn placeholders_are_substituted(files: &BTreeMap<String, Value>) -> Vec<String> {
    fn walk(value: &Value, at: &str, out: &mut Vec<String>) {
        match value {
            Value::String(s) if s.contains("${") => out.push(format!("{at}: {s}")),
            Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{at}/{i}"), out)),
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("Fn::Sub", Value::String(_)) => {}
                        ("Fn::Sub", Value::Array(args)) => {
                            args.iter().skip(1).for_each(|a| walk(a, &format!("{at}/Fn::Sub"), out))
                        }
                        _ => walk(v, &format!("{at}/{key}"), out),
                    }
                }
            }
            _ => {}
        }
    }
    let mut problems = Vec::new();
    for (stack, template) in stacks(files) {
        let mut found = Vec::new();
        walk(template, "", &mut found);
        problems.extend(found.into_iter().map(|f| format!("{}: {f}", stack["name"])));
    }
    problems
}

type Rule = fn(&BTreeMap<String, Value>) -> Vec<String>;

const RULES: &[(&str, Rule)] = &[
    ("traced functions may write traces", traced_functions_may_write_traces),
    ("permissions name functions of their account", permissions_name_functions_of_their_account),
    ("literal ARNs are of the stack", literal_arns_are_of_the_stack),
    ("required orderings are explicit", required_orderings_are_explicit),
    ("service-linked roles exist", service_linked_roles_exist),
    ("a failed create can be retried", a_failed_create_can_be_retried),
    ("a deleted stack can be created again", a_deleted_stack_can_be_created_again),
    ("budgets count in USD", budgets_count_in_usd),
    ("placeholders are substituted", placeholders_are_substituted),
    ("scopes only where API Gateway checks them", scopes_only_where_api_gateway_checks_them),
    ("no resource opens its account", no_resource_opens_its_account),
];

#[test]
fn every_built_stack_follows_the_deployment_rules() {
    let mut outputs: Vec<(String, BTreeMap<String, Value>)> =
        estates().into_iter().map(|(name, dir, today)| (name, output(&dir, &today))).collect();
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in idpc_tests::estate::generate(60, Some(4)) {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    outputs.push(("generated".into(), output(dir.path(), TODAY)));
    for (name, files) in &outputs {
        for (rule, check) in RULES {
            let problems = check(files);
            assert!(problems.is_empty(), "{name}: {rule}:\n{}", problems.join("\n"));
        }
    }
}

/// Each rule, over the reference build with one artifact broken the way the rule forbids.
#[test]
fn each_deployment_rule_catches_what_it_forbids() {
    let base = output(&repo_root().join("examples/reference"), TODAY);
    let edited = |path: &str, edit: &dyn Fn(&mut Value)| {
        let mut files = base.clone();
        edit(files.get_mut(path).unwrap());
        files
    };
    let account = "stacks/idpc-account-acme-prod.json";
    let cases: [(Rule, BTreeMap<String, Value>); 13] = [
        (
            traced_functions_may_write_traces,
            edited(account, &|t| {
                let policies =
                    t.pointer_mut("/Resources/JwtAuthorizerRole/Properties/Policies").unwrap().as_array_mut().unwrap();
                policies.retain(|p| p["PolicyName"] != "write-traces");
            }),
        ),
        (
            permissions_name_functions_of_their_account,
            edited("stacks/idpc-api-accounts--acme-prod.json", &|t| {
                *t.pointer_mut("/Resources/BackendInvokePermission/Properties/FunctionName").unwrap() =
                    Value::from("arn:aws:lambda:eu-central-1:999999999999:function:accounts");
            }),
        ),
        (
            literal_arns_are_of_the_stack,
            edited("stacks/idpc-gateway-acme-prod.json", &|t| {
                *t.pointer_mut("/Resources/DomainName/Properties/RegionalCertificateArn").unwrap() =
                    Value::from("arn:aws:acm:eu-west-1:222222222222:certificate/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b");
            }),
        ),
        (
            required_orderings_are_explicit,
            edited(account, &|t| {
                t.pointer_mut("/Resources/ConfigComplianceDeliveryChannel")
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove("DependsOn");
            }),
        ),
        (required_orderings_are_explicit, {
            let mut files = base.clone();
            let manifest = files.get_mut("manifest.json").unwrap();
            for stack in manifest["stacks"].as_array_mut().unwrap() {
                if stack["name"] == "idpc-api-accounts--acme-test" {
                    stack["depends_on"].as_array_mut().unwrap().retain(|d| d != "idpc-gateway-acme-test");
                }
            }
            files
        }),
        (
            service_linked_roles_exist,
            edited(account, &|t| {
                *t.pointer_mut("/Resources/ConfigComplianceRecorder/Properties/RoleARN").unwrap() = serde_json::json!({
                    "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
                });
            }),
        ),
        (
            a_failed_create_can_be_retried,
            edited(account, &|t| {
                *t.pointer_mut("/Resources/JwtAuthorizerLogGroup/DeletionPolicy").unwrap() = Value::from("Retain");
            }),
        ),
        (
            a_deleted_stack_can_be_created_again,
            edited(account, &|t| {
                *t.pointer_mut("/Resources/JwtAuthorizerLogGroup/Properties/LogGroupName").unwrap() =
                    Value::from("/aws/lambda/idpc-jwt-authorizer");
            }),
        ),
        (
            a_deleted_stack_can_be_created_again,
            edited("stacks/idpc-api-accounts--acme-pr-1234.json", &|t| {
                *t.pointer_mut("/Resources/AccessLogGroup/Properties/LogGroupName").unwrap() =
                    serde_json::json!({ "Fn::Sub": "/idpc/apigateway/${AWS::Region}/accounts--acme-pr-1234/access" });
            }),
        ),
        (
            scopes_only_where_api_gateway_checks_them,
            edited("stacks/idpc-api-accounts--acme-prod.json", &|t| {
                let paths = t.pointer_mut("/Resources/RestApi/Properties/Body/paths").unwrap();
                let operation = paths.as_object_mut().unwrap().values_mut().next().unwrap();
                let operation = operation.as_object_mut().unwrap().values_mut().next().unwrap();
                operation["security"] = serde_json::json!([{ "jwt": ["accounts:read"] }]);
            }),
        ),
        (
            placeholders_are_substituted,
            edited("stacks/idpc-api-accounts--acme-test.json", &|t| {
                *t.pointer_mut("/Resources/RestApi/Properties/Body/info/description").unwrap() =
                    Value::from("the account ${AWS::AccountId}");
            }),
        ),
        (
            budgets_count_in_usd,
            edited(account, &|t| {
                *t.pointer_mut("/Resources/CostBudget/Properties/Budget/BudgetLimit/Unit").unwrap() =
                    Value::from("EUR");
            }),
        ),
        (
            no_resource_opens_its_account,
            edited(account, &|t| {
                t.pointer_mut("/Resources/JwtAuthorizerRole/Properties/ManagedPolicyArns")
                    .map(|v| *v = serde_json::json!(["arn:aws:iam::aws:policy/AdministratorAccess"]))
                    .unwrap_or_else(|| {
                        t["Resources"]["JwtAuthorizerRole"]["Properties"]["ManagedPolicyArns"] =
                            serde_json::json!(["arn:aws:iam::aws:policy/AdministratorAccess"]);
                    });
            }),
        ),
    ];
    for (i, (rule, files)) in cases.iter().enumerate() {
        assert!(rule(&base).is_empty(), "case {i}: the rule fails on the unbroken build");
        assert!(!rule(files).is_empty(), "case {i}: the rule does not catch its broken artifact");
    }
}

/// How each route's scopes are enforced, read from a stage's artifacts: by API Gateway
/// (a Cognito authorizer's `authorizationScopes`, from each operation's security requirement),
/// or by the platform's JWT authorizer (the stage's route table in SSM, named by a stage
/// variable, readable by the authorizer's role). `None` when the route is enforced by neither.
fn enforced_scopes(files: &BTreeMap<String, Value>, stack: &Value, method: &str, path: &str) -> Option<Vec<String>> {
    let (api, env) = stack["name"].as_str()?.trim_start_matches("idpc-api-").split_once("--")?;
    let template = &files[stack["template"].as_str()?];
    let body = &template["Resources"]["RestApi"]["Properties"]["Body"];
    let schemes = body["components"]["securitySchemes"].as_object()?;
    let operation = &body["paths"][path][method.to_ascii_lowercase()];
    let list = |v: &Value| v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect());
    if schemes.get("cognito").is_some_and(|s| s["x-amazon-apigateway-authorizer"]["type"] == "cognito_user_pools") {
        return list(&operation["security"][0]["cognito"]);
    }
    schemes.get("jwt")?;
    let stage = &template["Resources"]["Stage"]["Properties"];
    let parameter = &template["Resources"]["RouteScopes"]["Properties"];
    let name = parameter["Name"].as_str()?;
    if stage["Variables"]["routeScopesParameter"] != name || name != format!("/idpc/{api}/{env}/route-scopes") {
        return None;
    }
    // The authorizer's role in the account stack may read it.
    let account = files["manifest.json"]["stacks"].as_array()?.iter().find(|s| {
        s["name"].as_str().is_some_and(|n| n.starts_with("idpc-account-")) && s["account"] == stack["account"]
    })?;
    let role = &files[account["template"].as_str()?]["Resources"]["JwtAuthorizerRole"]["Properties"];
    let readable = role["Policies"]
        .as_array()?
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().cloned().unwrap_or_default())
        .any(|s| {
            s["Action"] == "ssm:GetParameter"
                && s["Resource"]["Fn::Sub"].as_str().is_some_and(|r| r.ends_with(":parameter/idpc/*"))
        });
    if !readable {
        return None;
    }
    let table: Value = serde_json::from_str(parameter["Value"].as_str()?).ok()?;
    list(&table["routes"][format!("{method} {path}")])
}

#[test]
fn every_route_has_its_scopes_enforced() {
    let mut checked = 0;
    for (name, dir, today) in estates() {
        let compilation = compile_files(&load(&dir), &today);
        let resolved = compilation.resolved.as_ref().expect("resolved");
        let files: BTreeMap<String, Value> = compilation
            .output
            .as_ref()
            .expect("output")
            .files()
            .map(|(p, b)| (p.to_owned(), serde_json::from_slice(b).expect("json")))
            .collect();
        let stacks = files["manifest.json"]["stacks"].as_array().unwrap().clone();
        for stage in &resolved.stages {
            let api = &resolved.estate.apis[stage.api];
            if stage.settings.jwt.is_none() {
                continue;
            }
            let stack_name =
                format!("idpc-api-{}--{}", api.name.value, resolved.estate.environments[stage.env].name.value);
            let stack = stacks.iter().find(|s| s["name"] == stack_name.as_str()).unwrap();
            for route in &api.routes {
                let mut expected = route.scopes.clone();
                expected.sort();
                let method = route.method.value.as_str();
                let enforced = enforced_scopes(&files, stack, method, &route.path.value);
                assert_eq!(enforced, Some(expected), "{name}: {stack_name}: {method} {}", route.path.value);
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "{checked} routes checked");
    // The route the review found open: DELETE /cards/{cardId} needs cards:admin, from the
    // route table of every stage of cards.
    let files = output(&repo_root().join("examples/bank-platform"), TODAY);
    let stack = files["manifest.json"]["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "idpc-api-cards--northbank-prod")
        .unwrap()
        .clone();
    assert_eq!(enforced_scopes(&files, &stack, "DELETE", "/cards/{cardId}"), Some(vec!["cards:admin".to_owned()]));
    // Without the table, or without the role's right to read it, nothing enforces the scopes.
    let mut broken = files.clone();
    broken.get_mut("stacks/idpc-api-cards--northbank-prod.json").unwrap()["Resources"]
        .as_object_mut()
        .unwrap()
        .remove("RouteScopes");
    assert_eq!(enforced_scopes(&broken, &stack, "DELETE", "/cards/{cardId}"), None);
    let mut broken = files.clone();
    let role = broken
        .get_mut("stacks/idpc-account-northbank-prod.json")
        .unwrap()
        .pointer_mut("/Resources/JwtAuthorizerRole/Properties/Policies")
        .unwrap();
    role.as_array_mut().unwrap().retain(|p| p["PolicyName"] != "read-route-tables");
    assert_eq!(enforced_scopes(&broken, &stack, "DELETE", "/cards/{cardId}"), None);
}

// --- Facts: what the manifest says each stack guarantees is what its template does ----------

/// The differences between a stack's facts (manifest) and what its template does, read back
/// the way API Gateway and CloudFormation would apply it.
fn facts_disagree(files: &BTreeMap<String, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    for (stack, template) in stacks(files) {
        let name = stack["name"].as_str().unwrap();
        let facts: idpc::emit::facts::Facts = serde_json::from_value(stack["facts"].clone()).expect("facts");
        let Some(security) = &facts.security else { continue };
        let mut say = |what: &str, facts: String, template: String| {
            if facts != template {
                problems.push(format!("{name}: {what}: facts say {facts}, the template does {template}"));
            }
        };
        let resources = resources(template);
        for (host, domain) in &security.domains {
            let created = resources
                .values()
                .find(|r| r["Type"] == "AWS::ApiGateway::DomainName" && r["Properties"]["DomainName"] == host.as_str());
            let p = created.map(|r| &r["Properties"]).unwrap_or(&Value::Null);
            say(
                &format!("{host} TLS policy"),
                format!("{:?}", Some(&domain.tls_policy)),
                format!("{:?}", p["SecurityPolicy"].as_str()),
            );
            let mtls = &p["MutualTlsAuthentication"];
            say(
                &format!("{host} truststore"),
                format!("{:?}", domain.truststore),
                format!("{:?}", mtls["TruststoreUri"].as_str()),
            );
            say(
                &format!("{host} truststore version"),
                format!("{:?}", domain.truststore_version),
                format!("{:?}", mtls["TruststoreVersion"].as_str()),
            );
        }
        let domains = resources.values().filter(|r| r["Type"] == "AWS::ApiGateway::DomainName").count();
        say("domains created", security.domains.len().to_string(), domains.to_string());
        if facts.kind != "api-stage" {
            continue;
        }
        let api = &resources["RestApi"]["Properties"];
        let stage = &resources["Stage"]["Properties"];
        say(
            "execute-api disabled",
            security.endpoint_disabled.to_string(),
            (api["DisableExecuteApiEndpoint"] == true).to_string(),
        );
        let body = &api["Body"];
        let mut allowed: Option<Vec<String>> = None;
        for statement in body["x-amazon-apigateway-policy"]["Statement"].as_array().into_iter().flatten() {
            let ips = &statement["Condition"]["NotIpAddress"]["aws:SourceIp"];
            if statement["Effect"] == "Deny" && !ips.is_null() {
                allowed
                    .get_or_insert_default()
                    .extend(ips.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()));
            }
        }
        say("allow-list", format!("{:?}", security.allow_list), format!("{allowed:?}"));
        let traced = stage["MethodSettings"].as_array().unwrap().iter().any(|s| s["DataTraceEnabled"] == true);
        say("data trace", security.data_trace.to_string(), traced.to_string());
        say("access logs", security.access_logs.to_string(), (!stage["AccessLogSetting"].is_null()).to_string());
        let variables = &stage["Variables"];
        let token = variables["jwtIssuer"]
            .as_str()
            .map(|i| (i.to_owned(), variables["jwtAudience"].as_str().unwrap().to_owned()));
        say(
            "token",
            format!("{:?}", security.token.as_ref().map(|t| (t.issuer.clone(), t.audience.clone()))),
            format!("{token:?}"),
        );
        let pools: Vec<String> = body["components"]["securitySchemes"]
            .as_object()
            .into_iter()
            .flat_map(|s| s.values())
            .flat_map(|s| s["x-amazon-apigateway-authorizer"]["providerARNs"].as_array().cloned().unwrap_or_default())
            .map(|p| p.as_str().unwrap().to_owned())
            .collect();
        say("user pools", format!("{:?}", security.user_pools), format!("{pools:?}"));
        let mut routes = Vec::new();
        for (path, item) in body["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                routes.push(format!("{} {path}", method.to_uppercase()));
            }
        }
        routes.sort();
        let keys: Vec<String> = facts.routes.keys().cloned().collect();
        say("routes", format!("{keys:?}"), format!("{routes:?}"));
        for (route, required) in &facts.routes {
            let (method, path) = route.split_once(' ').unwrap();
            let enforced = enforced_scopes(files, stack, method, path);
            let expected = required.jwt.then(|| required.scopes.clone());
            say(&format!("`{route}` scopes"), format!("{expected:?}"), format!("{enforced:?}"));
        }
        let decision = |what: &str| facts.decisions.get(what).map(|d| d.value.clone()).unwrap_or(Value::Null);
        let settings = &stage["MethodSettings"][0];
        say(
            "throttle rate",
            decision("throttle rate (requests/s)").to_string(),
            settings["ThrottlingRateLimit"].to_string(),
        );
        say("throttle burst", decision("throttle burst").to_string(), settings["ThrottlingBurstLimit"].to_string());
        let retention = &resources["AccessLogGroup"]["Properties"]["RetentionInDays"];
        say("access log retention", decision("access log retention (days)").to_string(), retention.to_string());
    }
    problems
}

#[test]
fn every_stacks_facts_say_what_its_template_does() {
    let mut checked = 0;
    for (name, dir, today) in estates() {
        let files = output(&dir, &today);
        let problems = facts_disagree(&files);
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
        checked += stacks(&files).len();
    }
    assert!(checked > 40, "{checked} stacks checked");
}

#[test]
fn the_facts_check_catches_a_template_that_does_something_else() {
    let mut files = output(&repo_root().join("examples/reference"), TODAY);
    let stage = "stacks/idpc-api-payments--acme-prod.json";
    let template = files.get_mut(stage).unwrap();
    let policy =
        "/Resources/RestApi/Properties/Body/x-amazon-apigateway-policy/Statement/1/Condition/NotIpAddress/aws:SourceIp";
    template.pointer_mut(policy).unwrap().as_array_mut().unwrap().push(Value::from("0.0.0.0/1"));
    *template.pointer_mut("/Resources/Stage/Properties/MethodSettings/0/DataTraceEnabled").unwrap() = Value::Bool(true);
    let gateway = files.get_mut("stacks/idpc-gateway-acme-test.json").unwrap();
    gateway
        .pointer_mut("/Resources/DomainName/Properties")
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("MutualTlsAuthentication");
    let problems = facts_disagree(&files);
    let found = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(found("idpc-api-payments--acme-prod: allow-list"), "{problems:?}");
    assert!(found("idpc-api-payments--acme-prod: data trace"), "{problems:?}");
    assert!(found("idpc-gateway-acme-test: test.api.acme-bank.example truststore"), "{problems:?}");
}
