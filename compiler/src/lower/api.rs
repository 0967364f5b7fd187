//! Lowering of `api` nodes: deployments (with their per-stage overrides), base path, domain,
//! backend, security, throttle, routes, monitors, SLO and `uses`; and of custom domains (an
//! API's `domain`, an environment's `gateway`).

use std::collections::BTreeMap;

use kdl::KdlNode;

use super::reader::{Ctx, Reader, Shape};
use crate::diagnostics::{Code, Diagnostic};
use crate::model::{
    Api, Backend, CustomDomain, Deploy, Jwt, JwtIssuer, LambdaTarget, Method, Monitor, MonitorKind, Mtls, Name, Route,
    Security, Segment, Slo, Spanned, Throttle,
};
use crate::source::Span;

const API_CHILDREN: &[&str] =
    &["deploy", "base-path", "domain", "backend", "security", "throttle", "route", "monitor", "slo", "uses", "waive"];
/// What a `deploy "ENV" { ... }` block may replace for its stage.
pub const DEPLOY_CHILDREN: &[&str] = &["backend", "throttle", "domain", "monitor", "slo", "jwt"];
/// TLS security policies idpc accepts on a custom domain. Older policies allow TLS 1.0, and
/// API Gateway's newer "enhanced" policies cannot carry mutual TLS.
pub const TLS_POLICIES: &[&str] = &[DEFAULT_TLS_POLICY];
/// The TLS policy of a domain that names none.
pub const DEFAULT_TLS_POLICY: &str = "TLS_1_2";
const MONITOR_PROPS: &[&str] = &["p95-ms", "max-5xx-rate", "min-requests-per-5m", "priority"];

/// A child node that may be absent: `Some(None)` when it was written but did not lower (its
/// parent is then dropped, once every other child has been checked).
pub type Written<T> = Option<Option<T>>;

/// An environment a `deploy` names, and whether its block has a `backend`.
type Named = (Spanned<Name>, bool);

/// A [`Written`] child as the parent takes it: `None` when it did not lower (the parent is
/// dropped), else whether it is there.
pub fn lowered<T>(written: Written<T>) -> Option<Option<T>> {
    match written {
        None => Some(None),
        Some(None) => None,
        Some(Some(value)) => Some(Some(value)),
    }
}

impl Ctx<'_> {
    /// Lowers `api "name" version=... owner=... { ... }`.
    pub fn api(&mut self, node: &KdlNode) -> Option<Api> {
        let reader = self.open(
            node,
            &Shape { props: &["version", "owner", "renamed-from"], children: API_CHILDREN, ..Shape::ONE_ARG },
        );
        let name = self.node_name(&reader, "API name");
        let version = self.required(&reader, "version").and_then(|e| self.string(e, "version"));
        let version = version.and_then(|v| self.version(v));
        let owner = self.required(&reader, "owner").and_then(|e| self.name(e, "owner"));
        let renamed_from: Written<_> = reader.props.get("renamed-from").map(|e| self.name(e, "former API name"));
        let (deploy, deploys_lowered) = self.deploys(&reader);
        if self.all(&reader, "deploy").is_empty() {
            self.missing_child(node, "deploy", "deploy \"my-environment\"");
        }
        let base_path: Written<_> = self
            .single(&reader, "base-path")
            .map(|c| self.child_string(c, "base path").and_then(|p| self.base_path(p)));
        let domain: Written<_> = self.single(&reader, "domain").map(|c| self.custom_domain(c));
        let backend: Written<_> = self.single(&reader, "backend").map(|c| self.backend(c));
        if backend.is_none() {
            // Without an API-wide backend, every stage needs its own.
            for (target, has_backend) in &deploys_lowered {
                if !has_backend {
                    self.report(
                        Diagnostic::new(Code::MissingNode, format!("the stage in `{}` has no backend", target.value))
                            .primary(target.span, "deployed here without a backend")
                            .help("add `backend lambda=\"NAME\"` (or `http=\"https://...\"`) to the API, or inside `deploy \"...\" { ... }`"),
                    );
                }
            }
        }
        let security: Written<_> = self.single(&reader, "security").map(|c| self.security(c));
        let throttle = self.single(&reader, "throttle").and_then(|c| self.throttle(c));
        let routes = self.routes(&reader);
        if routes.is_empty() && self.all(&reader, "route").is_empty() {
            self.missing_child(node, "route", "route \"GET\" \"/items/{itemId}\" scopes=\"items:read\"");
        }
        let monitors = self.monitors(&reader);
        let slo = self.single(&reader, "slo").and_then(|c| self.slo(c));
        let uses = self.name_list(&reader, "uses", "API name");
        let waivers = self.waivers(&reader);
        Some(Api {
            name: name?,
            span: self.span(node.span()),
            version: version?,
            owner: owner?,
            renamed_from: lowered(renamed_from)?,
            deploy: deploy?,
            base_path: lowered(base_path)?,
            domain: lowered(domain)?,
            backend: lowered(backend)?,
            security: lowered(security)?.unwrap_or_default(),
            throttle,
            routes,
            monitors,
            slo,
            uses,
            waivers,
        })
    }

    /// Every `deploy` node: the list form `deploy "a" "b"` and the block form
    /// `deploy "a" { ... }`, mixed freely, each environment named once. Gives the deployments
    /// (`None` when an override did not lower) and, for every environment named, whether its
    /// block has a `backend`.
    fn deploys(&mut self, reader: &Reader<'_>) -> (Option<Vec<Deploy>>, Vec<Named>) {
        let mut deploys: Vec<Deploy> = Vec::new();
        let mut named: Vec<Named> = Vec::new();
        let mut complete = true;
        for node in self.all(reader, "deploy") {
            let r = self.open(node, &Shape { children: DEPLOY_CHILDREN, ..Shape::LIST });
            if node.children().is_some()
                && let Some(extra) = r.args.get(1)
            {
                self.report(
                    Diagnostic::new(Code::UnexpectedArgument, "a `deploy` block names one environment")
                        .primary(self.span(extra.span()), "second environment")
                        .help("its overrides apply to one stage: write `deploy \"a\" { ... }` and `deploy \"b\" { ... }`, or the list form `deploy \"a\" \"b\"` without a block"),
                );
            }
            let has_backend = !self.all(&r, "backend").is_empty();
            let backend: Written<_> = self.single(&r, "backend").map(|c| self.backend(c));
            let domain: Written<_> = self.single(&r, "domain").map(|c| self.custom_domain(c));
            let throttle: Written<_> = self.single(&r, "throttle").map(|c| self.throttle(c));
            let slo: Written<_> = self.single(&r, "slo").map(|c| self.slo(c));
            let jwt: Written<_> = self.single(&r, "jwt").map(|c| self.jwt(c));
            let monitors = self.monitors(&r);
            let overrides = match (lowered(backend), lowered(domain), lowered(throttle), lowered(slo), lowered(jwt)) {
                (Some(backend), Some(domain), Some(throttle), Some(slo), Some(jwt)) => {
                    Some((backend, domain, throttle, slo, jwt))
                }
                _ => None,
            };
            complete &= overrides.is_some();
            let block = node.children().is_some();
            for entry in r.args.iter().take(if block { 1 } else { usize::MAX }) {
                let Some(env) = self.name(entry, "environment name") else {
                    complete = false;
                    continue;
                };
                if let Some((first, _)) = named.iter().find(|(n, _)| n.value == env.value) {
                    self.report(
                        Diagnostic::new(Code::DuplicateValue, format!("`{}` is listed twice in `deploy`", env.value))
                            .primary(env.span, "deployed again")
                            .secondary(first.span, "first deployed here")
                            .help("deploy to each environment once; put its overrides in one `deploy \"...\" { ... }` block"),
                    );
                    continue;
                }
                named.push((env.clone(), has_backend));
                if let Some((backend, domain, throttle, slo, jwt)) = &overrides {
                    deploys.push(Deploy {
                        env,
                        span: self.span(node.span()),
                        backend: backend.clone(),
                        throttle: throttle.clone(),
                        domain: domain.clone(),
                        monitors: monitors.clone(),
                        slo: slo.clone(),
                        jwt: jwt.clone(),
                    });
                }
            }
        }
        (complete.then_some(deploys), named)
    }

    /// All arguments of every `child` node as names, refusing repeats.
    fn name_list(&mut self, reader: &Reader<'_>, child: &str, what: &str) -> Vec<Spanned<Name>> {
        let mut names: Vec<Spanned<Name>> = Vec::new();
        for node in self.all(reader, child) {
            let r = self.open(node, &Shape::LIST);
            for entry in &r.args {
                let Some(name) = self.name(entry, what) else {
                    continue;
                };
                if let Some(first) = names.iter().find(|n| n.value == name.value) {
                    self.report(
                        Diagnostic::new(Code::DuplicateValue, format!("`{}` is listed twice in `{child}`", name.value))
                            .primary(name.span, "listed again")
                            .secondary(first.span, "first listed here")
                            .help("list each name once"),
                    );
                    continue;
                }
                names.push(name);
            }
        }
        names
    }

    /// Lowers a custom domain: `gateway "HOST" ...` on an environment, `domain "HOST" ...` on an
    /// API or in a `deploy` block. `certificate=` names an existing ACM certificate,
    /// `hosted-zone=` the Route 53 zone of its alias record (and, without a certificate, of the
    /// certificate idpc requests); without either, the account's `dns-zone` (checked in
    /// `resolve`, which knows the account). `mtls truststore=...` inside the block.
    pub fn custom_domain(&mut self, node: &KdlNode) -> Option<CustomDomain> {
        let shape =
            Shape { props: &["certificate", "hosted-zone", "tls-policy"], children: &["mtls"], ..Shape::ONE_ARG };
        let reader = self.open(node, &shape);
        let what = node.name().value();
        let host = reader.args.first().and_then(|e| self.string(e, what)).and_then(|d| self.domain(d));
        let certificate: Written<_> = reader
            .props
            .get("certificate")
            .map(|e| self.string(e, "certificate").and_then(|c| self.arn(c, "acm", "certificate/")));
        let hosted_zone: Written<_> =
            reader.props.get("hosted-zone").map(|e| self.string(e, "hosted-zone").and_then(|z| self.hosted_zone(z)));
        let tls_policy = match reader.props.get("tls-policy") {
            Some(entry) => self.string(entry, "tls-policy").and_then(|p| self.tls_policy(p)),
            None => Some(Spanned::new(DEFAULT_TLS_POLICY.to_owned(), self.name_span(node))),
        };
        let mtls: Written<_> = self.single(&reader, "mtls").map(|c| {
            let mtls = self.mtls(c)?;
            if mtls.truststore.is_none() {
                self.report(
                    Diagnostic::new(Code::MissingProperty, format!("`mtls` on a `{what}` needs `truststore=`"))
                        .primary(self.name_span(c), "no truststore")
                        .help("write `mtls truststore=\"s3://bucket/truststore.pem\"`: the CA certificates clients are checked against"),
                );
                return None;
            }
            Some(mtls)
        });
        Some(CustomDomain {
            host: host?,
            certificate: lowered(certificate)?,
            hosted_zone: lowered(hosted_zone)?,
            tls_policy: tls_policy?,
            mtls: lowered(mtls)?,
            span: self.span(node.span()),
        })
    }

    /// `jwt issuer="https://..." audience="..."` (an OpenID Connect issuer, validated by the
    /// account's JWT authorizer) or `jwt cognito-user-pool="arn:aws:cognito-idp:..."`.
    fn jwt(&mut self, node: &KdlNode) -> Option<Jwt> {
        let r = self.open(node, &Shape { props: &["issuer", "audience", "cognito-user-pool"], ..Shape::NONE });
        let span = self.span(node.span());
        if let Some(pool) = r.props.get("cognito-user-pool") {
            for other in ["issuer", "audience"] {
                if let Some(entry) = r.props.get(other) {
                    self.report(
                        Diagnostic::new(Code::ConflictingProperties, format!("a Cognito user pool is its own issuer: `{other}=` does not apply"))
                            .primary(self.span(entry.span()), "not with `cognito-user-pool=`")
                            .secondary(self.span(pool.span()), "the user pool")
                            .help("write either `jwt cognito-user-pool=\"arn:aws:cognito-idp:...\"` or `jwt issuer=\"https://...\" audience=\"...\"`"),
                    );
                }
            }
            let user_pool =
                self.string(pool, "cognito-user-pool").and_then(|p| self.arn(p, "cognito-idp", "userpool/"))?;
            if r.props.contains_key("issuer") || r.props.contains_key("audience") {
                return None;
            }
            return Some(Jwt { issuer: JwtIssuer::Cognito { user_pool }, span });
        }
        let issuer = self.required(&r, "issuer").and_then(|e| self.string(e, "issuer"));
        let issuer = issuer.and_then(|i| self.https_url(i, "issuer"));
        let audience = self.required(&r, "audience").and_then(|e| self.string(e, "audience"));
        let audience = audience.filter(|a| self.plain_text(a, "audience"));
        Some(Jwt { issuer: JwtIssuer::Oidc { issuer: issuer?, audience: audience? }, span })
    }

    /// `mtls`, `mtls truststore="s3://..."` or `mtls truststore=... version=...`.
    fn mtls(&mut self, node: &KdlNode) -> Option<Mtls> {
        let r = self.open(node, &Shape { props: &["truststore", "version"], ..Shape::NONE });
        let truststore: Written<_> =
            r.props.get("truststore").map(|e| self.string(e, "truststore").and_then(|t| self.s3_uri(t, "truststore")));
        let version = r.props.get("version").and_then(|e| self.string(e, "truststore version"));
        let version = version.filter(|v| self.plain_text(v, "truststore version"));
        if let (Some(entry), None) = (r.props.get("version"), &truststore) {
            self.report(
                Diagnostic::new(Code::MissingProperty, "a truststore `version=` needs `truststore=`")
                    .primary(self.span(entry.span()), "version of no truststore")
                    .help("write `mtls truststore=\"s3://...\" version=\"...\"`, or drop `version=`"),
            );
            return None;
        }
        if r.props.contains_key("version") && version.is_none() {
            return None;
        }
        Some(Mtls { truststore: lowered(truststore)?, version, span: self.span(node.span()) })
    }

    /// A TLS security policy from the allow-list.
    fn tls_policy(&mut self, value: Spanned<String>) -> Option<Spanned<String>> {
        if TLS_POLICIES.contains(&value.value.as_str()) {
            return Some(value);
        }
        self.report(
            Diagnostic::new(Code::TlsPolicyNotAllowed, format!("TLS policy `{}` is not allowed", value.value))
                .primary(value.span, "not on the allow-list")
                .help(format!(
                    "use {}: TLS 1.2 or newer, and the only policy that mutual TLS supports",
                    TLS_POLICIES.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
                )),
        );
        None
    }

    fn backend(&mut self, node: &KdlNode) -> Option<Spanned<Backend>> {
        let reader = self.open(node, &Shape { props: &["lambda", "http"], ..Shape::NONE });
        let span = self.span(node.span());
        match (reader.props.get("lambda"), reader.props.get("http")) {
            (Some(lambda), None) => {
                let target = self.string(lambda, "lambda").and_then(|t| self.lambda_target(t))?;
                Some(Spanned::new(Backend::Lambda(target.value), target.span))
            }
            (None, Some(http)) => {
                let url = self.string(http, "http").and_then(|u| self.https_url(u, "backend"))?;
                // A backend is the prefix each route's path is appended to: one trailing `/` or
                // none gives the same integration URI.
                Some(Spanned::new(Backend::Http(url.value.trim_end_matches('/').to_owned()), url.span))
            }
            (Some(lambda), Some(http)) => {
                self.report(
                    Diagnostic::new(Code::ConflictingProperties, "a backend is either `lambda=` or `http=`, not both")
                        .primary(self.span(http.span()), "second backend")
                        .secondary(self.span(lambda.span()), "first backend")
                        .help("keep one of the two"),
                );
                None
            }
            (None, None) => {
                self.report(
                    Diagnostic::new(Code::MissingProperty, "`backend` needs `lambda=` or `http=`")
                        .primary(Span { end: span.start + 7, ..span }, "no target")
                        .help("write `backend lambda=\"my-function\"` or `backend http=\"https://...\"`"),
                );
                None
            }
        }
    }

    /// `NAME`, `NAME:ALIAS` (a function of each stage's own account and region) or a full
    /// function ARN.
    fn lambda_target(&mut self, value: Spanned<String>) -> Option<Spanned<LambdaTarget>> {
        if value.value.starts_with("arn:") {
            let arn = self.arn(value, "lambda", "function:")?;
            let qualified = arn.value.resource.strip_prefix("function:").unwrap_or_default();
            return match lambda_name_problem(qualified) {
                None => Some(Spanned::new(LambdaTarget::Arn(arn.value), arn.span)),
                Some(problem) => {
                    self.bad_function_name(&arn.span, qualified, problem);
                    None
                }
            };
        }
        if let Some(problem) = lambda_name_problem(&value.value) {
            self.bad_function_name(&value.span, &value.value, problem);
            return None;
        }
        let (function, qualifier) = match value.value.split_once(':') {
            Some((function, qualifier)) => (function.to_owned(), Some(qualifier.to_owned())),
            None => (value.value.clone(), None),
        };
        Some(Spanned::new(LambdaTarget::Name { function, qualifier }, value.span))
    }

    fn bad_function_name(&mut self, span: &Span, text: &str, problem: &str) {
        self.report(
            Diagnostic::new(Code::BadFunctionName, format!("`{text}` is not a Lambda function name"))
                .primary(*span, problem.to_owned())
                .help("write the function's name, such as \"accounts\", or \"accounts:live\" for an alias: 1 to 64 letters, digits, `-` and `_`, then optionally `:` and an alias or version"),
        );
    }

    /// A base path: one or more `/`-separated segments of letters, digits, `.`, `_` and `-`.
    fn base_path(&mut self, value: Spanned<String>) -> Option<Spanned<String>> {
        let problem = base_path_problem(&value.value);
        let Some(problem) = problem else {
            return Some(value);
        };
        self.report(
            Diagnostic::new(Code::BadBasePath, format!("`{}` is not a base path", value.value))
                .primary(value.span, problem)
                .help("write the path the API is served under on its domain, without slashes around it, such as \"accounts\" or \"accounts/v2\""),
        );
        None
    }

    /// A Route 53 hosted zone id (`Z` and up to 31 upper-case letters and digits).
    fn hosted_zone(&mut self, value: Spanned<String>) -> Option<Spanned<String>> {
        let text = value.value.as_str();
        let valid = text.len() >= 2
            && text.len() <= 32
            && text.starts_with('Z')
            && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if valid {
            return Some(value);
        }
        self.report(
            Diagnostic::new(Code::BadHostedZone, format!("`{text}` is not a Route 53 hosted zone id"))
                .primary(value.span, "not Z followed by upper-case letters and digits")
                .help("use the id Route 53 shows for the public hosted zone, such as \"Z0123456789ABCDEFGHIJ\" (not its name)"),
        );
        None
    }

    /// The `security` block; `None` when something in it did not lower: the API is dropped
    /// then, so that a rejected `jwt`, `mtls` or range is not reported again as missing.
    fn security(&mut self, node: &KdlNode) -> Option<Security> {
        let reader = self.open(node, &Shape { children: &["mtls", "jwt", "allow-ip"], ..Shape::NONE });
        let mtls: Written<_> = self.single(&reader, "mtls").map(|c| self.mtls(c));
        let jwt: Written<_> = self.single(&reader, "jwt").map(|c| self.jwt(c));
        let mut rejected = false;
        let mut allow_ip: Vec<Spanned<ipnet::IpNet>> = Vec::new();
        for child in self.all(&reader, "allow-ip") {
            let r = self.open(child, &Shape::LIST);
            for entry in &r.args {
                let Some(net) = self.string(entry, "allow-ip range").and_then(|v| self.cidr(v)) else {
                    rejected = true;
                    continue;
                };
                if let ipnet::IpNet::V6(v6) = net.value {
                    self.ipv6_allow_ip(&net, v6);
                    rejected = true;
                    continue;
                }
                if let Some(first) = allow_ip.iter().find(|n| n.value == net.value) {
                    self.report(
                        Diagnostic::new(Code::DuplicateValue, format!("`{}` is allowed twice", net.value))
                            .primary(net.span, "listed again")
                            .secondary(first.span, "first listed here")
                            .help("list each range once"),
                    );
                    continue;
                }
                allow_ip.push(net);
            }
        }
        let (mtls, jwt) = (lowered(mtls)?, lowered(jwt)?);
        (!rejected).then(|| Security { mtls, jwt, allow_ip, span: Some(self.span(node.span())) })
    }

    /// Refuses an IPv6 range in an allow-list: a REST API's regional endpoint (idpc's, with its
    /// custom domain) is reached over IPv4 only, so `aws:SourceIp` is always an IPv4 address and
    /// an IPv6 range matches no caller. An IPv4-mapped or IPv4-compatible range
    /// (`::ffff:a.b.c.d/n`, `::a.b.c.d/n`) is shown as the IPv4 range it stands for.
    fn ipv6_allow_ip(&mut self, net: &Spanned<ipnet::IpNet>, v6: ipnet::Ipv6Net) {
        // `to_ipv4` reads both IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible
        // (`::a.b.c.d`) addresses.
        let mapped = v6.network().to_ipv4().filter(|_| v6.prefix_len() >= 96);
        let form = if v6.network().to_ipv4_mapped().is_some() { "IPv4-mapped" } else { "IPv4-compatible" };
        let help = match mapped {
            Some(v4) => format!(
                "this is the IPv4 range {v4}/{}, written as {form} IPv6: write \"{v4}/{}\"",
                v6.prefix_len() - 96,
                v6.prefix_len() - 96
            ),
            None => "list the IPv4 egress ranges of these callers instead".to_owned(),
        };
        self.report(
            Diagnostic::new(Code::Ipv6OnIpv4Endpoint, format!("`{}` can never match a caller", net.value))
                .primary(net.span, "an IPv6 range on an IPv4-only endpoint")
                .help(help)
                .note("API Gateway's regional REST endpoints are reached over IPv4 only: `aws:SourceIp` is the caller's IPv4 address"),
        );
    }

    /// Refuses empty text and control characters in a value that reaches an artifact verbatim.
    fn plain_text(&mut self, value: &Spanned<String>, what: &str) -> bool {
        if !value.value.trim().is_empty() && !value.value.chars().any(char::is_control) && value.value.len() <= 256 {
            return true;
        }
        self.report(
            Diagnostic::new(Code::UnknownValue, format!("{what} must be 1 to 256 printable characters"))
                .primary(value.span, "empty, too long or holds control characters")
                .help(format!("write the {what} as plain text")),
        );
        false
    }

    fn throttle(&mut self, node: &KdlNode) -> Option<Throttle> {
        let reader = self.open(node, &Shape { props: &["rate", "burst"], ..Shape::NONE });
        let rate = self.required(&reader, "rate").and_then(|e| self.integer(e, "throttle rate", 1, 10_000));
        let burst = self.required(&reader, "burst").and_then(|e| self.integer(e, "throttle burst", 1, 5_000));
        let narrow = |v: Spanned<i64>| Spanned::new(v.value as u32, v.span);
        Some(Throttle { rate: narrow(rate?), burst: narrow(burst?), span: self.span(node.span()) })
    }

    fn routes(&mut self, reader: &Reader<'_>) -> Vec<Route> {
        let mut routes: Vec<Route> = Vec::new();
        for node in self.all(reader, "route") {
            let r = self.open(node, &Shape { min_args: 2, max_args: 2, props: &["scopes"], ..Shape::NONE });
            let method =
                r.args.first().and_then(|e| self.string(e, "method")).and_then(|m| match Method::parse(&m.value) {
                    Some(method) => Some(Spanned::new(method, m.span)),
                    None => {
                        let upper = m.value.to_ascii_uppercase();
                        let help = if Method::parse(&upper).is_some() {
                            format!("methods are upper case: write \"{upper}\"")
                        } else {
                            crate::diagnostics::suggest(&upper, Method::NAMES)
                        };
                        self.report(
                            Diagnostic::new(Code::BadHttpMethod, format!("`{}` is not an HTTP method", m.value))
                                .primary(m.span, "unknown method")
                                .help(help),
                        );
                        None
                    }
                });
            let path = r.args.get(1).and_then(|e| self.string(e, "path"));
            let segments = path.as_ref().and_then(|p| match parse_path(&p.value) {
                Ok(segments) => Some(segments),
                Err(problem) => {
                    self.report(
                        Diagnostic::new(Code::BadRoutePath, format!("`{}` is not a valid route path", p.value))
                            .primary(p.span, problem)
                            .help("paths start with `/`, have non-empty segments of A-Z a-z 0-9 . _ - or `{param}`, and no trailing `/`"),
                    );
                    None
                }
            });
            let scopes = r.props.get("scopes").and_then(|e| self.string(e, "scopes")).map(|s| self.scopes(&s));
            let (Some(method), Some(path), Some(segments)) = (method, path, segments) else {
                continue;
            };
            if let Some(first) = routes.iter().find(|o| o.method.value == method.value && o.path.value == path.value) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateRoute,
                        format!("`{} {}` is routed twice", method.value.as_str(), path.value),
                    )
                    .primary(path.span, "second route")
                    .secondary(first.path.span, "first route")
                    .help("remove one of the two routes"),
                );
                continue;
            }
            routes.push(Route {
                method,
                path,
                segments,
                scopes: scopes.unwrap_or_default(),
                span: self.span(node.span()),
            });
        }
        self.conflicting_params(&routes);
        routes
    }

    fn scopes(&mut self, value: &Spanned<String>) -> Vec<String> {
        let scopes: Vec<String> = value.value.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        let valid = |s: &String| s.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
        if scopes.is_empty() || !scopes.iter().all(valid) {
            self.report(
                Diagnostic::new(Code::UnknownValue, format!("`{}` is not a list of OAuth scopes", value.value))
                    .primary(value.span, "bad scopes")
                    .help("write scopes separated by spaces, such as \"accounts:read accounts:write\""),
            );
            return Vec::new();
        }
        let mut unique = scopes.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != scopes.len() {
            self.report(
                Diagnostic::new(Code::DuplicateValue, "a scope is listed twice")
                    .primary(value.span, "repeated scope")
                    .help("list each scope once"),
            );
        }
        scopes
    }

    /// API Gateway refuses sibling path parameters with different names (`/a/{id}` and `/a/{key}`),
    /// and two routes must not derive the same OpenAPI operation id.
    fn conflicting_params(&mut self, routes: &[Route]) {
        let mut ids: BTreeMap<String, &Route> = BTreeMap::new();
        for route in routes {
            let id = route.operation_id();
            if let Some(first) = ids.get(&id) {
                self.report(
                    Diagnostic::new(Code::ConflictingRoute, format!("routes `{}` and `{}` both become operation `{id}`", first.path.value, route.path.value))
                        .primary(route.path.span, "same operation id")
                        .secondary(first.path.span, "first route")
                        .help("operation ids come from the method and path; make the paths differ in more than punctuation or case"),
                );
            } else {
                ids.insert(id, route);
            }
        }
        let mut seen: BTreeMap<(Vec<Segment>, usize), (&str, &Route)> = BTreeMap::new();
        for route in routes {
            for (i, segment) in route.segments.iter().enumerate() {
                let Segment::Param(name) = segment else {
                    continue;
                };
                let prefix: Vec<Segment> = route.segments.iter().take(i).map(normalise).collect();
                match seen.get(&(prefix.clone(), i)) {
                    Some((other, first)) if *other != name.as_str() => {
                        self.report(
                            Diagnostic::new(
                                Code::ConflictingRoute,
                                format!("path parameter `{{{name}}}` conflicts with `{{{other}}}`"),
                            )
                            .primary(route.path.span, format!("`{{{name}}}` here"))
                            .secondary(first.path.span, format!("`{{{other}}}` at the same place"))
                            .help("API Gateway needs one parameter name per path position; rename one of them"),
                        );
                        break;
                    }
                    Some(_) => {}
                    None => {
                        seen.insert((prefix, i), (name.as_str(), route));
                    }
                }
            }
        }
    }

    fn monitors(&mut self, reader: &Reader<'_>) -> Vec<Monitor> {
        let mut monitors: Vec<Monitor> = Vec::new();
        for node in self.all(reader, "monitor") {
            let r = self.open(node, &Shape { props: MONITOR_PROPS, ..Shape::ONE_ARG });
            let Some(kind) = r.args.first().and_then(|e| self.string(e, "monitor kind")) else {
                continue;
            };
            let Some(kind) = self.one_of(kind, "monitor kind", MonitorKind::NAMES) else {
                continue;
            };
            let key = match kind.value.as_str() {
                "latency" => "p95-ms",
                "errors" => "max-5xx-rate",
                _ => "min-requests-per-5m",
            };
            for (other, entry) in &r.props {
                if *other != key && *other != "priority" {
                    self.report(
                        Diagnostic::new(
                            Code::UnknownProperty,
                            format!("`{other}` does not apply to a `{}` monitor", kind.value),
                        )
                        .primary(self.span(entry.span()), "not for this kind")
                        .help(format!("a `{}` monitor takes `{key}=` (and `priority=`)", kind.value)),
                    );
                }
            }
            let Some(entry) = self.required(&r, key) else {
                continue;
            };
            let parsed = match key {
                "p95-ms" => {
                    self.integer(entry, "p95-ms", 1, 60_000).map(|v| MonitorKind::Latency { p95_ms: v.value as u32 })
                }
                "max-5xx-rate" => self
                    .number(entry, "max-5xx-rate", 0.0001, 1.0)
                    .map(|v| MonitorKind::Errors { max_5xx_rate: v.value }),
                _ => self
                    .integer(entry, "min-requests-per-5m", 1, 100_000_000)
                    .map(|v| MonitorKind::TrafficDrop { min_requests_per_5m: v.value as u32 }),
            };
            let priority = r.props.get("priority").and_then(|e| self.integer(e, "priority", 1, 5));
            let Some(parsed) = parsed else { continue };
            if let Some(first) = monitors.iter().find(|m| m.kind.as_str() == parsed.as_str()) {
                self.report(
                    Diagnostic::new(Code::DuplicateNode, format!("monitor `{}` is given twice", kind.value))
                        .primary(kind.span, "second one")
                        .secondary(first.span, "first one")
                        .help("an API has at most one monitor of each kind"),
                );
                continue;
            }
            let priority = priority.map(|p| Spanned::new(p.value as u8, p.span));
            monitors.push(Monitor { kind: parsed, priority, span: self.span(node.span()) });
        }
        monitors
    }

    fn slo(&mut self, node: &KdlNode) -> Option<Slo> {
        let reader = self.open(node, &Shape { props: &["availability", "timeframe"], ..Shape::NONE });
        let availability =
            self.required(&reader, "availability").and_then(|e| self.number(e, "availability", 50.0, 99.999));
        let timeframe = match reader.props.get("timeframe") {
            Some(entry) => {
                self.string(entry, "timeframe").and_then(|t| self.one_of(t, "SLO timeframe", &["7d", "30d", "90d"]))
            }
            None => Some(Spanned::new("30d".to_owned(), self.span(node.name().span()))),
        };
        Some(Slo { availability: availability?, timeframe: timeframe?, span: self.span(node.span()) })
    }
}

fn normalise(segment: &Segment) -> Segment {
    match segment {
        Segment::Literal(l) => Segment::Literal(l.clone()),
        Segment::Param(_) => Segment::Param(String::new()),
    }
}

/// Why a Lambda function name (optionally `:QUALIFIER`) is not one, or `None`.
pub fn lambda_name_problem(text: &str) -> Option<&'static str> {
    let word = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let (function, qualifier) = match text.split_once(':') {
        Some((f, q)) => (f, Some(q)),
        None => (text, None),
    };
    if function.is_empty() || function.len() > 64 || !word(function) {
        return Some("function names are 1 to 64 letters, digits, `-` and `_`");
    }
    match qualifier {
        Some(q) if q.is_empty() || q.len() > 128 || !word(q) => Some(
            "an alias is 1 to 128 letters, digits, `-` and `_`, a version is digits; `$LATEST` is the function without a qualifier",
        ),
        _ => None,
    }
}

/// Why a base path is not one, or `None`.
pub fn base_path_problem(text: &str) -> Option<&'static str> {
    if text.is_empty() {
        return Some("empty");
    }
    if text.starts_with('/') || text.ends_with('/') {
        return Some("starts or ends with `/`");
    }
    if text.len() > 256 {
        return Some("longer than 256 characters");
    }
    let segments: Vec<&str> = text.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Some("has an empty segment `//`");
    }
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Some("has a `.` or `..` segment");
    }
    if !segments.iter().all(|s| s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))) {
        return Some("segments are letters, digits, `.`, `_` and `-`");
    }
    None
}

/// Parses a route path into segments, or says what is wrong with it.
pub fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("does not start with `/`".into());
    };
    if path.len() > 512 {
        return Err("longer than 512 characters".into());
    }
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let mut segments = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if part.is_empty() {
            return Err(if last { "ends with `/`".into() } else { "has an empty segment `//`".into() });
        }
        if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if inner.ends_with('+') {
                // API Gateway names a greedy `{proxy+}` parameter `proxy`; OpenAPI validators
                // require `proxy+`. No document satisfies both, so idpc does not emit one.
                return Err(format!("greedy `{part}` is not supported: route each sub-path explicitly"));
            }
            let name = inner;
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                return Err(format!("`{part}` is not a parameter name"));
            }
            if names.contains(&name) {
                return Err(format!("parameter `{name}` appears twice"));
            }
            names.push(name);
            segments.push(Segment::Param(name.into()));
        } else if let Some(name) = part.strip_prefix(':') {
            return Err(format!("`{part}` is not a parameter: write `{{{name}}}`"));
        } else if *part == "." || *part == ".." {
            // Clients and proxies resolve dot segments before a request leaves (RFC 3986
            // 5.2.4): `/a/../admin` is requested as `/admin`, so such a route's scopes and
            // allow-list would guard a path no caller reaches.
            return Err(format!("segment `{part}` is a dot segment, which clients remove before sending"));
        } else if part.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
            segments.push(Segment::Literal((*part).into()));
        } else {
            return Err(format!("segment `{part}` has a character API Gateway refuses"));
        }
    }
    if matches!(segments.as_slice(), [Segment::Literal(l)] if l == "ping" || l == "sping") {
        return Err("`/ping` and `/sping` are reserved by API Gateway".into());
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: Result<usize, &str>) {
        assert_eq!(parse_path(path).map(|s| s.len()).map_err(|e| e.to_string()), expected.map_err(str::to_owned));
    }

    #[test]
    fn paths() {
        check("/", Ok(0));
        check("/accounts/{accountId}/balances", Ok(3));
        check("/files/{path+}", Err("greedy `{path+}` is not supported: route each sub-path explicitly"));
        check("accounts", Err("does not start with `/`"));
        check("/accounts/", Err("ends with `/`"));
        check("/a//b", Err("has an empty segment `//`"));
        check("/a/../admin", Err("segment `..` is a dot segment, which clients remove before sending"));
        check("/a/./b", Err("segment `.` is a dot segment, which clients remove before sending"));
        check("/v1.2/a", Ok(2));
        check("/a/{1x}", Err("`{1x}` is not a parameter name"));
        check("/a/{id}/{id}", Err("parameter `id` appears twice"));
        check("/a b", Err("segment `a b` has a character API Gateway refuses"));
        check("/a/:id", Err("`:id` is not a parameter: write `{id}`"));
        check("/ping", Err("`/ping` and `/sping` are reserved by API Gateway"));
    }
}
