//! The embedded stdlib: baseline declarations and compliance profiles from `stdlib/`, under
//! pseudo-paths `<stdlib>/...` so diagnostics can point into them.
//!
//! The list is explicit; `tests/tidy.rs` checks that it equals the folder.

use crate::source::FileKind;

/// Path prefix of embedded files.
pub const PREFIX: &str = "<stdlib>/";

macro_rules! file {
    (Decl $path:literal) => {
        (concat!("<stdlib>/", $path), FileKind::BaselineDecl, include_str!(concat!("../../stdlib/", $path)))
    };
    (Template $path:literal) => {
        (concat!("<stdlib>/", $path), FileKind::BaselineTemplate, include_str!(concat!("../../stdlib/", $path)))
    };
    (Compliance $path:literal) => {
        (concat!("<stdlib>/", $path), FileKind::Compliance, include_str!(concat!("../../stdlib/", $path)))
    };
}
/// Every stdlib file: (pseudo-path, kind, text).
pub const FILES: &[(&str, FileKind, &str)] = &[
    file!(Decl "baselines/audit-trail/baseline.kdl"),
    file!(Template "baselines/audit-trail/resources.json.hbs"),
    file!(Decl "baselines/config-compliance/baseline.kdl"),
    file!(Template "baselines/config-compliance/resources.json.hbs"),
    file!(Decl "baselines/cost/baseline.kdl"),
    file!(Template "baselines/cost/monitor.json.hbs"),
    file!(Template "baselines/cost/resources.json.hbs"),
    file!(Decl "baselines/deployments/baseline.kdl"),
    file!(Template "baselines/deployments/monitor.json.hbs"),
    file!(Template "baselines/deployments/resources.json.hbs"),
    file!(Decl "baselines/dns-zone/baseline.kdl"),
    file!(Template "baselines/dns-zone/resources.json.hbs"),
    file!(Decl "baselines/jwt-authorizer/baseline.kdl"),
    file!(Template "baselines/jwt-authorizer/resources.json.hbs"),
    file!(Compliance "compliance/eu-banking.kdl"),
];
