//! `production-api-without-mtls` and `production-api-without-jwt`: every API stage in a
//! production environment of the tenant must have mutual TLS (enforced by the domain that
//! serves it: its environment's gateway, or its own) and JWT validation.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use crate::check::{Host, Scope, Violation};
use crate::diagnostics::{Code, Diagnostic};
use crate::model::{Api, Tier};
use crate::resolve::Stage;

/// APIs deployed to production without `mtls`.
pub fn without_mtls(scope: &Scope<'_>) -> Vec<Violation> {
    production_stages_missing(
        scope,
        Code::ProductionApiWithoutMtls,
        "mutual TLS",
        |_, stage| stage.settings.endpoint.as_ref().is_some_and(|e| e.mtls.is_some()),
        "give the environment's `gateway` an `mtls truststore=\"s3://...\"`, and `mtls` to the API's `security` block so that it stays required",
    )
}

/// APIs deployed to production without `jwt`.
pub fn without_jwt(scope: &Scope<'_>) -> Vec<Violation> {
    production_stages_missing(
        scope,
        Code::ProductionApiWithoutJwt,
        "JWT validation",
        |_, stage| stage.settings.jwt.is_some(),
        "add `jwt issuer=\"https://...\" audience=\"...\"` to the API's `security` block",
    )
}

fn production_stages_missing(
    scope: &Scope<'_>,
    code: Code,
    what: &str,
    has: fn(&Api, &Stage) -> bool,
    help: &str,
) -> Vec<Violation> {
    let estate = &scope.resolved.estate;
    let mut violations = Vec::new();
    for s in scope.stages() {
        let stage = &scope.resolved.stages[s];
        let (api, env) = (&estate.apis[stage.api], &estate.environments[stage.env]);
        if env.tier.value != Tier::Production || has(api, stage) {
            continue;
        }
        let Some(target) = api.deploy.iter().find(|d| d.env.value == env.name.value).map(|d| &d.env) else { continue };
        let diagnostic = Diagnostic::new(
            code,
            format!("API `{}` serves production environment `{}` without {what}", api.name.value, env.name.value),
        )
        .primary(target.span, format!("production, without {what}"))
        .secondary(api.name.span, "this API")
        .help(help.to_owned())
        .note(format!("required by the compliance profile of tenant `{}`", estate.tenants[scope.tenant].name.value));
        violations.push(Violation { diagnostic, hosts: vec![Host::Api(stage.api)] });
    }
    violations
}

#[cfg(test)]
mod tests {
    use crate::check::tests::violations;
    use crate::diagnostics::Code;

    #[test]
    fn production_stage_without_mtls_or_jwt() {
        let found = violations(
            r#"api "svc" version="1.0.0" owner="team" {
    deploy "prod" "test"
    backend lambda="arn:aws:lambda:eu-west-1:222222222222:function:svc"
    route "GET" "/items"
}"#,
        );
        // Open to anyone, too: in production and in test.
        let open = (Code::UnauthenticatedApi, 18);
        assert_eq!(found, vec![(Code::ProductionApiWithoutMtls, 18), (Code::ProductionApiWithoutJwt, 18), open, open]);
    }
}
