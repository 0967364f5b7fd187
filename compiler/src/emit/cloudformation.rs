//! CloudFormation templates of the baseline stacks (an account's or an environment's
//! baselines, merged), of the gateway stacks (an environment's custom domain) and of the
//! organisation stack (requested accounts).
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use serde_json::{Map, Value, json};

use super::baselines::Fragment;
use super::object;
use crate::graph::Stack;
use crate::resolve::Resolved;

/// A baseline stack: the fragments of its instances, merged (ids are unique, checked by
/// `baselines::Templates::render_stack`).
pub fn baseline_stack(resolved: &Resolved, stack: &Stack, fragments: Vec<Fragment>) -> Value {
    let mut resources = Map::new();
    let mut outputs = Map::new();
    let mut names: Vec<&str> = Vec::new();
    for fragment in fragments {
        names.push(resolved.instances[fragment.instance].name.as_str());
        resources.extend(fragment.resources);
        outputs.extend(fragment.outputs);
    }
    let description = format!("idpc {}: baselines {}", stack.name, names.join(", "));
    template(description, resources, outputs)
}

/// The gateway stack of an environment: its regional custom domain (with the certificate and
/// the alias record where it has a hosted zone). The environment's API stages map onto it
/// from their own stacks, which the plan deploys after this one.
pub fn gateway_stack(resolved: &Resolved, env: usize) -> Value {
    let environment = &resolved.estate.environments[env];
    let mut resources = Map::new();
    let mut outputs = Map::new();
    let Some(gateway) = &environment.gateway else {
        return template(format!("idpc gateway of {}", environment.name.value), resources, outputs);
    };
    let account = &resolved.estate.accounts[resolved.env_account[env]];
    let zone = crate::resolve::stage::zone_of(gateway, account);
    super::domain::resources(&mut resources, gateway, gateway.mtls.as_ref(), zone.as_ref());
    super::domain::outputs(&mut outputs, gateway);
    let mtls = if gateway.mtls.is_some() { ", mutual TLS" } else { "" };
    let description = format!(
        "idpc gateway of {}: custom domain {} ({}{mtls})",
        environment.name.value, gateway.host.value, gateway.tls_policy.value
    );
    template(description, resources, outputs)
}

/// The organisation stack: one `AWS::Organizations::Account` per requested account, retained
/// when removed from the stack (closing an account is never a side effect of a build).
pub fn organisation_stack(resolved: &Resolved) -> Value {
    let mut resources = Map::new();
    let mut outputs = Map::new();
    for (a, account) in resolved.estate.accounts.iter().enumerate() {
        if account.id.is_some() {
            continue;
        }
        let id = format!("Account{}", account.name.value.pascal());
        let tenant = &resolved.estate.tenants[resolved.account_tenant[a]];
        let mut tags: Vec<Value> = resolved
            .platform()
            .tags
            .iter()
            .map(|(k, v)| json!({ "Key": k.value, "Value": v.value }))
            .chain([
                json!({ "Key": "idpc:account", "Value": account.name.value.as_str() }),
                json!({ "Key": "idpc:tenant", "Value": tenant.name.value.as_str() }),
            ])
            .collect();
        if let Some(cost_center) = &tenant.cost_center {
            tags.push(json!({ "Key": "idpc:cost-center", "Value": cost_center.value }));
        }
        tags.sort_by(|x, y| x["Key"].as_str().cmp(&y["Key"].as_str()));
        let mut properties = object([
            ("AccountName", json!(account.name.value.as_str())),
            ("Email", json!(account.email.as_ref().map(|e| e.value.as_str()))),
            ("Tags", Value::Array(tags)),
        ]);
        if let (Some(ou), Some(map)) = (&account.ou, properties.as_object_mut()) {
            map.insert("ParentIds".into(), json!([ou.value]));
        }
        resources.insert(
            id.clone(),
            object([
                ("Type", json!("AWS::Organizations::Account")),
                // Retain, even when the first create rolls back: deleting an
                // AWS::Organizations::Account closes the account (a closure AWS counts against
                // a quota of 10% of the organisation's accounts per 30 days, and keeps for 90
                // days), which no failed stack should do.
                ("DeletionPolicy", json!("Retain")),
                ("UpdateReplacePolicy", json!("Retain")),
                ("Properties", properties),
            ]),
        );
        outputs.insert(
            format!("{id}Id"),
            json!({
                "Description": format!("Id of the requested account {}", account.name.value),
                "Value": { "Fn::GetAtt": [id, "AccountId"] },
                "Export": { "Name": format!("idpc-account-{}-id", account.name.value) },
            }),
        );
    }
    template("idpc organisation: accounts requested by the estate".to_owned(), resources, outputs)
}

fn template(description: String, resources: Map<String, Value>, outputs: Map<String, Value>) -> Value {
    let mut template = object([
        ("AWSTemplateFormatVersion", json!("2010-09-09")),
        ("Description", json!(description)),
        ("Resources", Value::Object(resources)),
    ]);
    if let (false, Some(map)) = (outputs.is_empty(), template.as_object_mut()) {
        map.insert("Outputs".into(), Value::Object(outputs));
    }
    template
}
