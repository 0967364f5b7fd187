//! The CloudFormation stack of one API stage: the REST API with its OpenAPI body, a
//! deployment whose logical id carries a hash of the body (so a change redeploys and no
//! change changes nothing), the stage with access and execution logging, tracing and
//! throttling, KMS-encrypted log groups, the mapping onto the environment's gateway (or the
//! stage's own mTLS custom domain and its mapping), the Lambda permission on the function of
//! the stage's own account, and the JWT authorizer wired to the account's `jwt-authorizer`
//! export. Everything that may differ per stage comes from the stage's settings.
//!
//! Logical ids are fixed words or derive from spec names, never from positions.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use serde_json::{Map, Value, json};

use super::object;
use crate::model::JwtIssuer;
use crate::naming;
use crate::resolve::{Resolved, Stage, StageBackend};

/// Bytes an SSM parameter of the advanced tier holds.
pub const ROUTE_TABLE_MAX_BYTES: usize = 8192;

/// The route table of an API: for every route, `"METHOD /path"` (the path as written, with its
/// `{parameters}`: what API Gateway gives a REQUEST authorizer as `httpMethod` and `resource`)
/// and the scopes its token must carry, sorted.
pub fn route_scopes(api: &crate::model::Api) -> Value {
    let table: Map<String, Value> = api
        .routes
        .iter()
        .map(|route| {
            let mut scopes = route.scopes.clone();
            scopes.sort();
            (route.key(), json!(scopes))
        })
        .collect();
    object([("routes", Value::Object(table))])
}

/// The access log format: one JSON object per request (the same for every stage: built once).
pub fn access_log_format() -> &'static str {
    static FORMAT: std::sync::LazyLock<String> = std::sync::LazyLock::new(build_access_log_format);
    FORMAT.as_str()
}

fn build_access_log_format() -> String {
    let fields = [
        ("requestId", "$context.requestId"),
        ("extendedRequestId", "$context.extendedRequestId"),
        ("requestTime", "$context.requestTime"),
        ("sourceIp", "$context.identity.sourceIp"),
        ("caller", "$context.identity.caller"),
        ("user", "$context.identity.user"),
        ("userAgent", "$context.identity.userAgent"),
        ("principalId", "$context.authorizer.principalId"),
        ("httpMethod", "$context.httpMethod"),
        ("resourcePath", "$context.resourcePath"),
        ("status", "$context.status"),
        ("protocol", "$context.protocol"),
        ("responseLength", "$context.responseLength"),
        ("responseLatency", "$context.responseLatency"),
        ("integrationStatus", "$context.integration.status"),
        ("integrationLatency", "$context.integration.latency"),
        ("authorizerError", "$context.authorizer.error"),
        ("errorMessage", "$context.error.message"),
        ("wafResponseCode", "$context.wafResponseCode"),
        ("domainName", "$context.domainName"),
        ("tlsVersion", "$context.tlsVersion"),
        ("clientCertSerialNumber", "$context.identity.clientCert.serialNumber"),
        ("clientCertSubjectDN", "$context.identity.clientCert.subjectDN"),
        ("clientCertIssuerDN", "$context.identity.clientCert.issuerDN"),
        ("clientCertNotAfter", "$context.identity.clientCert.validity.notAfter"),
    ];
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":\"{v}\"")).collect();
    format!("{{{}}}", body.join(","))
}

/// The OpenAPI document as the stack embeds it: the JWT authorizer's URI points at the
/// account's exported authorizer ARN instead of a literal one, and in a requested account
/// (whose id is known at deploy time only) the Lambda integrations' URIs go through `Fn::Sub`
/// with the partition, region and account from pseudo parameters.
pub fn body(document: Value, backend: &StageBackend) -> Value {
    let mut body = document;
    let authorizer = body.pointer_mut("/components/securitySchemes/jwt/x-amazon-apigateway-authorizer/authorizerUri");
    if let Some(uri) = authorizer {
        *uri = json!({ "Fn::Sub": [
            "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${AuthorizerArn}/invocations",
            { "AuthorizerArn": { "Fn::ImportValue": naming::AUTHORIZER_EXPORT } },
        ]});
    }
    let StageBackend::Lambda(function) = backend else { return body };
    if !function.needs_sub() {
        return body;
    }
    // The function's name and qualifier are validated names: no other `${` for Fn::Sub.
    let uri = format!(
        "arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/{}/invocations",
        function.arn_sub()
    );
    let operations = body.get_mut("paths").and_then(Value::as_object_mut).into_iter().flat_map(|p| p.values_mut());
    for operation in operations.filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
        if let Some(integration) = operation.get_mut("x-amazon-apigateway-integration").and_then(Value::as_object_mut)
            && integration.get("type").is_some_and(|t| t == "aws_proxy")
        {
            integration.insert("uri".into(), json!({ "Fn::Sub": uri }));
        }
    }
    body
}

/// The stack template of one stage, given its OpenAPI document and the hex sha256 of that
/// document as written (which names the deployment: the body differs from it only by the
/// authorizer's URI, which is the same for every build).
pub fn template(resolved: &Resolved, stage: &Stage, document: Value, document_sha256: &str) -> Value {
    let estate = &resolved.estate;
    let api = &estate.apis[stage.api];
    let env = &estate.environments[stage.env];
    let settings = &stage.settings;
    let stage_name = naming::stage_name(resolved, stage);
    let rest_api_name = naming::rest_api_name(resolved, stage);
    let body = body(document, &stage.settings.backend.value);
    let hash: String = document_sha256.chars().take(12).collect();
    let deployment = format!("Deployment{hash}");

    let access_log_group = format!("/idpc/apigateway/{rest_api_name}/access");
    let mut resources = Map::new();
    resources.insert(
        "LogKey".into(),
        json!({
            "Type": "AWS::KMS::Key",
            // The log groups are retained, so the key that decrypts them is too.
            "DeletionPolicy": "RetainExceptOnCreate",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Description": format!("idpc {rest_api_name}: encrypts the stage's access and execution logs"),
                "EnableKeyRotation": true,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AccountAdministration",
                            "Effect": "Allow",
                            "Principal": { "AWS": { "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root" } },
                            "Action": "kms:*",
                            "Resource": "*",
                        },
                        {
                            "Sid": "CloudWatchLogs",
                            "Effect": "Allow",
                            "Principal": { "Service": { "Fn::Sub": "logs.${AWS::Region}.amazonaws.com" } },
                            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                            "Resource": "*",
                            // Only the stage's own log groups may use the key: its execution
                            // log group, and its access log groups (one per create of the stack).
                            "Condition": { "ArnLike": {
                                "kms:EncryptionContext:aws:logs:arn": [
                                    { "Fn::Sub": format!("arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{access_log_group}/*") },
                                    { "Fn::Sub": format!("arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:API-Gateway-Execution-Logs_${{RestApi}}/{stage_name}") },
                                ],
                            }},
                        },
                    ],
                },
            },
        }),
    );
    // The logs outlive the stack, except when the stack's first create rolls back: a log group
    // has a fixed name, and one Retain kept from a failed create makes every retry fail with
    // "already exists" (RetainExceptOnCreate deletes what the rolled-back operation created).
    // A group kept from a deleted stack would fail the next create the same way (an ephemeral
    // environment comes back under its old name), so the access log group's name ends with
    // the stack's id; the execution log group's name holds the RestApi's id already.
    let log_group = |name: Value| {
        object([
            ("Type", json!("AWS::Logs::LogGroup")),
            ("DeletionPolicy", json!("RetainExceptOnCreate")),
            ("UpdateReplacePolicy", json!("Retain")),
            (
                "Properties",
                object([
                    ("LogGroupName", name),
                    ("RetentionInDays", json!(super::facts::ACCESS_LOG_RETENTION_DAYS)),
                    ("KmsKeyId", json!({ "Fn::GetAtt": ["LogKey", "Arn"] })),
                ]),
            ),
        ])
    };
    resources.insert(
        "AccessLogGroup".into(),
        log_group(json!({ "Fn::Sub": [format!("{access_log_group}/${{StackUuid}}"), { "StackUuid": stack_uuid() }] })),
    );
    resources.insert(
        "ExecutionLogGroup".into(),
        log_group(json!({ "Fn::Sub": format!("API-Gateway-Execution-Logs_${{RestApi}}/{stage_name}") })),
    );
    resources.insert(
        "RestApi".into(),
        object([
            ("Type", json!("AWS::ApiGateway::RestApi")),
            (
                "Properties",
                object([
                    ("Name", json!(rest_api_name)),
                    (
                        "Description",
                        json!(format!(
                            "{} {} in {} (owner {})",
                            api.name.value, api.version.value, env.name.value, api.owner.value
                        )),
                    ),
                    ("Body", body),
                    ("EndpointConfiguration", json!({ "Types": ["REGIONAL"] })),
                    // Served on a custom domain, the stage is reachable there only (mutual TLS
                    // and the domain's TLS policy cannot be bypassed through execute-api).
                    ("DisableExecuteApiEndpoint", json!(settings.endpoint.is_some())),
                    ("FailOnWarnings", json!(true)),
                ]),
            ),
        ]),
    );
    resources.insert(
        deployment.clone(),
        json!({
            "Type": "AWS::ApiGateway::Deployment",
            "Properties": {
                "RestApiId": { "Ref": "RestApi" },
                "Description": format!("OpenAPI body sha256 {hash}"),
            },
        }),
    );
    let mut method_settings = json!({
        "ResourcePath": "/*",
        "HttpMethod": "*",
        "LoggingLevel": "ERROR",
        "DataTraceEnabled": false,
        "MetricsEnabled": true,
    });
    if let (Some(throttle), Some(map)) = (&settings.throttle, method_settings.as_object_mut()) {
        map.insert("ThrottlingRateLimit".into(), json!(throttle.value.rate.value));
        map.insert("ThrottlingBurstLimit".into(), json!(throttle.value.burst.value));
    }
    let mut stage_properties = json!({
        "StageName": stage_name,
        "Description": format!("{} {}", api.name.value, api.version.value),
        "RestApiId": { "Ref": "RestApi" },
        "DeploymentId": { "Ref": deployment },
        "TracingEnabled": true,
        "AccessLogSetting": {
            "DestinationArn": { "Fn::GetAtt": ["AccessLogGroup", "Arn"] },
            "Format": access_log_format(),
        },
    });
    if let Some(map) = stage_properties.as_object_mut() {
        map.insert("MethodSettings".into(), Value::Array(vec![method_settings]));
        if let Some(JwtIssuer::Oidc { issuer, audience }) = settings.jwt.as_ref().map(|j| &j.value.issuer) {
            // The shared authorizer reads the stage's issuer, audience and route table from its
            // variables (the contract in the README).
            map.insert(
                "Variables".into(),
                json!({
                    "jwtIssuer": issuer.value,
                    "jwtAudience": audience.value,
                    "routeScopesParameter": naming::route_scopes_parameter(resolved, stage),
                }),
            );
        }
    }
    if let Some(JwtIssuer::Oidc { .. }) = settings.jwt.as_ref().map(|j| &j.value.issuer) {
        // Compact JSON with sorted keys (serde_json without `preserve_order`): the same bytes for
        // the same routes.
        let table = serde_json::to_string(&route_scopes(api)).unwrap_or_default();
        // SSM parameters hold 4 KB (standard tier) or 8 KB (advanced); `limits` refuses more.
        // Intelligent-Tiering, not the tier the table's size needs: Parameter Store cannot turn an
        // advanced parameter back into a standard one, so writing `Standard` once a table
        // shrank below 4 KB would fail the stack's update; with Intelligent-Tiering it creates
        // a standard parameter, upgrades it when the table outgrows 4 KB, and never downgrades.
        resources.insert(
            "RouteScopes".into(),
            object([
                ("Type", json!("AWS::SSM::Parameter")),
                (
                    "Properties",
                    object([
                        ("Name", json!(naming::route_scopes_parameter(resolved, stage))),
                        ("Description", json!(format!("idpc {rest_api_name}: the scopes each route requires; the JWT authorizer denies a route not listed here"))),
                        ("Type", json!("String")),
                        ("Tier", json!("Intelligent-Tiering")),
                        ("Value", json!(table)),
                    ]),
                ),
            ]),
        );
    }
    resources.insert(
        "Stage".into(),
        object([
            ("Type", json!("AWS::ApiGateway::Stage")),
            ("DependsOn", json!(["ExecutionLogGroup"])),
            (
                "Metadata",
                json!({ "checkov": { "skip": [{
                    "id": "CKV_AWS_120",
                    "comment": "Responses are per authenticated customer; a shared stage cache could serve one customer's data to another.",
                }]}}),
            ),
            ("Properties", stage_properties),
        ]),
    );
    if let Some(endpoint) = &settings.endpoint {
        let domain_name = if endpoint.dedicated {
            let mtls = endpoint.mtls.as_ref().map(|m| &m.value);
            super::domain::resources(&mut resources, &endpoint.domain.value, mtls, endpoint.zone.as_ref());
            json!({ "Ref": super::domain::DOMAIN_NAME })
        } else {
            // The gateway's stack (an earlier wave) created the domain in this account and
            // region; API Gateway maps a stage only on a domain of its own account and region.
            json!(endpoint.domain.value.host.value)
        };
        // `Ref: Stage` makes the mapping wait for the stage. A path of several levels
        // (`accounts/v2`) is an API mapping of the v2 API: the v1 base path mapping takes one.
        let mapping = match endpoint.base_path.value.as_deref() {
            Some(path) if path.contains('/') => json!({
                "Type": "AWS::ApiGatewayV2::ApiMapping",
                "Properties": {
                    "DomainName": domain_name,
                    "ApiMappingKey": path,
                    "ApiId": { "Ref": "RestApi" },
                    "Stage": { "Ref": "Stage" },
                },
            }),
            path => {
                let mut properties = json!({
                    "DomainName": domain_name,
                    "RestApiId": { "Ref": "RestApi" },
                    "Stage": { "Ref": "Stage" },
                });
                if let (Some(path), Some(map)) = (path, properties.as_object_mut()) {
                    map.insert("BasePath".into(), json!(path));
                }
                object([("Type", json!("AWS::ApiGateway::BasePathMapping")), ("Properties", properties)])
            }
        };
        resources.insert("BasePathMapping".into(), mapping);
    }
    if let StageBackend::Lambda(function) = &settings.backend.value {
        // Only the function's own account can grant API Gateway access to it: the function is
        // the one of this stage's account and region (`resolve` refuses any other).
        let arn = if function.needs_sub() { json!({ "Fn::Sub": function.arn_sub() }) } else { json!(function.arn()) };
        resources.insert(
            "BackendInvokePermission".into(),
            object([
                ("Type", json!("AWS::Lambda::Permission")),
                (
                    "Properties",
                    object([
                        ("Action", json!("lambda:InvokeFunction")),
                        ("FunctionName", arn),
                        ("Principal", json!("apigateway.amazonaws.com")),
                        ("SourceAccount", json!({ "Ref": "AWS::AccountId" })),
                        (
                            "SourceArn",
                            json!({ "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestApi}/*" }),
                        ),
                    ]),
                ),
            ]),
        );
    }
    let mut outputs = Map::new();
    outputs.insert("RestApiId".into(), json!({ "Description": "Id of the REST API", "Value": { "Ref": "RestApi" } }));
    outputs.insert("StageName".into(), json!({ "Description": "Name of the stage", "Value": { "Ref": "Stage" } }));
    if let Some(endpoint) = &settings.endpoint {
        outputs.insert("Url".into(), json!({ "Description": "Where the stage is served", "Value": endpoint.url() }));
        if endpoint.dedicated {
            super::domain::outputs(&mut outputs, &endpoint.domain.value);
        }
    }
    object([
        ("AWSTemplateFormatVersion", json!("2010-09-09")),
        (
            "Description",
            json!(format!("idpc API stage {} {} in {}", api.name.value, api.version.value, env.name.value)),
        ),
        ("Resources", Value::Object(resources)),
        ("Outputs", Value::Object(outputs)),
    ])
}

/// The last part of the stack's id (`arn:...:stack/NAME/UUID`), new with every create of a
/// stack of the same name.
fn stack_uuid() -> Value {
    json!({ "Fn::Select": [2, { "Fn::Split": ["/", { "Ref": "AWS::StackId" }] }] })
}
