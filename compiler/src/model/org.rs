//! The organisation side of the model: platform, tenants, accounts, environments.

use super::{AccountId, BaselineUse, CustomDomain, Date, Name, Region, Spanned, Tier, Waiver};
use crate::source::Span;

/// The one platform: organisation-wide settings.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Platform {
    /// The platform's name.
    pub name: Spanned<Name>,
    /// The whole node.
    pub span: Span,
    /// The AWS Organizations management account.
    pub management_account: Spanned<AccountId>,
    /// Default region of every tenant.
    pub region: Spanned<Region>,
    /// Datadog settings.
    pub datadog: Datadog,
    /// Tags applied to every stack, in the order written (keys are unique).
    pub tags: Vec<(Spanned<String>, Spanned<String>)>,
    /// `waive` lines: accepted policy violations, each with a reason and an end date.
    pub waivers: Vec<Waiver>,
}

/// Where Datadog lives and whom it notifies.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Datadog {
    /// Datadog site, such as `datadoghq.eu`.
    pub site: Spanned<String>,
    /// Notification handles, such as `@slack-platform-alerts` (one or more, space-separated).
    pub notify: Spanned<Vec<String>>,
    /// The `datadog` node.
    pub span: Span,
}

/// A bank client.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Tenant {
    /// The tenant's name.
    pub name: Spanned<Name>,
    /// The whole node.
    pub span: Span,
    /// Human name.
    pub display_name: Option<Spanned<String>>,
    /// Contact email.
    pub contact: Option<Spanned<String>>,
    /// Cost center for cost allocation tags.
    pub cost_center: Option<Spanned<String>>,
    /// Default region of the tenant's accounts (else the platform's).
    pub region: Option<Spanned<Region>>,
    /// Compliance profile name.
    pub compliance: Option<Spanned<Name>>,
    /// `waive` lines: accepted policy violations, each with a reason and an end date.
    pub waivers: Vec<Waiver>,
}

/// An AWS account of one tenant; requested when it has no `id`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Account {
    /// The account's name.
    pub name: Spanned<Name>,
    /// The whole node.
    pub span: Span,
    /// The owning tenant.
    pub tenant: Spanned<Name>,
    /// The existing account's id; `None` means the build requests the account.
    pub id: Option<Spanned<AccountId>>,
    /// Root email (required for a requested account).
    pub email: Option<Spanned<String>>,
    /// Organizational unit id for a requested account.
    pub ou: Option<Spanned<String>>,
    /// Region override (else the tenant's, else the platform's).
    pub region: Option<Spanned<Region>>,
    /// The account's API Gateway custom-domain quota per region, where it was raised above the
    /// default of 120 (`custom-domain-quota=`).
    pub custom_domain_quota: Option<Spanned<u32>>,
    /// Account-scope baselines.
    pub baselines: Vec<BaselineUse>,
    /// `waive` lines: accepted policy violations, each with a reason and an end date.
    pub waivers: Vec<Waiver>,
}

/// A deployment target inside one account.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Environment {
    /// The environment's name.
    pub name: Spanned<Name>,
    /// The whole node.
    pub span: Span,
    /// The hosting account.
    pub account: Spanned<Name>,
    /// The tier.
    pub tier: Spanned<Tier>,
    /// The name it had before (`renamed-from=`), for `idpc diff`.
    pub renamed_from: Option<Spanned<Name>>,
    /// Expiry date (ephemeral environments only).
    pub expires: Option<Spanned<Date>>,
    /// The environment's API gateway: the custom domain its API stages are mapped on.
    pub gateway: Option<CustomDomain>,
    /// Environment-scope baselines.
    pub baselines: Vec<BaselineUse>,
    /// `waive` lines: accepted policy violations, each with a reason and an end date.
    pub waivers: Vec<Waiver>,
}
