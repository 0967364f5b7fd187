//! The CloudFormation resources of one regional custom domain: an environment's gateway (its
//! own stack) or an API stage's own domain (in the stage's stack).
//!
//! What AWS requires, and where each resource below meets it:
//! - A regional custom domain takes an ACM certificate of the same account and region
//!   (`RegionalCertificateArn`; `resolve::domains` checks a written ARN). Without one, idpc
//!   requests it: `AWS::CertificateManager::Certificate` with DNS validation and the zone's
//!   `HostedZoneId`, for which CloudFormation writes the validation record into that Route 53
//!   zone itself (the zone must be a public zone of the same account, delegated from its
//!   parent so that ACM can resolve the record) and waits until ACM has issued the
//!   certificate, so the domain after it never sees a pending certificate. The zone is the one
//!   written (`hosted-zone=`) or the account's `dns-zone`, imported from the account's stack.
//! - Mutual TLS needs a regional domain with the `TLS_1_2` security policy (API Gateway refuses
//!   the enhanced `SecurityPolicy_*` policies with mutual TLS) and a truststore in S3; a
//!   `TruststoreVersion` requires a versioned bucket.
//! - The alias record points at the domain's `RegionalDomainName` in its
//!   `RegionalHostedZoneId` (the regional endpoint's zone, not the user's), type `A`: regional
//!   endpoints answer over IPv4.

use serde_json::{Map, Value, json};

use super::object;
use crate::model::{CustomDomain, Mtls};
use crate::naming;
use crate::resolve::stage::Zone;

/// Logical id of the domain itself (a stage's mapping refers to it within its own stack).
pub const DOMAIN_NAME: &str = "DomainName";

/// Adds the domain's resources to `resources`; `mtls` is the truststore it enforces, `zone`
/// where its records go (`resolve` guarantees a zone to a domain without a certificate).
pub fn resources(resources: &mut Map<String, Value>, domain: &CustomDomain, mtls: Option<&Mtls>, zone: Option<&Zone>) {
    let host = domain.host.value.as_str();
    // The account's dns-zone is exported by its account stack, which the plan deploys first.
    let zone = zone.map(|zone| match zone {
        Zone::Written(id) => json!(id),
        Zone::Account => json!({ "Fn::ImportValue": naming::DNS_ZONE_EXPORT }),
    });
    let certificate = match &domain.certificate {
        Some(certificate) => json!(certificate.value.text),
        None => {
            resources.insert(
                "Certificate".into(),
                json!({
                    "Type": "AWS::CertificateManager::Certificate",
                    "Properties": {
                        "DomainName": host,
                        "ValidationMethod": "DNS",
                        "DomainValidationOptions": [{ "DomainName": host, "HostedZoneId": zone }],
                    },
                }),
            );
            json!({ "Ref": "Certificate" })
        }
    };
    let mut properties = object([
        ("DomainName", json!(host)),
        ("RegionalCertificateArn", certificate),
        ("EndpointConfiguration", json!({ "Types": ["REGIONAL"] })),
        ("SecurityPolicy", json!(domain.tls_policy.value)),
    ]);
    if let (Some(Mtls { truststore: Some(truststore), version, .. }), Some(map)) = (mtls, properties.as_object_mut()) {
        let mut auth = json!({ "TruststoreUri": truststore.value });
        if let (Some(version), Some(a)) = (version, auth.as_object_mut()) {
            a.insert("TruststoreVersion".into(), json!(version.value));
        }
        map.insert("MutualTlsAuthentication".into(), auth);
    }
    resources.insert(
        DOMAIN_NAME.into(),
        object([("Type", json!("AWS::ApiGateway::DomainName")), ("Properties", properties)]),
    );
    if let Some(zone) = zone {
        resources.insert(
            "AliasRecord".into(),
            json!({
                "Type": "AWS::Route53::RecordSet",
                "Properties": {
                    "HostedZoneId": zone,
                    "Name": host,
                    "Type": "A",
                    "AliasTarget": {
                        "DNSName": { "Fn::GetAtt": [DOMAIN_NAME, "RegionalDomainName"] },
                        "HostedZoneId": { "Fn::GetAtt": [DOMAIN_NAME, "RegionalHostedZoneId"] },
                        "EvaluateTargetHealth": false,
                    },
                },
            }),
        );
    }
}

/// The outputs a deployer needs for DNS when idpc writes no alias record.
pub fn outputs(outputs: &mut Map<String, Value>, domain: &CustomDomain) {
    outputs.insert(
        "RegionalDomainName".into(),
        json!({
            "Description": format!("Target of the DNS alias record of {}", domain.host.value),
            "Value": { "Fn::GetAtt": [DOMAIN_NAME, "RegionalDomainName"] },
        }),
    );
    outputs.insert(
        "RegionalHostedZoneId".into(),
        json!({
            "Description": "Route 53 zone of the regional endpoint, for an alias record",
            "Value": { "Fn::GetAtt": [DOMAIN_NAME, "RegionalHostedZoneId"] },
        }),
    );
}
