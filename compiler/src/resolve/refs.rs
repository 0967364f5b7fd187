//! The reference index: every name written to refer to another entity (`tenant=`,
//! `account=`, `deploy`, `uses`, a `baseline` use, `requires`) with the span it is written at
//! and the declaration it names. Built from the merged estate by the same name lookup as
//! resolution, before any error can stop it, so that the language server's definition and
//! hover answer in an estate with mistakes elsewhere (and never parse KDL again).

use std::collections::BTreeMap;

use crate::model::{Estate, Name, Spanned};
use crate::source::Span;

/// What a reference names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RefKind {
    /// `account ... tenant="..."`.
    Tenant,
    /// `environment ... account="..."`.
    Account,
    /// `deploy "..."`.
    Environment,
    /// `uses "..."`.
    Api,
    /// `baseline "..."` on an account or environment, `requires "..."` in a baseline.
    Baseline,
}

impl RefKind {
    /// The node that declares what it names.
    pub fn node(self) -> &'static str {
        match self {
            RefKind::Tenant => "tenant",
            RefKind::Account => "account",
            RefKind::Environment => "environment",
            RefKind::Api => "api",
            RefKind::Baseline => "baseline",
        }
    }
}

/// One reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ref {
    /// Where the name is written.
    pub at: Span,
    /// What it names.
    pub kind: RefKind,
    /// The name.
    pub name: String,
    /// The whole declaring node (a stdlib baseline's is in its `<stdlib>/` file); `None` when
    /// nothing of that name is declared (or its declaration had an error).
    pub declared: Option<Span>,
}

/// Every reference of the estate, sorted by where it is written.
pub fn index(estate: &Estate) -> Vec<Ref> {
    fn spans<T>(items: &[T], name: impl Fn(&T) -> &Name, span: impl Fn(&T) -> Span) -> BTreeMap<&str, Span> {
        items.iter().map(|i| (name(i).as_str(), span(i))).collect()
    }
    let tenants = spans(&estate.tenants, |t| &t.name.value, |t| t.span);
    let accounts = spans(&estate.accounts, |a| &a.name.value, |a| a.span);
    let envs = spans(&estate.environments, |e| &e.name.value, |e| e.span);
    let apis = spans(&estate.apis, |a| &a.name.value, |a| a.span);
    let baselines = spans(&estate.baselines, |b| &b.name.value, |b| b.span);
    let mut out = Vec::new();
    let mut add = |kind: RefKind, name: &Spanned<Name>, declared: &BTreeMap<&str, Span>| {
        out.push(Ref {
            at: name.span,
            kind,
            name: name.value.as_str().to_owned(),
            declared: declared.get(name.value.as_str()).copied(),
        });
    };
    for account in &estate.accounts {
        add(RefKind::Tenant, &account.tenant, &tenants);
        for baseline in &account.baselines {
            add(RefKind::Baseline, &baseline.name, &baselines);
        }
    }
    for env in &estate.environments {
        add(RefKind::Account, &env.account, &accounts);
        for baseline in &env.baselines {
            add(RefKind::Baseline, &baseline.name, &baselines);
        }
    }
    for api in &estate.apis {
        for deploy in &api.deploy {
            add(RefKind::Environment, &deploy.env, &envs);
        }
        for uses in &api.uses {
            add(RefKind::Api, uses, &apis);
        }
    }
    for baseline in &estate.baselines {
        for required in &baseline.requires {
            add(RefKind::Baseline, required, &baselines);
        }
    }
    // The references of an entity dropped for an error (the one being typed, often) still
    // lead to what they name.
    for (kind, name) in &estate.dangling {
        match kind {
            crate::model::RefKind::Tenant => add(RefKind::Tenant, name, &tenants),
            crate::model::RefKind::Account => add(RefKind::Account, name, &accounts),
            crate::model::RefKind::Environment => add(RefKind::Environment, name, &envs),
            crate::model::RefKind::Api => add(RefKind::Api, name, &apis),
        }
    }
    out.sort_by_key(|r| (r.at.file, r.at.start, r.at.end));
    out
}

/// The reference written at `offset` of `file`, if any.
pub fn at(index: &[Ref], file: crate::source::FileId, offset: usize) -> Option<&Ref> {
    let offset = u32::try_from(offset).ok()?;
    index.iter().find(|r| r.at.file == file && r.at.start <= offset && offset <= r.at.end)
}
