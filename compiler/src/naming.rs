//! Every name idpc derives: stack names, stack tags, artifact paths, API Gateway names.
//!
//! One function per derived name, used by every emitter, so a stack's tags and the Datadog
//! queries that select them cannot drift apart. Names derive from spec names only, never
//! from positions, so adding an API or a route moves nothing else.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use std::collections::BTreeMap;

use crate::resolve::{Resolved, Stage};

/// What a stack deploys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StackKind {
    /// The organisation stack (requested accounts), in the management account.
    Organisation,
    /// An account's baselines.
    Account(usize),
    /// An environment's baselines.
    Environment(usize),
    /// An environment's gateway (its custom domain): index into `Estate::environments`.
    Gateway(usize),
    /// One API stage (index into `Resolved::stages`).
    Stage(usize),
}

/// The CloudFormation stack name of a stack (at most 9 + 40 + 2 + 40 characters).
pub fn stack_name(resolved: &Resolved, kind: StackKind) -> String {
    let estate = &resolved.estate;
    match kind {
        StackKind::Organisation => "idpc-organisation".to_owned(),
        StackKind::Account(a) => format!("idpc-account-{}", estate.accounts[a].name.value),
        StackKind::Environment(e) => format!("idpc-env-{}", estate.environments[e].name.value),
        StackKind::Gateway(e) => format!("idpc-gateway-{}", estate.environments[e].name.value),
        StackKind::Stage(s) => {
            let stage = &resolved.stages[s];
            format!("idpc-api-{}--{}", estate.apis[stage.api].name.value, estate.environments[stage.env].name.value)
        }
    }
}

/// The API Gateway REST API name of a stage: also the `apiname` tag Datadog selects on.
pub fn rest_api_name(resolved: &Resolved, stage: &Stage) -> String {
    let estate = &resolved.estate;
    format!("{}--{}", estate.apis[stage.api].name.value, estate.environments[stage.env].name.value)
}

/// The API Gateway stage name of a stage: also the `stage` tag Datadog selects on.
pub fn stage_name(resolved: &Resolved, stage: &Stage) -> String {
    resolved.estate.environments[stage.env].name.value.to_string()
}

/// The SSM parameter holding a stage's route table (the scopes of each route), which the JWT
/// authorizer reads; under `/idpc/`, where the authorizer's role may read.
pub fn route_scopes_parameter(resolved: &Resolved, stage: &Stage) -> String {
    let estate = &resolved.estate;
    format!("/idpc/{}/{}/route-scopes", estate.apis[stage.api].name.value, estate.environments[stage.env].name.value)
}

/// The path under OUT of a stage's OpenAPI document.
/// (`openapi.template.json` in an account idpc requests: the document names
/// `${AWS::AccountId}`, known at deploy time only).
pub fn openapi_path(resolved: &Resolved, stage: &Stage) -> String {
    let estate = &resolved.estate;
    let file = if estate.accounts[resolved.env_account[stage.env]].id.is_some() {
        "openapi.json"
    } else {
        "openapi.template.json"
    };
    format!("apis/{}/{}/{file}", estate.apis[stage.api].name.value, estate.environments[stage.env].name.value)
}

/// Stack tags: the platform's tags, then idpc's own `idpc:*` tags for the stack's scope.
pub fn stack_tags(resolved: &Resolved, kind: StackKind) -> BTreeMap<String, String> {
    let estate = &resolved.estate;
    let mut tags: BTreeMap<String, String> =
        resolved.platform().tags.iter().map(|(k, v)| (k.value.clone(), v.value.clone())).collect();
    tags.insert("idpc:platform".into(), resolved.platform().name.value.to_string());
    let account = match kind {
        StackKind::Organisation => None,
        StackKind::Account(a) => Some(a),
        StackKind::Environment(e) | StackKind::Gateway(e) => Some(resolved.env_account[e]),
        StackKind::Stage(s) => Some(resolved.env_account[resolved.stages[s].env]),
    };
    if let Some(a) = account {
        let tenant = &estate.tenants[resolved.account_tenant[a]];
        tags.insert("idpc:tenant".into(), tenant.name.value.to_string());
        tags.insert("idpc:account".into(), estate.accounts[a].name.value.to_string());
        if let Some(cost_center) = &tenant.cost_center {
            tags.insert("idpc:cost-center".into(), cost_center.value.clone());
        }
    }
    let env = match kind {
        StackKind::Environment(e) | StackKind::Gateway(e) => Some(e),
        StackKind::Stage(s) => Some(resolved.stages[s].env),
        _ => None,
    };
    if let Some(e) = env {
        let env = &estate.environments[e];
        tags.insert("idpc:environment".into(), env.name.value.to_string());
        tags.insert("idpc:tier".into(), env.tier.value.as_str().to_owned());
    }
    if let StackKind::Stage(s) = kind {
        let api = &estate.apis[resolved.stages[s].api];
        tags.insert("idpc:service".into(), api.name.value.to_string());
        tags.insert("idpc:version".into(), api.version.value.to_string());
        tags.insert("idpc:owner".into(), api.owner.value.to_string());
    }
    tags
}

/// Function name of the platform's JWT authorizer in every account (`jwt-authorizer` baseline).
pub const AUTHORIZER_FUNCTION: &str = "idpc-jwt-authorizer";
/// CloudFormation export of the authorizer's ARN in every account and region.
pub const AUTHORIZER_EXPORT: &str = "idpc-jwt-authorizer-arn";
/// CloudFormation export of the id of the account's hosted zone (`dns-zone` baseline).
pub const DNS_ZONE_EXPORT: &str = "idpc-dns-zone-id";
/// The baseline that creates an account's hosted zone.
pub use crate::resolve::stage::DNS_ZONE_BASELINE;

/// The path under OUT of a stage's Datadog monitor of one kind.
pub fn stage_monitor_path(resolved: &Resolved, stage: &Stage, kind: &str) -> String {
    let estate = &resolved.estate;
    format!(
        "apis/{}/{}/monitors/{kind}.json",
        estate.apis[stage.api].name.value, estate.environments[stage.env].name.value
    )
}

/// The path under OUT of a stage's Datadog SLO.
pub fn stage_slo_path(resolved: &Resolved, stage: &Stage) -> String {
    let estate = &resolved.estate;
    format!("apis/{}/{}/slo.json", estate.apis[stage.api].name.value, estate.environments[stage.env].name.value)
}

/// The path under OUT of an API's Datadog dashboard.
pub fn dashboard_path(api: &crate::model::Name) -> String {
    format!("apis/{api}/dashboard.json")
}

/// The path under OUT of a stack's CloudFormation template.
pub fn template_path(stack_name: &str) -> String {
    format!("stacks/{stack_name}.json")
}

/// The path under OUT of a Datadog monitor rendered by a baseline template.
pub fn baseline_monitor_path(stack_name: &str, baseline: &str, stem: &str) -> String {
    format!("datadog/{stack_name}/{baseline}-{stem}.json")
}

/// Names a baseline template may use, so that other emitters can rely on them.
pub fn baseline_names(resolved: &Resolved, account: usize, env: Option<usize>) -> BTreeMap<String, String> {
    let estate = &resolved.estate;
    let account_name = &estate.accounts[account].name.value;
    let mut names = BTreeMap::from([
        ("audit_trail".to_owned(), "idpc-audit-trail".to_owned()),
        ("budget".to_owned(), format!("idpc-{account_name}-monthly")),
        ("cost_topic".to_owned(), "idpc-cost-alerts".to_owned()),
        ("authorizer_function".to_owned(), AUTHORIZER_FUNCTION.to_owned()),
        ("authorizer_export".to_owned(), AUTHORIZER_EXPORT.to_owned()),
        ("dns_zone_export".to_owned(), DNS_ZONE_EXPORT.to_owned()),
    ]);
    if let Some(e) = env {
        let env_name = &estate.environments[e].name.value;
        names.insert("deployments_topic".into(), format!("idpc-deployments-{env_name}"));
        names.insert("environment_stack".into(), stack_name(resolved, StackKind::Environment(e)));
        names.insert("gateway_stack".into(), stack_name(resolved, StackKind::Gateway(e)));
    }
    names
}

/// The AWS Config rule name and logical id of a managed rule identifier:
/// `API_GW_XRAY_ENABLED` gives `idpc-api-gw-xray-enabled` and `ConfigComplianceRuleApiGwXrayEnabled`.
pub fn config_rule_names(identifier: &str) -> (String, String) {
    let lower = identifier.to_ascii_lowercase();
    let mut name = String::from("idpc-");
    let mut logical_id = String::from("ConfigComplianceRule");
    for (i, part) in lower.split(['_', '-']).filter(|p| !p.is_empty()).enumerate() {
        if i > 0 {
            name.push('-');
        }
        name.push_str(part);
        crate::model::push_capitalized(&mut logical_id, part);
    }
    (name, logical_id)
}

/// Datadog tags of everything idpc creates for an account (and environment).
pub fn datadog_tags(resolved: &Resolved, account: usize, env: Option<usize>) -> Vec<String> {
    let estate = &resolved.estate;
    let tenant = &estate.tenants[resolved.account_tenant[account]];
    let mut tags = vec![
        format!("tenant:{}", tenant.name.value),
        format!("account:{}", estate.accounts[account].name.value),
        "managed-by:idpc".to_owned(),
    ];
    if let Some(e) = env {
        tags.push(format!("env:{}", estate.environments[e].name.value));
    }
    tags.sort();
    tags
}

#[cfg(test)]
mod tests {
    #[test]
    fn config_rule_names() {
        let names = |id: &str| super::config_rule_names(id);
        assert_eq!(
            names("API_GW_XRAY_ENABLED"),
            ("idpc-api-gw-xray-enabled".to_owned(), "ConfigComplianceRuleApiGwXrayEnabled".to_owned())
        );
        assert_eq!(names("S3__BUCKET-_x"), ("idpc-s3-bucket-x".to_owned(), "ConfigComplianceRuleS3BucketX".to_owned()));
        assert_eq!(names(""), ("idpc-".to_owned(), "ConfigComplianceRule".to_owned()));
    }
}
