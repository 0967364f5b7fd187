//! `production-account-without-baseline`: an account that hosts a production environment has
//! the baselines the profile lists (`baselines="audit-trail config-compliance"`).
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use crate::check::{Host, Scope, Violation};
use crate::diagnostics::{Code, Diagnostic};
use crate::model::Tier;
use crate::resolve::Owner;

/// Production accounts missing a required baseline, one violation per missing baseline.
pub fn check(scope: &Scope<'_>) -> Vec<Violation> {
    let resolved = scope.resolved;
    let estate = &resolved.estate;
    let required = scope.list("baselines", &["audit-trail", "config-compliance"]);
    let mut violations = Vec::new();
    for a in scope.accounts() {
        let production = estate.environments.iter().enumerate().find(|(e, env)| {
            resolved.env_account[*e] == a && resolved.env_active[*e] && env.tier.value == Tier::Production
        });
        let Some((_, env)) = production else { continue };
        let account = &estate.accounts[a];
        for baseline in &required {
            let applied = resolved.has_baseline(Owner::Account(a), baseline);
            if applied {
                continue;
            }
            let diagnostic = Diagnostic::new(
                Code::ProductionAccountWithoutBaseline,
                format!("account `{}` hosts production but has no `{baseline}` baseline", account.name.value),
            )
            .primary(account.name.span, format!("no `{baseline}`"))
            .secondary(env.name.span, "production environment in this account")
            .help(format!("add `baseline \"{baseline}\"` to the account"))
            .note(format!(
                "required by the compliance profile of tenant `{}`",
                estate.tenants[scope.tenant].name.value
            ));
            violations.push(Violation { diagnostic, hosts: vec![Host::Account(a)] });
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use crate::check::tests::violations_in;
    use crate::diagnostics::Code;

    #[test]
    fn production_account_needs_both_baselines() {
        let found = violations_in(|estate| estate.replace("    baseline \"config-compliance\"\n", ""), "");
        assert!(found.contains(&(Code::ProductionAccountWithoutBaseline, 10)), "{found:?}");
    }
}
