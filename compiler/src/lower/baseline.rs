//! Lowering of baseline declarations (`baselines/<name>/baseline.kdl`, stdlib or estate) and
//! compliance profiles (`compliance/<profile>.kdl`).

use kdl::{KdlNode, KdlValue};

use super::reader::{Ctx, Shape};
use crate::diagnostics::{Code, Diagnostic};
use crate::model::{
    BaselineDecl, ConfigRule, Param, ParamType, ParamValue, PolicyUse, Profile, Scope, Spanned, TemplateArtifact,
    TemplateDecl,
};

impl Ctx<'_> {
    /// Lowers `baseline "name" scope=... { description, param, requires }`; `folder` is the
    /// name of the folder the declaration sits in, which must equal the declared name.
    pub fn baseline_decl(&mut self, node: &KdlNode, path: &str, stdlib: bool) -> Option<BaselineDecl> {
        let folder_path = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        let folder = folder_path.rsplit('/').next().unwrap_or_default();
        let shape =
            Shape { props: &["scope"], children: &["description", "param", "requires", "template"], ..Shape::ONE_ARG };
        let reader = self.open(node, &shape);
        let name = self.node_name(&reader, "baseline name")?;
        if name.value.as_str() != folder {
            self.report(
                Diagnostic::new(Code::BadName, format!("baseline `{}` is declared in folder `{folder}`", name.value))
                    .primary(name.span, "does not match its folder")
                    .help(format!("rename the folder to `baselines/{}/` or the baseline to `{folder}`", name.value)),
            );
            return None;
        }
        let scope = self.required(&reader, "scope").and_then(|e| self.string(e, "scope"));
        let scope = scope.and_then(|s| self.one_of(s, "baseline scope", &["account", "environment"]));
        let scope = scope.map(|s| if s.value == "account" { Scope::Account } else { Scope::Environment });
        let description = self.single(&reader, "description").and_then(|c| self.child_string(c, "description"));
        let mut params: Vec<Param> = Vec::new();
        for child in self.all(&reader, "param") {
            let Some(param) = self.param(child) else {
                continue;
            };
            if let Some(first) = params.iter().find(|p| p.name.value == param.name.value) {
                self.report(
                    Diagnostic::new(Code::DuplicateName, format!("parameter `{}` is declared twice", param.name.value))
                        .primary(param.name.span, "second declaration")
                        .secondary(first.name.span, "first declaration")
                        .help("declare each parameter once"),
                );
                continue;
            }
            params.push(param);
        }
        let mut requires: Vec<Spanned<crate::model::Name>> = Vec::new();
        for child in self.all(&reader, "requires") {
            let r = self.open(child, &Shape::LIST);
            requires.extend(r.args.iter().filter_map(|e| self.name(e, "baseline name")));
        }
        let mut templates: Vec<TemplateDecl> = Vec::new();
        for child in self.all(&reader, "template") {
            let Some(template) = self.template_decl(child) else { continue };
            if templates.iter().any(|t| t.file.value == template.file.value) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateValue,
                        format!("template `{}` is declared twice", template.file.value),
                    )
                    .primary(template.file.span, "declared again")
                    .help("declare each template once"),
                );
                continue;
            }
            templates.push(template);
        }
        Some(BaselineDecl {
            name,
            span: self.span(node.span()),
            scope: scope?,
            description: description.map(|d| d.value),
            params,
            requires,
            stdlib,
            folder: folder_path.to_owned(),
            templates,
        })
    }

    fn param(&mut self, node: &KdlNode) -> Option<Param> {
        let shape = Shape {
            props: &["type", "required", "default", "min", "max", "description"],
            children: &["one-of"],
            ..Shape::ONE_ARG
        };
        let reader = self.open(node, &shape);
        let name = reader.args.first().and_then(|e| self.string(e, "parameter name"))?;
        let name = self.name(reader.args.first()?, "parameter name").map(|_| name)?;
        let ty = self.required(&reader, "type").and_then(|e| self.string(e, "type"));
        let ty = ty
            .and_then(|t| self.one_of(t, "parameter type", ParamType::NAMES))
            .and_then(|t| ParamType::parse(&t.value))?;
        let required = match reader.props.get("required") {
            Some(entry) => match entry.value() {
                KdlValue::Bool(b) => *b,
                _ => {
                    self.report(
                        Diagnostic::new(Code::WrongType, "`required` must be #true or #false")
                            .primary(self.value_span(entry), "not a boolean"),
                    );
                    false
                }
            },
            None => false,
        };
        let bound = |ctx: &mut Ctx<'_>, key: &str| {
            reader.props.get(key).and_then(|e| ctx.number(e, key, f64::MIN, f64::MAX)).map(|v| v.value)
        };
        let (min, max) = (bound(self, "min"), bound(self, "max"));
        let description = reader.props.get("description").and_then(|e| self.string(e, "description")).map(|d| d.value);
        let mut one_of = Vec::new();
        if let Some(child) = self.single(&reader, "one-of") {
            let r = self.open(child, &Shape::LIST);
            for entry in &r.args {
                match entry.value() {
                    KdlValue::String(s) => one_of.push(ParamValue::String(s.clone())),
                    KdlValue::Integer(i) => one_of.extend(i64::try_from(*i).ok().map(ParamValue::Integer)),
                    KdlValue::Float(f) if f.is_finite() => one_of.push(ParamValue::Number(*f)),
                    _ => self.report(
                        Diagnostic::new(Code::WrongType, "allowed values are strings or numbers")
                            .primary(self.value_span(entry), "not a string or number"),
                    ),
                }
            }
        }
        let mut param = Param { name, ty, required, default: None, min, max, one_of, description };
        if let Some(entry) = reader.props.get("default") {
            let span = self.value_span(entry);
            let raw = match entry.value() {
                KdlValue::String(s) => Some(ParamValue::String(s.clone())),
                KdlValue::Integer(i) => i64::try_from(*i).ok().map(ParamValue::Integer),
                KdlValue::Float(f) if f.is_finite() => Some(ParamValue::Number(*f)),
                KdlValue::Bool(b) => Some(ParamValue::Boolean(*b)),
                _ => None,
            };
            param.default = raw.and_then(|raw| match check_param(&param, &raw) {
                Ok(value) => Some(value),
                Err((_, problem)) => {
                    self.report(
                        Diagnostic::new(
                            Code::WrongType,
                            format!("default of `{}` does not fit its declaration", param.name.value),
                        )
                        .primary(span, problem)
                        .help("make the default satisfy the parameter's type, range and allowed values"),
                    );
                    None
                }
            });
        }
        Some(param)
    }

    fn template_decl(&mut self, node: &KdlNode) -> Option<TemplateDecl> {
        let reader = self.open(node, &Shape { props: &["artifact"], ..Shape::ONE_ARG });
        let file = reader.args.first().and_then(|e| self.string(e, "template file"))?;
        let stem_ok = file.value.strip_suffix(".json.hbs").is_some_and(|stem| crate::model::Name::parse(stem).is_ok());
        if !stem_ok {
            self.report(
                Diagnostic::new(Code::BadTemplate, format!("`{}` is not a template file name", file.value))
                    .primary(file.span, "expected <name>.json.hbs")
                    .help("template files are named like `resources.json.hbs`: a lower-case name, then .json.hbs"),
            );
            return None;
        }
        let artifact = self.required(&reader, "artifact").and_then(|e| self.string(e, "artifact"));
        let artifact = artifact.and_then(|a| self.one_of(a, "template artifact", TemplateArtifact::NAMES))?;
        let artifact = if artifact.value == "cloudformation" {
            TemplateArtifact::CloudFormation
        } else {
            TemplateArtifact::DatadogMonitor
        };
        Some(TemplateDecl { file, artifact })
    }

    /// Lowers `profile "name" { description "..."; config-rule "ID" key="value"... }`.
    pub fn profile(&mut self, node: &KdlNode) -> Option<Profile> {
        let reader = self.open(node, &Shape { children: &["description", "config-rule", "policy"], ..Shape::ONE_ARG });
        let name = self.node_name(&reader, "profile name")?;
        let description = self.single(&reader, "description").and_then(|c| self.child_string(c, "description"));
        let mut config_rules = Vec::new();
        for child in self.all(&reader, "config-rule") {
            let r = self.open(child, &Shape { min_args: 2, max_args: 2, any_props: true, ..Shape::NONE });
            let identifier = r.args.first().and_then(|e| self.string(e, "rule identifier"));
            let description = r.args.get(1).and_then(|e| self.string(e, "rule description"));
            let mut input = std::collections::BTreeMap::new();
            for (key, entry) in &r.props {
                if let Some(value) = self.string(entry, "rule parameter") {
                    input.insert((*key).to_owned(), value.value);
                }
            }
            if let (Some(identifier), Some(description)) = (identifier, description) {
                config_rules.push(ConfigRule { identifier: identifier.value, description: description.value, input });
            }
        }
        let mut policies = Vec::new();
        for child in self.all(&reader, "policy") {
            let r = self.open(child, &Shape { any_props: true, ..Shape::ONE_ARG });
            let Some(code) = r.args.first().and_then(|e| self.string(e, "policy code")) else { continue };
            let mut settings = std::collections::BTreeMap::new();
            for (key, entry) in &r.props {
                let value = match entry.value() {
                    KdlValue::String(s) => ParamValue::String(s.clone()),
                    KdlValue::Integer(i) => match i64::try_from(*i) {
                        Ok(i) => ParamValue::Integer(i),
                        Err(_) => continue,
                    },
                    KdlValue::Float(f) => ParamValue::Number(*f),
                    KdlValue::Bool(b) => ParamValue::Boolean(*b),
                    KdlValue::Null => continue,
                };
                settings.insert((*key).to_owned(), Spanned::new(value, self.value_span(entry)));
            }
            policies.push(PolicyUse { code, settings });
        }
        Some(Profile { name, description: description.map(|d| d.value), config_rules, policies })
    }
}

/// Checks a value against a parameter declaration: type, range, allowed values. Integers are
/// accepted where numbers are expected. The error carries the code to report.
pub fn check_param(param: &Param, value: &ParamValue) -> Result<ParamValue, (Code, String)> {
    let value = match (param.ty, value) {
        (ParamType::String, ParamValue::String(s)) => ParamValue::String(s.clone()),
        (ParamType::S3Uri, ParamValue::String(s)) if super::values::valid_s3_uri(s) => ParamValue::String(s.clone()),
        (ParamType::S3Uri, ParamValue::String(_)) => {
            return Err((Code::BadS3Uri, "not an s3://bucket/key URI".into()));
        }
        (ParamType::Domain, ParamValue::String(s)) if super::values::valid_domain(s) => ParamValue::String(s.clone()),
        (ParamType::Domain, ParamValue::String(_)) => {
            return Err((Code::BadDomain, "not a lower-case domain name such as api.example.com".into()));
        }
        (ParamType::Integer, ParamValue::Integer(i)) => ParamValue::Integer(*i),
        (ParamType::Number, ParamValue::Integer(i)) => ParamValue::Number(*i as f64),
        (ParamType::Number, ParamValue::Number(n)) => ParamValue::Number(*n),
        (ParamType::Boolean, ParamValue::Boolean(b)) => ParamValue::Boolean(*b),
        (ty, _) => return Err((Code::WrongType, format!("expected {}", ty.as_str()))),
    };
    let number = match value {
        ParamValue::Integer(i) => Some(i as f64),
        ParamValue::Number(n) => Some(n),
        _ => None,
    };
    if let (Some(n), Some(min)) = (number, param.min)
        && n < min
    {
        return Err((Code::ValueOutOfRange, format!("below the minimum {min}")));
    }
    if let (Some(n), Some(max)) = (number, param.max)
        && n > max
    {
        return Err((Code::ValueOutOfRange, format!("above the maximum {max}")));
    }
    let allowed = |candidate: &ParamValue| match (candidate, &value) {
        (ParamValue::Integer(a), ParamValue::Number(b)) | (ParamValue::Number(b), ParamValue::Integer(a)) => {
            (*a as f64) == *b
        }
        (a, b) => a == b,
    };
    if !param.one_of.is_empty() && !param.one_of.iter().any(allowed) {
        let list: Vec<String> = param.one_of.iter().map(display_value).collect();
        return Err((Code::UnknownValue, format!("not one of {}", list.join(", "))));
    }
    Ok(value)
}

/// A parameter value as a user would write it.
pub fn display_value(value: &ParamValue) -> String {
    match value {
        ParamValue::String(s) => s.clone(),
        ParamValue::Integer(i) => i.to_string(),
        ParamValue::Number(n) => n.to_string(),
        ParamValue::Boolean(b) => b.to_string(),
    }
}
