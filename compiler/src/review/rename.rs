//! Identity across renames: which stack only the old build has and which only the new build
//! has are the same API stage, environment, gateway or account under another name, so that
//! `idpc diff` compares them (security included) instead of reporting a removal and an
//! addition that hide what changed.
//!
//! A pair is made from facts only: an explicit `renamed-from=` first; else the same kind of
//! stack with the same identity (an account's id; an environment's account, tier and gateway
//! domain; a gateway's domain; an API stage's environment, domain and route set), then API
//! stages of one environment and domain that share at least half their routes. A stack that
//! matches more than one other is left unpaired; one that pairs with nothing is still read on
//! its own (`facts::exposure`).

use std::collections::{BTreeMap, BTreeSet};

use crate::emit::facts::Facts;

/// Renamed stacks: new name -> old name.
pub(super) fn pairs(removed: &BTreeMap<&str, &Facts>, added: &BTreeMap<&str, &Facts>) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    // Environments first: a renamed environment renames its gateway and its API stages.
    let mut envs: BTreeMap<String, String> = BTreeMap::new();
    for kind in ["account", "environment", "gateway", "api-stage"] {
        let olds: Vec<(&str, &Facts)> = removed.iter().filter(|(_, f)| f.kind == kind).map(|(n, f)| (*n, *f)).collect();
        let news: Vec<(&str, &Facts)> = added.iter().filter(|(_, f)| f.kind == kind).map(|(n, f)| (*n, *f)).collect();
        let mut matches: Vec<(&str, &str)> = Vec::new();
        for (new_name, new) in &news {
            let candidates: Vec<&str> =
                olds.iter().filter(|(_, old)| same(old, new, &envs)).map(|(name, _)| *name).collect();
            if let [only] = candidates.as_slice() {
                matches.push((only, new_name));
            }
        }
        // Each old stack pairs with one new stack at most.
        let mut taken: BTreeMap<&str, usize> = BTreeMap::new();
        for (old, _) in &matches {
            *taken.entry(old).or_default() += 1;
        }
        for (old, new) in matches {
            if taken.get(old) == Some(&1) {
                if kind == "environment"
                    && let (Some(o), Some(n)) = (
                        removed.get(old).and_then(|f| f.environment.as_ref()),
                        added.get(new).and_then(|f| f.environment.as_ref()),
                    )
                {
                    envs.insert(n.clone(), o.clone());
                }
                out.insert(new.to_owned(), old.to_owned());
            }
        }
    }
    // Then API stages that share most routes with exactly one removed stage of the same
    // environment and domain (a rename that also added or dropped a route): compared with it,
    // the weakenings of the change show, where a removal and an addition would hide them.
    let paired_old: BTreeSet<&str> = out.values().map(String::as_str).collect();
    let routes = |f: &Facts| f.routes.keys().cloned().collect::<BTreeSet<String>>();
    let olds: Vec<(&str, &Facts)> = removed
        .iter()
        .filter(|(n, f)| f.kind == "api-stage" && !paired_old.contains(*n))
        .map(|(n, f)| (*n, *f))
        .collect();
    let mut loose: Vec<(&str, &str)> = Vec::new();
    for (new_name, new) in added.iter().filter(|(n, f)| f.kind == "api-stage" && !out.contains_key(**n)) {
        let env_of_new = new.environment.as_ref().map(|e| envs.get(e).unwrap_or(e));
        let candidates: Vec<&str> = olds
            .iter()
            .filter(|(_, old)| {
                let (a, b) = (routes(old), routes(new));
                let shared = a.intersection(&b).count();
                old.environment.as_ref() == env_of_new
                    && old.domain == new.domain
                    && shared * 2 >= a.len().max(b.len())
                    && shared > 0
            })
            .map(|(n, _)| *n)
            .collect();
        if let [only] = candidates.as_slice() {
            loose.push((only, new_name));
        }
    }
    for (old, new) in &loose {
        if loose.iter().filter(|(o, _)| o == old).count() == 1 {
            out.insert((*new).to_owned(), (*old).to_owned());
        }
    }
    out
}

/// Whether `old` is `new` under another name; `envs` maps renamed environments (new -> old).
fn same(old: &Facts, new: &Facts, envs: &BTreeMap<String, String>) -> bool {
    let env_of_new = new.environment.as_ref().map(|e| envs.get(e).unwrap_or(e));
    let same_env = old.environment.as_ref() == env_of_new;
    match new.kind.as_str() {
        "account" => new.account_id.is_some() && old.account_id == new.account_id,
        "environment" | "gateway" => {
            let explicit = new.renamed_from.is_some() && new.renamed_from == old.environment;
            let identity =
                old.account == new.account && old.tier == new.tier && new.domain.is_some() && old.domain == new.domain;
            explicit || identity || (new.kind == "gateway" && same_env)
        }
        "api-stage" => {
            let explicit = new.renamed_from.is_some() && new.renamed_from == old.api;
            let renamed_env = same_env && old.api == new.api;
            let routes = |f: &Facts| f.routes.keys().cloned().collect::<BTreeSet<String>>();
            let identity = same_env && old.domain == new.domain && !new.routes.is_empty() && routes(old) == routes(new);
            (explicit && same_env) || renamed_env || identity
        }
        _ => false,
    }
}
