//! References between entities: tenants, accounts, environments, deployments, `uses`,
//! baselines (declaration, scope, parameters, `requires`) and compliance profiles.
//!
//! The output, `Resolved`, holds indices into the (sorted) model instead of names, the API
//! stages that will be built (an expired ephemeral environment builds nothing), and the
//! baseline instances with their typed parameters. Cycles are not looked for here: `graph`
//! finds them.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

mod baselines;

use std::collections::BTreeMap;

use crate::diagnostics::{Code, Diagnostic, Diagnostics, did_you_mean};
use crate::model::{Date, Estate, Name, ParamValue, Platform, Region, Spanned, Tier};
use crate::source::Span;

pub use baselines::Instance;

/// What a baseline instance is applied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// Index into `Estate::accounts`.
    Account(usize),
    /// Index into `Estate::environments`.
    Environment(usize),
}

/// One API in one environment.
#[derive(Clone, Debug)]
pub struct Stage {
    /// Index into `Estate::apis`.
    pub api: usize,
    /// Index into `Estate::environments`.
    pub env: usize,
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
}

/// Resolves every reference; `None` when the estate cannot be resolved at all (no platform or
/// errors in referenced entities), with the reasons in `sink`.
pub fn resolve(estate: Estate, today: Date, sink: &mut Diagnostics) -> Option<Resolved> {
    let tenants = index(&estate.tenants, |t| &t.name);
    let accounts = index(&estate.accounts, |a| &a.name);
    let envs = index(&estate.environments, |e| &e.name);
    let apis = index(&estate.apis, |a| &a.name);
    let profiles = index(&estate.profiles, |p| &p.name);
    let errors_before = sink.error_count();

    for tenant in &estate.tenants {
        if let Some(profile) = &tenant.compliance {
            lookup(&profiles, &estate.broken, profile, Code::UnknownProfile, "compliance profile", sink);
        }
    }
    let account_tenant: Vec<Option<usize>> = estate
        .accounts
        .iter()
        .map(|a| lookup(&tenants, &estate.broken, &a.tenant, Code::UnknownTenant, "tenant", sink))
        .collect();
    let env_account: Vec<Option<usize>> = estate
        .environments
        .iter()
        .map(|e| lookup(&accounts, &estate.broken, &e.account, Code::UnknownAccount, "account", sink))
        .collect();
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

    let mut stages = Vec::new();
    let mut deployed: BTreeMap<(usize, usize), Span> = BTreeMap::new();
    for (a, api) in estate.apis.iter().enumerate() {
        for target in &api.deploy {
            if let Some(e) = lookup(&envs, &estate.broken, target, Code::UnknownEnvironment, "environment", sink) {
                deployed.insert((a, e), target.span);
                if env_active[e] {
                    stages.push(Stage { api: a, env: e });
                }
            }
        }
        if let (Some(mtls), None) = (&api.security.mtls, &api.domain) {
            sink.push(
                Diagnostic::new(
                    Code::MtlsWithoutDomain,
                    format!("API `{}` has mTLS but no custom domain", api.name.value),
                )
                .primary(mtls.span, "mutual TLS is configured on a custom domain")
                .help("add `domain \"...\" certificate=\"arn:aws:acm:...\"` to the API, or remove `mtls`"),
            );
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
            let Some(b) = lookup(&apis, &estate.broken, used, Code::UnknownApi, "API", sink) else {
                continue;
            };
            for target in &api.deploy {
                let Some(&e) = envs.get(&target.value) else {
                    continue;
                };
                if !deployed.contains_key(&(b, e)) {
                    sink.push(
                        Diagnostic::new(
                            Code::UsesNotDeployed,
                            format!(
                                "`{}` uses `{}`, which is not deployed to `{}`",
                                api.name.value, used.value, target.value
                            ),
                        )
                        .primary(used.span, format!("not deployed to `{}`", target.value))
                        .secondary(target.span, format!("`{}` is deployed here", api.name.value))
                        .help(format!(
                            "add `{}` to the `deploy` list of `{}`, or remove it from this one",
                            target.value, used.value
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

    // A reference to an entity dropped for its own errors is not reported again, but the
    // estate cannot be resolved without it: every index below must be valid.
    let (Some(account_tenant), Some(env_account)) = (
        account_tenant.into_iter().collect::<Option<Vec<usize>>>(),
        env_account.into_iter().collect::<Option<Vec<usize>>>(),
    ) else {
        return None;
    };
    let instances = baselines::instantiate(&estate, &env_account, sink);
    // Without a platform (missing, or dropped for its own errors) regions are unknown: every
    // check above still ran, the per-stage ones below cannot.
    if sink.error_count() > errors_before || estate.platform.is_none() {
        return None;
    }
    let resolved = Resolved { estate, account_tenant, env_account, env_active, stages, uses, instances };
    check_stages(&resolved, sink);
    (sink.error_count() == errors_before).then_some(resolved)
}

/// Checks that need an API's stage placement: regions of ARNs, the JWT authorizer.
fn check_stages(resolved: &Resolved, sink: &mut Diagnostics) {
    for stage in &resolved.stages {
        let api = &resolved.estate.apis[stage.api];
        let env = &resolved.estate.environments[stage.env];
        let account = resolved.env_account[stage.env];
        let region = resolved.env_region(stage.env);
        let mut arns = Vec::new();
        if let crate::model::Backend::Lambda(arn) = &api.backend.value {
            arns.push((arn, api.backend.span, "Lambda function"));
        }
        if let Some(domain) = &api.domain {
            arns.push((&domain.certificate.value, domain.certificate.span, "certificate"));
        }
        for (arn, span, what) in arns {
            if &arn.region != region {
                sink.push(
                    Diagnostic::new(
                        Code::RegionMismatch,
                        format!("the {what} is in {}, but `{}` deploys to {region}", arn.region, env.name.value),
                    )
                    .primary(span, format!("{what} in {}", arn.region))
                    .help(format!("API Gateway needs the {what} in the stage's own region ({region})")),
                );
            }
        }
        let has_authorizer = resolved.has_baseline(Owner::Account(account), "jwt-authorizer");
        if api.security.jwt.is_none() && !has_authorizer {
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
        if let Some(jwt) = &api.security.jwt
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

fn lookup(
    names: &BTreeMap<Name, usize>,
    broken: &Broken,
    wanted: &Spanned<Name>,
    code: Code,
    kind: &'static str,
    sink: &mut Diagnostics,
) -> Option<usize> {
    if let Some(&i) = names.get(&wanted.value) {
        return Some(i);
    }
    if broken.contains(&(kind, wanted.value.as_str().to_owned())) {
        return None;
    }
    let suggestion = did_you_mean(wanted.value.as_str(), names.keys().map(Name::as_str));
    let help = match suggestion {
        Some(best) => format!("did you mean `{best}`?"),
        None if names.is_empty() => format!("the estate declares no {kind}"),
        None => format!(
            "known: {}",
            names.keys().take(8).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                + if names.len() > 8 { ", ..." } else { "" }
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
