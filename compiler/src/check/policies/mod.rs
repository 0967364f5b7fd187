//! The policy registry: each policy's code, whether it may be waived, and its check.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

mod allow_ip;
pub mod jwt_shared_across_tenants;
mod production_account_without_baseline;
mod production_api;
mod region_outside_eu;
pub mod unauthenticated_api;

use super::{Scope, Violation};
use crate::diagnostics::Code;

/// A policy a compliance profile can pick.
pub struct Policy {
    /// Its code: what the profile names and what `waive` names.
    pub code: Code,
    /// Whether a `waive` line may accept a violation.
    pub waivable: bool,
    /// The check over the resolved estate; `None` for a policy checked on the rendered
    /// artifacts instead (`insecure-resource`: `emit::rules`, as each baseline renders).
    pub check: Option<fn(&Scope<'_>) -> Vec<Violation>>,
}

/// Every policy.
pub const ALL: &[Policy] = &[
    Policy { code: Code::ProductionApiWithoutMtls, waivable: true, check: Some(production_api::without_mtls) },
    Policy { code: Code::ProductionApiWithoutJwt, waivable: true, check: Some(production_api::without_jwt) },
    Policy { code: Code::AllowIpTooWide, waivable: true, check: Some(allow_ip::too_wide) },
    Policy { code: Code::AllowIpAny, waivable: false, check: Some(allow_ip::any) },
    Policy { code: Code::RegionOutsideEu, waivable: true, check: Some(region_outside_eu::check) },
    Policy { code: Code::UnauthenticatedApi, waivable: true, check: Some(unauthenticated_api::check) },
    Policy { code: Code::JwtSharedAcrossTenants, waivable: true, check: Some(jwt_shared_across_tenants::check) },
    Policy {
        code: Code::ProductionAccountWithoutBaseline,
        waivable: true,
        check: Some(production_account_without_baseline::check),
    },
    Policy { code: Code::InsecureResource, waivable: false, check: None },
];

/// The policy with this code name.
pub fn find(code: &str) -> Option<&'static Policy> {
    ALL.iter().find(|p| p.code.name() == code)
}
