//! Pull-request review: `idpc diff` over edits of the reference estate, `idpc graph`, and the
//! machine-readable diagnostic formats. Outputs are snapshotted under `snapshots/review/`.

use std::path::Path;

use idpc::diagnostics::machine;
use idpc::review::diff::{self, Change, Report, Tree, ValueChange, Warning, WarningKind};
use idpc::review::graph::{self, Filter};
use idpc::source::RawFile;
use idpc_tests::{TODAY, compile_files, load, render_diagnostics, repo_root};

fn reference() -> Vec<RawFile> {
    load(&repo_root().join("examples/reference"))
}

/// The reference estate with `edit` applied to one file's text (the edit must change it).
fn edited(path: &str, edit: impl Fn(&str) -> String) -> Vec<RawFile> {
    edited_all(&[(path, &edit)])
}

/// The reference estate with several files edited (each edit must change its file).
/// An edit of one file: its path, and what it does to the text.
type Edit<'a> = (&'a str, &'a dyn Fn(&str) -> String);

fn edited_all(edits: &[Edit<'_>]) -> Vec<RawFile> {
    let mut files = reference();
    for (path, edit) in edits {
        let file = files.iter_mut().find(|f| f.path == *path).expect("file exists");
        let before = String::from_utf8(file.bytes.clone()).expect("utf-8");
        let after = edit(&before);
        assert_ne!(before, after, "the edit of {path} changed nothing");
        file.bytes = after.into_bytes();
    }
    files
}

/// Drops the `mtls` requirement from both APIs (so that a gateway may lose its mTLS).
fn without_required_mtls(text: &str) -> String {
    text.replace("        mtls\n", "")
}

const ACME_TEST_GATEWAY: &str = "    gateway \"test.api.acme-bank.example\" {\n        mtls truststore=\"s3://acme-truststores/test/truststore.pem\"\n    }\n";

fn tree(files: &[RawFile]) -> Tree {
    let compilation = compile_files(files, TODAY);
    let output =
        compilation.output.as_ref().unwrap_or_else(|| panic!("no output:\n{}", render_diagnostics(&compilation)));
    Tree::from_output(output)
}

fn diff_of(old: &[RawFile], new: &[RawFile]) -> Report {
    diff::diff(&tree(old), &tree(new)).expect("both are idpc builds")
}

fn snapshot(name: &str, contents: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(repo_root().join("snapshots/review"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name.to_owned(), contents));
}

fn payments(line: &str) -> impl Fn(&str) -> String {
    let line = line.to_owned();
    move |text: &str| text.replace(&format!("{line}\n"), "")
}

/// The (stack, message) of the report's warnings of one kind, in order.
fn subjects(report: &Report, kind: WarningKind) -> Vec<(&str, &str)> {
    report.warnings.iter().filter(|w| w.kind == kind).map(|w| (w.subject.as_str(), w.message.as_str())).collect()
}

/// The messages of the report's warnings of one kind, in order.
fn messages(report: &Report, kind: WarningKind) -> Vec<&str> {
    report.warnings.iter().filter(|w| w.kind == kind).map(|w| w.message.as_str()).collect()
}

#[test]
fn identical_builds_have_no_change() {
    let report = diff_of(&reference(), &reference());
    assert!(report.is_empty());
    assert!(report.warnings.is_empty());
    assert_eq!(report.markdown(), "# idpc diff\n\nNo change: both builds are identical.\n");
}

#[test]
fn a_new_route_names_the_route_the_stacks_and_resources_and_nothing_else() {
    let new = edited("apis/payments.kdl", |t| {
        t.replace(
            "    route \"GET\" \"/payments/{paymentId}\" scopes=\"payments:read\"\n",
            "    route \"GET\" \"/payments/{paymentId}\" scopes=\"payments:read\"\n    route \"GET\" \"/payments/{paymentId}/refunds\" scopes=\"payments:read\"\n",
        )
    });
    let report = diff_of(&reference(), &new);
    let stacks: Vec<&str> = report.stacks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stacks, ["idpc-api-payments--acme-prod", "idpc-api-payments--acme-test"]);
    let artifacts: Vec<(&str, Change)> = report.artifacts.iter().map(|a| (a.path.as_str(), a.change)).collect();
    assert_eq!(
        artifacts,
        [
            ("apis/payments/acme-prod/openapi.json", Change::Changed),
            ("apis/payments/acme-test/openapi.template.json", Change::Changed),
            ("stacks/idpc-api-payments--acme-prod.json", Change::Changed),
            ("stacks/idpc-api-payments--acme-test.json", Change::Changed),
        ]
    );
    for stack in &report.stacks {
        assert_eq!(stack.change, Change::Changed);
        assert!(stack.plan.is_empty() && stack.security.is_empty(), "{stack:?}");
        let routes: Vec<(&str, &str, Change)> =
            stack.routes.iter().map(|r| (r.method.as_str(), r.path.as_str(), r.change)).collect();
        assert_eq!(routes, [("GET", "/payments/{paymentId}/refunds", Change::Added)]);
        let mut resources: Vec<(&str, Change)> =
            stack.resources.iter().map(|r| (r.resource_type.as_str(), r.change)).collect();
        resources.sort();
        assert_eq!(
            resources,
            [
                ("AWS::ApiGateway::Deployment", Change::Added),
                ("AWS::ApiGateway::Deployment", Change::Removed),
                ("AWS::ApiGateway::RestApi", Change::Changed),
                ("AWS::ApiGateway::Stage", Change::Changed),
                // The route table the JWT authorizer enforces scopes from.
                ("AWS::SSM::Parameter", Change::Changed),
            ]
        );
        let api = stack.resources.iter().find(|r| r.logical_id == "RestApi").expect("RestApi");
        let paths: Vec<&str> = api.properties.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, [r#"Body.paths["/payments/{paymentId}/refunds"]"#]);
        assert!(api.replaced_by.is_empty());
    }
    // A new deployment replacing the old is how API Gateway deploys: no warning.
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    snapshot("route-added.md", &report.markdown());
    snapshot("route-added.json", &report.json());
}

#[test]
fn removing_the_gateway_warns_of_deletion_and_lost_security() {
    let new = edited_all(&[
        ("tenants/acme-bank/environments.kdl", &|t: &str| t.replace(ACME_TEST_GATEWAY, "")),
        ("apis/accounts.kdl", &without_required_mtls),
        ("apis/payments.kdl", &without_required_mtls),
    ]);
    let report = diff_of(&reference(), &new);
    let deletions = subjects(&report, WarningKind::Deletion);
    assert!(deletions.iter().any(|(s, _)| *s == "idpc-gateway-acme-test"), "{deletions:?}");
    for stack in ["idpc-api-accounts--acme-test", "idpc-api-payments--acme-test"] {
        let mapping = (stack, "`BasePathMapping` (AWS::ApiGateway::BasePathMapping) is deleted");
        assert!(deletions.contains(&mapping), "{deletions:?}");
    }
    let security = subjects(&report, WarningKind::Security);
    for stack in ["idpc-api-accounts--acme-test", "idpc-api-payments--acme-test"] {
        let endpoint =
            security.iter().any(|(s, m)| *s == stack && m.starts_with("the default execute-api endpoint is enabled"));
        assert!(endpoint, "{security:?}");
    }
    snapshot("gateway-removed.md", &report.markdown());
}

#[test]
fn renaming_the_gateway_warns_of_replacement() {
    let new = edited("tenants/acme-bank/environments.kdl", |t| {
        t.replace("\"test.api.acme-bank.example\"", "\"qa.test.api.acme-bank.example\"")
    });
    let report = diff_of(&reference(), &new);
    let replaced = subjects(&report, WarningKind::Replacement);
    let domain = "`DomainName` (AWS::ApiGateway::DomainName) is replaced (deleted and created again) because `DomainName` changed";
    assert!(replaced.contains(&("idpc-gateway-acme-test", domain)), "{replaced:?}");
    let mapping = "`BasePathMapping` (AWS::ApiGateway::BasePathMapping) is replaced (deleted and created again) because `DomainName` changed";
    for stack in ["idpc-api-accounts--acme-test", "idpc-api-payments--acme-test"] {
        assert!(replaced.contains(&(stack, mapping)), "{replaced:?}");
    }
    // The renamed domain keeps its mTLS: a change to read, not a weakening.
    assert!(messages(&report, WarningKind::Security).is_empty(), "{:?}", report.warnings);
    let gateway = report.stacks.iter().find(|s| s.name == "idpc-gateway-acme-test").expect("gateway stack");
    let moved = "the mTLS domain test.api.acme-bank.example (s3://acme-truststores/test/truststore.pem) is replaced by qa.test.api.acme-bank.example (s3://acme-truststores/test/truststore.pem)";
    assert!(gateway.security.iter().any(|c| c.message == moved && !c.weakens), "{:?}", gateway.security);
}

#[test]
fn removing_the_allow_list_entry_is_a_security_warning() {
    let new = edited("apis/payments.kdl", payments("        allow-ip \"203.0.113.0/24\""));
    let report = diff_of(&reference(), &new);
    let security = subjects(&report, WarningKind::Security);
    let message = "the IP allow-list is removed: any address can call the API";
    assert_eq!(security, [("idpc-api-payments--acme-prod", message), ("idpc-api-payments--acme-test", message)]);
}

#[test]
fn widening_the_allow_list_is_a_security_warning_and_narrowing_is_not() {
    let widened = edited("apis/payments.kdl", |t| {
        t.replace("allow-ip \"203.0.113.0/24\"", "allow-ip \"203.0.113.0/24\" \"198.51.100.0/24\"")
    });
    let report = diff_of(&reference(), &widened);
    let security: Vec<&str> = messages(&report, WarningKind::Security);
    assert_eq!(security, ["the IP allow-list is widened: `198.51.100.0/24` may now call the API"; 2]);
    // Back again: narrower, listed as a security change but not a warning.
    let report = diff_of(&widened, &reference());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let stack = &report.stacks[0];
    assert_eq!(stack.security.len(), 1);
    assert!(!stack.security[0].weakens);
}

#[test]
fn removing_the_mtls_line_is_a_security_warning() {
    let new = edited_all(&[
        ("tenants/acme-bank/environments.kdl", &|t: &str| {
            t.replace(ACME_TEST_GATEWAY, "    gateway \"test.api.acme-bank.example\"\n")
        }),
        ("apis/accounts.kdl", &without_required_mtls),
        ("apis/payments.kdl", &without_required_mtls),
    ]);
    let report = diff_of(&reference(), &new);
    let security = subjects(&report, WarningKind::Security);
    let message = "mTLS is removed from test.api.acme-bank.example (s3://acme-truststores/test/truststore.pem): clients no longer need a certificate";
    assert_eq!(security, [("idpc-gateway-acme-test", message)]);
    // The domain stays: nothing is deleted or replaced.
    assert!(report.warnings.iter().all(|w| w.kind == WarningKind::Security), "{:?}", report.warnings);
    snapshot("mtls-removed.md", &report.markdown());
}

#[test]
fn removing_an_api_from_an_environment_deletes_its_stack_and_monitors() {
    let new = edited("apis/accounts.kdl", |t| {
        t.replace("deploy \"acme-prod\" \"acme-test\" \"acme-pr-1234\"", "deploy \"acme-prod\" \"acme-test\"")
    });
    let report = diff_of(&reference(), &new);
    let removed: Vec<&str> =
        report.stacks.iter().filter(|s| s.change == Change::Removed).map(|s| s.name.as_str()).collect();
    assert_eq!(removed, ["idpc-api-accounts--acme-pr-1234"]);
    assert!(report.warnings.iter().any(|w| w.kind == WarningKind::Deletion
        && w.subject == "idpc-api-accounts--acme-pr-1234"
        && w.message.starts_with("the stack is no longer built")));
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.subject == "apis/accounts/acme-pr-1234/monitors/latency.json" && w.kind == WarningKind::Deletion)
    );
}

#[test]
fn a_hand_edited_output_is_refused() {
    let mut edited_tree = tree(&reference());
    let path = "stacks/idpc-account-acme-prod.json";
    edited_tree.files.get_mut(path).expect("template").push(b' ');
    let error = diff::diff(&tree(&reference()), &edited_tree).expect_err("hash mismatch");
    assert!(error.to_string().contains(path), "{error}");
}

#[test]
fn graph_formats() {
    let compilation = compile_files(&reference(), TODAY);
    let plan = compilation.plan.as_ref().expect("plan");
    let all = Filter::default();
    snapshot("graph.dot", &graph::dot(plan, &all));
    snapshot("graph.mmd", &graph::mermaid(plan, &all));
    snapshot("graph.json", &graph::json(plan, &all));
    let test_env = Filter { tenant: None, environment: Some("acme-test".into()) };
    snapshot("graph-acme-test.mmd", &graph::mermaid(plan, &test_env));
    let json: serde_json::Value = serde_json::from_str(&graph::json(plan, &test_env)).expect("json");
    let selected: Vec<&str> = json["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .filter(|s| s["selected"] == true)
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        selected,
        [
            "idpc-env-acme-test",
            "idpc-gateway-acme-test",
            "idpc-api-accounts--acme-test",
            "idpc-api-payments--acme-test"
        ]
    );
    // Every edge joins two shown stacks, in deploy order.
    let stacks = json["stacks"].as_array().expect("stacks");
    let wave = |name: &str| stacks.iter().find(|s| s["name"] == name).and_then(|s| s["wave"].as_u64());
    for edge in json["edges"].as_array().expect("edges") {
        let (from, to) = (edge["dependency"].as_str().expect("from"), edge["dependent"].as_str().expect("to"));
        assert!(wave(from).expect("shown") < wave(to).expect("shown"), "{edge}");
    }
}

fn err_case(name: &str) -> (idpc::Compilation, String) {
    let dir = repo_root().join("tests/cases/err").join(name);
    let files = load(&dir);
    (compile_files(&files, TODAY), format!("tests/cases/err/{name}"))
}

#[test]
fn machine_formats_for_error_cases() {
    for case in ["unknown-environment", "allow-ip-any", "dependency-cycle", "bad-template--raw-insertion"] {
        let dir = repo_root().join("tests/cases/err").join(case);
        assert!(Path::new(&dir).is_dir(), "no err case {case}");
        let (compilation, root) = err_case(case);
        assert!(compilation.has_errors());
        let json = machine::render_json(&compilation.diagnostics, &compilation.sources, &root, machine::EXPLAIN_URL);
        let value: serde_json::Value = serde_json::from_str(&json).expect("one JSON document");
        assert_eq!(value["format"], machine::FORMAT);
        for diagnostic in value["diagnostics"].as_array().expect("list") {
            assert!(diagnostic["url"].as_str().expect("url").ends_with(diagnostic["code"].as_str().expect("code")));
            for label in diagnostic["labels"].as_array().expect("labels") {
                assert!(label["line"].as_u64().expect("line") >= 1 && label["column"].as_u64().expect("column") >= 1);
            }
        }
        snapshot(&format!("{case}.json"), &serde_json::to_string_pretty(&value).expect("json"));
        let github =
            machine::render_github(&compilation.diagnostics, &compilation.sources, &root, machine::EXPLAIN_URL);
        for line in github.lines() {
            assert!(line.starts_with("::error file=") || line.starts_with("::warning file="), "{line}");
        }
        snapshot(&format!("{case}.github"), &github);
    }
}

#[test]
fn a_first_build_compares_against_an_empty_manifest() {
    // What the example pull-request workflow writes when the base branch has no estate yet.
    let mut empty = Tree::default();
    empty.files.insert(
        "manifest.json".into(),
        br#"{"format":"idpc-manifest/1","platform":"","stacks":[],"artifacts":[]}"#.to_vec(),
    );
    let report = diff::diff(&empty, &tree(&reference())).expect("diff");
    assert_eq!(report.stacks.len(), 13);
    assert!(report.stacks.iter().all(|s| s.change == Change::Added));
    assert!(report.artifacts.iter().all(|a| a.change == Change::Added));
    assert!(report.warnings.is_empty());
}

#[test]
fn removing_jwt_is_a_security_warning_per_route() {
    let new = edited("apis/payments.kdl", |t| {
        payments("        jwt issuer=\"https://auth.acme-bank.example\" audience=\"payments\"")(t).replace(
            "    uses \"accounts\"\n",
            "    uses \"accounts\"\n    waive \"production-api-without-jwt\" reason=\"RISK-2\" until=\"2026-12-31\"\n",
        )
    });
    let report = diff_of(&reference(), &new);
    let security: Vec<&str> = messages(&report, WarningKind::Security);
    assert_eq!(
        security,
        [
            "JWT is removed from `GET /payments/{paymentId}`: it can be called without a token",
            "JWT is removed from `POST /payments`: it can be called without a token",
        ]
        .repeat(2)
    );
}

#[test]
fn dropping_a_scope_of_a_route_is_a_security_warning() {
    // The platform authorizer's routes list no scopes in the OpenAPI document: the change is
    // read from the stage's route table, which it enforces.
    let new = edited("apis/payments.kdl", |t| {
        t.replace(
            "route \"POST\" \"/payments\" scopes=\"payments:write\"",
            "route \"POST\" \"/payments\" scopes=\"payments:read\"",
        )
    });
    let report = diff_of(&reference(), &new);
    let security: Vec<&str> = messages(&report, WarningKind::Security);
    assert_eq!(security, ["`POST /payments` no longer requires the scope `payments:write`"; 2]);
}

#[test]
fn another_issuer_or_audience_is_a_security_warning() {
    let new = edited("apis/payments.kdl", |t| t.replace("audience=\"payments\"", "audience=\"accounts\""));
    let report = diff_of(&reference(), &new);
    let security: Vec<&str> = messages(&report, WarningKind::Security);
    let message = "the stage accepts other tokens: issuer `https://auth.acme-bank.example`, audience `accounts` (was issuer `https://auth.acme-bank.example`, audience `payments`)";
    assert_eq!(security, [message; 2]);
}

/// The generated 250-API estate (25 tenants), with `edit` applied to its platform file.
fn generated(edit: impl Fn(&str) -> String) -> Vec<RawFile> {
    idpc_tests::estate::generate(250, None)
        .into_iter()
        .map(|(path, text)| {
            let text = if path == "platform.kdl" { edit(&text) } else { text };
            RawFile { path, bytes: text.into_bytes() }
        })
        .collect()
}

#[test]
fn a_platform_tag_on_250_apis_is_one_line_that_fits_a_comment() {
    let old = generated(str::to_owned);
    let new = generated(|t| {
        t.replace(
            "    tag \"managed-by\" \"idpc\"\n",
            "    tag \"managed-by\" \"idpc\"\n    tag \"cost-owner\" \"platform-finance\"\n",
        )
    });
    let report = diff_of(&old, &new);
    let stacks = report.stacks.len();
    assert!(stacks > 800, "{stacks}");
    let markdown = report.markdown();
    assert!(markdown.chars().count() <= diff::COMMENT_LIMIT, "{} characters", markdown.chars().count());
    let line = format!("- plan: tag `cost-owner` added: \"platform-finance\" — **{stacks} stacks in ");
    assert!(markdown.contains(&line), "{markdown}");
    assert!(markdown.contains("75 environments of 25 tenants"), "{markdown}");
    // Said once, not once per stack.
    assert_eq!(markdown.matches("tag `cost-owner`").count(), 1, "{markdown}");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    snapshot("platform-tag-250-apis.md", &markdown);
}

#[test]
fn decided_values_show_before_and_after_and_loosening_is_a_warning() {
    let new = edited_all(&[
        ("tenants/acme-bank/accounts.kdl", &|t: &str| t.replace("monthly-limit=2500", "monthly-limit=25000")),
        ("apis/accounts.kdl", &|t: &str| {
            t.replace("throttle rate=200 burst=400", "throttle rate=2000 burst=4000")
                .replace("slo availability=99.9", "slo availability=95")
                .replace("p95-ms=500", "p95-ms=5000")
        }),
    ]);
    let report = diff_of(&reference(), &new);
    let loosened = subjects(&report, WarningKind::Loosened);
    for (stack, message) in [
        ("idpc-account-acme-prod", "baseline `cost` monthly-limit: 2500 → 25000 loosens a guarantee"),
        ("idpc-api-accounts--acme-prod", "throttle rate (requests/s): 200 → 2000 loosens a guarantee"),
        ("idpc-api-accounts--acme-prod", "throttle burst: 400 → 4000 loosens a guarantee"),
        ("idpc-api-accounts--acme-prod", "SLO availability (%): 99.9 → 95 loosens a guarantee"),
        ("idpc-api-accounts--acme-prod", "monitor `latency` p95 above (ms): 500 → 5000 loosens a guarantee"),
        ("idpc-api-accounts--acme-test", "monitor `latency` p95 above (ms): 500 → 5000 loosens a guarantee"),
    ] {
        assert!(loosened.contains(&(stack, message)), "{stack}: {message}\n{loosened:#?}");
    }
    let production: Vec<&Warning> = report.warnings.iter().filter(|w| w.production).collect();
    assert!(production.iter().any(|w| w.subject == "idpc-account-acme-prod"), "{production:?}");
    snapshot("values-loosened.md", &report.markdown());
    // Tightened again: the same values, no warning.
    let back = diff_of(&new, &reference());
    assert!(subjects(&back, WarningKind::Loosened).is_empty(), "{:?}", back.warnings);
    let values: Vec<String> = back.stacks.iter().flat_map(|s| s.values.iter().map(ValueChange::describe)).collect();
    assert!(values.contains(&"SLO availability (%): 95 → 99.9".to_owned()), "{values:?}");
}

#[test]
fn a_budget_raised_within_the_factor_is_shown_but_not_a_warning() {
    let new = edited("tenants/acme-bank/accounts.kdl", |t| t.replace("monthly-limit=2500", "monthly-limit=4000"));
    let (old_tree, new_tree) = (tree(&reference()), tree(&new));
    let report = diff::diff(&old_tree, &new_tree).expect("diff");
    assert!(subjects(&report, WarningKind::Loosened).is_empty(), "{:?}", report.warnings);
    assert!(report.markdown().contains("baseline `cost` monthly-limit: 2500 → 4000"));
    let strict = diff::diff_with(&old_tree, &new_tree, diff::Options { budget_factor: 1.5 }).expect("diff");
    assert_eq!(subjects(&strict, WarningKind::Loosened).len(), 1, "{:?}", strict.warnings);
}

fn renamed_payments(t: &str) -> String {
    t.replace("api \"payments\"", "api \"payments-v2\"")
}

#[test]
fn a_rename_with_a_weakening_is_compared_across_the_pair() {
    let new = edited_all(&[("apis/payments.kdl", &|t: &str| {
        renamed_payments(t)
            .replace(
                "route \"POST\" \"/payments\" scopes=\"payments:write\"",
                "route \"POST\" \"/payments\" scopes=\"payments:read\"",
            )
            .replace("allow-ip \"203.0.113.0/24\"", "allow-ip \"203.0.113.0/24\" \"198.18.0.0/16\"")
    })]);
    let report = diff_of(&reference(), &new);
    let renamed: Vec<(&str, Option<&str>)> = report
        .stacks
        .iter()
        .filter(|s| s.change == Change::Renamed)
        .map(|s| (s.name.as_str(), s.renamed_from.as_deref()))
        .collect();
    assert_eq!(
        renamed,
        [
            ("idpc-api-payments-v2--acme-prod", Some("idpc-api-payments--acme-prod")),
            ("idpc-api-payments-v2--acme-test", Some("idpc-api-payments--acme-test")),
        ]
    );
    let security = subjects(&report, WarningKind::Security);
    for stack in ["idpc-api-payments-v2--acme-prod", "idpc-api-payments-v2--acme-test"] {
        for message in [
            "`POST /payments` no longer requires the scope `payments:write`",
            "the IP allow-list is widened: `198.18.0.0/16` may now call the API",
        ] {
            assert!(security.contains(&(stack, message)), "{stack}: {message}\n{security:#?}");
        }
    }
    // Renaming what serves production replaces it: a warning of its own; the test stage's is not.
    let all = subjects(&report, WarningKind::Rename);
    let renames: Vec<&(&str, &str)> = all.iter().filter(|(s, _)| s.starts_with("idpc-")).collect();
    assert_eq!(renames.len(), 2, "{renames:?}");
    assert!(renames.iter().all(|(s, _)| *s == "idpc-api-payments-v2--acme-prod"), "{renames:?}");
    assert!(renames.iter().any(|(_, m)| m.starts_with(
        "URL: https://api.acme-bank.example/payments → https://api.acme-bank.example/payments-v2: callers of the old URL fail"
    )));
    assert!(!report.stacks.iter().any(|s| s.change == Change::Removed && s.name.contains("payments")));
    // The renamed stages' monitors and dashboard are recreated under the new name, not lost;
    // and a renamed stack is a new stack, not a list of replaced resources.
    let recreated = all
        .iter()
        .filter(|(s, m)| s.starts_with("apis/payments/") && m.contains("is recreated as `apis/payments-v2/"))
        .count();
    assert_eq!(recreated, 7, "{all:#?}");
    assert!(subjects(&report, WarningKind::Deletion).is_empty(), "{:#?}", report.warnings);
    assert!(subjects(&report, WarningKind::Replacement).is_empty(), "{:#?}", report.warnings);
    snapshot("rename-with-weakening.md", &report.markdown());
}

#[test]
fn renamed_from_pairs_what_identity_cannot() {
    // The routes change with the name: only `renamed-from` says it is the same API.
    let rename = |explicit: bool| {
        edited("apis/payments.kdl", move |t: &str| {
            let header = if explicit { "api \"payments-v2\" renamed-from=\"payments\"" } else { "api \"payments-v2\"" };
            t.replace("api \"payments\"", header).replace("\"/payments", "\"/transfers")
        })
    };
    let inferred = diff_of(&reference(), &rename(false));
    assert!(!inferred.stacks.iter().any(|s| s.change == Change::Renamed), "{:?}", inferred.stacks);
    assert_eq!(
        subjects(&inferred, WarningKind::Deletion).iter().filter(|(_, m)| m.starts_with("the stack")).count(),
        2
    );
    let explicit = diff_of(&reference(), &rename(true));
    let renamed: Vec<&str> =
        explicit.stacks.iter().filter(|s| s.change == Change::Renamed).map(|s| s.name.as_str()).collect();
    assert_eq!(renamed, ["idpc-api-payments-v2--acme-prod", "idpc-api-payments-v2--acme-test"]);
    let stage = explicit.stacks.iter().find(|s| s.name == "idpc-api-payments-v2--acme-prod").expect("stage");
    let routes: Vec<(&str, Change)> = stage.routes.iter().map(|r| (r.path.as_str(), r.change)).collect();
    assert_eq!(
        routes,
        [
            ("/payments/{paymentId}", Change::Removed),
            ("/transfers/{paymentId}", Change::Added),
            ("/payments", Change::Removed),
            ("/transfers", Change::Added),
        ]
    );
}

#[test]
fn a_renamed_environment_pairs_its_gateway_and_stages() {
    let new = edited_all(&[
        ("tenants/acme-bank/environments.kdl", &|t: &str| {
            t.replace("environment \"acme-test\" ", "environment \"acme-qa\" renamed-from=\"acme-test\" ")
        }),
        ("apis/accounts.kdl", &|t: &str| t.replace("\"acme-test\"", "\"acme-qa\"")),
        ("apis/payments.kdl", &|t: &str| t.replace("\"acme-test\"", "\"acme-qa\"")),
    ]);
    let report = diff_of(&reference(), &new);
    let mut renamed: Vec<(&str, &str)> = report
        .stacks
        .iter()
        .filter(|s| s.change == Change::Renamed)
        .map(|s| (s.renamed_from.as_deref().unwrap_or_default(), s.name.as_str()))
        .collect();
    renamed.sort();
    assert_eq!(
        renamed,
        [
            ("idpc-api-accounts--acme-test", "idpc-api-accounts--acme-qa"),
            ("idpc-api-payments--acme-test", "idpc-api-payments--acme-qa"),
            ("idpc-env-acme-test", "idpc-env-acme-qa"),
            ("idpc-gateway-acme-test", "idpc-gateway-acme-qa"),
        ]
    );
    // Not production: no rename warning of a stack (its monitors are recreated), and nothing
    // is reported removed.
    let renames = subjects(&report, WarningKind::Rename);
    assert!(renames.iter().all(|(s, m)| !s.starts_with("idpc-") && m.contains("is recreated as")), "{renames:#?}");
    assert!(subjects(&report, WarningKind::Deletion).is_empty(), "{:#?}", report.warnings);
    assert!(!report.stacks.iter().any(|s| s.change == Change::Removed), "{:?}", report.stacks);
}

#[test]
fn a_new_route_without_a_scope_is_a_security_warning() {
    // Renaming a route drops its scope unless it is written again: `/balances` to `/balance`.
    let new = edited("apis/accounts.kdl", |t| {
        t.replace(
            "route \"GET\" \"/accounts/{accountId}/balances\" scopes=\"accounts:read\"",
            "route \"GET\" \"/accounts/{accountId}/balance\"",
        )
    });
    let report = diff_of(&reference(), &new);
    let security = subjects(&report, WarningKind::Security);
    let message =
        "the new route `GET /accounts/{accountId}/balance` requires no scope: any token the stage accepts may call it";
    assert!(security.contains(&("idpc-api-accounts--acme-prod", message)), "{security:#?}");
    assert_eq!(security.len(), 3, "{security:#?}");
}

#[test]
fn a_truststore_in_another_bucket_is_a_security_warning_and_a_new_version_is_not() {
    let moved = edited("tenants/acme-bank/environments.kdl", |t| {
        t.replace("s3://acme-truststores/prod/truststore.pem", "s3://someone-elses-bucket/truststore.pem")
    });
    let report = diff_of(&reference(), &moved);
    let security = subjects(&report, WarningKind::Security);
    assert_eq!(security.len(), 1, "{security:#?}");
    assert_eq!(security[0].0, "idpc-gateway-acme-prod");
    assert!(security[0].1.starts_with("the mTLS truststore of api.acme-bank.example changes"), "{security:?}");
    let versioned = edited("tenants/acme-bank/environments.kdl", |t| {
        t.replace(
            "mtls truststore=\"s3://acme-truststores/prod/truststore.pem\"",
            "mtls truststore=\"s3://acme-truststores/prod/truststore.pem\" version=\"3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY\"",
        )
    });
    let report = diff_of(&reference(), &versioned);
    assert!(subjects(&report, WarningKind::Security).is_empty(), "{:?}", report.warnings);
}

#[test]
fn a_rename_that_also_adds_a_route_is_paired_and_its_weakenings_show() {
    // The reviewer's case: renamed, a route added, the allow-list and a scope dropped; no
    // `renamed-from`. Paired with the removed stage of the same environment and domain.
    let new = edited("apis/payments.kdl", |t| {
        renamed_payments(t).replace("        allow-ip \"203.0.113.0/24\"\n", "").replace(
            "route \"POST\" \"/payments\" scopes=\"payments:write\"",
            "route \"POST\" \"/payments\"\n    route \"GET\" \"/payments\" scopes=\"payments:read\"",
        )
    });
    let report = diff_of(&reference(), &new);
    let renamed = report.stacks.iter().filter(|s| s.change == Change::Renamed).count();
    assert_eq!(renamed, 2, "{:?}", report.stacks);
    let security = subjects(&report, WarningKind::Security);
    for message in [
        "the IP allow-list is removed: any address can call the API",
        "`POST /payments` no longer requires the scope `payments:write`",
    ] {
        assert!(security.contains(&("idpc-api-payments-v2--acme-prod", message)), "{message}\n{security:#?}");
    }
}

#[test]
fn an_added_stage_is_read_on_its_own() {
    // Nothing to compare it with: what it lacks is said.
    let new = edited("apis/accounts.kdl", |t| {
        format!(
            "{t}\napi \"open\" version=\"1.0.0\" owner=\"team-x\" {{\n    deploy \"acme-test\"\n    backend lambda=\"open\"\n    security {{\n        mtls\n        jwt issuer=\"https://auth.acme-bank.example\" audience=\"open\"\n    }}\n    route \"GET\" \"/open\"\n}}\n"
        )
    });
    let report = diff_of(&reference(), &new);
    let security = subjects(&report, WarningKind::Security);
    let stage = "idpc-api-open--acme-test";
    for message in [
        "the new stage has no IP allow-list: any address can call it",
        "the new stage's route `GET /open` requires no scope: any token the stage accepts may call it",
    ] {
        assert!(security.contains(&(stage, message)), "{message}\n{security:#?}");
    }
    // The reference's own stages lack nothing: a first build of it warns of nothing.
    assert!(security.iter().all(|(s, _)| *s == stage), "{security:#?}");
}

#[test]
fn renaming_a_production_environment_says_its_domain_cannot_be_created_twice() {
    let new = edited_all(&[
        ("tenants/acme-bank/environments.kdl", &|t: &str| {
            t.replace("environment \"acme-prod\" ", "environment \"acme-live\" renamed-from=\"acme-prod\" ")
        }),
        ("apis/accounts.kdl", &|t: &str| t.replace("\"acme-prod\"", "\"acme-live\"")),
        ("apis/payments.kdl", &|t: &str| t.replace("\"acme-prod\"", "\"acme-live\"")),
    ]);
    let report = diff_of(&reference(), &new);
    let replaced = subjects(&report, WarningKind::Replacement);
    assert!(
        replaced.iter().any(|(s, m)| *s == "idpc-gateway-acme-live"
            && m.starts_with("the new stack creates the domain \"api.acme-bank.example\", which the old stack `idpc-gateway-acme-prod` still holds")),
        "{replaced:#?}"
    );
    assert!(
        replaced.iter().any(|(s, m)| *s == "idpc-api-payments--acme-live" && m.starts_with("the new stack maps")),
        "{replaced:#?}"
    );
    assert!(report.warnings.iter().filter(|w| w.kind == WarningKind::Rename).all(|w| w.production));
}
