//! Compliance: runs the policies of each tenant's compliance profile over the resolved
//! estate, then applies the `waive` lines.
//!
//! A policy is a Rust function in `policies/`, one file per policy code, beside its tests; a
//! profile (`stdlib/compliance/<profile>.kdl`) picks policies and their settings. A violation
//! names the nodes that may waive it (the offending node, and for a region the node that
//! wrote it); `waivers` turns a validly waived violation into a warning.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

pub mod policies;
pub mod waivers;

use std::collections::BTreeMap;

use crate::diagnostics::{Code, Diagnostic, Diagnostics, suggest};
use crate::model::{Date, ParamValue, Spanned};
use crate::resolve::Resolved;

/// A node that can hold `waive` lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Host {
    /// The platform.
    Platform,
    /// Index into `Estate::tenants`.
    Tenant(usize),
    /// Index into `Estate::accounts`.
    Account(usize),
    /// Index into `Estate::environments`.
    Environment(usize),
    /// Index into `Estate::apis`.
    Api(usize),
}

/// A policy violation: its diagnostic, and the nodes whose waivers may accept it.
#[derive(Clone, Debug)]
pub struct Violation {
    /// The diagnostic, with the policy's code.
    pub diagnostic: Diagnostic,
    /// Nodes whose `waive` lines apply.
    pub hosts: Vec<Host>,
}

/// What a policy sees: the estate, the tenant it checks, and its settings from the profile.
pub struct Scope<'a> {
    /// The resolved estate.
    pub resolved: &'a Resolved,
    /// Index into `Estate::tenants` of the tenant whose profile holds the policy.
    pub tenant: usize,
    /// The policy's settings in the profile.
    pub settings: &'a BTreeMap<String, Spanned<ParamValue>>,
    /// Tokens accepted by stages of several tenants, found once for every tenant.
    pub shared_tokens: &'a [policies::jwt_shared_across_tenants::Finding],
}

impl Scope<'_> {
    /// An integer setting, or its default.
    pub fn integer(&self, name: &str, default: i64) -> i64 {
        match self.settings.get(name).map(|s| &s.value) {
            Some(ParamValue::Integer(i)) => *i,
            _ => default,
        }
    }

    /// A string setting split on spaces, or the default.
    pub fn list(&self, name: &str, default: &[&str]) -> Vec<String> {
        match self.settings.get(name).map(|s| &s.value) {
            Some(ParamValue::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            _ => default.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Indices of the tenant's accounts.
    pub fn accounts(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.resolved.estate.accounts.len()).filter(|&a| self.resolved.account_tenant[a] == self.tenant)
    }

    /// Indices into `Resolved::stages` of the stages in the tenant's environments.
    pub fn stages(&self) -> impl Iterator<Item = usize> + '_ {
        let resolved = self.resolved;
        (0..resolved.stages.len()).filter(move |&s| resolved.env_tenant(resolved.stages[s].env) == self.tenant)
    }
}

/// Whether the tenant's compliance profile lists the policy `code` (the policies that warn the
/// other tenants ask).
pub fn lists_policy(resolved: &Resolved, tenant: usize, code: Code) -> bool {
    resolved.tenant_profile(tenant).is_some_and(|p| p.policies.iter().any(|policy| policy.code.value == code.name()))
}

/// Runs every policy of every tenant's profile and applies the waivers.
pub fn check(resolved: &Resolved, today: Date, sink: &mut Diagnostics) {
    let mut violations = Vec::new();
    for profile in &resolved.estate.profiles {
        for policy in &profile.policies {
            if policies::find(&policy.code.value).is_none() {
                let names: Vec<&str> = policies::ALL.iter().map(|p| p.code.name()).collect();
                sink.push(
                    Diagnostic::new(Code::UnknownValue, format!("`{}` is not a policy", policy.code.value))
                        .primary(policy.code.span, "unknown policy")
                        .help(suggest(&policy.code.value, &names)),
                );
            }
        }
    }
    let shared_tokens = policies::jwt_shared_across_tenants::findings(resolved);
    for t in 0..resolved.estate.tenants.len() {
        let Some(profile) = resolved.tenant_profile(t) else { continue };
        for policy in &profile.policies {
            let Some(definition) = policies::find(&policy.code.value) else { continue };
            let scope = Scope { resolved, tenant: t, settings: &policy.settings, shared_tokens: &shared_tokens };
            if let Some(check) = definition.check {
                violations.extend(check(&scope));
            }
        }
    }
    waivers::apply(resolved, violations, today, sink);
    policies::unauthenticated_api::warn(resolved, sink);
    policies::jwt_shared_across_tenants::warn(&shared_tokens, sink);
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::diagnostics::{Code, Severity};
    use crate::source::RawFile;

    /// An eu-banking tenant with a production and a test environment; the text after it starts at line 17.
    const BASE: &str = r#"platform "p" {
    management-account "111111111111"
    region "eu-west-1"
    datadog site="datadoghq.eu" notify="@alerts"
}
tenant "t" {
    region "eu-west-1"
    compliance "eu-banking"
}
account "a" tenant="t" id="222222222222" {
    baseline "jwt-authorizer" code="s3://bucket-x/authorizer.zip"
    baseline "audit-trail"
    baseline "config-compliance"
}
environment "prod" account="a" tier="production"
environment "test" account="a" tier="test"
"#;

    /// Policy and waiver diagnostics (code, line) of `BASE` edited by `edit`, plus `extra`.
    pub fn violations_in(edit: impl Fn(&str) -> String, extra: &str) -> Vec<(Code, usize)> {
        let text = edit(BASE) + extra;
        let files = [RawFile { path: "main.kdl".into(), bytes: text.into_bytes() }];
        let options = crate::Options { today: crate::model::Date::parse("2026-11-28").unwrap() };
        let compilation = crate::compile(&files, &options);
        let mut found: Vec<(Code, usize)> = compilation
            .diagnostics
            .iter()
            .filter(|d| d.code >= Code::ProductionApiWithoutMtls && d.code < Code::InternalError)
            .map(|d| {
                let span = d.primary_span().unwrap();
                let line = compilation.sources.file(span.file).unwrap().line_col(span.start).0;
                (d.code, line)
            })
            .collect();
        found.sort();
        found
    }

    /// Policy diagnostics of `BASE` plus `extra`.
    pub fn violations(extra: &str) -> Vec<(Code, usize)> {
        violations_in(str::to_owned, extra)
    }

    /// Severities of the policy and waiver diagnostics of `BASE` plus `extra`.
    pub fn severities(extra: &str, today: &str) -> Vec<(Code, Severity)> {
        let text = BASE.to_owned() + extra;
        let files = [RawFile { path: "main.kdl".into(), bytes: text.into_bytes() }];
        let options = crate::Options { today: crate::model::Date::parse(today).unwrap() };
        let compilation = crate::compile(&files, &options);
        let mut found: Vec<(Code, Severity)> = compilation
            .diagnostics
            .iter()
            .filter(|d| d.code >= Code::ProductionApiWithoutMtls && d.code < Code::InternalError)
            .map(|d| (d.code, d.severity))
            .collect();
        found.sort();
        found
    }

    const OPEN_API: &str = r#"api "svc" version="1.0.0" owner="team" {
    deploy "prod"
    backend lambda="arn:aws:lambda:eu-west-1:222222222222:function:svc"
    security {
        jwt issuer="https://auth.example.com" audience="svc"
    }
    route "GET" "/items"
    WAIVER
}"#;

    fn waived(waiver: &str, today: &str) -> Vec<(Code, Severity)> {
        severities(&OPEN_API.replace("WAIVER", waiver), today)
    }

    #[test]
    fn a_valid_waiver_turns_the_violation_into_a_warning() {
        let waiver = r#"waive "production-api-without-mtls" reason="partner has no client certificates yet (RISK-17)" until="2027-03-31""#;
        assert_eq!(waived(waiver, "2026-11-28"), vec![(Code::ProductionApiWithoutMtls, Severity::Warning)]);
    }

    #[test]
    fn waiver_rules() {
        let expired = r#"waive "production-api-without-mtls" reason="partner (RISK-17)" until="2026-01-31""#;
        assert_eq!(
            waived(expired, "2026-11-28"),
            vec![(Code::ProductionApiWithoutMtls, Severity::Error), (Code::WaiverExpired, Severity::Error)]
        );
        let no_reason = r#"waive "production-api-without-mtls" until="2027-03-31""#;
        assert_eq!(
            waived(no_reason, "2026-11-28"),
            vec![(Code::ProductionApiWithoutMtls, Severity::Error), (Code::WaiverWithoutReason, Severity::Error)]
        );
        let blank_reason = r#"waive "production-api-without-mtls" reason=" " until="2027-03-31""#;
        assert_eq!(
            waived(blank_reason, "2026-11-28"),
            vec![(Code::ProductionApiWithoutMtls, Severity::Error), (Code::WaiverWithoutReason, Severity::Error)]
        );
        let unknown = r#"waive "production-api-without-tls" reason="x" until="2027-03-31""#;
        assert_eq!(
            waived(unknown, "2026-11-28"),
            vec![(Code::ProductionApiWithoutMtls, Severity::Error), (Code::UnknownWaiverCode, Severity::Error)]
        );
        let nothing = r#"waive "production-api-without-jwt" reason="x" until="2027-03-31""#;
        assert_eq!(
            waived(nothing, "2026-11-28"),
            vec![(Code::ProductionApiWithoutMtls, Severity::Error), (Code::UnusedWaiver, Severity::Error)]
        );
    }

    #[test]
    fn allow_ip_any_cannot_be_waived() {
        let api = OPEN_API.replace(
            "jwt issuer",
            "mtls truststore=\"s3://bucket-x/t.pem\"\n        allow-ip \"0.0.0.0/0\"\n        jwt issuer",
        );
        let api = api.replace("    deploy \"prod\"", "    deploy \"prod\"\n    domain \"svc.example.com\" certificate=\"arn:aws:acm:eu-west-1:222222222222:certificate/00000000-0000-4000-8000-000000000000\"");
        let waiver = r#"waive "allow-ip-any" reason="open banking endpoint" until="2027-03-31""#;
        assert_eq!(
            severities(&api.replace("WAIVER", waiver), "2026-11-28"),
            vec![(Code::AllowIpAny, Severity::Error), (Code::UnknownWaiverCode, Severity::Error)]
        );
    }
}
