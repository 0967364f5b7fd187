//! Baselines (declarations and uses) and compliance profiles.

use super::{Name, Spanned};
use crate::source::Span;

/// What a baseline applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Scope {
    /// An AWS account.
    Account,
    /// An environment.
    Environment,
}

impl Scope {
    /// Spelling in `baseline.kdl`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Account => "account",
            Scope::Environment => "environment",
        }
    }
}

/// The type of a baseline parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ParamType {
    /// Any string.
    String,
    /// A whole number.
    Integer,
    /// Any finite number.
    Number,
    /// `#true` or `#false`.
    Boolean,
    /// An `s3://bucket/key` URI.
    S3Uri,
    /// A lower-case fully qualified domain name.
    Domain,
}

impl ParamType {
    /// Every type's spelling.
    pub const NAMES: &'static [&'static str] = &["string", "integer", "number", "boolean", "s3-uri", "domain"];

    /// Parses a type's spelling.
    pub fn parse(text: &str) -> Option<ParamType> {
        Some(match text {
            "string" => ParamType::String,
            "integer" => ParamType::Integer,
            "number" => ParamType::Number,
            "boolean" => ParamType::Boolean,
            "s3-uri" => ParamType::S3Uri,
            "domain" => ParamType::Domain,
            _ => return None,
        })
    }

    /// The type's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Number => "number",
            ParamType::Boolean => "boolean",
            ParamType::S3Uri => "s3-uri",
            ParamType::Domain => "domain",
        }
    }
}

/// A parameter value, after type checking.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ParamValue {
    /// String or S3 URI.
    String(String),
    /// Whole number.
    Integer(i64),
    /// Finite number.
    Number(f64),
    /// Boolean.
    Boolean(bool),
}

/// A declared baseline parameter.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Param {
    /// Parameter name (a property name on `baseline "..."`).
    pub name: Spanned<String>,
    /// Its type.
    pub ty: ParamType,
    /// Whether a use must give it.
    pub required: bool,
    /// Value used when not given.
    pub default: Option<ParamValue>,
    /// Smallest allowed number.
    pub min: Option<f64>,
    /// Largest allowed number.
    pub max: Option<f64>,
    /// Allowed values, when restricted (strings, or numbers for numeric parameters).
    pub one_of: Vec<ParamValue>,
    /// What the parameter means.
    pub description: Option<String>,
}

/// A baseline declaration (`baselines/<name>/baseline.kdl`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct BaselineDecl {
    /// The baseline's name.
    pub name: Spanned<Name>,
    /// The whole `baseline` node.
    pub span: Span,
    /// Account or environment.
    pub scope: Scope,
    /// One-line description.
    pub description: Option<String>,
    /// Declared parameters in declaration order.
    pub params: Vec<Param>,
    /// Other baselines this one needs, applied to the same account (or the environment's account).
    pub requires: Vec<Spanned<Name>>,
    /// Whether it comes from the stdlib (else from the estate's `baselines/`).
    pub stdlib: bool,
    /// The folder of its files, such as `baselines/cost` or `<stdlib>/baselines/cost`.
    pub folder: String,
    /// Templates and the artifacts they feed, in declaration order.
    pub templates: Vec<TemplateDecl>,
}

/// What a baseline template renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum TemplateArtifact {
    /// A CloudFormation fragment `{"Resources": {...}, "Outputs": {...}}` merged into the
    /// owner's baseline stack.
    CloudFormation,
    /// One Datadog monitor payload (or `null` for none).
    DatadogMonitor,
}

impl TemplateArtifact {
    /// Every spelling.
    pub const NAMES: &'static [&'static str] = &["cloudformation", "datadog-monitor"];
}

/// A `template "file.json.hbs" artifact="..."` line of a baseline declaration.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TemplateDecl {
    /// File name inside the baseline's folder.
    pub file: Spanned<String>,
    /// What it renders.
    pub artifact: TemplateArtifact,
}

impl TemplateDecl {
    /// The file name without `.json.hbs`, used in artifact names.
    pub fn stem(&self) -> &str {
        self.file.value.strip_suffix(".json.hbs").unwrap_or(&self.file.value)
    }
}

/// A `baseline "name" key=value...` line inside an account or environment.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct BaselineUse {
    /// The baseline's name.
    pub name: Spanned<Name>,
    /// The whole node.
    pub span: Span,
    /// Given parameters, sorted by name (names unique).
    pub params: Vec<(Spanned<String>, Spanned<ParamValue>)>,
}

/// A compliance profile (`stdlib/compliance/<profile>.kdl`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    /// The profile's name.
    pub name: Spanned<Name>,
    /// What it is for.
    pub description: Option<String>,
    /// AWS Config managed rules that `config-compliance` deploys for tenants of this profile.
    pub config_rules: Vec<ConfigRule>,
    /// Policies checked at compile time for tenants of this profile.
    pub policies: Vec<PolicyUse>,
}

/// A `policy "code" key=value...` line of a compliance profile.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PolicyUse {
    /// The policy's code (a registry code such as `allow-ip-too-wide`).
    pub code: Spanned<String>,
    /// Settings of the policy, by name.
    pub settings: std::collections::BTreeMap<String, Spanned<ParamValue>>,
}

/// A `waive "CODE" reason="..." until="YYYY-MM-DD"` line inside the node it applies to.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Waiver {
    /// The policy code it waives.
    pub code: Spanned<String>,
    /// Why the violation is accepted.
    pub reason: Option<Spanned<String>>,
    /// Last day the waiver applies.
    pub until: Option<Spanned<crate::model::Date>>,
    /// The `waive` node.
    pub span: Span,
}

/// An AWS Config managed rule of a compliance profile.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ConfigRule {
    /// Managed rule identifier, such as `API_GW_XRAY_ENABLED`.
    pub identifier: String,
    /// What it checks.
    pub description: String,
    /// Input parameters, by name.
    pub input: std::collections::BTreeMap<String, String>,
}
