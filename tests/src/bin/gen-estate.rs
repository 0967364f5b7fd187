//! Writes a realistic generated estate for benchmarks: `gen-estate --apis N --out DIR`.
//!
//! N APIs of 8 routes with the full security block, 3 monitors and an SLO, each deployed to its
//! tenant's production, test and one ephemeral environment; N/10 tenants (at least one) with a
//! production and a development account carrying the stdlib baselines; every API after the
//! first ten of a tenant `uses` the one ten places before it. One file per tenant and per API.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let mut apis = 250usize;
    let mut out = PathBuf::from("estate");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--apis", Some(n)) => apis = n.parse().unwrap_or_else(|_| usage()),
            ("--out", Some(dir)) => out = PathBuf::from(dir),
            _ => usage(),
        }
    }
    if let Err(error) = generate(apis, &out) {
        eprintln!("gen-estate: {error}");
        std::process::exit(2);
    }
}

fn usage() -> ! {
    eprintln!("usage: gen-estate --apis N --out DIR");
    std::process::exit(2);
}

fn generate(apis: usize, out: &std::path::Path) -> std::io::Result<()> {
    let tenants = (apis / 10).max(1);
    std::fs::create_dir_all(out.join("tenants"))?;
    std::fs::create_dir_all(out.join("apis"))?;
    std::fs::write(
        out.join("platform.kdl"),
        "platform \"ohpen\" {\n    management-account \"111111111111\"\n    region \"eu-west-1\"\n    \
         datadog site=\"datadoghq.eu\" notify=\"@slack-platform-alerts\"\n    tag \"managed-by\" \"idpc\"\n}\n",
    )?;
    for t in 0..tenants {
        let mut text = String::new();
        let (prod, dev) = (200_000_000_000u64 + t as u64, 500_000_000_000u64 + t as u64);
        let _ = write!(
            text,
            r#"tenant "bank-{t}" {{
    display-name "Bank {t}"
    contact "platform@bank-{t}.example"
    cost-center "CC-{t}"
    region "eu-central-1"
    compliance "eu-banking"
}}

account "bank-{t}-prod" tenant="bank-{t}" id="{prod}" {{
    baseline "jwt-authorizer" code="s3://ohpen-artifacts/jwt-authorizer/1.4.0.zip"
    baseline "audit-trail"
    baseline "config-compliance"
    baseline "cost" monthly-limit=25000
}}

account "bank-{t}-dev" tenant="bank-{t}" id="{dev}" {{
    baseline "jwt-authorizer" code="s3://ohpen-artifacts/jwt-authorizer/1.4.0.zip"
    baseline "cost" monthly-limit=4000
}}

environment "bank-{t}-prod" account="bank-{t}-prod" tier="production" {{
    baseline "deployments"
}}

environment "bank-{t}-test" account="bank-{t}-dev" tier="test" {{
    baseline "deployments"
}}

environment "bank-{t}-pr-1" account="bank-{t}-dev" tier="ephemeral" expires="2099-12-31"
"#
        );
        std::fs::write(out.join("tenants").join(format!("bank-{t}.kdl")), text)?;
    }
    for a in 0..apis {
        let t = a % tenants;
        let prod = 200_000_000_000u64 + t as u64;
        let mut text = String::new();
        let _ = writeln!(text, "api \"svc-{a}\" version=\"1.{}.0\" owner=\"team-{}\" {{", a % 7, a % 13);
        let _ = writeln!(text, "    deploy \"bank-{t}-prod\" \"bank-{t}-test\" \"bank-{t}-pr-1\"");
        let _ = writeln!(
            text,
            "    domain \"svc-{a}.api.bank-{t}.example\" certificate=\"arn:aws:acm:eu-central-1:{prod}:certificate/c{a}\""
        );
        let _ = writeln!(text, "    backend lambda=\"arn:aws:lambda:eu-central-1:{prod}:function:svc-{a}\"");
        let _ = writeln!(text, "    security {{");
        let _ = writeln!(text, "        mtls truststore=\"s3://bank-{t}-truststores/svc-{a}/truststore.pem\"");
        let _ = writeln!(text, "        jwt issuer=\"https://auth.bank-{t}.example\" audience=\"svc-{a}\"");
        let _ = writeln!(text, "        allow-ip \"203.0.113.0/24\" \"198.51.100.{}/32\"", a % 250);
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
            let _ = writeln!(text, "    route \"{method}\" \"/svc-{a}{path}\" scopes=\"svc-{a}:{scope}\"");
        }
        let _ = writeln!(text, "    monitor \"latency\" p95-ms=500");
        let _ = writeln!(text, "    monitor \"errors\" max-5xx-rate=0.01");
        let _ = writeln!(text, "    monitor \"traffic-drop\" min-requests-per-5m=10");
        let _ = writeln!(text, "    slo availability=99.9");
        if a >= tenants {
            let _ = writeln!(text, "    uses \"svc-{}\"", a - tenants);
        }
        text.push_str("}\n");
        std::fs::write(out.join("apis").join(format!("svc-{a}.kdl")), text)?;
    }
    Ok(())
}
