//! The API side of the model: APIs, their routes, security, backends and monitors.

use super::{Method, Name, Region, Spanned, Waiver};
use crate::source::Span;

/// A service API, deployed to one or more environments.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Api {
    /// The API's name.
    pub name: Spanned<Name>,
    /// The whole node.
    pub span: Span,
    /// Semantic version.
    pub version: Spanned<semver::Version>,
    /// Owning team.
    pub owner: Spanned<Name>,
    /// The name it had before (`renamed-from=`): `idpc diff` compares the old stages with the
    /// new ones instead of reporting a removal and an addition.
    pub renamed_from: Option<Spanned<Name>>,
    /// Environments it is deployed to, in the order written, each with its overrides.
    pub deploy: Vec<Deploy>,
    /// Path under which its stages are mapped on their domain (`base-path`); the API's name
    /// when not written.
    pub base_path: Option<Spanned<String>>,
    /// A dedicated custom domain for every stage (else each stage uses its environment's
    /// gateway).
    pub domain: Option<CustomDomain>,
    /// Where requests go, unless a `deploy` block says otherwise.
    pub backend: Option<Spanned<Backend>>,
    /// mTLS, JWT and the IP allow-list.
    pub security: Security,
    /// Stage throttling.
    pub throttle: Option<Throttle>,
    /// Routes in the order written.
    pub routes: Vec<Route>,
    /// Monitors in the order written.
    pub monitors: Vec<Monitor>,
    /// Availability objective.
    pub slo: Option<Slo>,
    /// APIs this one calls, in the order written.
    pub uses: Vec<Spanned<Name>>,
    /// `waive` lines: accepted policy violations, each with a reason and an end date.
    pub waivers: Vec<Waiver>,
}

/// One `deploy` target: an environment, and what the API's stage there does differently.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Deploy {
    /// The environment.
    pub env: Spanned<Name>,
    /// The `deploy` node.
    pub span: Span,
    /// Backend of this stage only.
    pub backend: Option<Spanned<Backend>>,
    /// Throttling of this stage only.
    pub throttle: Option<Throttle>,
    /// Dedicated custom domain of this stage only.
    pub domain: Option<CustomDomain>,
    /// Monitors of this stage only, each replacing the API's monitor of the same kind.
    pub monitors: Vec<Monitor>,
    /// Availability objective of this stage only.
    pub slo: Option<Slo>,
    /// Token validation of this stage only (its tenant's identity provider).
    pub jwt: Option<Jwt>,
}

/// A regional custom domain: an environment's `gateway`, or an API's dedicated `domain`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CustomDomain {
    /// Fully qualified host name, lower case.
    pub host: Spanned<String>,
    /// An existing ACM certificate for the host (else idpc requests one, DNS-validated in
    /// `hosted_zone`).
    pub certificate: Option<Spanned<Arn>>,
    /// Route 53 public hosted zone (in the same account) for the alias record and, without
    /// `certificate`, the certificate's DNS validation.
    pub hosted_zone: Option<Spanned<String>>,
    /// TLS security policy (`TLS_1_2` unless written).
    pub tls_policy: Spanned<String>,
    /// Mutual TLS of the domain, written inside its block.
    pub mtls: Option<Mtls>,
    /// The `gateway` or `domain` node.
    pub span: Span,
}

/// A parsed ARN of the `aws` partition.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Arn {
    /// The whole ARN.
    pub text: String,
    /// Service (`lambda`, `acm`).
    pub service: String,
    /// Region.
    pub region: Region,
    /// Account id.
    pub account: String,
    /// Everything after the account.
    pub resource: String,
}

/// The Lambda function of a backend: a name in the stage's own account and region, or an ARN.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum LambdaTarget {
    /// `lambda="NAME"` or `lambda="NAME:ALIAS"`: the function of that name in each stage's
    /// own account and region.
    Name {
        /// Function name.
        function: String,
        /// Alias or version.
        qualifier: Option<String>,
    },
    /// A full function ARN (it must name the stage's own account and region).
    Arn(Arn),
}

/// Where an API's requests go.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Backend {
    /// A Lambda function (proxy integration).
    Lambda(LambdaTarget),
    /// An HTTPS backend (proxy integration); no trailing slash.
    Http(String),
}

/// The `security` block.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Security {
    /// Mutual TLS required of the stage's custom domain.
    pub mtls: Option<Mtls>,
    /// JWT validation by the account's authorizer.
    pub jwt: Option<Jwt>,
    /// Source IP ranges allowed; empty means no IP restriction.
    pub allow_ip: Vec<Spanned<ipnet::IpNet>>,
    /// The `security` node, when written.
    pub span: Option<Span>,
}

/// Mutual TLS settings: on a domain, its truststore; in an API's `security` block, that the
/// API's domain must enforce mutual TLS (a truststore there is the v0 form: the truststore of
/// the API's dedicated domain).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Mtls {
    /// `s3://` URI of the truststore PEM.
    pub truststore: Option<Spanned<String>>,
    /// S3 version id of the truststore object, pinning it for reproducible deploys.
    pub version: Option<Spanned<String>>,
    /// The `mtls` node.
    pub span: Span,
}

/// JWT validation settings.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Jwt {
    /// Who issues the tokens, and so who validates them.
    pub issuer: JwtIssuer,
    /// The `jwt` node.
    pub span: Span,
}

/// Who issues a stage's tokens.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum JwtIssuer {
    /// An OpenID Connect issuer: the account's `jwt-authorizer` Lambda validates the token and
    /// each route's scopes (from the stage's route table).
    Oidc {
        /// Token issuer (https URL).
        issuer: Spanned<String>,
        /// Expected audience.
        audience: Spanned<String>,
    },
    /// An Amazon Cognito user pool: API Gateway's own authorizer validates the token and each
    /// method's scopes (`authorizationScopes`).
    Cognito {
        /// The user pool's ARN.
        user_pool: Spanned<Arn>,
    },
}

/// Stage throttling.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Throttle {
    /// Steady-state requests per second.
    pub rate: Spanned<u32>,
    /// Burst size.
    pub burst: Spanned<u32>,
    /// The `throttle` node.
    pub span: Span,
}

/// One segment of a route path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Segment {
    /// A literal segment.
    Literal(String),
    /// `{name}`.
    Param(String),
}

/// A route.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Route {
    /// HTTP method.
    pub method: Spanned<Method>,
    /// Path as written, such as `/accounts/{accountId}`.
    pub path: Spanned<String>,
    /// Parsed path segments.
    pub segments: Vec<Segment>,
    /// OAuth scopes the token must carry.
    pub scopes: Vec<String>,
    /// The `route` node.
    pub span: Span,
}

impl Route {
    /// `METHOD /path`, the path as written with its `{parameters}`: a route's name in the
    /// stage's route table (what API Gateway gives a REQUEST authorizer as `httpMethod` and
    /// `resource`) and in the stack's facts.
    pub fn key(&self) -> String {
        format!("{} {}", self.method.value.as_str(), self.path.value)
    }

    /// The OpenAPI `operationId`: method, then each segment in PascalCase, parameters as
    /// `By<Name>`: `GET /accounts/{accountId}` gives `getAccountsByAccountId`.
    pub fn operation_id(&self) -> String {
        let pascal = |id: &mut String, text: &str| {
            for part in text.split(['-', '.', '_', ':']) {
                super::push_capitalized(id, part);
            }
        };
        let mut id = self.method.value.openapi_key().to_owned();
        for segment in &self.segments {
            match segment {
                Segment::Literal(l) => pascal(&mut id, l),
                Segment::Param(p) => {
                    id.push_str("By");
                    pascal(&mut id, p);
                }
            }
        }
        if self.segments.is_empty() {
            id.push_str("Root");
        }
        id
    }

    /// Names of the path parameters, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(p) => Some(p.as_str()),
            Segment::Literal(_) => None,
        })
    }
}

/// What a monitor watches and its threshold.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum MonitorKind {
    /// p95 latency above this many milliseconds.
    Latency {
        /// Threshold in milliseconds.
        p95_ms: u32,
    },
    /// 5xx responses above this fraction of requests (0..1).
    Errors {
        /// Threshold as a fraction.
        max_5xx_rate: f64,
    },
    /// Fewer than this many requests in 5 minutes.
    TrafficDrop {
        /// Threshold in requests per 5 minutes.
        min_requests_per_5m: u32,
    },
}

impl MonitorKind {
    /// Every kind's spelling.
    pub const NAMES: &'static [&'static str] = &["latency", "errors", "traffic-drop"];

    /// The kind's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            MonitorKind::Latency { .. } => "latency",
            MonitorKind::Errors { .. } => "errors",
            MonitorKind::TrafficDrop { .. } => "traffic-drop",
        }
    }
}

/// A monitor on every stage of an API.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Monitor {
    /// Kind and threshold.
    pub kind: MonitorKind,
    /// Datadog priority 1 (highest) to 5.
    pub priority: Option<Spanned<u8>>,
    /// The `monitor` node.
    pub span: Span,
}

/// An availability objective.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Slo {
    /// Target percentage of non-5xx responses, such as 99.9.
    pub availability: Spanned<f64>,
    /// Rolling window: `7d`, `30d` or `90d`.
    pub timeframe: Spanned<String>,
    /// The `slo` node.
    pub span: Span,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, Span};

    fn route(method: Method, segments: Vec<Segment>) -> Route {
        let span = Span::new(FileId(0), 0, 0);
        Route {
            method: Spanned { value: method, span },
            path: Spanned { value: String::new(), span },
            segments,
            scopes: Vec::new(),
            span,
        }
    }

    #[test]
    fn operation_ids() {
        let lit = |s: &str| Segment::Literal(s.to_owned());
        let param = |s: &str| Segment::Param(s.to_owned());
        let get = route(Method::Get, vec![lit("accounts"), param("accountId")]);
        assert_eq!(get.operation_id(), "getAccountsByAccountId");
        let post = route(Method::Post, vec![lit("fx-rates.v2"), lit("a_b:c"), param("x-y"), lit("--")]);
        assert_eq!(post.operation_id(), "postFxRatesV2ABCByXY");
        assert_eq!(route(Method::Get, Vec::new()).operation_id(), "getRoot");
    }
}
