//! The single registry of diagnostic codes.
//!
//! A code is a kebab-case name stating the problem, never the fix. Codes are what users grep
//! for, link to and (for policies) waive, so a released code never changes its name. Every
//! code has an explain page `explain/<code>.md` (shown by `idpc explain <code>`) and at least
//! one err case under `tests/cases/err/<code>*`; `tests/tidy.rs` keeps all three in step.

use super::Severity;

macro_rules! codes {
    ($($variant:ident = $name:literal, $severity:ident, $summary:literal;)*) => {
        /// A diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(#[doc = $summary] $variant,)*
        }

        impl Code {
            /// Every code, in registry order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code's stable kebab-case name.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The severity a diagnostic with this code has unless a waiver changes it.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// One line saying what the code means.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }

            /// The code's explain page (markdown).
            pub fn explain(self) -> &'static str {
                match self { $(Code::$variant => include_str!(concat!("explain/", $name, ".md")),)* }
            }
        }
    };
}

codes! {
    SyntaxError = "syntax-error", Error, "the file is not valid KDL v2";
    InvalidUtf8 = "invalid-utf8", Error, "the file is not UTF-8 text";
    FileTooLarge = "file-too-large", Error, "a spec file is larger than 1 MiB";
    EstateTooLarge = "estate-too-large", Error, "the estate's files add up to more than 64 MiB";
    NestingTooDeep = "nesting-too-deep", Error, "children blocks are nested more than 64 levels deep";
    UnknownNode = "unknown-node", Error, "a node that idpc does not know in this place";
    UnknownProperty = "unknown-property", Error, "a property that this node does not take";
    MissingProperty = "missing-property", Error, "a required property is missing";
    ConflictingProperties = "conflicting-properties", Error, "two properties that exclude each other are both given";
    MissingArgument = "missing-argument", Error, "a node lacks a required argument";
    UnexpectedArgument = "unexpected-argument", Error, "a node has more arguments than it takes";
    DuplicateProperty = "duplicate-property", Error, "the same property is given twice on one node";
    DuplicateNode = "duplicate-node", Error, "a node that may appear once appears twice";
    DuplicateValue = "duplicate-value", Error, "the same value is listed twice";
    MissingNode = "missing-node", Error, "a required child node is missing";
    WrongType = "wrong-type", Error, "a value has the wrong type";
    UnknownValue = "unknown-value", Error, "a value outside the allowed set";
    ValueOutOfRange = "value-out-of-range", Error, "a number outside its allowed range";
    BadName = "bad-name", Error, "a name that breaks the naming rule";
    DuplicateName = "duplicate-name", Error, "two things of the same kind share a name";
    MissingPlatform = "missing-platform", Error, "the estate has no platform node";
    DuplicatePlatform = "duplicate-platform", Error, "the estate has more than one platform node";
    UnknownTenant = "unknown-tenant", Error, "a reference to a tenant that does not exist";
    UnknownAccount = "unknown-account", Error, "a reference to an account that does not exist";
    UnknownEnvironment = "unknown-environment", Error, "a reference to an environment that does not exist";
    UnknownApi = "unknown-api", Error, "a reference to an API that does not exist";
    UnknownBaseline = "unknown-baseline", Error, "a baseline that neither the stdlib nor the estate defines";
    UnknownProfile = "unknown-profile", Error, "a compliance profile that does not exist";
    UnknownParameter = "unknown-parameter", Error, "a baseline parameter that the baseline does not declare";
    MissingParameter = "missing-parameter", Error, "a required baseline parameter is missing";
    BaselineScopeMismatch = "baseline-scope-mismatch", Error, "a baseline applied to the wrong kind of node";
    BadTemplate = "bad-template", Error, "a baseline template is missing, malformed or renders invalid JSON";
    MissingRequiredBaseline = "missing-required-baseline", Error, "a baseline requires another that is not applied";
    BadAccountId = "bad-account-id", Error, "an AWS account id that is not 12 digits";
    BadOu = "bad-ou", Error, "an organizational unit id that is not ou-... or r-...";
    BadRegion = "bad-region", Error, "a value that is not an AWS region";
    BadCidr = "bad-cidr", Error, "a value that is not an IP range in CIDR notation";
    CidrHostBits = "cidr-host-bits", Error, "a CIDR range with host bits set";
    Ipv6OnIpv4Endpoint = "ipv6-on-ipv4-endpoint", Error, "an IPv6 range in the allow-list of an endpoint reached over IPv4 only";
    BadVersion = "bad-version", Error, "a version that is not semantic versioning";
    BadDate = "bad-date", Error, "a date that is not a real YYYY-MM-DD date";
    BadUrl = "bad-url", Error, "a value that is not an https URL";
    BadS3Uri = "bad-s3-uri", Error, "a value that is not an s3://bucket/key URI";
    BadArn = "bad-arn", Error, "a malformed or wrong-service ARN";
    BadFunctionName = "bad-function-name", Error, "a Lambda function name (or alias) that Lambda would refuse";
    BadHostedZone = "bad-hosted-zone", Error, "a value that is not a Route 53 hosted zone id";
    BadBasePath = "bad-base-path", Error, "a base path that API Gateway would refuse";
    BadDomain = "bad-domain", Error, "a value that is not a fully qualified domain name";
    BadEmail = "bad-email", Error, "a value that is not an email address";
    BadTag = "bad-tag", Error, "a tag key or value that AWS would refuse or idpc reserves";
    BadHandle = "bad-handle", Error, "a Datadog notification handle that is not @name";
    BadHttpMethod = "bad-http-method", Error, "a route method that is not an HTTP method API Gateway serves";
    BadRoutePath = "bad-route-path", Error, "a route path that API Gateway would refuse";
    DuplicateRoute = "duplicate-route", Error, "the same method and path are routed twice";
    ConflictingRoute = "conflicting-route", Error, "two paths differ only in their parameter names";
    MissingExpiry = "missing-expiry", Error, "an ephemeral environment without an expiry date";
    ExpiryNotEphemeral = "expiry-not-ephemeral", Error, "an expiry date on an environment that is not ephemeral";
    EnvironmentExpired = "environment-expired", Warning, "an ephemeral environment is past its expiry date and is no longer built";
    UsesNotDeployed = "uses-not-deployed", Error, "an API uses an API that is not deployed in the same environment";
    DependencyCycle = "dependency-cycle", Error, "things depend on each other in a circle";
    TlsPolicyNotAllowed = "tls-policy-not-allowed", Error, "a custom domain's TLS policy outside the allow-list";
    ResourcePolicyTooLarge = "resource-policy-too-large", Error, "an API's resource policy exceeds API Gateway's 8,192 characters";
    CognitoScopesAnyOf = "cognito-scopes-any-of", Error, "a route that requires several scopes behind a Cognito authorizer, which accepts any one of them";
    RouteTableTooLarge = "route-table-too-large", Error, "a stage's route table passes the 8 KB an SSM parameter holds";
    StackTooLarge = "stack-too-large", Error, "a stack exceeds 450 resources or 900 KB";
    MtlsWithoutDomain = "mtls-without-domain", Error, "mutual TLS needs a custom domain";
    MissingJwtAuthorizer = "missing-jwt-authorizer", Error, "an API with jwt is deployed to an account without the jwt-authorizer baseline";
    MissingApiLoggingRole = "missing-api-logging-role", Error, "an account hosts API stages without the API Gateway logging role";
    RegionMismatch = "region-mismatch", Error, "an ARN points at another region than the stage that uses it";
    AccountMismatch = "account-mismatch", Error, "an ARN points at another account than the stage or environment that uses it";
    RequestedAccountReference = "requested-account-reference", Error, "an ARN or hosted zone id written for an account that idpc requests, which cannot exist yet";
    DuplicateDomain = "duplicate-domain", Error, "one custom domain name is created twice in one region";
    DuplicateBasePath = "duplicate-base-path", Error, "two API stages are mapped on one domain under the same base path";
    RouteHiddenByMapping = "route-hidden-by-mapping", Warning, "a route that another stage's longer base path on the same domain takes over";
    MtlsNotEnforced = "mtls-not-enforced", Error, "an API that requires mutual TLS is served by a domain that does not enforce it";
    ApiGatewayQuota = "api-gateway-quota", Error, "an account and region would hold more than API Gateway allows";
    ProductionApiWithoutMtls = "production-api-without-mtls", Error, "policy: an API deployed to production without mutual TLS";
    ProductionApiWithoutJwt = "production-api-without-jwt", Error, "policy: an API deployed to production without JWT validation";
    AllowIpTooWide = "allow-ip-too-wide", Error, "policy: an IP allow-list range wider than the profile allows";
    AllowIpAny = "allow-ip-any", Error, "policy: an IP allow-list that admits every address";
    UnauthenticatedApi = "unauthenticated-api", Error, "policy: an API stage anyone can call, with no JWT, no mutual TLS and no IP allow-list (a warning for tenants whose profile does not hold the policy)";
    JwtSharedAcrossTenants = "jwt-shared-across-tenants", Error, "policy: stages of two tenants that accept the same tokens (one issuer and audience), so one bank client's token opens another's (a warning for tenants whose profile does not hold the policy)";
    RegionOutsideEu = "region-outside-eu", Error, "policy: an account of an EU tenant in a region outside the EU";
    ProductionAccountWithoutBaseline = "production-account-without-baseline", Error, "policy: an account hosting production lacks a required baseline";
    InsecureResource = "insecure-resource", Error, "policy: a baseline renders a resource that opens the account: a role any AWS principal may assume, administrator or `*` permissions, a public or unencrypted S3 bucket, logs without a KMS key (a warning for tenants whose profile does not hold the policy)";
    WaiverWithoutReason = "waiver-without-reason", Error, "a waiver that gives no reason";
    WaiverExpired = "waiver-expired", Error, "a waiver past its end date";
    UnknownWaiverCode = "unknown-waiver-code", Error, "a waiver for a code that is not a waivable policy";
    UnusedWaiver = "unused-waiver", Error, "a waiver that waives nothing";
    InternalError = "internal-error", Error, "idpc itself failed; this is a bug";
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Code {
    /// Looks a code up by its name.
    pub fn from_name(name: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.name() == name)
    }
}
