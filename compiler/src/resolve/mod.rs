//! References between entities: tenants, accounts, environments, deployments, `uses`,
//! baselines (declaration, scope, parameters, `requires`) and compliance profiles; then each
//! API stage's effective settings ([`stage`]) and the estate-wide deployability checks of
//! custom domains, base paths and API Gateway quotas ([`domains`]).
//!
//! The output, `Resolved`, holds indices into the (sorted) model instead of names, the API
//! stages that will be built (an expired ephemeral environment builds nothing), and the
//! baseline instances with their typed parameters. An entity whose reference does not resolve
//! is dropped (an account of an unknown tenant, an environment of an unknown account) and the
//! rest is still resolved and checked, so every independent mistake is reported in one run.
//! Cycles are not looked for here: `graph` finds them.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

mod baselines;
pub mod domains;
pub mod refs;
pub mod stage;

use std::collections::BTreeMap;

use crate::diagnostics::{Code, Diagnostic, Diagnostics, did_you_mean};
use crate::model::{Date, Estate, Name, ParamValue, Platform, Profile, RefKind, Region, Spanned, Tier};
use crate::source::Span;

pub use baselines::Instance;
pub use stage::{Endpoint, Function, Origin, Place, Setting, Settings, StageBackend};

/// What a baseline instance is applied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// Index into `Estate::accounts`.
    Account(usize),
    /// Index into `Estate::environments`.
    Environment(usize),
}

/// One API in one environment, with its effective settings.
#[derive(Clone, Debug)]
pub struct Stage {
    /// Index into `Estate::apis`.
    pub api: usize,
    /// Index into `Estate::environments`.
    pub env: usize,
    /// Backend, domain, throttling, monitors and SLO of this stage, each with its origin.
    pub settings: Settings,
}

/// A `uses` edge between two stages of one environment.
#[derive(Clone, Debug)]
pub struct UsesEdge {
    /// Index into `Resolved::stages` of the caller.
    pub from: usize,
    /// Index into `Resolved::stages` of the API it calls.
    pub to: usize,
    /// The `uses` argument.
    pub span: Span,
}

/// A resolved estate: every reference checked and turned into an index.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The model, each kind sorted by name.
    pub estate: Estate,
    /// Per account: index of its tenant.
    pub account_tenant: Vec<usize>,
    /// Per environment: index of its account.
    pub env_account: Vec<usize>,
    /// Per environment: whether it is built (not expired).
    pub env_active: Vec<bool>,
    /// API stages to build, sorted by (API name, environment name).
    pub stages: Vec<Stage>,
    /// `uses` edges between stages.
    pub uses: Vec<UsesEdge>,
    /// Baseline instances, sorted by owner then baseline name.
    pub instances: Vec<Instance>,
}

impl Resolved {
    /// The platform (resolution fails without one).
    pub fn platform(&self) -> &Platform {
        // `resolve` returns `None` when the platform is missing, so this always holds.
        self.estate.platform.as_ref().unwrap_or_else(|| unreachable!("resolved estate without platform"))
    }

    /// The region of an account: its own, else its tenant's, else the platform's.
    pub fn account_region(&self, account: usize) -> &Region {
        let a = &self.estate.accounts[account];
        let tenant = &self.estate.tenants[self.account_tenant[account]];
        a.region.as_ref().or(tenant.region.as_ref()).map_or(&self.platform().region.value, |r| &r.value)
    }

    /// Where an account's region was written: the account's `region`, else its tenant's, else
    /// the platform's.
    pub fn region_written(&self, account: usize) -> Span {
        let a = &self.estate.accounts[account];
        let tenant = &self.estate.tenants[self.account_tenant[account]];
        a.region.as_ref().or(tenant.region.as_ref()).map_or(self.platform().region.span, |r| r.span)
    }

    /// The baseline instances applied to `owner`, with their indices (a binary search: the
    /// instances are sorted by owner).
    pub fn instances_of(&self, owner: Owner) -> impl Iterator<Item = (usize, &Instance)> {
        let start = self.instances.partition_point(|i| i.owner < owner);
        self.instances.iter().enumerate().skip(start).take_while(move |(_, i)| i.owner == owner)
    }

    /// Whether `owner` has the baseline called `name`.
    pub fn has_baseline(&self, owner: Owner, name: &str) -> bool {
        self.instances_of(owner).any(|(_, i)| i.name.as_str() == name)
    }

    /// The region of an environment (its account's).
    pub fn env_region(&self, env: usize) -> &Region {
        self.account_region(self.env_account[env])
    }

    /// Index into `Estate::tenants` of an environment's tenant (its account's).
    pub fn env_tenant(&self, env: usize) -> usize {
        self.account_tenant[self.env_account[env]]
    }

    /// The compliance profile of a tenant, when it names one.
    pub fn tenant_profile(&self, tenant: usize) -> Option<&Profile> {
        let name = self.estate.tenants[tenant].compliance.as_ref()?;
        self.estate.profiles.iter().find(|p| p.name.value == name.value)
    }
}

/// Resolves every reference; `None` without a platform. A resolution with errors (the reasons
/// in `sink`) is not `clean`.
pub fn resolve(mut estate: Estate, today: Date, sink: &mut Diagnostics) -> Option<Resolution> {
    let errors_before = sink.error_count();
    let profiles = index(&estate.profiles, |p| &p.name);
    for tenant in &estate.tenants {
        if let Some(profile) = &tenant.compliance {
            lookup(&profiles, &estate.broken, profile, Code::UnknownProfile, "compliance profile", &|_| true, sink);
        }
    }
    dangling(&estate, sink);
    prune(&mut estate, sink);

    let tenants = index(&estate.tenants, |t| &t.name);
    let accounts = index(&estate.accounts, |a| &a.name);
    let envs = index(&estate.environments, |e| &e.name);
    let apis = index(&estate.apis, |a| &a.name);
    let account_tenant: Vec<usize> = estate.accounts.iter().map(|a| tenants[&a.tenant.value]).collect();
    let env_account: Vec<usize> = estate.environments.iter().map(|e| accounts[&e.account.value]).collect();
    let env_active: Vec<bool> = estate
        .environments
        .iter()
        .map(|env| match &env.expires {
            Some(expires) if env.tier.value == Tier::Ephemeral && expires.value < today => {
                sink.push(
                    Diagnostic::new(Code::EnvironmentExpired, format!("environment `{}` expired on {}", env.name.value, expires.value))
                        .primary(expires.span, format!("expired; today is {today}"))
                        .help("its stacks are no longer built: delete them, then remove the environment (or extend `expires=`)"),
                );
                false
            }
            _ => true,
        })
        .collect();

    // Every `deploy` target: (api, its deploy entry, environment).
    let mut targets = Vec::new();
    let mut deployed: BTreeMap<(usize, usize), Span> = BTreeMap::new();
    for (a, api) in estate.apis.iter().enumerate() {
        for (d, target) in api.deploy.iter().enumerate() {
            let any = &|_: &str| true;
            if let Some(e) =
                lookup(&envs, &estate.broken, &target.env, Code::UnknownEnvironment, "environment", any, sink)
            {
                deployed.insert((a, e), target.env.span);
                targets.push((a, d, e));
            }
        }
    }
    let instances = baselines::instantiate(&estate, &env_account, sink);
    // Without a platform (missing, or dropped for its own errors) regions are unknown: every
    // check above still ran, the per-stage ones below cannot.
    estate.platform.as_ref()?;

    let mut stages = Vec::new();
    for (api, deploy, env) in targets {
        if !env_active[env] {
            continue;
        }
        let account = env_account[env];
        let place = Place { api, deploy, env, account, tenant: account_tenant[account] };
        if let Some(settings) = stage::settings(&estate, place, sink) {
            stages.push(Stage { api, env, settings });
        }
    }
    stages.sort_by(|x, y| {
        let key = |s: &Stage| (&estate.apis[s.api].name.value, &estate.environments[s.env].name.value);
        key(x).cmp(&key(y))
    });

    let mut uses = Vec::new();
    let stage_index: BTreeMap<(usize, usize), usize> =
        stages.iter().enumerate().map(|(i, s)| ((s.api, s.env), i)).collect();
    for (a, api) in estate.apis.iter().enumerate() {
        for used in &api.uses {
            let any = &|_: &str| true;
            let Some(b) = lookup(&apis, &estate.broken, used, Code::UnknownApi, "API", any, sink) else {
                continue;
            };
            for target in &api.deploy {
                let Some(&e) = envs.get(&target.env.value) else {
                    continue;
                };
                if !deployed.contains_key(&(b, e)) {
                    sink.push(
                        Diagnostic::new(
                            Code::UsesNotDeployed,
                            format!(
                                "`{}` uses `{}`, which is not deployed to `{}`",
                                api.name.value, used.value, target.env.value
                            ),
                        )
                        .primary(used.span, format!("not deployed to `{}`", target.env.value))
                        .secondary(target.env.span, format!("`{}` is deployed here", api.name.value))
                        .help(format!(
                            "add `{}` to the `deploy` list of `{}`, or remove it from this one",
                            target.env.value, used.value
                        )),
                    );
                    continue;
                }
                if let (Some(&from), Some(&to)) = (stage_index.get(&(a, e)), stage_index.get(&(b, e))) {
                    uses.push(UsesEdge { from, to, span: used.span });
                }
            }
        }
    }

    let resolved = Resolved { estate, account_tenant, env_account, env_active, stages, uses, instances };
    check_stages(&resolved, sink);
    domains::check(&resolved, sink);
    let clean = sink.error_count() == errors_before;
    Some(Resolution { resolved, clean })
}

/// What `resolve` made of an estate: every reference it could resolve (entities with broken
/// references left out, so indices stay valid) and whether it found no error. Only a clean
/// resolution is planned and emitted; the policies also run over one that is not, so that a
/// run reports their findings beside the resolution's errors.
pub struct Resolution {
    /// The resolved estate.
    pub resolved: Resolved,
    /// Whether resolving reported no error.
    pub clean: bool,
}

/// Reports the unknown references of entities that lowering dropped for their own errors.
fn dangling(estate: &Estate, sink: &mut Diagnostics) {
    let tenants = index(&estate.tenants, |t| &t.name);
    let accounts = index(&estate.accounts, |a| &a.name);
    let envs = index(&estate.environments, |e| &e.name);
    let apis = index(&estate.apis, |a| &a.name);
    for (kind, name) in &estate.dangling {
        let (names, code, what) = match kind {
            RefKind::Tenant => (&tenants, Code::UnknownTenant, "tenant"),
            RefKind::Account => (&accounts, Code::UnknownAccount, "account"),
            RefKind::Environment => (&envs, Code::UnknownEnvironment, "environment"),
            RefKind::Api => (&apis, Code::UnknownApi, "API"),
        };
        lookup(names, &estate.broken, name, code, what, &|_| true, sink);
    }
}

/// Drops the accounts of unknown tenants, then the environments of unknown (or dropped)
/// accounts, reporting each unknown reference once and marking what was dropped as broken,
/// so that references to it are not reported again and everything else still resolves.
fn prune(estate: &mut Estate, sink: &mut Diagnostics) {
    let tenants = index(&estate.tenants, |t| &t.name);
    let accounts = std::mem::take(&mut estate.accounts);
    for account in accounts {
        let any = &|_: &str| true;
        if lookup(&tenants, &estate.broken, &account.tenant, Code::UnknownTenant, "tenant", any, sink).is_some() {
            estate.accounts.push(account);
        } else {
            estate.broken.insert(("account", account.name.value.as_str().to_owned()));
        }
    }
    let accounts = index(&estate.accounts, |a| &a.name);
    // An account is on the production side when a production environment names it. A
    // did-you-mean never crosses that line: a misspelt account of a test environment must
    // not be "corrected" into a production account, nor the other way round.
    let production: std::collections::BTreeSet<&str> = estate
        .environments
        .iter()
        .filter(|e| e.tier.value == Tier::Production)
        .map(|e| e.account.value.as_str())
        .collect();
    let hosted: std::collections::BTreeSet<&str> =
        estate.environments.iter().map(|e| e.account.value.as_str()).collect();
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for env in &estate.environments {
        let is_production = env.tier.value == Tier::Production;
        let fits = |candidate: &str| {
            if is_production {
                production.contains(candidate) || !hosted.contains(candidate)
            } else {
                !production.contains(candidate)
            }
        };
        let found = lookup(&accounts, &estate.broken, &env.account, Code::UnknownAccount, "account", &fits, sink);
        if found.is_some() { kept.push(true) } else { kept.push(false) }
    }
    let environments = std::mem::take(&mut estate.environments);
    for (env, keep) in environments.into_iter().zip(kept) {
        if keep {
            estate.environments.push(env);
        } else {
            dropped.push(env.name.value.as_str().to_owned());
        }
    }
    for name in dropped {
        estate.broken.insert(("environment", name));
    }
}

/// Checks that need an API's stage placement: the JWT authorizer and the logging role.
fn check_stages(resolved: &Resolved, sink: &mut Diagnostics) {
    for stage in &resolved.stages {
        let api = &resolved.estate.apis[stage.api];
        let env = &resolved.estate.environments[stage.env];
        let account = resolved.env_account[stage.env];
        // The baseline as written: one with a mistake in its parameters is reported as such,
        // not again as missing.
        let has_authorizer =
            resolved.estate.accounts[account].baselines.iter().any(|u| u.name.value.as_str() == "jwt-authorizer");
        let oidc =
            stage.settings.jwt.as_ref().filter(|j| matches!(j.value.issuer, crate::model::JwtIssuer::Oidc { .. }));
        if oidc.is_none() && !has_authorizer {
            // The baseline also sets the account's API Gateway CloudWatch role; without it,
            // API Gateway refuses a stage with logging, and every stage has logging.
            let account = &resolved.estate.accounts[account];
            sink.push(
                Diagnostic::new(
                    Code::MissingApiLoggingRole,
                    format!("account `{}` hosts `{}` but has no API Gateway logging role", account.name.value, api.name.value),
                )
                .primary(api.name.span, format!("deployed to `{}`", env.name.value))
                .secondary(account.name.span, "account without the `jwt-authorizer` baseline")
                .help("add `baseline \"jwt-authorizer\" code=\"s3://...\"` to the account: it also sets the CloudWatch role API Gateway logs with"),
            );
        }
        if let Some(jwt) = oidc.map(|j| &j.value)
            && !has_authorizer
        {
            let account = &resolved.estate.accounts[account];
            sink.push(
                Diagnostic::new(
                    Code::MissingJwtAuthorizer,
                    format!(
                        "`{}` validates JWTs, but account `{}` has no `jwt-authorizer` baseline",
                        api.name.value, account.name.value
                    ),
                )
                .primary(jwt.span, "needs the account's JWT authorizer")
                .secondary(account.name.span, "account without it")
                .help("add `baseline \"jwt-authorizer\" code=\"s3://...\"` to the account"),
            );
        }
    }
}

fn index<T>(items: &[T], name: impl Fn(&T) -> &Spanned<Name>) -> BTreeMap<Name, usize> {
    items.iter().enumerate().map(|(i, item)| (name(item).value.clone(), i)).collect()
}

/// Names that failed to lower: references to them are not reported again.
type Broken = std::collections::BTreeSet<(&'static str, String)>;

/// Looks a reference up; reports it when unknown (unless it names a dropped entity), with a
/// did-you-mean among the names `fits` accepts.
fn lookup(
    names: &BTreeMap<Name, usize>,
    broken: &Broken,
    wanted: &Spanned<Name>,
    code: Code,
    kind: &'static str,
    fits: &dyn Fn(&str) -> bool,
    sink: &mut Diagnostics,
) -> Option<usize> {
    if let Some(&i) = names.get(&wanted.value) {
        return Some(i);
    }
    if broken.contains(&(kind, wanted.value.as_str().to_owned())) {
        return None;
    }
    let candidates: Vec<&str> = names.keys().map(Name::as_str).filter(|n| fits(n)).collect();
    let suggestion = did_you_mean(wanted.value.as_str(), candidates.iter().copied());
    let help = match suggestion {
        Some(best) => format!("did you mean `{best}`?"),
        None if names.is_empty() => format!("the estate declares no {kind}"),
        None if candidates.is_empty() => format!("no {kind} of the estate fits here"),
        None => format!(
            "known: {}",
            candidates.iter().take(8).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                + if candidates.len() > 8 { ", ..." } else { "" }
        ),
    };
    sink.push(
        Diagnostic::new(code, format!("there is no {kind} `{}`", wanted.value))
            .primary(wanted.span, format!("unknown {kind}"))
            .help(help),
    );
    None
}

/// Typed parameters of an instance, by name.
pub type Params = BTreeMap<String, ParamValue>;
