//! `jwt-shared-across-tenants`: stages of two tenants (two bank clients) that accept the same
//! tokens. The platform's JWT authorizer checks a token's signature, issuer, audience, expiry
//! and scopes (the README's authorizer contract), nothing that names the tenant: a token a
//! stage of one tenant accepts, every stage with the same issuer and audience accepts. Cognito
//! user pools are not concerned: a pool is one of the stage's own account, and so of its tenant.
//! Under a profile that lists the policy it is an error (waivable); for every other tenant a
//! warning, since a product shared by tenants rarely means to share its callers.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use std::collections::BTreeMap;

use crate::check::{Host, Scope, Violation};
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Severity};
use crate::model::JwtIssuer;
use crate::resolve::{Resolved, Stage};

/// One finding: a tenant whose stages accept tokens another tenant's stage accepts, once per
/// `jwt` node that says so (an API-level `jwt` shared by the tenant's three stages is one).
pub struct Finding {
    /// Index into `Estate::tenants`.
    pub tenant: usize,
    /// Index into `Estate::apis` of the API whose node may waive it.
    pub api: usize,
    /// The diagnostic, as an error.
    pub diagnostic: Diagnostic,
}

/// The issuer (without a trailing `/`, which names the same issuer) and audience of a stage's
/// OIDC `jwt`.
fn token(stage: &Stage) -> Option<(&str, &str)> {
    match &stage.settings.jwt.as_ref()?.value.issuer {
        JwtIssuer::Oidc { issuer, audience } => Some((issuer.value.trim_end_matches('/'), audience.value.as_str())),
        JwtIssuer::Cognito { .. } => None,
    }
}

fn tenant_of(resolved: &Resolved, stage: &Stage) -> usize {
    resolved.account_tenant[resolved.env_account[stage.env]]
}

/// Every finding of the estate, in stage order: one pass over the stages, whatever the number
/// of tenants.
pub fn findings(resolved: &Resolved) -> Vec<Finding> {
    // For each token: the first stage of each tenant that accepts it.
    let mut first: BTreeMap<(&str, &str), BTreeMap<usize, usize>> = BTreeMap::new();
    for (s, stage) in resolved.stages.iter().enumerate() {
        if let Some(key) = token(stage) {
            first.entry(key).or_default().entry(tenant_of(resolved, stage)).or_insert(s);
        }
    }
    let estate = &resolved.estate;
    let mut seen = std::collections::BTreeSet::new();
    let mut found = Vec::new();
    for stage in &resolved.stages {
        let Some(key) = token(stage) else { continue };
        let tenant = tenant_of(resolved, stage);
        let Some(jwt) = &stage.settings.jwt else { continue };
        let Some((_, &other)) = first[&key].iter().find(|(t, _)| **t != tenant) else { continue };
        if !seen.insert((tenant, jwt.span)) {
            continue;
        }
        let other = &resolved.stages[other];
        let api = &estate.apis[stage.api];
        let env = &estate.environments[stage.env];
        let other_env = &estate.environments[other.env];
        let (name, other_name) =
            (&estate.tenants[tenant].name.value, &estate.tenants[tenant_of(resolved, other)].name.value);
        let diagnostic = Diagnostic::new(
            Code::JwtSharedAcrossTenants,
            format!(
                "`{}` in `{}` (tenant `{}`) accepts the tokens of `{}` in `{}` (tenant `{}`): issuer `{}`, audience `{}`",
                api.name.value,
                env.name.value,
                name,
                estate.apis[other.api].name.value,
                other_env.name.value,
                other_name,
                key.0,
                key.1,
            ),
        )
        .primary(jwt.span, "one bank client's token opens the other's stage")
        .secondary(api.deploy[stage.settings.deploy].env.span, format!("deployed here for `{name}`"))
        .secondary(estate.apis[other.api].deploy[other.settings.deploy].env.span, format!("and here for `{other_name}`"))
        .help(format!(
            "give each tenant's stages their own issuer or audience: a `jwt` inside `deploy \"{}\" {{ ... }}` (and each other environment of the tenant); if the tenants are meant to share callers, waive `jwt-shared-across-tenants` with a reason",
            env.name.value
        ));
        found.push(Finding { tenant, api: stage.api, diagnostic });
    }
    found
}

/// The policy: the findings of the tenant.
pub fn check(scope: &Scope<'_>) -> Vec<Violation> {
    scope
        .shared_tokens
        .iter()
        .filter(|f| f.tenant == scope.tenant)
        .map(|f| Violation { diagnostic: f.diagnostic.clone(), hosts: vec![Host::Api(f.api)] })
        .collect()
}

/// Warnings for the findings of tenants whose profile does not hold the policy.
pub fn warn(resolved: &Resolved, findings: &[Finding], sink: &mut Diagnostics) {
    let estate = &resolved.estate;
    for finding in findings {
        let tenant = &estate.tenants[finding.tenant];
        let profile = tenant.compliance.as_ref().and_then(|c| estate.profiles.iter().find(|p| p.name.value == c.value));
        let listed = profile
            .is_some_and(|p| p.policies.iter().any(|policy| policy.code.value == Code::JwtSharedAcrossTenants.name()));
        if !listed {
            let mut d = finding.diagnostic.clone();
            d.severity = Severity::Warning;
            sink.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::tests::violations_in;
    use crate::diagnostics::Code;

    /// A second tenant beside `BASE`'s, with its own account and environment.
    const OTHER: &str = r#"tenant "u" {
    region "eu-west-1"
    compliance "eu-banking"
}
account "b" tenant="u" id="333333333333" {
    baseline "jwt-authorizer" code="s3://bucket-x/authorizer.zip"
}
environment "u-test" account="b" tier="test"
"#;

    fn api(deploy: &str) -> String {
        format!(
            r#"api "svc" version="1.0.0" owner="team" {{
{deploy}
    backend lambda="svc"
    security {{
        jwt issuer="https://auth.example/" audience="svc"
    }}
    route "GET" "/items" scopes="svc:read"
}}
"#
        )
    }

    #[test]
    fn one_token_for_two_tenants() {
        // Lines: OTHER takes 17-24, the API starts on 25: its `jwt` is on line 29.
        let found = violations_in(str::to_owned, &(OTHER.to_owned() + &api("    deploy \"test\" \"u-test\"")));
        assert_eq!(found, vec![(Code::JwtSharedAcrossTenants, 29), (Code::JwtSharedAcrossTenants, 29)]);
    }

    #[test]
    fn each_tenant_with_its_own_issuer() {
        let deploy = "    deploy \"test\"\n    deploy \"u-test\" {\n        jwt issuer=\"https://auth.example/u\" audience=\"svc\"\n    }";
        let found = violations_in(str::to_owned, &(OTHER.to_owned() + &api(deploy)));
        assert_eq!(found, vec![]);
    }

    #[test]
    fn one_tenant_two_stages() {
        let found = violations_in(str::to_owned, &api("    deploy \"test\" \"prod\""));
        assert!(!found.iter().any(|(code, _)| *code == Code::JwtSharedAcrossTenants), "{found:?}");
    }
}
