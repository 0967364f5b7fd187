//! Every estate under `examples/` compiles with no diagnostic at all; its manifest and every
//! artifact are snapshotted under `snapshots/examples/<estate>/`; and the output does not
//! depend on how the estate is split into files, nor on the order of files and nodes.

use std::path::{Path, PathBuf};

use idpc::source::RawFile;
use idpc_tests::{TODAY, compile_files, load, render_diagnostics, repo_root};

fn examples() -> Vec<(String, PathBuf)> {
    let root = repo_root().join("examples");
    let mut estates: Vec<(String, PathBuf)> = std::fs::read_dir(&root)
        .expect("examples/ exists")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    estates.sort();
    assert!(!estates.is_empty(), "no example estates");
    estates
}

fn output_files(files: &[RawFile]) -> Vec<(String, Vec<u8>)> {
    let compilation = compile_files(files, TODAY);
    let output =
        compilation.output.as_ref().unwrap_or_else(|| panic!("no output:\n{}", render_diagnostics(&compilation)));
    output.files().map(|(p, b)| (p.to_owned(), b.to_vec())).collect()
}

/// The estate's top-level nodes, each as its own source text, in file order.
fn node_texts(files: &[RawFile]) -> Vec<String> {
    let mut nodes = Vec::new();
    for file in files.iter().filter(|f| f.path.ends_with(".kdl") && !f.path.starts_with("baselines/")) {
        let text = String::from_utf8(file.bytes.clone()).expect("utf-8");
        let doc: kdl::KdlDocument = text.parse().expect("example parses");
        for node in doc.nodes() {
            let span = node.span();
            nodes.push(text[span.offset()..span.offset() + span.len()].to_owned());
        }
    }
    nodes
}

/// The same estate with its nodes spread over `parts` files, in the order `order` gives.
fn resplit(files: &[RawFile], order: &[usize], parts: usize) -> Vec<RawFile> {
    let nodes = node_texts(files);
    let mut texts = vec![String::new(); parts];
    for (i, &n) in order.iter().enumerate() {
        texts[i % parts].push_str(&nodes[n]);
        texts[i % parts].push_str("\n\n");
    }
    let mut out: Vec<RawFile> = texts
        .into_iter()
        .enumerate()
        .map(|(i, t)| RawFile { path: format!("part-{}/f{i}.kdl", parts - i), bytes: t.into_bytes() })
        .collect();
    out.extend(files.iter().filter(|f| f.path.starts_with("baselines/")).cloned());
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[test]
fn examples_compile_cleanly_and_match_snapshots() {
    for (name, dir) in examples() {
        let compilation = compile_files(&load(&dir), TODAY);
        assert!(compilation.diagnostics.is_empty(), "{name}:\n{}", render_diagnostics(&compilation));
        let output = compilation.output.expect("output");
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(repo_root().join("snapshots/examples").join(&name));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.bind(|| {
            insta::assert_snapshot!("manifest.json", String::from_utf8_lossy(&output.manifest));
            for artifact in &output.artifacts {
                insta::assert_snapshot!(artifact.path.replace('/', "__"), String::from_utf8_lossy(&artifact.bytes));
            }
        });
    }
}

#[test]
fn output_is_identical_across_runs_splits_and_orders() {
    for (name, dir) in examples() {
        let files = load(&dir);
        let expected = output_files(&files);
        assert_eq!(output_files(&files), expected, "{name}: second run differs");
        let count = node_texts(&files).len();
        let forward: Vec<usize> = (0..count).collect();
        let reversed: Vec<usize> = (0..count).rev().collect();
        let interleaved: Vec<usize> = (0..count).step_by(2).chain((1..count).step_by(2)).collect();
        for (order, parts) in [(&forward, 1), (&reversed, 1), (&reversed, 3), (&interleaved, 2), (&forward, count)] {
            assert_eq!(
                output_files(&resplit(&files, order, parts)),
                expected,
                "{name}: {parts} files, order {order:?}"
            );
        }
    }
}

#[test]
fn reference_estate_plan_has_the_contract_shape() {
    let compilation = compile_files(&load(&repo_root().join("examples/reference")), TODAY);
    let plan = compilation.plan.expect("plan");
    let by_name = |n: &str| plan.stacks.iter().find(|s| s.name == n).unwrap_or_else(|| panic!("no stack {n}"));
    assert_eq!(plan.stacks.len(), 13);
    let wave = |n: &str| by_name(n).wave;
    for stage in [
        "accounts--acme-prod",
        "accounts--acme-test",
        "accounts--acme-pr-1234",
        "payments--acme-prod",
        "payments--acme-test",
    ] {
        let stack = format!("idpc-api-{stage}");
        let env = stage.split("--").nth(1).unwrap();
        let account = if env == "acme-prod" { "idpc-account-acme-prod" } else { "idpc-account-acme-dev" };
        assert!(wave(&stack) > wave(account), "{stack} must follow the jwt-authorizer stack {account}");
    }
    for env in ["acme-prod", "acme-test"] {
        assert!(wave(&format!("idpc-api-payments--{env}")) > wave(&format!("idpc-api-accounts--{env}")));
    }
    for stage in ["accounts--acme-prod", "accounts--acme-test", "accounts--acme-pr-1234", "payments--acme-test"] {
        let env = stage.split("--").nth(1).unwrap();
        assert!(wave(&format!("idpc-api-{stage}")) > wave(&format!("idpc-gateway-{env}")), "{stage}");
    }
    assert!(wave("idpc-gateway-acme-test") > wave("idpc-organisation"));
    assert_eq!(wave("idpc-organisation"), 1);
    assert!(wave("idpc-account-acme-dev") > wave("idpc-organisation"));
    let openapi = compilation
        .output
        .expect("output")
        .artifacts
        .iter()
        .filter(|a| a.kind == idpc::emit::ArtifactKind::OpenApi || a.kind == idpc::emit::ArtifactKind::OpenApiTemplate)
        .count();
    assert_eq!(openapi, 5);
    assert!(Path::new(&repo_root().join("examples/reference/platform.kdl")).exists());
}

#[test]
fn reference_estate_has_the_baseline_resources() {
    let compilation = compile_files(&load(&repo_root().join("examples/reference")), TODAY);
    let output = compilation.output.expect("output");
    let template = |stack: &str| -> serde_json::Value {
        let path = format!("stacks/{stack}.json");
        let artifact = output.artifacts.iter().find(|a| a.path == path).unwrap_or_else(|| panic!("no {path}"));
        serde_json::from_slice(&artifact.bytes).expect("json")
    };
    let types = |stack: &str| -> Vec<String> {
        let t = template(stack);
        t["Resources"]
            .as_object()
            .expect("resources")
            .values()
            .map(|r| r["Type"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let prod = types("idpc-account-acme-prod");
    for expected in [
        "AWS::CloudTrail::Trail",
        "AWS::Config::ConfigurationRecorder",
        "AWS::Config::DeliveryChannel",
        "AWS::Config::ConfigRule",
        "AWS::Budgets::Budget",
        "AWS::Lambda::Function",
    ] {
        assert!(prod.contains(&expected.to_owned()), "acme-prod lacks {expected}");
    }
    let budget =
        |stack: &str| template(stack)["Resources"]["CostBudget"]["Properties"]["Budget"]["BudgetLimit"].clone();
    assert_eq!(budget("idpc-account-acme-prod"), serde_json::json!({"Amount": 2500, "Unit": "USD"}));
    assert_eq!(budget("idpc-account-acme-dev"), serde_json::json!({"Amount": 400, "Unit": "USD"}));
    for env in ["idpc-env-acme-prod", "idpc-env-acme-test"] {
        let t = types(env);
        assert!(t.contains(&"AWS::Events::Rule".to_owned()) && t.contains(&"AWS::SNS::Topic".to_owned()), "{env}");
    }
    let accounts: usize = output
        .artifacts
        .iter()
        .filter(|a| a.kind == idpc::emit::ArtifactKind::CloudFormation)
        .map(|a| String::from_utf8_lossy(&a.bytes).matches("\"AWS::Organizations::Account\"").count())
        .sum();
    assert_eq!(accounts, 1);
    assert_eq!(template("idpc-organisation")["Resources"]["AccountAcmeDev"]["Properties"]["AccountName"], "acme-dev");
}

/// Artifacts by path, without the manifest (which lists everything).
fn artifacts_of(files: &[RawFile]) -> std::collections::BTreeMap<String, Vec<u8>> {
    output_files(files).into_iter().filter(|(path, _)| path != "manifest.json").collect()
}

fn with_extra(files: &[RawFile], extra: &str) -> Vec<RawFile> {
    let mut files = files.to_vec();
    files.push(RawFile { path: "zz-extra.kdl".into(), bytes: extra.as_bytes().to_vec() });
    files
}

#[test]
fn adding_an_api_or_a_route_changes_no_other_api() {
    let files = load(&repo_root().join("examples/reference"));
    let before = artifacts_of(&files);
    let loans = r#"api "loans" version="0.9.0" owner="team-lending" {
    deploy "acme-prod" "acme-test"
    backend lambda="loans"
    security {
        mtls
        jwt issuer="https://auth.acme-bank.example" audience="loans"
        allow-ip "203.0.113.0/24"
    }
    route "GET" "/loans/{loanId}" scopes="loans:read"
    monitor "errors" max-5xx-rate=0.01
    uses "accounts"
}"#;
    let after = artifacts_of(&with_extra(&files, loans));
    let added: Vec<&String> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    assert!(added.iter().all(|p| p.contains("loans")), "{added:?}");
    assert!(added.len() >= 6, "{added:?}");
    for (path, bytes) in &before {
        assert_eq!(after.get(path), Some(bytes), "adding an API changed {path}");
    }

    let mut with_route = files.clone();
    let payments = with_route.iter_mut().find(|f| f.path == "apis/payments.kdl").expect("payments.kdl");
    let text = String::from_utf8(payments.bytes.clone()).expect("utf-8");
    payments.bytes = text
        .replace(r#"    route "POST" "/payments" scopes="payments:write""#, "    route \"POST\" \"/payments\" scopes=\"payments:write\"\n    route \"DELETE\" \"/payments/{paymentId}\" scopes=\"payments:write\"")
        .into_bytes();
    let after = artifacts_of(&with_route);
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>());
    let changed: Vec<&String> = before.keys().filter(|p| after.get(*p) != before.get(*p)).collect();
    assert!(!changed.is_empty() && changed.iter().all(|p| p.contains("payments")), "{changed:?}");
}

#[test]
fn every_stage_is_secure_and_watched_by_its_own_monitors() {
    for (name, dir) in examples() {
        let compilation = compile_files(&load(&dir), TODAY);
        let output = compilation.output.expect("output");
        let json = |path: &str| -> serde_json::Value {
            let artifact =
                output.artifacts.iter().find(|a| a.path == path).unwrap_or_else(|| panic!("{name}: no {path}"));
            serde_json::from_slice(&artifact.bytes).expect("json")
        };
        let plan = compilation.plan.expect("plan");
        let mut stages = 0;
        for stack in plan.stacks.iter().filter(|s| s.name.starts_with("idpc-api-")) {
            stages += 1;
            let (api, env) = stack.name.trim_start_matches("idpc-api-").split_once("--").expect("api--env");
            let template = json(&format!("stacks/{}.json", stack.name));
            let resources = &template["Resources"];
            let body = &resources["RestApi"]["Properties"]["Body"];
            if let Some(domain) = resources.get("DomainName") {
                assert_eq!(domain["Properties"]["SecurityPolicy"], "TLS_1_2", "{}", stack.name);
                assert_eq!(resources["RestApi"]["Properties"]["DisableExecuteApiEndpoint"], true, "{}", stack.name);
            }
            if body["components"]["securitySchemes"].get("jwt").is_some() {
                for (path, item) in body["paths"].as_object().expect("paths") {
                    for (method, operation) in item.as_object().expect("item") {
                        let security = &operation["security"][0]["jwt"];
                        assert!(security.is_array(), "{}: {method} {path} without the JWT authorizer", stack.name);
                    }
                }
            }
            if let Some(policy) = body.get("x-amazon-apigateway-policy") {
                let deny = policy["Statement"]
                    .as_array()
                    .expect("statements")
                    .iter()
                    .any(|s| s["Effect"] == "Deny" && s["Condition"]["NotIpAddress"]["aws:SourceIp"].is_array());
                assert!(deny, "{}: allow-list without Deny NotIpAddress", stack.name);
            }
            let stage = &resources["Stage"]["Properties"];
            assert_eq!(stage["TracingEnabled"], true);
            assert_eq!(stage["MethodSettings"][0]["DataTraceEnabled"], false);
            let filter = format!("apiname:{api}--{env},stage:{env}");
            assert_eq!(resources["RestApi"]["Properties"]["Name"], format!("{api}--{env}"));
            assert_eq!(stage["StageName"], env);
            for artifact in
                output.artifacts.iter().filter(|a| a.path.starts_with(&format!("apis/{api}/{env}/monitors/")))
            {
                let monitor: serde_json::Value = serde_json::from_slice(&artifact.bytes).expect("json");
                let query = monitor["query"].as_str().expect("query");
                assert!(query.contains(&format!("{{{filter}}}")), "{}: {query}", artifact.path);
                let critical = monitor["options"]["thresholds"]["critical"].to_string();
                assert!(query.ends_with(&format!(" {critical}")), "{}: threshold {critical} vs {query}", artifact.path);
            }
        }
        assert!(stages > 0, "{name} has no API stage");
    }
}

#[test]
fn every_artifact_path_stays_inside_out() {
    for (name, dir) in examples() {
        let compilation = compile_files(&load(&dir), TODAY);
        for (path, _) in compilation.output.expect("output").files() {
            assert!(idpc::write::safe_relative(path), "{name}: {path}");
        }
    }
}

#[test]
fn every_file_is_canonical_json() {
    // Sorted keys, two-space indent, newline at the end: what `serde_json` writes for the
    // parsed value. Guards the manifest, which is serialized from structs whose fields must
    // be declared in sorted order, and the formatter that replaces serde_json's own.
    for (name, dir) in examples() {
        for (path, bytes) in output_files(&load(&dir)) {
            let value: serde_json::Value =
                serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}/{path}: not JSON: {e}"));
            let mut canonical = serde_json::to_vec_pretty(&value).expect("serializes");
            canonical.push(b'\n');
            assert!(bytes == canonical, "{name}/{path} is not in canonical form");
        }
    }
}

#[test]
fn explain_stage_shows_where_each_setting_comes_from() {
    for (estate, api, env) in [("reference", "payments", "acme-test"), ("bank-platform", "cards", "southbank-prod")] {
        let compilation = compile_files(&load(&repo_root().join("examples").join(estate)), TODAY);
        let resolved = compilation.resolved.as_ref().expect("resolved");
        let plan = compilation.plan.as_ref().expect("plan");
        let text = idpc::explain::stage(resolved, plan, &compilation.sources, api, env).expect("a stage");
        let setting = |name: &str| {
            text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("no {name}:\n{text}"))
        };
        // The `deploy` block's backend wins over the API's, and says so.
        assert!(setting("backend").contains(&format!("deploy \"{env}\"")), "{text}");
        assert!(setting("region").contains("tenant `"), "{text}");
        assert!(setting("domain").contains(&format!("environment `{env}`")), "{text}");
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(repo_root().join("snapshots/examples").join(estate));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.bind(|| insta::assert_snapshot!(format!("explain-stage-{api}-{env}"), text));
    }
    let compilation = compile_files(&load(&repo_root().join("examples/reference")), TODAY);
    let (resolved, plan) = (compilation.resolved.as_ref().unwrap(), compilation.plan.as_ref().unwrap());
    let not_deployed = idpc::explain::stage(resolved, plan, &compilation.sources, "payments", "acme-pr-1234");
    assert_eq!(not_deployed, Err(idpc::explain::NoStage::NotDeployed(vec!["acme-prod".into(), "acme-test".into()])));
    let unknown = idpc::explain::stage(resolved, plan, &compilation.sources, "loans", "acme-test");
    assert_eq!(unknown, Err(idpc::explain::NoStage::UnknownApi));
}

#[test]
fn the_cost_monitor_compares_usd_with_usd() {
    // AWS Budgets accepts USD only as a cost unit (any other fails to create, see the `cost`
    // baseline) and reports estimated charges (`aws.billing.estimated_charges`) in USD: the
    // budget and the monitor count the same limit in the same currency.
    let compilation = compile_files(&load(&repo_root().join("examples/bank-platform")), TODAY);
    let output = compilation.output.expect("output");
    let json = |path: &str| -> serde_json::Value {
        let artifact = output.artifacts.iter().find(|a| a.path == path).unwrap_or_else(|| panic!("{path}"));
        serde_json::from_slice(&artifact.bytes).expect("json")
    };
    let monitor = json("datadog/idpc-account-northbank-prod/cost-monitor.json");
    // The payer account publishes every member account's charges, tagged `linkedaccount`.
    assert!(monitor["query"].as_str().unwrap().ends_with("{linkedaccount:333333333333} > 13000.5"), "{monitor}");
    assert_eq!(monitor["options"]["thresholds"]["critical"], 13000.5);
    let stack = json("stacks/idpc-account-northbank-prod.json");
    let budgets: Vec<&serde_json::Value> =
        stack["Resources"].as_object().unwrap().values().filter(|r| r["Type"] == "AWS::Budgets::Budget").collect();
    assert_eq!(budgets.len(), 1);
    assert_eq!(
        budgets[0]["Properties"]["Budget"]["BudgetLimit"],
        serde_json::json!({ "Amount": 13000.5, "Unit": "USD" })
    );
}
