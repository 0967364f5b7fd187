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
/// API Gateway's default quota of regional custom domains per account and region (an account's
/// `custom-domain-quota=` says it was raised).
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
    /// The API's routes.
    routes: &'a [crate::model::Route],
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
        let region_at = resolved.region_written(a);
        stage::check_domain(gateway, &estate.accounts[a], (region, region_at), env.name.value.as_str(), None, sink);
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
            routes: &api.routes,
        });
    }
    unique_domains(&created, sink);
    zones_of_one_account(&created, sink);
    unique_base_paths(&mappings, sink);
    hidden_routes(&mappings, sink);
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
            .help(if this.target.is_some() || first.target.is_some() {
                "a custom domain name exists once per region: map the stages on their environment's gateway (drop the API's `domain`), or give each stage a host of its own in its `deploy` block"
            } else {
                "a custom domain name exists once per region: give each environment's gateway a host of its own"
            });
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

/// A hosted zone belongs to one account: one zone id written for domains of two accounts is
/// wrong for one of them.
fn zones_of_one_account(created: &[Created<'_>], sink: &mut Diagnostics) {
    let mut owners: BTreeMap<&str, &Created<'_>> = BTreeMap::new();
    for this in created {
        let Some(zone) = &this.domain.hosted_zone else { continue };
        match owners.get(zone.value.as_str()) {
            Some(first) if first.place.0 != this.place.0 => {
                let span = first.domain.hosted_zone.as_ref().map_or(first.domain.host.span, |z| z.span);
                sink.push(
                    Diagnostic::new(
                        Code::AccountMismatch,
                        format!(
                            "hosted zone {} is written for account `{}` ({}) and for account `{}` ({})",
                            zone.value, first.account_name, first.by, this.account_name, this.by
                        ),
                    )
                    .primary(zone.span, format!("the zone for account `{}`", this.account_name))
                    .secondary(span, format!("the same zone for account `{}`", first.account_name))
                    .help("a hosted zone belongs to one account, and CloudFormation writes records only into zones of its own account: give each account the id of its own zone (or a `dns-zone`)"),
                );
            }
            Some(_) => {}
            None => {
                owners.insert(zone.value.as_str(), this);
            }
        }
    }
}

/// Warns where one stage's mapping takes requests meant for another stage's route: with
/// `lending` and `lending/v1` on one domain, `/lending/v1/...` reaches the second stage
/// (API Gateway picks the longest mapping), so the first one's `/v1` routes cannot be called.
fn hidden_routes(mappings: &BTreeMap<(&str, Creator), Vec<Mapping<'_>>>, sink: &mut Diagnostics) {
    for ((host, _), list) in mappings {
        for shorter in list {
            for longer in list {
                let rest = match (shorter.path, longer.path) {
                    (None, Some(p)) => p,
                    (Some(s), Some(p)) => match p.strip_prefix(s).and_then(|r| r.strip_prefix('/')) {
                        Some(rest) => rest,
                        None => continue,
                    },
                    _ => continue,
                };
                let prefix = format!("/{rest}");
                for route in shorter.routes {
                    let path = route.path.value.as_str();
                    if path != prefix && !path.starts_with(&format!("{prefix}/")) {
                        continue;
                    }
                    let whole = shorter.path.map_or_else(|| path.to_owned(), |s| format!("/{s}{path}"));
                    sink.push(
                        Diagnostic::new(
                            Code::RouteHiddenByMapping,
                            format!("`{} {whole}` on `{host}` reaches {}, not {}", route.method.value.as_str(), longer.stage, shorter.stage),
                        )
                        .primary(route.path.span, "this route cannot be called")
                        .secondary(longer.span, format!("{} is mapped here", longer.stage))
                        .help("API Gateway sends a request to the longest base path that matches: change this route or one of the base paths"),
                    );
                }
            }
        }
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
        let account = &estate.accounts[a];
        let quota = account.custom_domain_quota.as_ref().map_or(MAX_CUSTOM_DOMAINS, |q| q.value as usize);
        let Some(over) = list.last().filter(|_| list.len() > quota) else {
            continue;
        };
        let mut d = Diagnostic::new(
            Code::ApiGatewayQuota,
            format!(
                "account `{}` would hold {} custom domains in {region}; its quota is {quota}",
                account.name.value,
                list.len()
            ),
        )
        .primary(over.domain.host.span, format!("{} past the quota, this one among them", list.len() - quota));
        d = match &account.custom_domain_quota {
            Some(q) => d.secondary(q.span, "the quota as written for the account"),
            None => d.secondary(account.name.span, "the account, at API Gateway's default quota"),
        };
        sink.push(d.help(format!(
            "120 custom domains per account and region is API Gateway's default, adjustable quota: have it raised (Service Quotas), then write `custom-domain-quota={}` (or more) on account `{}`; or map stages on their environment's gateway instead of domains of their own",
            list.len(),
            account.name.value
        )));
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

#[cfg(test)]
mod tests {
    use crate::diagnostics::Code;
    use crate::source::RawFile;

    /// The codes of compiling an account with `gateways` gateways, and `quota` written on it.
    fn codes(gateways: usize, quota: Option<u32>) -> Vec<Code> {
        let quota = quota.map(|q| format!(" custom-domain-quota={q}")).unwrap_or_default();
        let mut text = format!(
            "platform \"p\" {{\n    management-account \"111111111111\"\n    region \"eu-west-1\"\n    datadog site=\"datadoghq.eu\" notify=\"@a\"\n}}\ntenant \"t\"\naccount \"a\" tenant=\"t\" id=\"222222222222\"{quota}\n"
        );
        for i in 0..gateways {
            text.push_str(&format!(
                "environment \"e{i}\" account=\"a\" tier=\"test\" {{\n    gateway \"e{i}.api.example.com\" hosted-zone=\"Z0A\"\n}}\n"
            ));
        }
        let files = [RawFile { path: "main.kdl".into(), bytes: text.into_bytes() }];
        let options = crate::Options { today: crate::model::Date::from_days_since_epoch(20_785) };
        crate::compile(&files, &options).diagnostics.iter().map(|d| d.code).collect()
    }

    #[test]
    fn the_custom_domain_quota_is_the_default_unless_raised() {
        assert_eq!(codes(120, None), Vec::<Code>::new());
        assert_eq!(codes(121, None), vec![Code::ApiGatewayQuota]);
        assert_eq!(codes(121, Some(121)), Vec::<Code>::new());
        assert_eq!(codes(122, Some(121)), vec![Code::ApiGatewayQuota]);
    }
}
