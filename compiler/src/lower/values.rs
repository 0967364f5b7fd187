//! Validators for the string formats of the language: account ids, regions, URLs, S3 URIs,
//! ARNs, domains, emails, tags, Datadog handles, CIDRs, versions and dates.
//!
//! Each takes a spanned string, reports a coded diagnostic on failure and returns the parsed
//! value on success.

use std::str::FromStr;

use crate::diagnostics::{Code, Diagnostic, suggest};
use crate::lower::reader::Ctx;
use crate::model::{AccountId, Arn, Date, REGIONS, Region, Spanned};

impl Ctx<'_> {
    fn bad(&mut self, code: Code, value: &Spanned<String>, message: String, label: &str, help: &str) {
        self.report(Diagnostic::new(code, message).primary(value.span, label.to_owned()).help(help.to_owned()));
    }

    /// A 12-digit account id.
    pub fn account_id(&mut self, value: Spanned<String>) -> Option<Spanned<AccountId>> {
        match AccountId::parse(&value.value) {
            Some(id) => Some(Spanned::new(id, value.span)),
            None => {
                let message = format!("`{}` is not an AWS account id", value.value);
                self.bad(
                    Code::BadAccountId,
                    &value,
                    message,
                    "not 12 digits",
                    "an AWS account id is exactly 12 digits, written as a string: \"123456789012\"",
                );
                None
            }
        }
    }

    /// A known AWS region.
    pub fn region(&mut self, value: Spanned<String>) -> Option<Spanned<Region>> {
        match Region::parse(&value.value) {
            Some(region) => Some(Spanned::new(region, value.span)),
            None => {
                let message = format!("`{}` is not an AWS region", value.value);
                let help = match crate::diagnostics::did_you_mean(&value.value, REGIONS.iter().copied()) {
                    Some(best) => {
                        format!("did you mean `{best}`? regions are written like `eu-west-1`")
                    }
                    None => "regions are written like `eu-west-1`".to_owned(),
                };
                self.bad(Code::BadRegion, &value, message, "unknown region", &help);
                None
            }
        }
    }

    /// An `https://` URL with a host and no credentials, query or fragment, written with only
    /// the characters RFC 3986 allows (the `url` crate would silently drop a tab or newline and
    /// percent-encode a space or quote: the artifact would then hold another URL). The value is
    /// kept byte for byte: an issuer is compared with a token's `iss` claim exactly (RFC 7519
    /// 4.1.1; Azure AD's `https://sts.windows.net/<tenant>/` ends with a slash), so only a caller
    /// that knows the URL is a prefix (a backend) may normalise it.
    pub fn https_url(&mut self, value: Spanned<String>, what: &str) -> Option<Spanned<String>> {
        let stray = value.value.chars().find(|c| !c.is_ascii_graphic() || "\"<>\\^`{|}".contains(*c));
        let problem = match url::Url::parse(&value.value) {
            _ if stray.is_some() => stray.map(|c| {
                let name = match c {
                    ' ' => "a space".to_owned(),
                    c if c.is_control() => format!("the control character U+{:04X}", c as u32),
                    c => format!("`{c}`"),
                };
                format!("{name} is not allowed in a URL; percent-encode it if it belongs there")
            }),
            Err(e) => Some(format!("not a URL: {e}")),
            Ok(u) if u.scheme() != "https" => Some(format!("scheme `{}`; only https is allowed", u.scheme())),
            Ok(u) if u.host_str().is_none_or(str::is_empty) => Some("no host".to_owned()),
            Ok(u) if !u.username().is_empty() || u.password().is_some() => Some("credentials in the URL".to_owned()),
            Ok(u) if u.query().is_some() || u.fragment().is_some() => Some("a query or fragment".to_owned()),
            Ok(_) => None,
        };
        match problem {
            None => Some(value),
            Some(problem) => {
                let message = format!("{what} `{}` is not a valid https URL", value.value.escape_debug());
                self.bad(
                    Code::BadUrl,
                    &value,
                    message,
                    &problem,
                    "write an https URL such as \"https://auth.example.com\"",
                );
                None
            }
        }
    }

    /// An `s3://bucket/key` URI.
    pub fn s3_uri(&mut self, value: Spanned<String>, what: &str) -> Option<Spanned<String>> {
        let Some(problem) = s3_uri_problem(&value.value) else {
            return Some(value);
        };
        let message = format!("{what} `{}` is not an S3 object URI", value.value.escape_debug());
        self.bad(
            Code::BadS3Uri,
            &value,
            message,
            &problem,
            "write an S3 object URI such as \"s3://my-bucket/path/file.pem\"",
        );
        None
    }

    /// An ARN of `service` (`lambda`, `acm`) whose resource starts with `resource_prefix`.
    pub fn arn(&mut self, value: Spanned<String>, service: &str, resource_prefix: &str) -> Option<Spanned<Arn>> {
        let parts: Vec<&str> = value.value.splitn(6, ':').collect();
        let parsed = match parts.as_slice() {
            ["arn", "aws", s, region, account, resource]
                if *s == service
                    && resource.starts_with(resource_prefix)
                    && resource.len() > resource_prefix.len()
                    && AccountId::parse(account).is_some()
                    && resource.bytes().all(|b| b.is_ascii_graphic())
                    && resource_id_valid(
                        service,
                        region,
                        resource.get(resource_prefix.len()..).unwrap_or_default(),
                    ) =>
            {
                Region::parse(region).map(|region| Arn {
                    text: value.value.clone(),
                    service: service.to_owned(),
                    region,
                    account: (*account).to_owned(),
                    resource: (*resource).to_owned(),
                })
            }
            _ => None,
        };
        match parsed {
            Some(arn) => Some(Spanned::new(arn, value.span)),
            None => {
                let kind = match service {
                    "acm" => "an ACM certificate",
                    "lambda" => "a Lambda function",
                    other => other,
                };
                let message = format!("`{}` is not {kind} ARN", value.value.escape_debug());
                let id = match service {
                    "acm" => "<id> (a lower-case UUID, 8-4-4-4-12 hex digits)",
                    "cognito-idp" => "<region>_<letters and digits>",
                    _ => "<id>",
                };
                let help = format!("expected arn:aws:{service}:<region>:<12-digit account>:{resource_prefix}{id}");
                self.bad(Code::BadArn, &value, message, "malformed ARN", &help);
                None
            }
        }
    }

    /// A fully qualified domain name (lower case, at least two labels).
    pub fn domain(&mut self, value: Spanned<String>) -> Option<Spanned<String>> {
        if valid_domain(&value.value) {
            return Some(value);
        }
        let message = format!("`{}` is not a domain name", value.value);
        self.bad(
            Code::BadDomain,
            &value,
            message,
            "not a domain",
            "write a lower-case fully qualified name such as \"api.example.com\"",
        );
        None
    }

    /// An email address (`local@domain`).
    pub fn email(&mut self, value: Spanned<String>) -> Option<Spanned<String>> {
        let valid = match value.value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b))
                    && valid_domain(&domain.to_ascii_lowercase())
            }
            None => false,
        };
        if valid {
            return Some(value);
        }
        let message = format!("`{}` is not an email address", value.value);
        self.bad(
            Code::BadEmail,
            &value,
            message,
            "not an email address",
            "write an address such as \"aws+acme-dev@example.com\"",
        );
        None
    }

    /// An IP range in CIDR notation without host bits.
    pub fn cidr(&mut self, value: Spanned<String>) -> Option<Spanned<ipnet::IpNet>> {
        match ipnet::IpNet::from_str(&value.value) {
            Err(_) => {
                let message = format!("`{}` is not a CIDR range", value.value);
                self.bad(
                    Code::BadCidr,
                    &value,
                    message,
                    "not a CIDR range",
                    "write an address with a prefix length, such as \"203.0.113.0/24\" or \"198.51.100.7/32\"",
                );
                None
            }
            Ok(net) if net.trunc() != net => {
                let message = format!("`{}` has host bits set", value.value);
                let help = format!("the range starts at {}; write \"{}\"", net.network(), net.trunc());
                self.bad(Code::CidrHostBits, &value, message, "host bits set", &help);
                None
            }
            Ok(net) => Some(Spanned::new(net, value.span)),
        }
    }

    /// A semantic version.
    pub fn version(&mut self, value: Spanned<String>) -> Option<Spanned<semver::Version>> {
        match semver::Version::parse(&value.value) {
            Ok(v) => Some(Spanned::new(v, value.span)),
            Err(e) => {
                let message = format!("`{}` is not a semantic version", value.value);
                self.bad(
                    Code::BadVersion,
                    &value,
                    message,
                    &e.to_string(),
                    "write MAJOR.MINOR.PATCH, such as \"1.8.0\"",
                );
                None
            }
        }
    }

    /// A `YYYY-MM-DD` date.
    pub fn date(&mut self, value: Spanned<String>) -> Option<Spanned<Date>> {
        match Date::parse(&value.value) {
            Some(d) => Some(Spanned::new(d, value.span)),
            None => {
                let message = format!("`{}` is not a date", value.value);
                self.bad(
                    Code::BadDate,
                    &value,
                    message,
                    "not a real YYYY-MM-DD date",
                    "write a date as \"2027-12-31\"",
                );
                None
            }
        }
    }

    /// One of `allowed`; reports `unknown-value` with a suggestion otherwise.
    pub fn one_of(&mut self, value: Spanned<String>, what: &str, allowed: &[&str]) -> Option<Spanned<String>> {
        if allowed.contains(&value.value.as_str()) {
            return Some(value);
        }
        self.report(
            Diagnostic::new(Code::UnknownValue, format!("`{}` is not a valid {what}", value.value))
                .primary(value.span, format!("unknown {what}"))
                .help(suggest(&value.value, allowed)),
        );
        None
    }
}

/// Whether `id` is the resource id of a `service` ARN in `region`, by its service's grammar:
/// an ACM certificate id is a UUID (8-4-4-4-12 lower-case hex digits); a Cognito user pool id
/// is `<region>_<letters and digits>` (55 characters at most). Lambda function names are
/// checked where the function is (`lambda_name_problem`).
pub fn resource_id_valid(service: &str, region: &str, id: &str) -> bool {
    match service {
        "acm" => {
            let groups: Vec<&str> = id.split('-').collect();
            groups.len() == 5
                && groups
                    .iter()
                    .zip([8, 4, 4, 4, 12])
                    .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        }
        "cognito-idp" => {
            id.len() <= 55
                && id
                    .strip_prefix(region)
                    .and_then(|rest| rest.strip_prefix('_'))
                    .is_some_and(|pool| !pool.is_empty() && pool.bytes().all(|b| b.is_ascii_alphanumeric()))
        }
        _ => true,
    }
}

/// Whether `text` is `s3://bucket/key` with a valid bucket name and a non-empty key.
pub fn valid_s3_uri(text: &str) -> bool {
    s3_uri_problem(text).is_none()
}

/// What is wrong with an `s3://bucket/key` URI, in words; `None` when nothing is.
pub fn s3_uri_problem(text: &str) -> Option<String> {
    let Some(rest) = text.strip_prefix("s3://") else {
        return Some("it does not start with `s3://`".into());
    };
    let Some((bucket, key)) = rest.split_once('/') else {
        return Some("no object key after the bucket (`s3://bucket/key`)".into());
    };
    if !(3..=63).contains(&bucket.len()) {
        return Some(format!(
            "the bucket name `{bucket}` is {} characters long; S3 allows 3 to 63",
            bucket.chars().count()
        ));
    }
    if let Some(c) = bucket.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
    {
        return Some(format!(
            "the bucket name has `{}`; S3 bucket names are lower-case letters, digits, `-` and `.`",
            c.escape_debug()
        ));
    }
    if !bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Some("the bucket name must start and end with a letter or digit".into());
    }
    if key.is_empty() || key.ends_with('/') {
        return Some("the key names a folder, not an object".into());
    }
    // Keys: printable ASCII without the characters S3's guidelines say to avoid
    // (`\\ { ^ } % ` ] " > [ ~ < # |`) nor spaces; every key idpc reads is a file name.
    if let Some(c) = key.chars().find(|c| !c.is_ascii_graphic() || "\\{^}%`]\">[~<#|".contains(*c)) {
        let shown = if c == ' ' { "a space".to_owned() } else { format!("`{}`", c.escape_debug()) };
        return Some(format!(
            "the key has {shown}: idpc accepts printable ASCII keys without a space or any of the characters S3 advises against: \\ {{ ^ }} % ` ] \" > [ ~ < # |"
        ));
    }
    None
}

/// Whether `text` is a lower-case FQDN: 2+ labels of `[a-z0-9-]`, each 1-63 long, 253 in all.
pub fn valid_domain(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    text.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels.last().is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_uris() {
        assert!(valid_s3_uri("s3://acme-truststores/accounts/truststore.pem"));
        assert!(!valid_s3_uri("s3://acme-truststores/"));
        assert!(!valid_s3_uri("s3://Acme/x"));
        assert!(!valid_s3_uri("https://acme/x"));
        assert!(!valid_s3_uri("s3://ab/x"));
        assert!(!valid_s3_uri("s3://acme-truststores/a b.pem"));
        assert!(!valid_s3_uri("s3://acme-truststores/a\"}.pem"));
        assert!(!valid_s3_uri("s3://acme-truststores/a\r\n.pem"));
        // Each refusal says why.
        for (uri, reason) in [
            ("s3://acme-truststores/", "the key names a folder"),
            ("s3://Acme/x", "the bucket name has `A`"),
            ("https://acme/x", "does not start with `s3://`"),
            ("s3://ab/x", "is 2 characters long"),
            ("s3://acme-truststores/a b.pem", "the key has a space"),
            ("s3://acme-truststores/a~b.pem", "the key has `~`"),
            ("s3://bucket-only", "no object key"),
        ] {
            let problem = s3_uri_problem(uri).unwrap_or_default();
            assert!(problem.contains(reason), "{uri}: {problem}");
        }
    }

    #[test]
    fn resource_ids() {
        assert!(resource_id_valid("acm", "eu-west-1", "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"));
        assert!(!resource_id_valid("acm", "eu-west-1", "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5"));
        assert!(!resource_id_valid("acm", "eu-west-1", "</script>${AWS::AccountId}"));
        assert!(resource_id_valid("cognito-idp", "eu-west-1", "eu-west-1_AbC123"));
        assert!(!resource_id_valid("cognito-idp", "eu-west-1", "eu-central-1_AbC123"));
        assert!(!resource_id_valid("cognito-idp", "eu-west-1", "eu-west-1_a-b"));
    }

    #[test]
    fn domains() {
        assert!(valid_domain("accounts.api.acme-bank.example"));
        assert!(!valid_domain("localhost"));
        assert!(!valid_domain("Api.example.com"));
        assert!(!valid_domain("a..example.com"));
        assert!(!valid_domain("-a.example.com"));
        assert!(!valid_domain("1.2.3.4"));
    }
}
