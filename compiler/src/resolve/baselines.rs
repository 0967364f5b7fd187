//! Baseline uses to instances: declaration lookup, scope, typed parameters with defaults, and
//! the `requires` of each declaration.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use std::collections::BTreeMap;

use super::{Owner, Params};
use crate::diagnostics::{Code, Diagnostic, Diagnostics, did_you_mean, suggest};
use crate::lower::baseline::check_param;
use crate::model::{BaselineDecl, BaselineUse, Estate, Name, Scope};
use crate::source::Span;

/// A baseline applied to an account or an environment.
#[derive(Clone, Debug)]
pub struct Instance {
    /// What it is applied to.
    pub owner: Owner,
    /// The baseline's name.
    pub name: Name,
    /// Index into `Estate::baselines`.
    pub decl: usize,
    /// Every declared parameter with a value (given or default).
    pub params: Params,
    /// The `baseline "..."` line.
    pub span: Span,
}

/// Instantiates every baseline use and checks `requires`.
pub fn instantiate(estate: &Estate, env_account: &[usize], sink: &mut Diagnostics) -> Vec<Instance> {
    let decls: BTreeMap<&Name, usize> = estate.baselines.iter().enumerate().map(|(i, b)| (&b.name.value, i)).collect();
    for decl in &estate.baselines {
        for required in &decl.requires {
            let known = decls.contains_key(&required.value)
                || estate.broken.contains(&("baseline", required.value.as_str().to_owned()));
            if !known {
                let help = match did_you_mean(required.value.as_str(), decls.keys().map(|n| n.as_str())) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => "a baseline can only require baselines the stdlib or the estate defines".to_owned(),
                };
                sink.push(
                    Diagnostic::new(
                        Code::UnknownBaseline,
                        format!("baseline `{}` requires an unknown baseline `{}`", decl.name.value, required.value),
                    )
                    .primary(required.span, "unknown baseline")
                    .help(help),
                );
            }
        }
    }
    let mut instances = Vec::new();
    let owners =
        estate.accounts.iter().enumerate().map(|(i, a)| (Owner::Account(i), &a.baselines, Scope::Account)).chain(
            estate
                .environments
                .iter()
                .enumerate()
                .map(|(i, e)| (Owner::Environment(i), &e.baselines, Scope::Environment)),
        );
    for (owner, uses, scope) in owners {
        for baseline in uses {
            let Some(&decl) = decls.get(&baseline.name.value) else {
                if estate.broken.contains(&("baseline", baseline.name.value.as_str().to_owned())) {
                    continue;
                }
                let help = match did_you_mean(baseline.name.value.as_str(), decls.keys().map(|n| n.as_str())) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!(
                        "known baselines: {}",
                        decls.keys().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                    ),
                };
                sink.push(
                    Diagnostic::new(Code::UnknownBaseline, format!("there is no baseline `{}`", baseline.name.value))
                        .primary(baseline.name.span, "unknown baseline")
                        .help(help)
                        .note("an estate defines its own baselines in `baselines/<name>/baseline.kdl`"),
                );
                continue;
            };
            let declaration = &estate.baselines[decl];
            if declaration.scope != scope {
                sink.push(
                    Diagnostic::new(
                        Code::BaselineScopeMismatch,
                        format!(
                            "baseline `{}` applies to an {}, not an {}",
                            baseline.name.value,
                            declaration.scope.as_str(),
                            scope.as_str()
                        ),
                    )
                    .primary(baseline.name.span, format!("{}-scope baseline", declaration.scope.as_str()))
                    .secondary(declaration.name.span, "declared here")
                    .help(format!("move this line into the block of an {}", declaration.scope.as_str())),
                );
                continue;
            }
            if let Some(params) = parameters(baseline, declaration, sink) {
                instances.push(Instance {
                    owner,
                    name: baseline.name.value.clone(),
                    decl,
                    params,
                    span: baseline.span,
                });
            }
        }
    }
    instances.sort_by(|a, b| (a.owner, &a.name).cmp(&(b.owner, &b.name)));
    requires(estate, &instances, env_account, sink);
    instances
}

fn parameters(baseline: &BaselineUse, decl: &BaselineDecl, sink: &mut Diagnostics) -> Option<Params> {
    let mut params = Params::new();
    let mut ok = true;
    for (key, value) in &baseline.params {
        let Some(param) = decl.params.iter().find(|p| p.name.value == key.value) else {
            let names: Vec<&str> = decl.params.iter().map(|p| p.name.value.as_str()).collect();
            let help = if names.is_empty() {
                format!("`{}` takes no parameters", decl.name.value)
            } else {
                suggest(&key.value, &names)
            };
            sink.push(
                Diagnostic::new(
                    Code::UnknownParameter,
                    format!("baseline `{}` has no parameter `{}`", decl.name.value, key.value),
                )
                .primary(key.span, "unknown parameter")
                .help(help),
            );
            ok = false;
            continue;
        };
        match check_param(param, &value.value) {
            Ok(checked) => {
                params.insert(key.value.clone(), checked);
            }
            Err((code, problem)) => {
                sink.push(
                    Diagnostic::new(
                        code,
                        format!("parameter `{}` of baseline `{}` is invalid", key.value, decl.name.value),
                    )
                    .primary(value.span, problem)
                    .secondary(param.name.span, "declared here")
                    .help(
                        param
                            .description
                            .clone()
                            .unwrap_or_else(|| format!("`{}` is {}", key.value, param.ty.as_str())),
                    ),
                );
                ok = false;
            }
        }
    }
    for param in &decl.params {
        if params.contains_key(&param.name.value) || baseline.params.iter().any(|(k, _)| k.value == param.name.value) {
            continue;
        }
        match (&param.default, param.required) {
            (Some(default), _) => {
                params.insert(param.name.value.clone(), default.clone());
            }
            (None, true) => {
                sink.push(
                    Diagnostic::new(
                        Code::MissingParameter,
                        format!("baseline `{}` needs `{}=`", decl.name.value, param.name.value),
                    )
                    .primary(baseline.name.span, format!("no `{}=` here", param.name.value))
                    .secondary(param.name.span, "declared here")
                    .help(
                        param
                            .description
                            .clone()
                            .unwrap_or_else(|| format!("give `{}=` ({})", param.name.value, param.ty.as_str())),
                    ),
                );
                ok = false;
            }
            (None, false) => {}
        }
    }
    ok.then_some(params)
}

/// Each instance's declaration may require other baselines: on the same account, or (for an
/// environment) on the same environment or its account.
fn requires(estate: &Estate, instances: &[Instance], env_account: &[usize], sink: &mut Diagnostics) {
    let applied = |owner: Owner, name: &Name| instances.iter().any(|i| i.owner == owner && &i.name == name);
    for instance in instances {
        let decl = &estate.baselines[instance.decl];
        for required in &decl.requires {
            let found = match instance.owner {
                Owner::Account(_) => applied(instance.owner, &required.value),
                Owner::Environment(e) => {
                    applied(instance.owner, &required.value)
                        || env_account.get(e).is_some_and(|&a| applied(Owner::Account(a), &required.value))
                }
            };
            let declared = estate.baselines.iter().any(|b| b.name.value == required.value);
            if !found && declared {
                sink.push(
                    Diagnostic::new(
                        Code::MissingRequiredBaseline,
                        format!("baseline `{}` requires `{}`, which is not applied", decl.name.value, required.value),
                    )
                    .primary(instance.span, format!("needs `{}`", required.value))
                    .secondary(required.span, "required here")
                    .help(format!("add `baseline \"{}\"` next to this line", required.value)),
                );
            }
        }
    }
}
