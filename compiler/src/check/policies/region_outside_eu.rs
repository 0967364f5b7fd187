//! `region-outside-eu`: every account of the tenant runs in an EU region. The region is
//! reported where it was written (the account's `region=`, else the tenant's, else the
//! platform's); a waiver on the account or on that node accepts it.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use crate::check::{Host, Scope, Violation};
use crate::diagnostics::{Code, Diagnostic};

/// Accounts whose effective region is outside the EU.
pub fn check(scope: &Scope<'_>) -> Vec<Violation> {
    let estate = &scope.resolved.estate;
    let tenant = &estate.tenants[scope.tenant];
    let mut violations = Vec::new();
    for a in scope.accounts() {
        let account = &estate.accounts[a];
        let region = scope.resolved.account_region(a);
        if region.is_eu() {
            continue;
        }
        let (span, writer) = match (&account.region, &tenant.region) {
            (Some(r), _) => (r.span, Host::Account(a)),
            (None, Some(r)) => (r.span, Host::Tenant(scope.tenant)),
            (None, None) => (scope.resolved.platform().region.span, Host::Platform),
        };
        let diagnostic = Diagnostic::new(Code::RegionOutsideEu, format!("account `{}` runs in {region}, outside the EU", account.name.value))
            .primary(span, format!("{region} is not an EU region"))
            .secondary(account.name.span, "this account")
            .help("use an EU region such as eu-central-1 or eu-west-1 for the account (its `region=`, or the tenant's `region`)")
            .note(format!("required by the compliance profile of tenant `{}`", tenant.name.value));
        let mut hosts = vec![Host::Account(a)];
        if writer != Host::Account(a) {
            hosts.push(writer);
        }
        violations.push(Violation { diagnostic, hosts });
    }
    violations
}

#[cfg(test)]
mod tests {
    use crate::check::tests::violations_in;
    use crate::diagnostics::Code;

    #[test]
    fn account_region_outside_eu() {
        let found = violations_in(
            |estate| {
                estate.replace(r#"tenant="t" id="222222222222""#, r#"tenant="t" id="222222222222" region="us-east-1""#)
            },
            "",
        );
        assert!(found.contains(&(Code::RegionOutsideEu, 10)), "{found:?}");
    }
}
