//! Small validated value types: account ids, regions, dates, tiers, HTTP methods.

use std::fmt;

/// A 12-digit AWS account id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct AccountId(pub String);

impl AccountId {
    /// Accepts exactly 12 ASCII digits.
    pub fn parse(text: &str) -> Option<AccountId> {
        (text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())).then(|| AccountId(text.to_owned()))
    }
}

/// AWS regions of the `aws` partition that idpc knows.
pub const REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// A known AWS region.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Region(pub String);

impl Region {
    /// Accepts a region from `REGIONS`.
    pub fn parse(text: &str) -> Option<Region> {
        REGIONS.contains(&text).then(|| Region(text.to_owned()))
    }

    /// The region as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the region lies in the European Union.
    pub fn is_eu(&self) -> bool {
        self.0.starts_with("eu-")
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A calendar date (UTC), `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Date {
    /// Year, 1970..=9999.
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of month.
    pub day: u8,
}

impl Date {
    /// Parses exactly `YYYY-MM-DD` naming a real day.
    pub fn parse(text: &str) -> Option<Date> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<u16> {
            let part = text.get(range)?;
            part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok())?
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        if !(1970..=9999).contains(&year) || day == 0 || day > days {
            return None;
        }
        Some(Date { year, month: month as u8, day: day as u8 })
    }

    /// The UTC date of a count of days since 1970-01-01 (Howard Hinnant's civil_from_days).
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date { year: year.clamp(0, 9999) as u16, month: month as u8, day: day as u8 }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// An environment's tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Tier {
    /// Serves customers.
    Production,
    /// User acceptance.
    Acceptance,
    /// Integration testing.
    Test,
    /// Development.
    Development,
    /// Short-lived; carries `expires=`.
    Ephemeral,
}

impl Tier {
    /// Every tier's spelling.
    pub const NAMES: &'static [&'static str] = &["production", "acceptance", "test", "development", "ephemeral"];

    /// Parses a tier's spelling.
    pub fn parse(text: &str) -> Option<Tier> {
        Some(match text {
            "production" => Tier::Production,
            "acceptance" => Tier::Acceptance,
            "test" => Tier::Test,
            "development" => Tier::Development,
            "ephemeral" => Tier::Ephemeral,
            _ => return None,
        })
    }

    /// The tier's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Production => "production",
            Tier::Acceptance => "acceptance",
            Tier::Test => "test",
            Tier::Development => "development",
            Tier::Ephemeral => "ephemeral",
        }
    }
}

/// An HTTP method API Gateway serves on a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// HEAD
    Head,
    /// OPTIONS
    Options,
}

impl Method {
    /// Every method's spelling.
    pub const NAMES: &'static [&'static str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

    /// Parses an upper-case method.
    pub fn parse(text: &str) -> Option<Method> {
        Some(match text {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            _ => return None,
        })
    }

    /// Upper-case spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
        }
    }

    /// Lower-case spelling, as OpenAPI path items key operations.
    pub fn openapi_key(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
            Method::Head => "head",
            Method::Options => "options",
        }
    }

    /// Whether requests with this method carry a body.
    pub fn has_body(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Option<&str>) {
        assert_eq!(Date::parse(text).map(|d| d.to_string()), expected.map(str::to_owned));
    }

    #[test]
    fn dates() {
        check("2027-12-31", Some("2027-12-31"));
        check("2028-02-29", Some("2028-02-29"));
        check("2027-02-29", None);
        check("2027-13-01", None);
        check("2027-1-01", None);
        check("27-12-31", None);
        check("2027-12-3x", None);
        check("+027-12-31", None);
    }

    #[test]
    fn days_since_epoch() {
        assert_eq!(Date::from_days_since_epoch(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days_since_epoch(20_785).to_string(), "2026-11-28");
        assert_eq!(Date::from_days_since_epoch(11_016).to_string(), "2000-02-29");
    }
}
