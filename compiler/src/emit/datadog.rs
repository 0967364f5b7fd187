//! Datadog payloads of the API stages, as a deployer POSTs them to the v1 API: one monitor per
//! `monitor` and stage, an SLO per stage where the API has `slo`, and one dashboard per API
//! with a group per stage. Every query selects the stage by the `apiname` and `stage` tags that
//! the stage's stack gives it, through the same `naming` functions, so the two cannot drift.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use serde_json::{Value, json};

use super::object;
use crate::model::{Api, MonitorKind};
use crate::naming;
use crate::resolve::{Resolved, Stage};

/// CloudWatch metrics reach Datadog late: evaluate with a delay (seconds).
const EVALUATION_DELAY: u32 = 900;

/// The tag filter that selects one stage's API Gateway metrics.
pub fn stage_filter(resolved: &Resolved, stage: &Stage) -> String {
    format!("apiname:{},stage:{}", naming::rest_api_name(resolved, stage), naming::stage_name(resolved, stage))
}

/// Tags of everything Datadog holds for a stage.
pub fn stage_tags(resolved: &Resolved, stage: &Stage) -> Vec<String> {
    let estate = &resolved.estate;
    let api = &estate.apis[stage.api];
    let tenant = &estate.tenants[resolved.env_tenant(stage.env)];
    let mut tags = vec![
        format!("tenant:{}", tenant.name.value),
        format!("env:{}", estate.environments[stage.env].name.value),
        format!("service:{}", api.name.value),
        format!("team:{}", api.owner.value),
        format!("version:{}", api.version.value),
        "managed-by:idpc".to_owned(),
    ];
    tags.sort();
    tags
}

/// One monitor payload per `monitor` of the stage's API: (file stem, payload).
pub fn monitors(resolved: &Resolved, stage: &Stage) -> Vec<(&'static str, Value)> {
    let estate = &resolved.estate;
    let api = &estate.apis[stage.api];
    let env = &estate.environments[stage.env];
    let tenant = &estate.tenants[resolved.env_tenant(stage.env)];
    let filter = stage_filter(resolved, stage);
    let notify = resolved.platform().datadog.notify.value.join(" ");
    let prefix = format!("[{}][{}] {}", tenant.name.value, env.name.value, api.name.value);
    stage
        .settings
        .monitors
        .iter()
        .map(|monitor| &monitor.value)
        .map(|monitor| {
            let (name, query, critical, message, default_priority, no_data) = match &monitor.kind {
                MonitorKind::Latency { p95_ms } => (
                    format!("{prefix} p95 latency above {p95_ms} ms"),
                    format!("avg(last_10m):avg:aws.apigateway.latency.p95{{{filter}}} > {p95_ms}"),
                    json!(p95_ms),
                    format!("p95 latency of {} in {} is {{{{value}}}} ms, above {p95_ms} ms.", api.name.value, env.name.value),
                    2,
                    false,
                ),
                MonitorKind::Errors { max_5xx_rate } => (
                    format!("{prefix} 5xx rate above {}%", (max_5xx_rate * 100.0 * 1e6).round() / 1e6),
                    format!(
                        "sum(last_10m):sum:aws.apigateway.5xxerror{{{filter}}}.as_count() / sum:aws.apigateway.count{{{filter}}}.as_count() > {max_5xx_rate}"
                    ),
                    json!(max_5xx_rate),
                    format!("{} in {} answers {{{{value}}}} of requests with 5xx, above {max_5xx_rate}.", api.name.value, env.name.value),
                    1,
                    false,
                ),
                MonitorKind::TrafficDrop { min_requests_per_5m } => (
                    format!("{prefix} fewer than {min_requests_per_5m} requests in 5 minutes"),
                    format!("sum(last_5m):sum:aws.apigateway.count{{{filter}}}.as_count() < {min_requests_per_5m}"),
                    json!(min_requests_per_5m),
                    format!("{} in {} received {{{{value}}}} requests in 5 minutes, fewer than {min_requests_per_5m}.", api.name.value, env.name.value),
                    3,
                    true,
                ),
            };
            let mut options = json!({
                "thresholds": { "critical": critical },
                "evaluation_delay": EVALUATION_DELAY,
                "notify_no_data": no_data,
                "include_tags": true,
                "require_full_window": false,
                "renotify_interval": 60,
            });
            if let (true, Some(map)) = (no_data, options.as_object_mut()) {
                map.insert("no_data_timeframe".into(), json!(30));
            }
            let payload = object([
                ("name", json!(name)),
                ("type", json!("query alert")),
                ("query", json!(query)),
                ("message", json!(format!("{message} {notify}"))),
                ("tags", json!(stage_tags(resolved, stage))),
                ("priority", json!(monitor.priority.as_ref().map_or(default_priority, |p| p.value))),
                ("options", options),
            ]);
            (monitor.kind.as_str(), payload)
        })
        .collect()
}

/// The SLO payload of a stage, when the API has `slo`.
pub fn slo(resolved: &Resolved, stage: &Stage) -> Option<Value> {
    let estate = &resolved.estate;
    let api = &estate.apis[stage.api];
    let slo = &stage.settings.slo.as_ref()?.value;
    let env = &estate.environments[stage.env];
    let filter = stage_filter(resolved, stage);
    Some(json!({
        "name": format!("{} availability in {}", api.name.value, env.name.value),
        "description": format!("Share of requests to {} in {} answered without a 5xx", api.name.value, env.name.value),
        "type": "metric",
        "query": {
            "numerator": format!("sum:aws.apigateway.count{{{filter}}}.as_count() - sum:aws.apigateway.5xxerror{{{filter}}}.as_count()"),
            "denominator": format!("sum:aws.apigateway.count{{{filter}}}.as_count()"),
        },
        "thresholds": [{ "timeframe": slo.timeframe.value, "target": slo.availability.value }],
        "tags": stage_tags(resolved, stage),
    }))
}

/// The dashboard of an API: a group per stage with traffic, errors and latency.
pub fn dashboard(resolved: &Resolved, api: &Api, stages: &[&Stage]) -> Value {
    let groups: Vec<Value> = stages
        .iter()
        .map(|stage| {
            let filter = stage_filter(resolved, stage);
            let env = &resolved.estate.environments[stage.env];
            let timeseries = |title: &str, queries: Vec<String>| {
                let requests = queries.into_iter().map(|q| json!({ "q": q, "display_type": "line" })).collect();
                let definition = object([
                    ("type", json!("timeseries")),
                    ("title", json!(title)),
                    ("requests", Value::Array(requests)),
                ]);
                object([("definition", definition)])
            };
            let widgets = vec![
                timeseries("Requests", vec![format!("sum:aws.apigateway.count{{{filter}}}.as_count()")]),
                timeseries(
                    "4xx and 5xx",
                    vec![
                        format!("sum:aws.apigateway.4xxerror{{{filter}}}.as_count()"),
                        format!("sum:aws.apigateway.5xxerror{{{filter}}}.as_count()"),
                    ],
                ),
                timeseries(
                    "Latency p95 (ms)",
                    vec![
                        format!("avg:aws.apigateway.latency.p95{{{filter}}}"),
                        format!("avg:aws.apigateway.integration_latency.p95{{{filter}}}"),
                    ],
                ),
            ];
            let definition = object([
                ("type", json!("group")),
                ("layout_type", json!("ordered")),
                ("title", json!(format!("{} ({})", env.name.value, env.tier.value.as_str()))),
                ("widgets", Value::Array(widgets)),
            ]);
            object([("definition", definition)])
        })
        .collect();
    object([
        ("title", json!(format!("API {} (idpc)", api.name.value))),
        (
            "description",
            json!(format!(
                "{} {}, owned by {}. Generated by idpc; edit the estate, not this dashboard.",
                api.name.value, api.version.value, api.owner.value
            )),
        ),
        ("layout_type", json!("ordered")),
        ("widgets", Value::Array(groups)),
    ])
}
