//! `allow-ip-too-wide` and `allow-ip-any`: the IP allow-list of an API in the tenant's
//! environments admits at most a /16 (IPv4) or /48 (IPv6) per range (`max-ipv4-prefix`,
//! `max-ipv6-prefix`), and never every address (not waivable).
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use std::collections::BTreeSet;

use crate::check::{Host, Scope, Violation};
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;

/// Ranges wider than the profile allows (but not everything: that is `allow-ip-any`).
pub fn too_wide(scope: &Scope<'_>) -> Vec<Violation> {
    let (max_v4, max_v6) = (scope.integer("max-ipv4-prefix", 16), scope.integer("max-ipv6-prefix", 48));
    ranges(scope, |net, span| {
        let (prefix, max) = match net {
            ipnet::IpNet::V4(n) => (n.prefix_len(), max_v4),
            ipnet::IpNet::V6(n) => (n.prefix_len(), max_v6),
        };
        (prefix > 0 && i64::from(prefix) < max).then(|| {
            Diagnostic::new(Code::AllowIpTooWide, format!("allow-list range `{net}` is wider than /{max}"))
                .primary(span, format!("/{prefix} admits {} addresses", addresses(net)))
                .help(format!("list the callers' own ranges, each /{max} or narrower"))
        })
    })
}

/// `0.0.0.0/0` or `::/0`.
pub fn any(scope: &Scope<'_>) -> Vec<Violation> {
    ranges(scope, |net, span| {
        (net.prefix_len() == 0).then(|| {
            Diagnostic::new(Code::AllowIpAny, format!("allow-list range `{net}` admits every address"))
                .primary(span, "every address")
                .help("an allow-list that admits everyone is no allow-list: list the callers' ranges, or remove `allow-ip`")
                .note("this policy cannot be waived")
        })
    })
}

fn addresses(net: &ipnet::IpNet) -> String {
    let bits = match net {
        ipnet::IpNet::V4(n) => 32 - u32::from(n.prefix_len()),
        ipnet::IpNet::V6(n) => 128 - u32::from(n.prefix_len()),
    };
    if bits < 64 { (1u64 << bits).to_string() } else { format!("2^{bits}") }
}

/// Applies `judge` to every allow-list range of every API deployed in the tenant's
/// environments, once per range.
fn ranges(scope: &Scope<'_>, judge: impl Fn(&ipnet::IpNet, Span) -> Option<Diagnostic>) -> Vec<Violation> {
    let estate = &scope.resolved.estate;
    let apis: BTreeSet<usize> = scope.stages().map(|s| scope.resolved.stages[s].api).collect();
    let mut violations = Vec::new();
    for a in apis {
        for net in &estate.apis[a].security.allow_ip {
            if let Some(diagnostic) = judge(&net.value, net.span) {
                violations.push(Violation { diagnostic, hosts: vec![Host::Api(a)] });
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use crate::check::tests::violations;
    use crate::diagnostics::Code;

    fn check(ranges: &str, expected: Vec<(Code, usize)>) {
        let api = format!(
            r#"api "svc" version="1.0.0" owner="team" {{
    deploy "test"
    backend lambda="arn:aws:lambda:eu-west-1:222222222222:function:svc"
    security {{
        allow-ip {ranges}
    }}
    route "GET" "/items"
}}"#
        );
        assert_eq!(violations(&api), expected);
    }

    #[test]
    fn widths() {
        check(r#""10.1.0.0/16""#, vec![]);
        check(r#""10.0.0.0/15""#, vec![(Code::AllowIpTooWide, 21)]);
        check(r#""0.0.0.0/0""#, vec![(Code::AllowIpAny, 21)]);
        // An IPv6 range never reaches the policies: the endpoint is IPv4-only, and lowering
        // refuses it (`ipv6-on-ipv4-endpoint`), drops the API, and no policy reports it again.
        check(r#""::/0""#, vec![]);
    }
}
