//! The typed model of an estate: plain data, no logic beyond parsing small value types.
//!
//! Every user-written value keeps its `Span`, so any later pass can point at it. The model is
//! produced by `lower` (one file at a time, then merged sorted by name) and read by every
//! later pass; it never sees KDL types.

pub mod api;
pub mod baseline;
pub mod name;
pub mod org;
pub mod values;

pub use api::*;
pub use baseline::*;
pub use name::{Name, push_capitalized};
pub use org::*;
pub use values::*;

use crate::source::Span;

/// A value with the span it was written at.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where the user wrote it.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Pairs a value with its span.
    pub fn new(value: T, span: Span) -> Spanned<T> {
        Spanned { value, span }
    }
}

/// Everything an estate declares, each kind sorted by name.
#[derive(Clone, Debug, Default)]
pub struct Estate {
    /// The platform (exactly one in a valid estate).
    pub platform: Option<Platform>,
    /// Tenants, sorted by name.
    pub tenants: Vec<Tenant>,
    /// Accounts, sorted by name.
    pub accounts: Vec<Account>,
    /// Environments, sorted by name.
    pub environments: Vec<Environment>,
    /// APIs, sorted by name.
    pub apis: Vec<Api>,
    /// Baseline declarations (stdlib and the estate's own), sorted by name.
    pub baselines: Vec<BaselineDecl>,
    /// Compliance profiles (stdlib), sorted by name.
    pub profiles: Vec<Profile>,
    /// `(kind, name)` of entities written but dropped for errors: references to them are not
    /// reported again as unknown.
    pub broken: std::collections::BTreeSet<(&'static str, String)>,
    /// References written in entities dropped for errors: still checked, so that a mistake in
    /// one property does not hide a misspelt reference beside it.
    pub dangling: Vec<(RefKind, Spanned<Name>)>,
}

/// What a reference names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum RefKind {
    /// `tenant=` of an account.
    Tenant,
    /// `account=` of an environment.
    Account,
    /// A `deploy` target.
    Environment,
    /// A `uses` target.
    Api,
}
