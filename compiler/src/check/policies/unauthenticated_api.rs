//! `unauthenticated-api`: an API stage anyone on the internet can call: no JWT validation, no
//! mutual TLS on its domain and no IP allow-list. Under a profile that lists the policy it is an
//! error (waivable); for every other tenant it is a warning, since such a stage is rarely meant.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use crate::check::{Host, Scope, Violation, lists_policy};
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Severity};
use crate::resolve::{Resolved, Stage};

/// Whether anyone can call the stage: no token, no client certificate, no source address check.
fn open(resolved: &Resolved, stage: &Stage) -> bool {
    let api = &resolved.estate.apis[stage.api];
    let mtls = stage.settings.endpoint.as_ref().is_some_and(|e| e.mtls.is_some());
    stage.settings.jwt.is_none() && !mtls && api.security.allow_ip.is_empty()
}

fn diagnostic(resolved: &Resolved, stage: &Stage) -> Diagnostic {
    let api = &resolved.estate.apis[stage.api];
    let env = &resolved.estate.environments[stage.env];
    let target = &api.deploy[stage.settings.deploy].env;
    Diagnostic::new(
        Code::UnauthenticatedApi,
        format!("`{}` in `{}` can be called by anyone: no JWT, no mutual TLS, no IP allow-list", api.name.value, env.name.value),
    )
    .primary(target.span, "deployed here without any check of its callers")
    .secondary(api.name.span, "this API")
    .help("add `jwt issuer=... audience=...` or `allow-ip \"...\"` to its `security` block (or a gateway with `mtls`); if it is meant to be public, waive `unauthenticated-api` with a reason")
}

/// The policy: open stages of the tenant's environments.
pub fn check(scope: &Scope<'_>) -> Vec<Violation> {
    let resolved = scope.resolved;
    scope
        .stages()
        .map(|s| &resolved.stages[s])
        .filter(|stage| open(resolved, stage))
        .map(|stage| Violation { diagnostic: diagnostic(resolved, stage), hosts: vec![Host::Api(stage.api)] })
        .collect()
}

/// Warnings for the open stages of tenants whose profile does not hold the policy.
pub fn warn(resolved: &Resolved, sink: &mut Diagnostics) {
    for stage in &resolved.stages {
        let listed = lists_policy(resolved, resolved.env_tenant(stage.env), Code::UnauthenticatedApi);
        if !listed && open(resolved, stage) {
            let mut d = diagnostic(resolved, stage);
            d.severity = Severity::Warning;
            sink.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::tests::violations;
    use crate::diagnostics::Code;

    #[test]
    fn an_api_without_any_check_of_its_callers() {
        let found = violations(
            r#"api "svc" version="1.0.0" owner="team" {
    deploy "test"
    backend lambda="svc"
    route "GET" "/items"
}"#,
        );
        assert_eq!(found, vec![(Code::UnauthenticatedApi, 18)]);
    }
}
