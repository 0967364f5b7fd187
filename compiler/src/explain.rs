//! `idpc explain stage API ENV`: one API stage's effective settings, each with the value it
//! takes, which node decided it (the API, the stage's `deploy` block, the environment and its
//! gateway, the account, tenant or platform, or idpc's default) and where that is written.
//!
//! A reader of the resolved estate, around the pipeline like `review`: it changes nothing and
//! prints nothing itself.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use std::fmt::Write as _;

use crate::graph::{Plan, StackKind};
use crate::model::{JwtIssuer, MonitorKind};
use crate::resolve::stage::Zone;
use crate::resolve::{Origin, Resolved, StageBackend};
use crate::source::{SourceSet, Span};

/// Why a stage cannot be explained.
#[derive(Debug, PartialEq, Eq)]
pub enum NoStage {
    /// The estate has no API of that name.
    UnknownApi,
    /// The API is not built in that environment; these are the environments it is built in.
    NotDeployed(Vec<String>),
}

/// One line of the explanation.
struct Line {
    setting: String,
    value: String,
    by: String,
    at: String,
}

/// The explanation of the stage of `api` in `env` (plain text, one setting a line).
pub fn stage(resolved: &Resolved, plan: &Plan, sources: &SourceSet, api: &str, env: &str) -> Result<String, NoStage> {
    let estate = &resolved.estate;
    let a = estate.apis.iter().position(|x| x.name.value.as_str() == api).ok_or(NoStage::UnknownApi)?;
    let Some(s) =
        resolved.stages.iter().position(|st| st.api == a && estate.environments[st.env].name.value.as_str() == env)
    else {
        let built = resolved.stages.iter().filter(|st| st.api == a);
        return Err(NoStage::NotDeployed(built.map(|st| estate.environments[st.env].name.value.to_string()).collect()));
    };
    let stage = &resolved.stages[s];
    let settings = &stage.settings;
    let api = &estate.apis[a];
    let environment = &estate.environments[stage.env];
    let account = &estate.accounts[resolved.env_account[stage.env]];
    let tenant = &estate.tenants[resolved.env_tenant(stage.env)];
    let deploy = &api.deploy[settings.deploy];
    let at = |span: Span| sources.location(span);
    let by = |origin: Origin| match origin {
        Origin::Api => format!("api `{}`", api.name.value),
        Origin::Deploy => format!("deploy \"{}\"", deploy.env.value),
        Origin::Environment => format!("environment `{}`", environment.name.value),
        Origin::Account => format!("account `{}`", account.name.value),
        Origin::Tenant => format!("tenant `{}`", tenant.name.value),
        Origin::Platform => "platform".to_owned(),
        Origin::Default => "default".to_owned(),
    };
    let mut lines = Vec::new();
    let mut line = |setting: &str, value: String, by: String, span: Span| {
        lines.push(Line { setting: setting.to_owned(), value, by, at: at(span) });
    };

    line("deployed by", format!("deploy \"{}\"", deploy.env.value), by(Origin::Api), deploy.env.span);
    line("tenant", tenant.name.value.to_string(), by(Origin::Account), account.tenant.span);
    let account_value = match &account.id {
        Some(id) => format!("{} ({})", account.name.value, id.value.0),
        None => format!("{} (requested: its id is known once the organisation stack ran)", account.name.value),
    };
    line("account", account_value, by(Origin::Environment), environment.account.span);
    line("region", settings.region.value.to_string(), by(settings.region.origin), settings.region.span);
    line("tier", environment.tier.value.as_str().to_owned(), by(Origin::Environment), environment.tier.span);
    let backend = match &settings.backend.value {
        StageBackend::Lambda(function) => format!("Lambda {}", function.arn()),
        StageBackend::Http(url) => format!("HTTPS {url}"),
    };
    line("backend", backend, by(settings.backend.origin), settings.backend.span);
    match &settings.endpoint {
        Some(endpoint) => {
            let domain = &endpoint.domain;
            let created = if endpoint.dedicated {
                "created by this stage's stack".to_owned()
            } else {
                format!(
                    "the gateway of `{}`, created by idpc-gateway-{}",
                    environment.name.value, environment.name.value
                )
            };
            line("url", endpoint.url(), by(domain.origin), domain.value.host.span);
            line("domain", format!("{} ({created})", domain.value.host.value), by(domain.origin), domain.span);
            let path =
                endpoint.base_path.value.as_deref().map_or_else(|| "(the domain's root)".to_owned(), str::to_owned);
            line("base path", path, by(endpoint.base_path.origin), endpoint.base_path.span);
            let zone = match (&endpoint.zone, &domain.value.hosted_zone) {
                (Some(Zone::Written(id)), Some(written)) => {
                    Some((format!("hosted zone {id}"), written.span, domain.origin))
                }
                (Some(Zone::Account), _) => {
                    let zone = crate::resolve::stage::account_zone(account).unwrap_or_default();
                    let span = account
                        .baselines
                        .iter()
                        .find(|u| u.name.value.as_str() == "dns-zone")
                        .map_or(account.span, |u| u.span);
                    Some((format!("the dns-zone {zone} of account `{}`", account.name.value), span, Origin::Account))
                }
                _ => None,
            };
            let certificate = match (&domain.value.certificate, &zone) {
                (Some(c), _) => (c.value.text.clone(), c.span),
                (None, Some((zone, span, _))) => (format!("requested by idpc, DNS-validated in {zone}"), *span),
                (None, None) => ("none".to_owned(), domain.span),
            };
            let certificate_by =
                zone.as_ref().filter(|_| domain.value.certificate.is_none()).map_or(domain.origin, |z| z.2);
            match &zone {
                Some((zone, span, origin)) => line("dns", format!("alias record in {zone}"), by(*origin), *span),
                None => line(
                    "dns",
                    "no record: point the host at the stack's RegionalDomainName output".to_owned(),
                    by(domain.origin),
                    domain.span,
                ),
            }
            line("certificate", certificate.0, by(certificate_by), certificate.1);
            let tls = &domain.value.tls_policy;
            line("tls policy", tls.value.clone(), by(domain.origin), tls.span);
            match &endpoint.mtls {
                Some(mtls) => {
                    let truststore = mtls.value.truststore.as_ref().map_or("", |t| t.value.as_str());
                    let version =
                        mtls.value.version.as_ref().map(|v| format!(" (version {})", v.value)).unwrap_or_default();
                    line("mtls", format!("{truststore}{version}"), by(mtls.origin), mtls.span);
                }
                None => line("mtls", "none: any client may connect".to_owned(), by(domain.origin), domain.span),
            }
            line("execute-api", "disabled: served on the domain only".to_owned(), by(domain.origin), domain.span);
        }
        None => line(
            "url",
            "execute-api endpoint only (no gateway, no domain)".to_owned(),
            by(Origin::Environment),
            environment.name.span,
        ),
    }
    match &settings.jwt {
        Some(jwt) => {
            let value = match &jwt.value.issuer {
                JwtIssuer::Oidc { issuer, audience } => format!(
                    "issuer {}, audience {}; scopes enforced by the JWT authorizer from {}",
                    issuer.value,
                    audience.value,
                    crate::naming::route_scopes_parameter(resolved, stage)
                ),
                JwtIssuer::Cognito { user_pool } => {
                    format!("Cognito user pool {}; scopes enforced by API Gateway", user_pool.value.text)
                }
            };
            line("jwt", value, by(jwt.origin), jwt.span)
        }
        None => line("jwt", "none: no token is checked".to_owned(), by(Origin::Api), api.name.span),
    }
    if api.security.allow_ip.is_empty() {
        line("allow-ip", "none: any address".to_owned(), by(Origin::Api), api.name.span);
    }
    for net in &api.security.allow_ip {
        line("allow-ip", net.value.to_string(), by(Origin::Api), net.span);
    }
    match &settings.throttle {
        Some(t) => line(
            "throttle",
            format!("{} requests/s, burst {}", t.value.rate.value, t.value.burst.value),
            by(t.origin),
            t.span,
        ),
        None => line("throttle", "API Gateway's account limits".to_owned(), by(Origin::Default), api.name.span),
    }
    for monitor in &settings.monitors {
        let threshold = match &monitor.value.kind {
            MonitorKind::Latency { p95_ms } => format!("p95 above {p95_ms} ms"),
            MonitorKind::Errors { max_5xx_rate } => format!("5xx above {max_5xx_rate} of requests"),
            MonitorKind::TrafficDrop { min_requests_per_5m } => {
                format!("fewer than {min_requests_per_5m} requests in 5 minutes")
            }
        };
        let priority = monitor.value.priority.as_ref().map(|p| format!(", priority {}", p.value)).unwrap_or_default();
        line(
            &format!("monitor {}", monitor.value.kind.as_str()),
            format!("{threshold}{priority}"),
            by(monitor.origin),
            monitor.span,
        );
    }
    match &settings.slo {
        Some(slo) => line(
            "slo",
            format!("{}% over {}", slo.value.availability.value, slo.value.timeframe.value),
            by(slo.origin),
            slo.span,
        ),
        None => line("slo", "none".to_owned(), by(Origin::Default), api.name.span),
    }
    for used in &api.uses {
        line("uses", format!("{} (deployed before this stage)", used.value), by(Origin::Api), used.span);
    }
    line("routes", format!("{}", api.routes.len()), by(Origin::Api), api.span);

    let stack = plan.stacks.iter().find(|st| st.kind == StackKind::Stage(s));
    let mut text = format!("stage `{}` in `{}`", api.name.value, environment.name.value);
    if let Some(stack) = stack {
        let _ = write!(text, ": stack {} (wave {}, {} {})", stack.name, stack.wave, stack.account, stack.region);
    }
    text.push_str("\n\n");
    let width = |f: fn(&Line) -> &str| lines.iter().map(|l| f(l).chars().count()).max().unwrap_or(0);
    let (w1, w2, w3) = (width(|l| &l.setting), width(|l| &l.value), width(|l| &l.by));
    let _ = writeln!(text, "{:w1$}  {:w2$}  {:w3$}  written at", "setting", "value", "decided by");
    for l in &lines {
        let _ = writeln!(text, "{:w1$}  {:w2$}  {:w3$}  {}", l.setting, l.value, l.by, l.at);
    }
    Ok(text)
}
