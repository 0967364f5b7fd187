//! Generated estates of the real shape, for benchmarks (`gen-estate`) and for cases that need
//! a size no hand-written estate has (`generate` in a case's `case.kdl`).
//!
//! `apis` counts the APIs the platform serves to its bank clients: one API product deployed
//! for one tenant counts once. The `tenants` tenants (by default one per ten APIs) each have a
//! production account and a development account (requested by the estate for every tenth
//! tenant), in two alternating EU regions, and a production, a test and an ephemeral
//! environment, each with its gateway (the production one with an existing certificate, the
//! others with a hosted zone). Tenants form groups of up to ten; each group shares its API
//! products, each deployed to the prod, test and ephemeral environment of every tenant of the
//! group (3 stages per API), with one `deploy` override (production throttling) per product,
//! and each tenant's own token issuer (a `jwt` override for the group's other tenants).
//! Every product after the first of its group `uses` the one before it.

use std::fmt::Write as _;

/// Tenants that share one set of API products.
const GROUP: usize = 10;

/// The estate's files as (estate-relative path, text), in path order.
pub fn generate(apis: usize, tenants: Option<usize>) -> Vec<(String, String)> {
    let tenants = tenants.unwrap_or(apis / 10).max(1);
    let per_tenant = (apis / tenants).max(1);
    let mut files = vec![(
        "platform.kdl".to_owned(),
        "platform \"ohpen\" {\n    management-account \"111111111111\"\n    region \"eu-west-1\"\n    \
         datadog site=\"datadoghq.eu\" notify=\"@slack-platform-alerts\"\n    tag \"managed-by\" \"idpc\"\n}\n"
            .to_owned(),
    )];
    for t in 0..tenants {
        files.push((format!("tenants/bank-{t}.kdl"), tenant(t)));
    }
    for group in 0..tenants.div_ceil(GROUP) {
        let members: Vec<usize> = (group * GROUP..((group + 1) * GROUP).min(tenants)).collect();
        for i in 0..per_tenant {
            let p = group * per_tenant + i;
            files.push((format!("apis/svc-{p}.kdl"), product(p, i, &members)));
        }
    }
    files.sort();
    files
}

fn region(t: usize) -> &'static str {
    if t.is_multiple_of(2) { "eu-central-1" } else { "eu-west-1" }
}

fn tenant(t: usize) -> String {
    let (prod, dev) = (200_000_000_000u64 + t as u64, 500_000_000_000u64 + t as u64);
    let region = region(t);
    // Every tenth tenant's development account is requested by the estate: accounts are
    // requested once, and the organisation stack holds at most 450 of them at a time.
    let dev_account = if t.is_multiple_of(10) {
        format!("email=\"aws+bank-{t}-dev@ohpen.example\"")
    } else {
        format!("id=\"{dev}\"")
    };
    // A requested account has no hosted zone yet: idpc creates it (`dns-zone`), and the
    // gateways in it name none.
    let (dns_zone, zone) = if t.is_multiple_of(10) {
        (format!("\n    baseline \"dns-zone\" domain=\"test.api.bank-{t}.example\""), String::new())
    } else {
        (String::new(), format!(" hosted-zone=\"Z0BANK{t}DEV\""))
    };
    let mut text = String::new();
    let _ = write!(
        text,
        r#"tenant "bank-{t}" {{
    display-name "Bank {t}"
    contact "platform@bank-{t}.example"
    cost-center "CC-{t}"
    region "{region}"
    compliance "eu-banking"
}}

account "bank-{t}-prod" tenant="bank-{t}" id="{prod}" {{
    baseline "jwt-authorizer" code="s3://ohpen-artifacts-{region}/jwt-authorizer/1.4.0.zip"
    baseline "audit-trail"
    baseline "config-compliance"
    baseline "cost" monthly-limit=25000
}}

account "bank-{t}-dev" tenant="bank-{t}" {dev_account} {{
    baseline "jwt-authorizer" code="s3://ohpen-artifacts-{region}/jwt-authorizer/1.4.0.zip"
    baseline "cost" monthly-limit=4000{dns_zone}
}}

environment "bank-{t}-prod" account="bank-{t}-prod" tier="production" {{
    baseline "deployments"
    gateway "api.bank-{t}.example" certificate="arn:aws:acm:{region}:{prod}:certificate/{t:08x}-0000-4000-8000-00000000a11e" {{
        mtls truststore="s3://bank-{t}-truststores/prod/truststore.pem"
    }}
}}

environment "bank-{t}-test" account="bank-{t}-dev" tier="test" {{
    baseline "deployments"
    gateway "test.api.bank-{t}.example"{zone} {{
        mtls truststore="s3://bank-{t}-truststores/test/truststore.pem"
    }}
}}

environment "bank-{t}-pr-1" account="bank-{t}-dev" tier="ephemeral" expires="2099-12-31" {{
    gateway "pr-1.test.api.bank-{t}.example"{zone} {{
        mtls truststore="s3://bank-{t}-truststores/test/truststore.pem"
    }}
}}
"#
    );
    text
}

/// API product `p`, the `i`th of its group, deployed for the tenants `members`.
fn product(p: usize, i: usize, members: &[usize]) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "api \"svc-{p}\" version=\"1.{}.0\" owner=\"team-{}\" {{", p % 7, p % 13);
    for (k, t) in members.iter().enumerate() {
        if k == 0 {
            let _ = writeln!(text, "    deploy \"bank-{t}-prod\" {{\n        throttle rate=1000 burst=2000\n    }}");
            let _ = writeln!(text, "    deploy \"bank-{t}-test\" \"bank-{t}-pr-1\"");
        } else {
            // Each bank client's tokens come from its own realm of the platform's identity
            // provider: the group's first tenant's is the API's, the others' are overrides
            // (one tenant's token must not open another's stage: jwt-shared-across-tenants).
            for env in ["prod", "test", "pr-1"] {
                let _ = writeln!(
                    text,
                    "    deploy \"bank-{t}-{env}\" {{ jwt issuer=\"https://auth.ohpen.example/realms/bank-{t}\" audience=\"svc-{p}\"; }}"
                );
            }
        }
    }
    let _ = writeln!(text, "    backend lambda=\"svc-{p}\"");
    let _ = writeln!(text, "    security {{");
    let _ = writeln!(text, "        mtls");
    let _ = writeln!(
        text,
        "        jwt issuer=\"https://auth.ohpen.example/realms/bank-{}\" audience=\"svc-{p}\"",
        members[0]
    );
    let _ = writeln!(text, "        allow-ip \"203.0.113.0/24\" \"198.51.100.{}/32\"", p % 250);
    let _ = writeln!(text, "    }}");
    let _ = writeln!(text, "    throttle rate=200 burst=400");
    for (method, path) in [
        ("GET", "/items"),
        ("POST", "/items"),
        ("GET", "/items/{itemId}"),
        ("PUT", "/items/{itemId}"),
        ("DELETE", "/items/{itemId}"),
        ("GET", "/items/{itemId}/history"),
        ("GET", "/items/{itemId}/links/{linkId}"),
        ("POST", "/items/{itemId}/links"),
    ] {
        let scope = if method == "GET" { "read" } else { "write" };
        let _ = writeln!(text, "    route \"{method}\" \"{path}\" scopes=\"svc-{p}:{scope}\"");
    }
    let _ = writeln!(text, "    monitor \"latency\" p95-ms=500");
    let _ = writeln!(text, "    monitor \"errors\" max-5xx-rate=0.01");
    let _ = writeln!(text, "    monitor \"traffic-drop\" min-requests-per-5m=10");
    let _ = writeln!(text, "    slo availability=99.9");
    if i > 0 {
        let _ = writeln!(text, "    uses \"svc-{}\"", p - 1);
    }
    text.push_str("}\n");
    text
}
