//! `jwt-shared-across-tenants`: stages of two tenants (two bank clients) that accept the same
//! tokens. The platform's JWT authorizer checks a token's signature, issuer, audience, expiry
//! and scopes (the README's authorizer contract), nothing that names the tenant: a token a
//! stage of one tenant accepts, every stage with the same issuer and audience accepts. Cognito
//! user pools are not concerned: a pool is one of the stage's own account, and so of its tenant.
//! Reported once per pair of tenants and `jwt` nodes: an error (waivable) when the profile of
//! either tenant lists the policy, otherwise a warning, since a product shared by tenants
//! rarely means to share its callers.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use std::collections::BTreeMap;

use crate::check::{Host, Scope, Violation, lists_policy};
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Severity};
use crate::model::JwtIssuer;
use crate::resolve::{Resolved, Stage};

/// One finding: two tenants whose stages accept the same tokens, once per pair of `jwt` nodes
/// that say so (an API-level `jwt` shared by a tenant's three stages is one).
pub struct Finding {
    /// Index into `Estate::tenants` of the tenant whose profile reports it as an error: the
    /// first of the two that lists the policy; `None` when neither does (a warning).
    pub owner: Option<usize>,
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

/// Every finding of the estate, in stage order: one pass over the stages, whatever the number
/// of tenants.
pub fn findings(resolved: &Resolved) -> Vec<Finding> {
    // For each token: the first stage of each tenant that accepts it.
    let mut first: BTreeMap<(&str, &str), BTreeMap<usize, usize>> = BTreeMap::new();
    for (s, stage) in resolved.stages.iter().enumerate() {
        if let Some(key) = token(stage) {
            first.entry(key).or_default().entry(resolved.env_tenant(stage.env)).or_insert(s);
        }
    }
    let estate = &resolved.estate;
    let mut seen = std::collections::BTreeSet::new();
    let mut found = Vec::new();
    for stage in &resolved.stages {
        let Some(key) = token(stage) else { continue };
        let tenant = resolved.env_tenant(stage.env);
        let Some(jwt) = &stage.settings.jwt else { continue };
        let Some((&other_tenant, &other)) = first[&key].iter().find(|(t, _)| **t != tenant) else { continue };
        let other = &resolved.stages[other];
        let Some(other_jwt) = &other.settings.jwt else { continue };
        // One mistake, one error: the pair of tenants and of `jwt` nodes, whichever way round.
        let pair = if tenant < other_tenant {
            (tenant, other_tenant, jwt.span, other_jwt.span)
        } else {
            (other_tenant, tenant, other_jwt.span, jwt.span)
        };
        if !seen.insert(pair) {
            continue;
        }
        let api = &estate.apis[stage.api];
        let other_api = &estate.apis[other.api];
        let (env, other_env) = (&estate.environments[stage.env], &estate.environments[other.env]);
        let (name, other_name) = (&estate.tenants[tenant].name.value, &estate.tenants[other_tenant].name.value);
        let mut diagnostic = Diagnostic::new(
            Code::JwtSharedAcrossTenants,
            format!(
                "`{}` in `{}` (tenant `{name}`) and `{}` in `{}` (tenant `{other_name}`) accept the same tokens: issuer `{}`, audience `{}`",
                api.name.value, env.name.value, other_api.name.value, other_env.name.value, key.0, key.1,
            ),
        )
        .primary(jwt.span, "one bank client's token opens the other's stage");
        if other_jwt.span != jwt.span {
            diagnostic = diagnostic.secondary(other_jwt.span, "the same issuer and audience");
        }
        let diagnostic = diagnostic
            .secondary(api.deploy[stage.settings.deploy].env.span, format!("deployed here for `{name}`"))
            .secondary(other_api.deploy[other.settings.deploy].env.span, format!("and here for `{other_name}`"))
            .help(format!(
                "the authorizer checks nothing that names the tenant: give one tenant's stages their own issuer or audience, a `jwt` inside `deploy \"{}\" {{ ... }}` (and each other environment of `{name}`); if the tenants are meant to share callers, waive `jwt-shared-across-tenants` with a reason",
                env.name.value
            ));
        let owner =
            [tenant, other_tenant].into_iter().find(|&t| lists_policy(resolved, t, Code::JwtSharedAcrossTenants));
        found.push(Finding { owner, api: stage.api, diagnostic });
    }
    found
}

/// The policy: the findings it is the owner of.
pub fn check(scope: &Scope<'_>) -> Vec<Violation> {
    scope
        .shared_tokens
        .iter()
        .filter(|f| f.owner == Some(scope.tenant))
        .map(|f| Violation { diagnostic: f.diagnostic.clone(), hosts: vec![Host::Api(f.api)] })
        .collect()
}

/// Warnings for the findings of tenants neither of which holds the policy.
pub fn warn(findings: &[Finding], sink: &mut Diagnostics) {
    for finding in findings.iter().filter(|f| f.owner.is_none()) {
        let mut d = finding.diagnostic.clone();
        d.severity = Severity::Warning;
        sink.push(d);
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
        assert_eq!(found, vec![(Code::JwtSharedAcrossTenants, 29)]);
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
