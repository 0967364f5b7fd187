//! What each stack is and what it guarantees, as typed data: the `facts` of its manifest entry
//! (`idpc-facts/1`). `idpc diff` compares these instead of reading security back out of the
//! emitted JSON: who the stack is (kind, tenant, account, environment, API, tier, domain,
//! routes: the identity a rename keeps), what protects it (allow-list, mTLS, TLS policy,
//! execute-api endpoint, JWT issuer and the scopes of each route, logging), and the values a
//! person decides on (throttling, SLO, monitor thresholds, budgets, retention, tier, version),
//! each with the direction in which it weakens a guarantee.
//!
//! Facts are computed from the same resolved settings the emitters read, never from the
//! artifacts; `tests/deployable.rs` reads every built stage's template back and checks that
//! its facts say what the template does.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::graph::{Stack, StackKind};
use crate::model::{CustomDomain, JwtIssuer, MonitorKind, ParamValue, Tier};
use crate::resolve::{Owner, Resolved};

/// Format marker of the facts (the manifest's `facts_format`), bumped when their meaning
/// changes incompatibly.
pub const FORMAT: &str = "idpc-facts/1";

/// Days the access logs of a stage are kept (`AWS::Logs::LogGroup` of every stage stack).
pub const ACCESS_LOG_RETENTION_DAYS: u32 = 400;

/// One stack's facts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// `organisation`, `account`, `environment`, `gateway` or `api-stage`.
    pub kind: String,
    /// The tenant it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The account (name) it deploys into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The account's id, once it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The environment of a gateway, an environment baseline or an API stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The API of an API stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// The environment's tier (`production`, `test`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Whether anything of the stack serves or protects production.
    #[serde(default)]
    pub production: bool,
    /// The name the API or environment had before (`renamed-from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// The custom domain the stack serves on (a gateway's, or the stage's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The stage's base path on its domain (`None`: the root, or no domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_path: Option<String>,
    /// What protects the requests it serves (gateways and API stages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
    /// An API stage's routes (`METHOD /path`) with what each requires.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routes: BTreeMap<String, Route>,
    /// Values a person decides on, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub decisions: BTreeMap<String, Decision>,
}

/// What protects the requests a stack serves.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Security {
    /// Source ranges of the resource policy's allow-list, sorted; `None`: any address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_list: Option<Vec<String>>,
    /// Custom domains this stack creates, with their TLS policy and mTLS truststore.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub domains: BTreeMap<String, Domain>,
    /// Whether the default execute-api endpoint is disabled (only the custom domain serves).
    #[serde(default)]
    pub endpoint_disabled: bool,
    /// Whether full requests and responses are logged.
    #[serde(default)]
    pub data_trace: bool,
    /// Whether every call is written to an access log.
    #[serde(default)]
    pub access_logs: bool,
    /// The issuer and audience the platform's authorizer accepts tokens of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Token>,
    /// Cognito user pools whose tokens API Gateway accepts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_pools: Vec<String>,
}

/// A custom domain's protection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Domain {
    /// `TLS_1_2`, or an enhanced `SecurityPolicy_*`.
    pub tls_policy: String,
    /// `s3://` URI of the mTLS truststore; `None`: no client certificate required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truststore: Option<String>,
    /// The truststore's pinned S3 version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truststore_version: Option<String>,
}

/// The tokens a stage accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Issuer URL, byte for byte.
    pub issuer: String,
    /// Audience.
    pub audience: String,
}

/// What a route requires of a caller.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Whether a valid token is required.
    pub jwt: bool,
    /// OAuth scopes the token must carry, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// A value a person decides on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// A number or a string.
    pub value: serde_json::Value,
    /// Which change weakens the guarantee the value gives.
    pub weakens: Weakens,
}

/// Which change of a decision weakens a guarantee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weakens {
    /// A higher value (a throttle, a latency threshold).
    Raised,
    /// A lower value (an SLO target, a retention).
    Lowered,
    /// A budget raised by more than the reviewer's factor (`idpc diff --budget-factor`).
    RaisedPastFactor,
    /// No direction: shown before and after, not a warning.
    Neither,
}

fn decision(value: impl Into<serde_json::Value>, weakens: Weakens) -> Decision {
    Decision { value: value.into(), weakens }
}

fn tier(resolved: &Resolved, env: usize) -> Tier {
    resolved.estate.environments[env].tier.value
}

fn domain(domain: &CustomDomain, mtls: Option<&crate::model::Mtls>) -> Domain {
    Domain {
        tls_policy: domain.tls_policy.value.clone(),
        truststore: mtls.and_then(|m| m.truststore.as_ref()).map(|t| t.value.clone()),
        truststore_version: mtls.and_then(|m| m.version.as_ref()).map(|v| v.value.clone()),
    }
}

/// The baselines' parameters of an account or environment, as decisions: a budget weakens
/// when raised past the reviewer's factor, a retention when shortened.
fn baseline_decisions(resolved: &Resolved, owner: Owner, out: &mut BTreeMap<String, Decision>) {
    for (_, instance) in resolved.instances_of(owner) {
        for (param, value) in &instance.params {
            let weakens = if param.ends_with("retention-days") {
                Weakens::Lowered
            } else if param.ends_with("monthly-limit") {
                Weakens::RaisedPastFactor
            } else {
                Weakens::Neither
            };
            let value = match value {
                ParamValue::String(s) => serde_json::Value::from(s.as_str()),
                ParamValue::Integer(i) => (*i).into(),
                ParamValue::Number(n) => (*n).into(),
                ParamValue::Boolean(b) => (*b).into(),
            };
            out.insert(format!("baseline `{}` {param}", instance.name.as_str()), decision(value, weakens));
        }
    }
}

/// The facts of one stack of the plan.
pub fn of(resolved: &Resolved, stack: &Stack) -> Facts {
    let estate = &resolved.estate;
    let mut facts =
        Facts { account: Some(stack.account.clone()), account_id: stack.account_id.clone(), ..Facts::default() };
    let tenant_of_account = |a: usize| Some(estate.tenants[resolved.account_tenant[a]].name.value.as_str().to_owned());
    match stack.kind {
        StackKind::Organisation => {
            facts.kind = "organisation".into();
            facts.production = true;
        }
        StackKind::Account(a) => {
            facts.kind = "account".into();
            facts.tenant = tenant_of_account(a);
            // An account holds the stages of every environment in it.
            facts.production = resolved
                .env_account
                .iter()
                .enumerate()
                .any(|(e, &of)| of == a && resolved.env_active[e] && tier(resolved, e) == Tier::Production);
            baseline_decisions(resolved, Owner::Account(a), &mut facts.decisions);
        }
        StackKind::Environment(e) | StackKind::Gateway(e) => {
            let env = &estate.environments[e];
            facts.tenant = tenant_of_account(resolved.env_account[e]);
            facts.environment = Some(env.name.value.as_str().to_owned());
            facts.tier = Some(env.tier.value.as_str().to_owned());
            facts.production = env.tier.value == Tier::Production;
            facts.renamed_from = env.renamed_from.as_ref().map(|n| n.value.as_str().to_owned());
            facts.domain = env.gateway.as_ref().map(|g| g.host.value.clone());
            facts.decisions.insert("tier".into(), decision(env.tier.value.as_str(), Weakens::Neither));
            if let (StackKind::Gateway(_), Some(gateway)) = (stack.kind, &env.gateway) {
                facts.kind = "gateway".into();
                let domains = BTreeMap::from([(gateway.host.value.clone(), domain(gateway, gateway.mtls.as_ref()))]);
                facts.security = Some(Security { domains, ..Security::default() });
            } else {
                facts.kind = "environment".into();
                baseline_decisions(resolved, Owner::Environment(e), &mut facts.decisions);
            }
        }
        StackKind::Stage(s) => stage(resolved, s, &mut facts),
    }
    facts
}

fn stage(resolved: &Resolved, s: usize, facts: &mut Facts) {
    let estate = &resolved.estate;
    let stage = &resolved.stages[s];
    let (api, env) = (&estate.apis[stage.api], &estate.environments[stage.env]);
    let settings = &stage.settings;
    facts.kind = "api-stage".into();
    facts.tenant = Some(estate.tenants[resolved.env_tenant(stage.env)].name.value.as_str().to_owned());
    facts.environment = Some(env.name.value.as_str().to_owned());
    facts.api = Some(api.name.value.as_str().to_owned());
    facts.tier = Some(env.tier.value.as_str().to_owned());
    facts.production = env.tier.value == Tier::Production;
    facts.renamed_from = api.renamed_from.as_ref().map(|n| n.value.as_str().to_owned());
    let mut security = Security { access_logs: true, data_trace: false, ..Security::default() };
    if let Some(endpoint) = &settings.endpoint {
        facts.domain = Some(endpoint.domain.value.host.value.clone());
        facts.base_path = endpoint.base_path.value.clone();
        security.endpoint_disabled = true;
        if endpoint.dedicated {
            let mtls = endpoint.mtls.as_ref().map(|m| &m.value);
            security.domains.insert(endpoint.domain.value.host.value.clone(), domain(&endpoint.domain.value, mtls));
        }
    }
    if !api.security.allow_ip.is_empty() {
        security.allow_list = Some(super::openapi::allow_ranges(api));
    }
    match settings.jwt.as_ref().map(|j| &j.value.issuer) {
        Some(JwtIssuer::Oidc { issuer, audience }) => {
            security.token = Some(Token { issuer: issuer.value.clone(), audience: audience.value.clone() });
        }
        Some(JwtIssuer::Cognito { user_pool }) => security.user_pools.push(user_pool.value.text.clone()),
        None => {}
    }
    let jwt = settings.jwt.is_some();
    for route in &api.routes {
        let mut scopes = if jwt { route.scopes.clone() } else { Vec::new() };
        scopes.sort();
        scopes.dedup();
        facts.routes.insert(route.key(), Route { jwt, scopes });
    }
    facts.security = Some(security);

    let d = &mut facts.decisions;
    d.insert("version".into(), decision(api.version.value.to_string(), Weakens::Neither));
    d.insert("tier".into(), decision(env.tier.value.as_str(), Weakens::Neither));
    d.insert("access log retention (days)".into(), decision(ACCESS_LOG_RETENTION_DAYS, Weakens::Lowered));
    if let Some(throttle) = &settings.throttle {
        d.insert("throttle rate (requests/s)".into(), decision(throttle.value.rate.value, Weakens::Raised));
        d.insert("throttle burst".into(), decision(throttle.value.burst.value, Weakens::Raised));
    }
    if let Some(slo) = &settings.slo {
        d.insert("SLO availability (%)".into(), decision(slo.value.availability.value, Weakens::Lowered));
        d.insert("SLO timeframe".into(), decision(slo.value.timeframe.value.as_str(), Weakens::Neither));
    }
    for monitor in &settings.monitors {
        let kind = monitor.value.kind.as_str();
        let (what, value, weakens) = match monitor.value.kind {
            MonitorKind::Latency { p95_ms } => ("p95 above (ms)", serde_json::Value::from(p95_ms), Weakens::Raised),
            MonitorKind::Errors { max_5xx_rate } => ("5xx rate above", max_5xx_rate.into(), Weakens::Raised),
            MonitorKind::TrafficDrop { min_requests_per_5m } => {
                ("requests per 5 min below", min_requests_per_5m.into(), Weakens::Lowered)
            }
        };
        d.insert(format!("monitor `{kind}` {what}"), decision(value, weakens));
        if let Some(priority) = &monitor.value.priority {
            // Priority 1 pages first: a higher number is a slower response.
            d.insert(format!("monitor `{kind}` priority"), decision(priority.value, Weakens::Raised));
        }
    }
}
