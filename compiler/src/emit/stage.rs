//! The CloudFormation stack of one API stage: the REST API with its OpenAPI body, a
//! deployment whose logical id carries a hash of the body (so a change redeploys and no
//! change changes nothing), the stage with access and execution logging, tracing and
//! throttling, KMS-encrypted log groups, the mTLS custom domain and its mapping, the Lambda
//! permission, and the JWT authorizer wired to the account's `jwt-authorizer` export.
//!
//! Logical ids are fixed words or derive from spec names, never from positions.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use serde_json::{Map, Value, json};

use super::object;
use crate::model::Backend;
use crate::naming;
use crate::resolve::{Resolved, Stage};

/// Days the stage's logs are kept.
const LOG_RETENTION_DAYS: u32 = 400;

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
/// account's exported authorizer ARN instead of a literal one.
pub fn body(document: Value) -> Value {
    let mut body = document;
    let authorizer = body.pointer_mut("/components/securitySchemes/jwt/x-amazon-apigateway-authorizer/authorizerUri");
    if let Some(uri) = authorizer {
        *uri = json!({ "Fn::Sub": [
            "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${AuthorizerArn}/invocations",
            { "AuthorizerArn": { "Fn::ImportValue": naming::AUTHORIZER_EXPORT } },
        ]});
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
    let account = &estate.accounts[resolved.env_account[stage.env]];
    let stage_name = naming::stage_name(resolved, stage);
    let rest_api_name = naming::rest_api_name(resolved, stage);
    let body = body(document);
    let hash: String = document_sha256.chars().take(12).collect();
    let deployment = format!("Deployment{hash}");

    let mut resources = Map::new();
    let mut conditions = Map::new();
    resources.insert(
        "LogKey".into(),
        json!({
            "Type": "AWS::KMS::Key",
            // The log groups are retained, so the key that decrypts them is too.
            "DeletionPolicy": "Retain",
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
                            "Condition": { "ArnLike": {
                                "kms:EncryptionContext:aws:logs:arn": { "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*" },
                            }},
                        },
                    ],
                },
            },
        }),
    );
    let log_group = |name: Value| {
        object([
            ("Type", json!("AWS::Logs::LogGroup")),
            ("DeletionPolicy", json!("Retain")),
            ("UpdateReplacePolicy", json!("Retain")),
            (
                "Properties",
                object([
                    ("LogGroupName", name),
                    ("RetentionInDays", json!(LOG_RETENTION_DAYS)),
                    ("KmsKeyId", json!({ "Fn::GetAtt": ["LogKey", "Arn"] })),
                ]),
            ),
        ])
    };
    resources.insert("AccessLogGroup".into(), log_group(json!(format!("/idpc/apigateway/{rest_api_name}/access"))));
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
                    ("DisableExecuteApiEndpoint", json!(api.domain.is_some())),
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
    if let (Some(throttle), Some(map)) = (&api.throttle, method_settings.as_object_mut()) {
        map.insert("ThrottlingRateLimit".into(), json!(throttle.rate.value));
        map.insert("ThrottlingBurstLimit".into(), json!(throttle.burst.value));
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
        if let Some(jwt) = &api.security.jwt {
            // The shared authorizer reads the stage's issuer and audience from its variables.
            map.insert("Variables".into(), json!({ "jwtIssuer": jwt.issuer.value, "jwtAudience": jwt.audience.value }));
        }
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
    if let Some(domain) = &api.domain {
        let mut properties = json!({
            "DomainName": domain.name.value,
            "RegionalCertificateArn": domain.certificate.value.text,
            "EndpointConfiguration": { "Types": ["REGIONAL"] },
            "SecurityPolicy": domain.tls_policy.value,
        });
        if let (Some(mtls), Some(map)) = (&api.security.mtls, properties.as_object_mut()) {
            let mut auth = json!({ "TruststoreUri": mtls.truststore.value });
            if let (Some(version), Some(a)) = (&mtls.version, auth.as_object_mut()) {
                a.insert("TruststoreVersion".into(), json!(version.value));
            }
            map.insert("MutualTlsAuthentication".into(), auth);
        }
        resources.insert(
            "DomainName".into(),
            object([("Type", json!("AWS::ApiGateway::DomainName")), ("Properties", properties)]),
        );
        resources.insert(
            "BasePathMapping".into(),
            json!({
                "Type": "AWS::ApiGateway::BasePathMapping",
                "Properties": {
                    "DomainName": { "Ref": "DomainName" },
                    "RestApiId": { "Ref": "RestApi" },
                    "Stage": { "Ref": "Stage" },
                },
            }),
        );
    }
    if let Backend::Lambda(arn) = &api.backend.value {
        let same_account = account.id.as_ref().map(|id| id.value.0 == arn.account);
        if same_account != Some(false) {
            let mut permission = json!({
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": arn.text,
                    "Principal": "apigateway.amazonaws.com",
                    "SourceAccount": { "Ref": "AWS::AccountId" },
                    "SourceArn": { "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestApi}/*" },
                },
            });
            if same_account.is_none() {
                // A requested account's id is known only at deploy time: grant the permission
                // there only when the function lives in that same account.
                conditions.insert(
                    "BackendInThisAccount".into(),
                    json!({ "Fn::Equals": [{ "Ref": "AWS::AccountId" }, arn.account] }),
                );
                if let Some(map) = permission.as_object_mut() {
                    map.insert("Condition".into(), json!("BackendInThisAccount"));
                }
            }
            resources.insert("BackendInvokePermission".into(), permission);
        }
    }
    let mut outputs = Map::new();
    outputs.insert("RestApiId".into(), json!({ "Description": "Id of the REST API", "Value": { "Ref": "RestApi" } }));
    outputs.insert("StageName".into(), json!({ "Description": "Name of the stage", "Value": { "Ref": "Stage" } }));
    if api.domain.is_some() {
        outputs.insert(
            "RegionalDomainName".into(),
            json!({
                "Description": "Target of the custom domain's DNS alias record",
                "Value": { "Fn::GetAtt": ["DomainName", "RegionalDomainName"] },
            }),
        );
    }
    let mut template = object([
        ("AWSTemplateFormatVersion", json!("2010-09-09")),
        (
            "Description",
            json!(format!("idpc API stage {} {} in {}", api.name.value, api.version.value, env.name.value)),
        ),
        ("Resources", Value::Object(resources)),
        ("Outputs", Value::Object(outputs)),
    ]);
    if let (false, Some(map)) = (conditions.is_empty(), template.as_object_mut()) {
        map.insert("Conditions".into(), Value::Object(conditions));
    }
    template
}
