//! `waive "CODE" reason="..." until="YYYY-MM-DD"`: a waiver on the offending node turns that
//! node's violation of CODE into a warning until the date. A waiver without a reason, past its
//! date, for a code that is not a waivable policy, or that waives nothing is an error.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use std::collections::BTreeSet;

use super::{Host, Violation, policies};
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Severity, suggest};
use crate::model::{Date, Waiver};
use crate::resolve::Resolved;

/// Every waiver of the estate with its host.
fn all_waivers(resolved: &Resolved) -> Vec<(Host, &Waiver)> {
    let estate = &resolved.estate;
    let mut waivers: Vec<(Host, &Waiver)> = Vec::new();
    waivers.extend(estate.platform.iter().flat_map(|p| p.waivers.iter().map(|w| (Host::Platform, w))));
    for (i, t) in estate.tenants.iter().enumerate() {
        waivers.extend(t.waivers.iter().map(|w| (Host::Tenant(i), w)));
    }
    for (i, a) in estate.accounts.iter().enumerate() {
        waivers.extend(a.waivers.iter().map(|w| (Host::Account(i), w)));
    }
    for (i, e) in estate.environments.iter().enumerate() {
        waivers.extend(e.waivers.iter().map(|w| (Host::Environment(i), w)));
    }
    for (i, a) in estate.apis.iter().enumerate() {
        waivers.extend(a.waivers.iter().map(|w| (Host::Api(i), w)));
    }
    waivers
}

/// Reports every violation, downgraded where validly waived, and every problem with waivers.
pub fn apply(resolved: &Resolved, violations: Vec<Violation>, today: Date, sink: &mut Diagnostics) {
    let waivers = all_waivers(resolved);
    let mut valid: BTreeSet<usize> = BTreeSet::new();
    for (index, (_, waiver)) in waivers.iter().enumerate() {
        let policy = policies::find(&waiver.code.value);
        match policy {
            Some(p) if p.waivable => {}
            Some(_) => sink.push(
                Diagnostic::new(Code::UnknownWaiverCode, format!("`{}` cannot be waived", waiver.code.value))
                    .primary(waiver.code.span, "not waivable")
                    .help("fix the violation instead; this policy has no exceptions"),
            ),
            None => {
                let names: Vec<&str> = policies::ALL.iter().filter(|p| p.waivable).map(|p| p.code.name()).collect();
                sink.push(
                    Diagnostic::new(
                        Code::UnknownWaiverCode,
                        format!("`{}` is not a waivable policy code", waiver.code.value),
                    )
                    .primary(waiver.code.span, "unknown policy code")
                    .help(suggest(&waiver.code.value, &names)),
                );
            }
        }
        let reason = waiver.reason.as_ref().filter(|r| !r.value.trim().is_empty());
        if reason.is_none() {
            let span = waiver.reason.as_ref().map_or(waiver.code.span, |r| r.span);
            sink.push(
                Diagnostic::new(
                    Code::WaiverWithoutReason,
                    format!("the waiver of `{}` gives no reason", waiver.code.value),
                )
                .primary(span, "no reason")
                .help("add `reason=\"...\"`: why the risk is accepted, and who accepted it"),
            );
        }
        let expired = waiver.until.as_ref().filter(|u| u.value < today);
        if let Some(until) = expired {
            sink.push(
                Diagnostic::new(
                    Code::WaiverExpired,
                    format!("the waiver of `{}` ended on {}", waiver.code.value, until.value),
                )
                .primary(until.span, format!("ended; today is {today}"))
                .help("fix the violation, or renew the waiver with a new `until=` after review"),
            );
        }
        if policy.is_some_and(|p| p.waivable) && reason.is_some() && expired.is_none() && waiver.until.is_some() {
            valid.insert(index);
        }
    }

    let mut used: BTreeSet<usize> = BTreeSet::new();
    for violation in violations {
        let mut diagnostic = violation.diagnostic;
        let code = diagnostic.code.name();
        let matching: Vec<usize> = waivers
            .iter()
            .enumerate()
            .filter(|(_, (host, waiver))| violation.hosts.contains(host) && waiver.code.value == code)
            .map(|(i, _)| i)
            .collect();
        used.extend(matching.iter().copied());
        if let Some(&i) = matching.iter().find(|i| valid.contains(i)) {
            let waiver = waivers[i].1;
            let until = waiver.until.as_ref().map(|u| u.value.to_string()).unwrap_or_default();
            let reason = waiver.reason.as_ref().map(|r| r.value.clone()).unwrap_or_default();
            diagnostic.severity = Severity::Warning;
            diagnostic =
                diagnostic.secondary(waiver.span, "waived here").note(format!("waived until {until}: {reason}"));
        }
        sink.push(diagnostic);
    }
    for (index, (_, waiver)) in waivers.iter().enumerate() {
        if valid.contains(&index) && !used.contains(&index) {
            sink.push(
                Diagnostic::new(Code::UnusedWaiver, format!("the waiver of `{}` waives nothing", waiver.code.value))
                    .primary(waiver.span, "no violation of this code here")
                    .help("remove the waiver: the node complies (a waiver belongs inside the node the violation points at)"),
            );
        }
    }
}
