//! The facts side of a diff: two stacks' `idpc-facts/1` compared (the same stack in two
//! builds, or the two names of a renamed one): routes, what protects them, and the values a
//! person decides on, before and after, with whether the change weakens a guarantee.

use std::collections::BTreeSet;

use serde_json::Value;

use super::report::{Change, RouteChange, SecurityChange, ValueChange};
use crate::emit::facts::{Decision, Facts, Security, Weakens};

/// Routes added, removed, and changed in what they require.
pub(super) fn route_changes(old: &Facts, new: &Facts) -> Vec<RouteChange> {
    let keys: BTreeSet<&String> = old.routes.keys().chain(new.routes.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let change = match (old.routes.get(key), new.routes.get(key)) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(x), Some(y)) if x != y => Change::Changed,
            _ => continue,
        };
        let (method, path) = key.split_once(' ').unwrap_or((key.as_str(), ""));
        out.push(RouteChange { method: method.to_owned(), path: path.to_owned(), change });
    }
    out
}

/// Whether every address of `new` lies inside some network of `old`.
fn within(new: &str, old: &BTreeSet<String>) -> bool {
    let parse = |s: &str| s.parse::<ipnet::IpNet>().or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
    let Ok(net) = parse(new) else {
        return old.contains(new);
    };
    old.iter().any(|o| parse(o).is_ok_and(|o| o.contains(&net)))
}

fn join(list: &[String]) -> String {
    list.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

fn truststore(domain: &crate::emit::facts::Domain) -> String {
    match (&domain.truststore, &domain.truststore_version) {
        (Some(uri), Some(version)) => format!("{uri} version {version}"),
        (Some(uri), None) => uri.clone(),
        (None, _) => String::new(),
    }
}

/// What protects the two stacks' requests, compared; each change says whether it weakens.
pub(super) fn security_changes(old: &Facts, new: &Facts) -> Vec<SecurityChange> {
    let (Some(a), Some(b)) = (&old.security, &new.security) else { return Vec::new() };
    let mut out = Vec::new();
    let mut say = |weakens: bool, message: String| out.push(SecurityChange { message, weakens });
    allow_list(a, b, &mut say);
    domains(a, b, &mut say);
    if a.endpoint_disabled && !b.endpoint_disabled {
        say(
            true,
            "the default execute-api endpoint is enabled: the API can be called without the custom domain's mTLS"
                .into(),
        );
    }
    for (route, before) in &old.routes {
        let name = format!("`{route}`");
        match new.routes.get(route) {
            Some(after) if before.jwt && !after.jwt => {
                say(true, format!("JWT is removed from {name}: it can be called without a token"));
            }
            Some(after) if before.jwt && after.jwt => {
                for scope in before.scopes.iter().filter(|s| !after.scopes.contains(s)) {
                    say(true, format!("{name} no longer requires the scope `{scope}`"));
                }
                for scope in after.scopes.iter().filter(|s| !before.scopes.contains(s)) {
                    say(false, format!("{name} now requires the scope `{scope}`"));
                }
            }
            Some(after) if !before.jwt && after.jwt => say(false, format!("{name} now requires a JWT")),
            _ => {}
        }
    }
    for (route, after) in new.routes.iter().filter(|(r, _)| !old.routes.contains_key(*r)) {
        if !after.jwt {
            say(true, format!("the new route `{route}` requires no JWT"));
        } else if after.scopes.is_empty() {
            // A route renamed without its scope (`/balances` to `/balance`) is a new route:
            // any token the stage accepts opens it.
            say(true, format!("the new route `{route}` requires no scope: any token the stage accepts may call it"));
        }
    }
    if let (Some(x), Some(y)) = (&a.token, &b.token)
        && x != y
    {
        // Another issuer or audience: other tokens open the stage (another tenant's, another
        // environment's), which a reviewer must see.
        say(
            true,
            format!(
                "the stage accepts other tokens: issuer `{}`, audience `{}` (was issuer `{}`, audience `{}`)",
                y.issuer, y.audience, x.issuer, x.audience
            ),
        );
    }
    for pool in b.user_pools.iter().filter(|p| !a.user_pools.contains(p)) {
        say(true, format!("the stage accepts the tokens of the Cognito user pool {pool}"));
    }
    if !a.data_trace && b.data_trace {
        say(true, "data tracing is on: full requests and responses (tokens, personal data) go to the logs".into());
    }
    if a.access_logs && !b.access_logs {
        say(true, "access logging is off: calls leave no audit trail".into());
    }
    out
}

fn allow_list(a: &Security, b: &Security, say: &mut impl FnMut(bool, String)) {
    match (&a.allow_list, &b.allow_list) {
        (Some(_), None) => say(true, "the IP allow-list is removed: any address can call the API".into()),
        (None, Some(list)) => say(false, format!("an IP allow-list is added: {}", join(list))),
        (Some(x), Some(y)) => {
            let old: BTreeSet<String> = x.iter().cloned().collect();
            for added in y.iter().filter(|n| !old.contains(*n)) {
                if within(added, &old) {
                    say(false, format!("the IP allow-list gains `{added}`, already inside an allowed network"));
                } else {
                    say(true, format!("the IP allow-list is widened: `{added}` may now call the API"));
                }
            }
            for removed in x.iter().filter(|n| !y.contains(n)) {
                say(false, format!("the IP allow-list no longer admits `{removed}`: callers from there are refused"));
            }
        }
        (None, None) => {}
    }
}

fn domains(a: &Security, b: &Security, say: &mut impl FnMut(bool, String)) {
    let with_mtls = |s: &Security| -> Vec<(String, String)> {
        s.domains.iter().filter(|(_, d)| d.truststore.is_some()).map(|(h, d)| (h.clone(), truststore(d))).collect()
    };
    let (old_mtls, new_mtls) = (with_mtls(a), with_mtls(b));
    for (host, store) in &old_mtls {
        if let Some((_, new_store)) = new_mtls.iter().find(|(h, _)| h == host)
            && new_store != store
        {
            // Another bucket or key decides which client certificates the domain accepts: a
            // person must judge it. A new version of the same object is routine.
            let same_object = truststore_uri(a, host) == truststore_uri(b, host);
            say(!same_object, format!("the mTLS truststore of {host} changes from {store} to {new_store}"));
        }
    }
    // A domain of the stack renamed keeps its mTLS under its new name: no loss. Only a domain
    // with mTLS that nothing replaces weakens the stack.
    let gone: Vec<&(String, String)> = old_mtls.iter().filter(|(h, _)| !new_mtls.iter().any(|(n, _)| n == h)).collect();
    let came: Vec<&(String, String)> = new_mtls.iter().filter(|(h, _)| !old_mtls.iter().any(|(o, _)| o == h)).collect();
    for (i, (host, store)) in gone.iter().enumerate() {
        match came.get(i) {
            Some((new_host, new_store)) => {
                say(false, format!("the mTLS domain {host} ({store}) is replaced by {new_host} ({new_store})"));
            }
            None => say(true, format!("mTLS is removed from {host} ({store}): clients no longer need a certificate")),
        }
    }
    for (host, store) in came.iter().skip(gone.len()) {
        say(false, format!("mTLS is required on {host} ({store})"));
    }
    for (host, domain) in &a.domains {
        if let Some(new_domain) = b.domains.get(host)
            && new_domain.tls_policy != domain.tls_policy
        {
            let weaker = new_domain.tls_policy == "TLS_1_0";
            say(
                weaker,
                format!("the TLS policy of `{host}` changes from {} to {}", domain.tls_policy, new_domain.tls_policy),
            );
        }
    }
}

/// The truststore URI of one of a stack's domains.
fn truststore_uri<'a>(security: &'a Security, host: &str) -> Option<&'a String> {
    security.domains.get(host).and_then(|d| d.truststore.as_ref())
}

/// What a stack only the new build has exposes, on its own: nothing compares it with an old
/// one, so whatever protection it lacks is said (a rename idpc could not pair would otherwise
/// hide every weakening).
pub(super) fn exposure(new: &Facts) -> Vec<SecurityChange> {
    let Some(security) = &new.security else { return Vec::new() };
    if new.kind != "api-stage" {
        let mut out = Vec::new();
        for (host, domain) in &security.domains {
            if domain.truststore.is_none() {
                out.push(SecurityChange {
                    message: format!("the new domain {host} requires no client certificate (no mTLS)"),
                    weakens: true,
                });
            }
        }
        return out;
    }
    let mut out = Vec::new();
    let mut say = |message: String| out.push(SecurityChange { message, weakens: true });
    if security.allow_list.is_none() {
        say("the new stage has no IP allow-list: any address can call it".into());
    }
    if !security.endpoint_disabled {
        say("the new stage is served on its execute-api endpoint: no custom domain, so no mTLS".into());
    }
    for (route, required) in &new.routes {
        if !required.jwt {
            say(format!("the new stage's route `{route}` requires no JWT"));
        } else if required.scopes.is_empty() {
            say(format!("the new stage's route `{route}` requires no scope: any token the stage accepts may call it"));
        }
    }
    out
}

/// A decision's value as a reviewer reads it.
pub fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        // A budget of 2500 is written `2500` in the estate, whatever type it parses to.
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() < 1e15) => {
            format!("{}", n.as_f64().unwrap_or_default() as i64)
        }
        other => other.to_string(),
    }
}

/// Every decision that changed, appeared or went away, with whether the change weakens its
/// guarantee (a budget: raised past `budget_factor` times what it was).
pub(super) fn value_changes(old: &Facts, new: &Facts, budget_factor: f64) -> Vec<ValueChange> {
    let names: BTreeSet<&String> = old.decisions.keys().chain(new.decisions.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        let (before, after) = (old.decisions.get(name), new.decisions.get(name));
        if before.map(|d| &d.value) == after.map(|d| &d.value) {
            continue;
        }
        let weakens = match (before, after) {
            (Some(b), Some(a)) => weakened(b, a, budget_factor),
            // A throttle, SLO or monitor that goes away guards nothing any more.
            (Some(b), None) => matches!(b.weakens, Weakens::Raised | Weakens::Lowered),
            _ => false,
        };
        out.push(ValueChange {
            what: name.clone(),
            before: before.map(|d| d.value.clone()),
            after: after.map(|d| d.value.clone()),
            weakens,
        });
    }
    out
}

fn weakened(before: &Decision, after: &Decision, budget_factor: f64) -> bool {
    let (Some(b), Some(a)) = (before.value.as_f64(), after.value.as_f64()) else { return false };
    match after.weakens {
        Weakens::Raised => a > b,
        Weakens::Lowered => a < b,
        Weakens::RaisedPastFactor => a > b * budget_factor,
        Weakens::Neither => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_widening_uses_containment() {
        let old: BTreeSet<String> = ["10.0.0.0/8".to_owned()].into();
        assert!(within("10.1.0.0/16", &old));
        assert!(!within("11.0.0.0/16", &old));
        assert!(!within("0.0.0.0/0", &old));
    }

    #[test]
    fn each_direction_weakens_one_way() {
        let d = |v: f64, weakens| Decision { value: v.into(), weakens };
        assert!(weakened(&d(50.0, Weakens::Raised), &d(500.0, Weakens::Raised), 2.0));
        assert!(!weakened(&d(500.0, Weakens::Raised), &d(50.0, Weakens::Raised), 2.0));
        assert!(weakened(&d(99.9, Weakens::Lowered), &d(95.0, Weakens::Lowered), 2.0));
        assert!(!weakened(&d(2500.0, Weakens::RaisedPastFactor), &d(5000.0, Weakens::RaisedPastFactor), 2.0));
        assert!(weakened(&d(2500.0, Weakens::RaisedPastFactor), &d(5001.0, Weakens::RaisedPastFactor), 2.0));
        assert!(!weakened(&d(1.0, Weakens::Neither), &d(9.0, Weakens::Neither), 2.0));
    }
}
