//! The effective settings of one API stage, each with where it was written: the API, the
//! stage's `deploy` block, the environment (its gateway), the account, the tenant or the
//! platform. Emitters read a stage's backend, domain, throttling, monitors and SLO from here,
//! never from the API alone, and `idpc explain stage` prints them with their origin.
//!
//! [`settings`] is a pure function of the stage's API, environment, account, tenant and
//! platform (the render cache recomputes it from those alone); it reports what makes a stage
//! undeployable in that place: an ARN of another account or region, an ARN for a requested
//! account, mutual TLS the stage's domain does not enforce.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use crate::diagnostics::{Code, Diagnostic, Diagnostics};
use crate::model::{
    Account, Arn, Backend, CustomDomain, Estate, Jwt, JwtIssuer, LambdaTarget, Monitor, Mtls, ParamValue, Region, Slo,
    Throttle,
};
use crate::source::Span;

/// Where an effective setting was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The `api` node.
    Api,
    /// The stage's `deploy "ENV" { ... }` block.
    Deploy,
    /// The environment (its `gateway`).
    Environment,
    /// The account.
    Account,
    /// The tenant.
    Tenant,
    /// The platform.
    Platform,
    /// Not written anywhere: idpc's default, derived from what the span points at.
    Default,
}

impl Origin {
    /// How `idpc explain stage` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Api => "api",
            Origin::Deploy => "deploy",
            Origin::Environment => "environment",
            Origin::Account => "account",
            Origin::Tenant => "tenant",
            Origin::Platform => "platform",
            Origin::Default => "default",
        }
    }
}

/// An effective value and where it was written.
#[derive(Clone, Debug)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Which node wrote it.
    pub origin: Origin,
    /// Where (for a default, what it derives from).
    pub span: Span,
}

impl<T> Setting<T> {
    fn new(value: T, origin: Origin, span: Span) -> Setting<T> {
        Setting { value, origin, span }
    }
}

/// A Lambda function of the stage's own account and region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// Region.
    pub region: Region,
    /// Account id; `None` while the account is requested (known at deploy time).
    pub account: Option<String>,
    /// Function name.
    pub name: String,
    /// Alias or version.
    pub qualifier: Option<String>,
}

impl Function {
    /// The function's ARN, with `${AWS::AccountId}` for a requested account (for `Fn::Sub`).
    pub fn arn(&self) -> String {
        let account = self.account.as_deref().unwrap_or("${AWS::AccountId}");
        let mut arn = format!("arn:aws:lambda:{}:{account}:function:{}", self.region, self.name);
        if let Some(qualifier) = &self.qualifier {
            arn.push(':');
            arn.push_str(qualifier);
        }
        arn
    }

    /// The ARN as an `Fn::Sub` string of the stage's own stack, for a requested account:
    /// partition, region and account all from pseudo parameters.
    pub fn arn_sub(&self) -> String {
        let mut arn =
            format!("arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{}", self.name);
        if let Some(qualifier) = &self.qualifier {
            arn.push(':');
            arn.push_str(qualifier);
        }
        arn
    }

    /// Whether the ARN names the account only at deploy time.
    pub fn needs_sub(&self) -> bool {
        self.account.is_none()
    }
}

/// Where a stage's requests go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StageBackend {
    /// A Lambda function of the stage's account and region (proxy integration).
    Lambda(Function),
    /// An HTTPS backend (proxy integration); no trailing slash.
    Http(String),
}

/// Where a custom domain's DNS records (its alias record and its certificate's validation
/// record) go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Zone {
    /// The hosted zone id written on the domain (`hosted-zone=`).
    Written(String),
    /// The zone of the account's `dns-zone` baseline (its stack exports the id); the host lies in
    /// it.
    Account,
}

/// The zone of `domain` in `account`: the one written on it, else the account's `dns-zone`
/// when the host lies in that zone.
pub fn zone_of(domain: &CustomDomain, account: &Account) -> Option<Zone> {
    if let Some(zone) = &domain.hosted_zone {
        return Some(Zone::Written(zone.value.clone()));
    }
    let host = domain.host.value.as_str();
    let name = account_zone(account)?;
    (host == name || host.strip_suffix(name).is_some_and(|rest| rest.ends_with('.'))).then_some(Zone::Account)
}

/// The stdlib baseline that creates an account's hosted zone.
pub const DNS_ZONE_BASELINE: &str = "dns-zone";

/// The name of the account's `dns-zone`, as its baseline use writes it.
pub fn account_zone(account: &Account) -> Option<&str> {
    let zone = account.baselines.iter().find(|u| u.name.value.as_str() == DNS_ZONE_BASELINE)?;
    zone.params.iter().find(|(k, _)| k.value == "domain").and_then(|(_, v)| match &v.value {
        ParamValue::String(s) => Some(s.as_str()),
        _ => None,
    })
}

/// Reports what keeps a custom domain from being created in `account` and `region`: a
/// certificate of another account or region, a hosted zone id for a requested account (it
/// cannot exist yet), neither a certificate nor a zone to validate one in.
pub fn check_domain(
    domain: &CustomDomain,
    account: &Account,
    region: (&Region, Span),
    user: &str,
    target: Option<Span>,
    sink: &mut Diagnostics,
) {
    if let Some(c) = &domain.certificate {
        own_arn(&c.value, c.span, "certificate", region, account, user, target, sink);
    }
    if let (Some(zone), None) = (&domain.hosted_zone, &account.id) {
        sink.push(
            Diagnostic::new(
                Code::RequestedAccountReference,
                format!(
                    "`{user}` is in account `{}`, which idpc requests: hosted zone {} cannot exist in it yet",
                    account.name.value, zone.value
                ),
            )
            .primary(zone.span, "a zone id of an account not created yet")
            .help(format!(
                "give account `{}` `baseline \"dns-zone\" domain=\"...\"` with a zone that holds `{}`, and drop `hosted-zone=`: idpc then creates the zone in the account and writes the certificate's validation record and the alias record into it",
                account.name.value, domain.host.value
            )),
        );
    }
    if domain.certificate.is_none() && zone_of(domain, account).is_none() {
        let what = if target.is_some() { "domain" } else { "gateway" };
        sink.push(
            Diagnostic::new(
                Code::MissingProperty,
                format!("`{}` needs a certificate, or a hosted zone to validate one in", domain.host.value),
            )
            .primary(domain.host.span, "no `certificate=`, no `hosted-zone=`")
            .help(format!(
                "give the `{what}` `hosted-zone=\"Z...\"` (a public zone of account `{}`) or `certificate=\"arn:aws:acm:...\"`, or the account `baseline \"dns-zone\" domain=\"...\"` with a zone that holds the host",
                account.name.value
            )),
        );
    }
}

/// The custom domain a stage is mapped on, and under which path.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The domain: the environment's gateway, or the stage's own (`domain`).
    pub domain: Setting<CustomDomain>,
    /// Whether the stage's stack creates the domain (its own); a gateway has its own stack.
    pub dedicated: bool,
    /// The mapping's path; `None` maps the domain's root.
    pub base_path: Setting<Option<String>>,
    /// The truststore the domain enforces, if any.
    pub mtls: Option<Setting<Mtls>>,
    /// Where the domain's records go (`None`: no record; the stack outputs the alias target).
    pub zone: Option<Zone>,
}

impl Endpoint {
    /// `https://host/base-path` (or `https://host` for the root).
    pub fn url(&self) -> String {
        match &self.base_path.value {
            Some(path) => format!("https://{}/{path}", self.domain.value.host.value),
            None => format!("https://{}", self.domain.value.host.value),
        }
    }
}

/// Everything about a stage that may differ from one environment to the next.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Index into the API's `deploy` list of the stage's target.
    pub deploy: usize,
    /// The stage's region (its account's, tenant's or the platform's).
    pub region: Setting<Region>,
    /// Where requests go.
    pub backend: Setting<StageBackend>,
    /// Stage throttling.
    pub throttle: Option<Setting<Throttle>>,
    /// The domain and path the stage is served under; `None` leaves only the execute-api
    /// endpoint.
    pub endpoint: Option<Endpoint>,
    /// Monitors, in the API's order, then those only this stage has.
    pub monitors: Vec<Setting<Monitor>>,
    /// Availability objective.
    pub slo: Option<Setting<Slo>>,
    /// Token validation: the API's, or its `deploy` block's.
    pub jwt: Option<Setting<Jwt>>,
}

/// The entities one stage is made of, by index into the estate.
#[derive(Clone, Copy, Debug)]
pub struct Place {
    /// The API.
    pub api: usize,
    /// Its entry in the API's `deploy` list.
    pub deploy: usize,
    /// The environment.
    pub env: usize,
    /// The environment's account.
    pub account: usize,
    /// The account's tenant.
    pub tenant: usize,
}

/// The effective settings of the stage at `place`, and in `sink` what makes them undeployable
/// there (the settings are still given, so that the estate-wide checks see every stage);
/// `None` only without a backend, which `lower` reported.
pub fn settings(estate: &Estate, place: Place, sink: &mut Diagnostics) -> Option<Settings> {
    let api = &estate.apis[place.api];
    let deploy = &api.deploy[place.deploy];
    let account = &estate.accounts[place.account];
    let tenant = &estate.tenants[place.tenant];
    let platform = estate.platform.as_ref()?;
    let region = match (&account.region, &tenant.region) {
        (Some(r), _) => Setting::new(r.value.clone(), Origin::Account, r.span),
        (None, Some(r)) => Setting::new(r.value.clone(), Origin::Tenant, r.span),
        (None, None) => Setting::new(platform.region.value.clone(), Origin::Platform, platform.region.span),
    };
    let account_id = account.id.as_ref().map(|id| id.value.0.clone());
    let at = Where { estate, place, region: (&region.value, region.span) };

    // A `deploy` block's value replaces the API's for this stage only.
    let written = match (&deploy.backend, &api.backend) {
        (Some(b), _) => Some((b, Origin::Deploy)),
        (None, Some(b)) => Some((b, Origin::Api)),
        (None, None) => None,
    };
    let (backend, origin) = written?;
    let backend_value = match &backend.value {
        Backend::Http(url) => StageBackend::Http(url.clone()),
        Backend::Lambda(LambdaTarget::Name { function, qualifier }) => StageBackend::Lambda(Function {
            region: region.value.clone(),
            account: account_id.clone(),
            name: function.clone(),
            qualifier: qualifier.clone(),
        }),
        Backend::Lambda(LambdaTarget::Arn(arn)) => {
            at.own_arn(arn, backend.span, "Lambda function", sink);
            let qualified = arn.resource.strip_prefix("function:").unwrap_or_default();
            let (name, qualifier) = match qualified.split_once(':') {
                Some((n, q)) => (n.to_owned(), Some(q.to_owned())),
                None => (qualified.to_owned(), None),
            };
            StageBackend::Lambda(Function {
                region: region.value.clone(),
                account: account_id.clone(),
                name,
                qualifier,
            })
        }
    };

    let throttle = match (&deploy.throttle, &api.throttle) {
        (Some(t), _) => Some(Setting::new(t.clone(), Origin::Deploy, t.span)),
        (None, Some(t)) => Some(Setting::new(t.clone(), Origin::Api, t.span)),
        (None, None) => None,
    };
    let endpoint = endpoint(&at, sink);
    at.enforces_mtls(endpoint.as_ref(), sink);

    let mut monitors: Vec<Setting<Monitor>> = api
        .monitors
        .iter()
        .map(|m| match deploy.monitors.iter().find(|o| o.kind.as_str() == m.kind.as_str()) {
            Some(own) => Setting::new(own.clone(), Origin::Deploy, own.span),
            None => Setting::new(m.clone(), Origin::Api, m.span),
        })
        .collect();
    for own in &deploy.monitors {
        if !api.monitors.iter().any(|m| m.kind.as_str() == own.kind.as_str()) {
            monitors.push(Setting::new(own.clone(), Origin::Deploy, own.span));
        }
    }
    let slo = match (&deploy.slo, &api.slo) {
        (Some(s), _) => Some(Setting::new(s.clone(), Origin::Deploy, s.span)),
        (None, Some(s)) => Some(Setting::new(s.clone(), Origin::Api, s.span)),
        (None, None) => None,
    };
    let jwt = match (&deploy.jwt, &api.security.jwt) {
        (Some(j), _) => Some(Setting::new(j.clone(), Origin::Deploy, j.span)),
        (None, Some(j)) => Some(Setting::new(j.clone(), Origin::Api, j.span)),
        (None, None) => None,
    };
    if let Some(Setting { value: Jwt { issuer: JwtIssuer::Cognito { user_pool }, .. }, .. }) = &jwt {
        // A Cognito authorizer of the stage's own account and region, as every ARN it uses.
        at.own_arn(&user_pool.value, user_pool.span, "Cognito user pool", sink);
        // API Gateway authorizes a method "if any method scopes matches a claimed scope in the
        // access token" (Method.authorizationScopes); a route's scopes are all required.
        for route in api.routes.iter().filter(|r| r.scopes.len() > 1) {
            sink.push(
                Diagnostic::new(
                    Code::CognitoScopesAnyOf,
                    format!(
                        "`{} {}` requires {} scopes, but a Cognito authorizer lets a token with any one of them in",
                        route.method.value.as_str(),
                        route.path.value,
                        route.scopes.len()
                    ),
                )
                .primary(route.span, "all of these scopes are required")
                .secondary(user_pool.span, "API Gateway's Cognito authorizer")
                .help("give the route one scope that stands for all of them, or validate tokens of an OpenID Connect issuer (`jwt issuer=... audience=...`), whose authorizer requires every scope of the route"),
            );
        }
    }
    let backend = Setting::new(backend_value, origin, backend.span);
    Some(Settings { deploy: place.deploy, region, backend, throttle, endpoint, monitors, slo, jwt })
}

/// A stage's place, for the checks that compare what it uses with where it is.
struct Where<'a> {
    estate: &'a Estate,
    place: Place,
    /// The stage's region and where it was written (account, tenant or platform).
    region: (&'a Region, Span),
}

impl Where<'_> {
    fn env_name(&self) -> &str {
        self.estate.environments[self.place.env].name.value.as_str()
    }

    fn target_span(&self) -> Span {
        self.estate.apis[self.place.api].deploy[self.place.deploy].env.span
    }

    /// Reports an ARN written for this stage that does not name its own account and region.
    fn own_arn(&self, arn: &Arn, span: Span, what: &str, sink: &mut Diagnostics) {
        let account = &self.estate.accounts[self.place.account];
        own_arn(arn, span, what, self.region, account, self.env_name(), Some(self.target_span()), sink);
    }

    /// Reports an API that requires mutual TLS but does not get it from the stage's domain.
    fn enforces_mtls(&self, endpoint: Option<&Endpoint>, sink: &mut Diagnostics) {
        let api = &self.estate.apis[self.place.api];
        let Some(required) = &api.security.mtls else {
            return;
        };
        let env = self.env_name();
        let Some(endpoint) = endpoint else {
            sink.push(
                Diagnostic::new(
                    Code::MtlsWithoutDomain,
                    format!("API `{}` requires mutual TLS, but its stage in `{env}` has no custom domain", api.name.value),
                )
                .primary(required.span, "mutual TLS is enforced by a custom domain")
                .secondary(self.target_span(), format!("`{env}` has no gateway"))
                .help(format!("give environment `{env}` a `gateway \"HOST\" ... {{ mtls truststore=\"s3://...\" }}`, or the API a `domain`")),
            );
            return;
        };
        let host = &endpoint.domain.value.host.value;
        let Some(enforced) = &endpoint.mtls else {
            sink.push(
                Diagnostic::new(
                    Code::MtlsNotEnforced,
                    format!("API `{}` requires mutual TLS, but `{host}` does not enforce it", api.name.value),
                )
                .primary(required.span, "requires mutual TLS")
                .secondary(endpoint.domain.value.host.span, format!("serves the stage in `{env}` without mutual TLS"))
                .help(format!("add `mtls truststore=\"s3://...\"` inside the block of `{host}`")),
            );
            return;
        };
        if let (Some(wanted), Some(actual)) = (&required.truststore, &enforced.value.truststore)
            && wanted.value != actual.value
            && enforced.origin != Origin::Api
        {
            sink.push(
                    Diagnostic::new(
                        Code::MtlsNotEnforced,
                        format!(
                            "API `{}` trusts clients of `{}`, but `{host}` checks them against `{}`",
                            api.name.value, wanted.value, actual.value
                        ),
                    )
                    .primary(wanted.span, "the API's truststore")
                    .secondary(actual.span, format!("the truststore of the domain serving `{env}`"))
                    .help("a truststore in the API's `security` block applies to its own `domain` only: drop it to accept the gateway's, or give the API a `domain` of its own"),
                );
        }
    }
}

/// The stage's endpoint: its own domain (`deploy` block, else the API's), else the
/// environment's gateway.
fn endpoint(at: &Where<'_>, sink: &mut Diagnostics) -> Option<Endpoint> {
    let estate = at.estate;
    let api = &estate.apis[at.place.api];
    let deploy = &api.deploy[at.place.deploy];
    let env = &estate.environments[at.place.env];
    let account = &estate.accounts[at.place.account];
    let written_path = api.base_path.as_ref().map(|p| Setting::new(Some(p.value.clone()), Origin::Api, p.span));
    let own = match (&deploy.domain, &api.domain) {
        (Some(d), _) => Some((d, Origin::Deploy)),
        (None, Some(d)) => Some((d, Origin::Api)),
        (None, None) => None,
    };
    if let Some((domain, origin)) = own {
        check_domain(domain, account, at.region, at.env_name(), Some(at.target_span()), sink);
        // The v0 form: the truststore of an API's own domain in its `security` block.
        let mtls = match (&domain.mtls, &api.security.mtls) {
            (Some(m), _) => Some(Setting::new(m.clone(), origin, m.span)),
            (None, Some(m)) if m.truststore.is_some() => Some(Setting::new(m.clone(), Origin::Api, m.span)),
            _ => None,
        };
        // A dedicated domain serves the API at its root unless `base-path` says otherwise.
        let base_path = written_path.unwrap_or_else(|| Setting::new(None, Origin::Default, domain.host.span));
        let zone = zone_of(domain, account);
        let domain = Setting::new(domain.clone(), origin, domain.span);
        return Some(Endpoint { domain, dedicated: true, base_path, mtls, zone });
    }
    let gateway = env.gateway.as_ref()?;
    let base_path =
        written_path.unwrap_or_else(|| Setting::new(Some(api.name.value.to_string()), Origin::Default, api.name.span));
    let mtls = gateway.mtls.as_ref().map(|m| Setting::new(m.clone(), Origin::Environment, m.span));
    let zone = zone_of(gateway, account);
    let domain = Setting::new(gateway.clone(), Origin::Environment, gateway.span);
    Some(Endpoint { domain, dedicated: false, base_path, mtls, zone })
}

/// Whether `arn` names `account` (where its id is known) and `region`; reports
/// `region-mismatch`, `account-mismatch` or `requested-account-reference` otherwise. `user` names
/// the stage's or the environment's place in messages; `region` comes with the line that
/// decided it (a region mismatch is often that line's mistake: both are shown); `target` is
/// the `deploy` entry that put a stage there.
#[allow(clippy::too_many_arguments)]
pub fn own_arn(
    arn: &Arn,
    span: Span,
    what: &str,
    (region, region_at): (&Region, Span),
    account: &Account,
    user: &str,
    target: Option<Span>,
    sink: &mut Diagnostics,
) -> bool {
    let with_target = |d: Diagnostic| match target {
        Some(t) => d.secondary(t, format!("deployed to `{user}` here")),
        None => d,
    };
    let mut ok = true;
    if &arn.region != region {
        sink.push(with_target(
            Diagnostic::new(
                Code::RegionMismatch,
                format!("the {what} is in {}, but `{user}` is in {region}", arn.region),
            )
            .primary(span, format!("{what} in {}", arn.region))
            .secondary(region_at, format!("`{user}` is in {region} because of this line"))
            .help(format!(
                "use a {what} of {region}, the region of `{user}`, or correct the region if it is the mistake"
            )),
        ));
        ok = false;
    }
    let fix = if what == "Cognito user pool" {
        "give each stage the user pool of its own account: `jwt cognito-user-pool=...` inside its `deploy \"...\" { ... }` block"
    } else if what == "certificate" && account.id.is_none() {
        // No zone id can be written for an account not created yet either: its zone comes
        // from its own `dns-zone` baseline.
        "drop `certificate=` and give the account `baseline \"dns-zone\" domain=\"...\"` (a zone holding the host): idpc then creates the zone and requests the certificate in the account"
    } else if what == "certificate" {
        "use a certificate of the gateway's own account, or drop `certificate=` and give `hosted-zone=\"Z...\"` (a zone of that account): idpc then requests the certificate there"
    } else {
        "write the function's name (`lambda=\"NAME\"`): each stage then calls the function of its own account and region"
    };
    match &account.id {
        Some(id) if id.value.0 != arn.account => {
            sink.push(with_target(
                Diagnostic::new(
                    Code::AccountMismatch,
                    format!(
                        "the {what} belongs to account {}, but `{user}` is in account `{}` ({})",
                        arn.account, account.name.value, id.value.0
                    ),
                )
                .primary(span, format!("{what} of account {}", arn.account))
                .help(format!("{}; {fix}", if what == "certificate" {
                    "API Gateway attaches only certificates of its own account to a custom domain"
                } else if what == "Cognito user pool" {
                    "idpc keeps every stage on the identity resources of its own account and region"
                } else {
                    "a stage's stack can grant API Gateway access only to a function of its own account (only the owner adds to a function's policy), and idpc keeps every stage on the backend of its own account"
                })),
            ));
            ok = false;
        }
        Some(_) => {}
        None => {
            sink.push(with_target(
                Diagnostic::new(
                    Code::RequestedAccountReference,
                    format!(
                        "`{user}` is in account `{}`, which idpc requests: its id is not known, so no ARN can name it",
                        account.name.value
                    ),
                )
                .primary(span, format!("a {what} of account {}", arn.account))
                .help(fix.to_owned()),
            ));
            ok = false;
        }
    }
    ok
}
