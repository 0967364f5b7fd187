//! `insecure-resource`: what no resource idpc emits may do, whoever wrote its template (the
//! stdlib's, or an estate's own baseline): an IAM trust policy that any AWS principal may
//! assume, `AdministratorAccess` or an `Allow` of every action, an S3 bucket that does not
//! block public access or is not encrypted, a bucket policy open to everyone without a
//! condition, a log group or trail without a KMS key.
//!
//! The properties read are CloudFormation's (`AWS::IAM::Role.AssumeRolePolicyDocument`,
//! `ManagedPolicyArns`, `Policies[].PolicyDocument`; `AWS::S3::Bucket.AccessControl`,
//! `PublicAccessBlockConfiguration`, `BucketEncryption`; `AWS::Logs::LogGroup.KmsKeyId`;
//! `AWS::CloudTrail::Trail.KMSKeyId`). A value written with an intrinsic function is not read
//! (it is not known before deployment), except the literal text of an `Fn::Sub` or `Fn::Join`
//! managed policy ARN (`arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess`). A `*`
//! principal in a trust policy is accepted when its condition pins the caller's organisation,
//! account or ARN.

use serde_json::{Map, Value};

/// Each resource that breaks a rule, by logical id, with what it does wrong (in resource
/// order, a resource once per rule it breaks).
pub fn insecure(resources: &Map<String, Value>) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    for (id, resource) in resources {
        let properties = &resource["Properties"];
        let mut say = |problem: &'static str| found.push((id.clone(), problem));
        match resource["Type"].as_str().unwrap_or_default() {
            "AWS::IAM::Role" => {
                let open = |s: &Value| allows(s) && any_principal(s) && !restricted_to_known_principals(s);
                if statements(&properties["AssumeRolePolicyDocument"]).any(open) {
                    say(
                        "its trust policy lets any AWS principal assume it (`Principal: *` without a condition on the caller's organisation, account or ARN)",
                    );
                }
                identity_rules(properties, &mut say);
            }
            "AWS::IAM::User" | "AWS::IAM::Group" => identity_rules(properties, &mut say),
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy"
                if statements(&properties["PolicyDocument"]).any(|s| allows(s) && any_action(s)) =>
            {
                say("it allows every action (`Action: *`)");
            }
            "AWS::S3::Bucket" => {
                if let Some("PublicRead" | "PublicReadWrite" | "AuthenticatedRead") =
                    properties["AccessControl"].as_str()
                {
                    say("its ACL makes it public (`AccessControl`)");
                }
                let block = &properties["PublicAccessBlockConfiguration"];
                let blocked = ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"]
                    .iter()
                    .all(|k| block[k] == Value::Bool(true));
                if !blocked {
                    say("it does not block public access (all four `PublicAccessBlockConfiguration` settings true)");
                }
                if properties["BucketEncryption"].is_null() {
                    say("it sets no encryption (`BucketEncryption`)");
                }
            }
            "AWS::S3::BucketPolicy"
                if statements(&properties["PolicyDocument"])
                    .any(|s| allows(s) && any_principal(s) && s["Condition"].is_null()) =>
            {
                say("its policy lets anyone in (`Principal: *` without a `Condition`)");
            }
            "AWS::Logs::LogGroup" if properties["KmsKeyId"].is_null() => {
                say("its logs are not encrypted with a KMS key (`KmsKeyId`)");
            }
            "AWS::CloudTrail::Trail" if properties["KMSKeyId"].is_null() => {
                say("its log files are not encrypted with a KMS key (`KMSKeyId`)");
            }
            _ => {}
        }
    }
    found
}

/// The rules of an identity (role, user, group): no administrator policy, no `*` action.
fn identity_rules(properties: &Value, say: &mut impl FnMut(&'static str)) {
    let managed = properties["ManagedPolicyArns"].as_array().map(Vec::as_slice).unwrap_or_default();
    if managed.iter().filter_map(literal_text).any(|arn| arn.ends_with(":policy/AdministratorAccess")) {
        say("it has the `AdministratorAccess` policy");
    }
    let inline = properties["Policies"].as_array().map(Vec::as_slice).unwrap_or_default();
    if inline.iter().any(|p| statements(&p["PolicyDocument"]).any(|s| allows(s) && any_action(s))) {
        say("an inline policy allows every action (`Action: *`)");
    }
}

/// The text of a string, or of the literal parts of an `Fn::Sub` (`arn:${AWS::Partition}:...`
/// keeps its literal tail) or an `Fn::Join` with an empty separator: enough to read which
/// managed policy an ARN names.
fn literal_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) if map.len() == 1 => {
            if let Some(sub) = map.get("Fn::Sub") {
                return match sub {
                    Value::String(s) => Some(s.clone()),
                    Value::Array(items) => items.first().and_then(Value::as_str).map(str::to_owned),
                    _ => None,
                };
            }
            let join = map.get("Fn::Join")?.as_array()?;
            let (Some(""), Some(Value::Array(parts))) = (join.first().and_then(Value::as_str), join.get(1)) else {
                return None;
            };
            Some(parts.iter().map(|p| p.as_str().unwrap_or("${?}")).collect())
        }
        _ => None,
    }
}

/// Whether a statement's `Condition` pins the caller to an organisation, account or ARN
/// (`aws:PrincipalOrgID`, `aws:PrincipalAccount`, `aws:PrincipalArn`, `aws:SourceAccount`,
/// `aws:SourceArn`, `aws:SourceOrgID`) with a value that is not a bare `*`: the usual way to
/// let any principal of one's own organisation in.
fn restricted_to_known_principals(statement: &Value) -> bool {
    const KEYS: &[&str] = &[
        "aws:principalorgid",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceorgid",
    ];
    let Some(operators) = statement["Condition"].as_object() else { return false };
    operators.iter().filter(|(op, _)| !op.starts_with("Null") && !op.contains("Not")).any(|(_, tests)| {
        tests.as_object().is_some_and(|tests| {
            tests.iter().any(|(key, value)| {
                KEYS.contains(&key.to_ascii_lowercase().as_str())
                    && !has_star(value, &["*"])
                    && (value.is_string() || value.as_array().is_some_and(|a| !a.is_empty()))
            })
        })
    })
}

/// A policy document's statements (one object or a list).
fn statements(document: &Value) -> impl Iterator<Item = &Value> {
    let statement = &document["Statement"];
    let list = match statement {
        Value::Array(items) => items.as_slice(),
        Value::Object(_) => std::slice::from_ref(statement),
        _ => &[],
    };
    list.iter()
}

fn allows(statement: &Value) -> bool {
    statement["Effect"] == "Allow"
}

/// `"*"`, or a list holding it.
fn has_star(value: &Value, stars: &[&str]) -> bool {
    match value {
        Value::String(s) => stars.contains(&s.as_str()),
        Value::Array(items) => items.iter().any(|v| v.as_str().is_some_and(|s| stars.contains(&s))),
        _ => false,
    }
}

fn any_principal(statement: &Value) -> bool {
    let principal = &statement["Principal"];
    has_star(principal, &["*"]) || has_star(&principal["AWS"], &["*"])
}

fn any_action(statement: &Value) -> bool {
    has_star(&statement["Action"], &["*", "*:*"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(resources: Value) -> Vec<&'static str> {
        let Value::Object(map) = resources else { unreachable!() };
        insecure(&map).into_iter().map(|(_, p)| p).collect()
    }

    #[test]
    fn roles() {
        let open = json!({ "R": { "Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": { "Statement": [{ "Effect": "Allow", "Principal": { "AWS": "*" }, "Action": "sts:AssumeRole" }] },
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
            "Policies": [{ "PolicyName": "p", "PolicyDocument": { "Statement": { "Effect": "Allow", "Action": "*:*", "Resource": "*" } } }]
        }}});
        assert_eq!(problems(open).len(), 3);
        let service = json!({ "R": { "Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": { "Statement": [{ "Effect": "Allow", "Principal": { "Service": "lambda.amazonaws.com" }, "Action": "sts:AssumeRole" }] },
            "Policies": [{ "PolicyName": "p", "PolicyDocument": { "Statement": [{ "Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": "*" }] } }]
        }}});
        assert!(problems(service).is_empty());
        let deny = json!({ "P": { "Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "PolicyDocument": { "Statement": [{ "Effect": "Deny", "Action": "*", "Resource": "*" }] } } } });
        assert!(problems(deny).is_empty());
    }

    #[test]
    fn an_administrator_policy_written_with_sub_or_join_is_read() {
        for arn in [
            json!({ "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess" }),
            json!({ "Fn::Sub": ["arn:${P}:iam::aws:policy/AdministratorAccess", { "P": "aws" }] }),
            json!({ "Fn::Join": ["", ["arn:", { "Ref": "AWS::Partition" }, ":iam::aws:policy/AdministratorAccess"]] }),
        ] {
            let role = json!({ "R": { "Type": "AWS::IAM::Role", "Properties": { "ManagedPolicyArns": [arn] } } });
            assert_eq!(problems(role), ["it has the `AdministratorAccess` policy"], "{arn}");
        }
        let read_only = json!({ "R": { "Type": "AWS::IAM::Role", "Properties": {
            "ManagedPolicyArns": [{ "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess" }] } } });
        assert!(problems(read_only).is_empty());
    }

    #[test]
    fn a_star_principal_pinned_to_the_organisation_is_not_open() {
        let trust = |condition: Value| {
            json!({ "R": { "Type": "AWS::IAM::Role", "Properties": { "AssumeRolePolicyDocument": { "Statement": [
                { "Effect": "Allow", "Principal": { "AWS": "*" }, "Action": "sts:AssumeRole", "Condition": condition }
            ] } } } })
        };
        for pinned in [
            json!({ "StringEquals": { "aws:PrincipalOrgID": "o-a1b2c3d4e5" } }),
            json!({ "StringEquals": { "aws:PrincipalAccount": ["222222222222"] } }),
            json!({ "ArnLike": { "aws:PrincipalArn": "arn:aws:iam::222222222222:role/deployer-*" } }),
        ] {
            assert!(problems(trust(pinned.clone())).is_empty(), "{pinned}");
        }
        for open in [
            json!({ "StringLike": { "aws:PrincipalOrgID": "*" } }),
            json!({ "StringNotEquals": { "aws:PrincipalOrgID": "o-a1b2c3d4e5" } }),
            json!({ "Bool": { "aws:SecureTransport": "true" } }),
            Value::Null,
        ] {
            assert_eq!(problems(trust(open.clone())).len(), 1, "{open}");
        }
    }

    #[test]
    fn buckets_and_logs() {
        let public = json!({
            "B": { "Type": "AWS::S3::Bucket", "Properties": { "AccessControl": "PublicRead" } },
            "P": { "Type": "AWS::S3::BucketPolicy", "Properties": { "PolicyDocument": { "Statement": [{ "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject" }] } } },
            "L": { "Type": "AWS::Logs::LogGroup", "Properties": { "RetentionInDays": 7 } }
        });
        assert_eq!(problems(public).len(), 5);
        let closed = json!({
            "B": { "Type": "AWS::S3::Bucket", "Properties": {
                "BucketEncryption": { "ServerSideEncryptionConfiguration": [] },
                "PublicAccessBlockConfiguration": { "BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true } } },
            "P": { "Type": "AWS::S3::BucketPolicy", "Properties": { "PolicyDocument": { "Statement": [{ "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Condition": { "Bool": { "aws:SecureTransport": "false" } } }] } } },
            "L": { "Type": "AWS::Logs::LogGroup", "Properties": { "KmsKeyId": { "Fn::GetAtt": ["K", "Arn"] } } }
        });
        assert!(problems(closed).is_empty());
    }
}
