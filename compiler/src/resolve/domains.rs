//! Estate-wide deployability of custom domains and API Gateway's quotas, checked on the
//! resolved stages before anything is rendered:
//!
//! - a gateway's certificate is an ACM certificate of the environment's own account and region
//!   (API Gateway: "the certificate must be in the same Region" for a regional custom domain,
//!   and only certificates of the calling account can be attached), and a hosted zone it names
//!   is one the account can have (not an id for an account idpc has yet to request);
//! - a custom domain name is created once per region in the whole estate (API Gateway refuses a
//!   second `CreateDomainName` for a name that exists in the region), and its alias record once
//!   per hosted zone (Route 53 refuses a second record of the same name and type);
//! - each base path once per domain (`CreateBasePathMapping` answers `ConflictException`);
//! - per account and region: at most 600 regional REST APIs (a hard quota) and 120 custom
//!   domains (the default quota); at most 200 multi-level API mappings per domain.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use std::collections::BTreeMap;

use super::{Resolved, stage};
use crate::diagnostics::{Code, Diagnostic, Diagnostics};
use crate::model::CustomDomain;
use crate::source::Span;

/// API Gateway's hard quota of regional REST APIs per account and region.
pub const MAX_REST_APIS: usize = 600;
/// API Gateway's default quota of regional custom domains per account and region.
pub const MAX_CUSTOM_DOMAINS: usize = 120;
/// API Gateway's quota of multi-level API mappings per custom domain.
pub const MAX_MULTI_LEVEL_MAPPINGS: usize = 200;

/// One custom domain the build creates: a gateway (its own stack) or a stage's own domain.
struct Created<'a> {
    domain: &'a CustomDomain,
    /// Account index and region.
    place: (usize, &'a str),
    /// Who creates it, for messages.
    by: String,
    /// The `deploy` entry of a stage's own domain.
    target: Option<Span>,
    /// Where its records go.
    zone: Option<stage::Zone>,
    /// The account's name, for messages.
    account_name: &'a str,
}

/// What creates a domain that stages are mapped on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Creator {
    /// An environment's gateway.
    Gateway(usize),
    /// A stage's own domain.
    Stage(usize),
}

/// One stage mapped on a domain.
struct Mapping<'a> {
    path: Option<&'a str>,
    span: Span,
    stage: String,
}

/// Runs every check of this module.
pub fn check(resolved: &Resolved, sink: &mut Diagnostics) {
    let estate = &resolved.estate;
    let mut created: Vec<Created<'_>> = Vec::new();
    for (e, env) in estate.environments.iter().enumerate() {
        let Some(gateway) = env.gateway.as_ref().filter(|_| resolved.env_active[e]) else {
            continue;
        };
        let a = resolved.env_account[e];
        let region = resolved.env_region(e);
        stage::check_domain(gateway, &estate.accounts[a], region, env.name.value.as_str(), None, sink);
        created.push(Created {
            domain: gateway,
            place: (a, region.as_str()),
            by: format!("the gateway of `{}`", env.name.value),
            target: None,
            zone: stage::zone_of(gateway, &estate.accounts[a]),
            account_name: estate.accounts[a].name.value.as_str(),
        });
    }
    let mut rest_apis: BTreeMap<(usize, &str), Vec<usize>> = BTreeMap::new();
    // Mappings by the domain they are made on: a gateway (its environment) or a stage's own
    // domain (the stage); a domain created twice is reported once, as such.
    let mut mappings: BTreeMap<(&str, Creator), Vec<Mapping<'_>>> = BTreeMap::new();
    for (s, stage) in resolved.stages.iter().enumerate() {
        let a = resolved.env_account[stage.env];
        let region = resolved.env_region(stage.env).as_str();
        rest_apis.entry((a, region)).or_default().push(s);
        let Some(endpoint) = &stage.settings.endpoint else {
            continue;
        };
        let api = &estate.apis[stage.api];
        let env = &estate.environments[stage.env];
        let name = format!("`{}` in `{}`", api.name.value, env.name.value);
        if endpoint.dedicated {
            created.push(Created {
                domain: &endpoint.domain.value,
                place: (a, region),
                by: name.clone(),
                target: Some(api.deploy[stage.settings.deploy].env.span),
                zone: endpoint.zone.clone(),
                account_name: estate.accounts[a].name.value.as_str(),
            });
        }
        let creator = if endpoint.dedicated { Creator::Stage(s) } else { Creator::Gateway(stage.env) };
        mappings.entry((endpoint.domain.value.host.value.as_str(), creator)).or_default().push(Mapping {
            path: endpoint.base_path.value.as_deref(),
            span: endpoint.base_path.span,
            stage: name,
        });
    }
    unique_domains(&created, sink);
    unique_base_paths(&mappings, sink);
    quotas(resolved, &rest_apis, &created, &mappings, sink);
}

fn unique_domains(created: &[Created<'_>], sink: &mut Diagnostics) {
    let mut by_region: BTreeMap<(&str, &str), &Created<'_>> = BTreeMap::new();
    let mut by_zone: BTreeMap<(&str, String), &Created<'_>> = BTreeMap::new();
    for this in created {
        let host = this.domain.host.value.as_str();
        let with_target = |d: Diagnostic| match this.target {
            Some(t) => d.secondary(t, "deployed here"),
            None => d,
        };
        if let Some(first) = by_region.get(&(host, this.place.1)) {
            let mut d = Diagnostic::new(
                Code::DuplicateDomain,
                format!("`{host}` is created twice in {}: by {} and by {}", this.place.1, first.by, this.by),
            )
            .primary(this.domain.host.span, format!("created again by {}", this.by))
            .help("a custom domain name exists once per region: give each environment its own gateway host, or map the stages on the environment's gateway (drop `domain`)");
            if first.domain.host.span != this.domain.host.span {
                d = d.secondary(first.domain.host.span, format!("first created by {}", first.by));
            }
            sink.push(with_target(d));
            continue;
        }
        by_region.insert((host, this.place.1), this);
        let Some(zone) = &this.zone else {
            continue;
        };
        let zone = match zone {
            stage::Zone::Written(id) => format!("hosted zone {id}"),
            stage::Zone::Account => format!("the dns-zone of account `{}`", this.account_name),
        };
        if let Some(first) = by_zone.get(&(host, zone.clone())) {
            let span = this.domain.hosted_zone.as_ref().map_or(this.domain.host.span, |z| z.span);
            let mut d = Diagnostic::new(
                Code::DuplicateDomain,
                format!(
                    "the alias record `{host}` is created twice in {zone}: by {} ({}) and by {} ({})",
                    first.by, first.place.1, this.by, this.place.1
                ),
            )
            .primary(span, "second alias record of the same name")
            .help("a hosted zone holds one record of a name and type: use a host of its own for each region");
            if first.domain.host.span != this.domain.host.span {
                d = d.secondary(first.domain.host.span, format!("first created by {}", first.by));
            }
            sink.push(with_target(d));
            continue;
        }
        by_zone.insert((host, zone), this);
    }
}

fn unique_base_paths(mappings: &BTreeMap<(&str, Creator), Vec<Mapping<'_>>>, sink: &mut Diagnostics) {
    for ((host, _), list) in mappings {
        let mut seen: BTreeMap<Option<&str>, &Mapping<'_>> = BTreeMap::new();
        for mapping in list {
            let Some(first) = seen.get(&mapping.path) else {
                seen.insert(mapping.path, mapping);
                continue;
            };
            let path = mapping.path.map_or_else(|| "the root".to_owned(), |p| format!("`/{p}`"));
            let mut d = Diagnostic::new(
                Code::DuplicateBasePath,
                format!("{} and {} are both mapped on `{host}` under {path}", first.stage, mapping.stage),
            )
            .primary(mapping.span, format!("{path} again"))
            .help("give one of the APIs another `base-path`");
            if first.span != mapping.span {
                d = d.secondary(first.span, format!("{} is mapped here", first.stage));
            }
            sink.push(d);
        }
    }
}

fn quotas(
    resolved: &Resolved,
    rest_apis: &BTreeMap<(usize, &str), Vec<usize>>,
    created: &[Created<'_>],
    mappings: &BTreeMap<(&str, Creator), Vec<Mapping<'_>>>,
    sink: &mut Diagnostics,
) {
    let estate = &resolved.estate;
    for (&(a, region), stages) in rest_apis {
        let Some(&over) = stages.get(MAX_REST_APIS) else {
            continue;
        };
        let stage = &resolved.stages[over];
        let account = &estate.accounts[a];
        sink.push(
            Diagnostic::new(
                Code::ApiGatewayQuota,
                format!(
                    "account `{}` would hold {} REST APIs in {region}; API Gateway allows {MAX_REST_APIS}",
                    account.name.value,
                    stages.len()
                ),
            )
            .primary(
                estate.apis[stage.api].deploy[stage.settings.deploy].env.span,
                format!("REST API number {} in this account and region", MAX_REST_APIS + 1),
            )
            .secondary(account.name.span, "the account")
            .help("600 regional REST APIs per account and region is a hard quota: move environments to another account or region")
            .note("every API stage is one REST API"),
        );
    }
    let mut domains: BTreeMap<(usize, &str), Vec<&Created<'_>>> = BTreeMap::new();
    for this in created {
        domains.entry(this.place).or_default().push(this);
    }
    for (&(a, region), list) in &domains {
        let Some(over) = list.get(MAX_CUSTOM_DOMAINS) else {
            continue;
        };
        let account = &estate.accounts[a];
        sink.push(
            Diagnostic::new(
                Code::ApiGatewayQuota,
                format!(
                    "account `{}` would hold {} custom domains in {region}; API Gateway allows {MAX_CUSTOM_DOMAINS}",
                    account.name.value,
                    list.len()
                ),
            )
            .primary(over.domain.host.span, format!("custom domain number {} here", MAX_CUSTOM_DOMAINS + 1))
            .secondary(account.name.span, "the account")
            .help("map stages on their environment's gateway instead of domains of their own, or have the account's quota raised first"),
        );
    }
    for ((host, _), list) in mappings {
        let multi: Vec<&Mapping<'_>> = list.iter().filter(|m| m.path.is_some_and(|p| p.contains('/'))).collect();
        let Some(over) = multi.get(MAX_MULTI_LEVEL_MAPPINGS) else {
            continue;
        };
        sink.push(
            Diagnostic::new(
                Code::ApiGatewayQuota,
                format!(
                    "`{host}` would carry {} multi-level API mappings; API Gateway allows {MAX_MULTI_LEVEL_MAPPINGS}",
                    multi.len()
                ),
            )
            .primary(over.span, format!("mapping number {} with more than one level", MAX_MULTI_LEVEL_MAPPINGS + 1))
            .help("use single-level base paths (`accounts`, not `accounts/v1`), which this quota does not count"),
        );
    }
}
