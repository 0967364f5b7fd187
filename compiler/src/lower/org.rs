//! Lowering of `platform`, `tenant`, `account` and `environment` nodes and their baseline uses.

use kdl::{KdlNode, KdlValue};

use super::api::{Written, lowered};
use super::reader::{Ctx, Reader, Shape};
use crate::diagnostics::{Code, Diagnostic};
use crate::model::{Account, BaselineUse, Datadog, Environment, ParamValue, Platform, Spanned, Tenant, Tier, Waiver};

/// Datadog sites idpc can target.
pub const DATADOG_SITES: &[&str] = &[
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "ddog-gov.com",
];

impl Ctx<'_> {
    /// The string argument of a child such as `region "eu-west-1"`.
    pub fn child_string(&mut self, node: &KdlNode, what: &str) -> Option<Spanned<String>> {
        let reader = self.open(node, &Shape::ONE_ARG);
        let entry = reader.args.first()?;
        self.string(entry, what)
    }

    /// The first argument of a node as a name.
    pub fn node_name(&mut self, reader: &Reader<'_>, what: &str) -> Option<Spanned<crate::model::Name>> {
        let entry = reader.args.first()?;
        self.name(entry, what)
    }

    /// Reports a required child that is missing.
    pub fn missing_child(&mut self, node: &KdlNode, child: &str, example: &str) {
        let what = node.name().value();
        self.report(
            Diagnostic::new(Code::MissingNode, format!("`{what}` needs a `{child}` node"))
                .primary(self.name_span(node), format!("no `{child}` inside"))
                .help(format!("add `{example}` inside the block")),
        );
    }

    /// Lowers `platform "name" { ... }`.
    pub fn platform(&mut self, node: &KdlNode) -> Option<Platform> {
        let shape = Shape { children: &["management-account", "region", "datadog", "tag", "waive"], ..Shape::ONE_ARG };
        let reader = self.open(node, &shape);
        let name = self.node_name(&reader, "platform name");
        let management = self.single(&reader, "management-account");
        let management = match management {
            Some(child) => self.child_string(child, "management-account").and_then(|v| self.account_id(v)),
            None => {
                self.missing_child(node, "management-account", "management-account \"111111111111\"");
                None
            }
        };
        let region = match self.single(&reader, "region") {
            Some(child) => self.child_string(child, "region").and_then(|v| self.region(v)),
            None => {
                self.missing_child(node, "region", "region \"eu-west-1\"");
                None
            }
        };
        let datadog = match self.single(&reader, "datadog") {
            Some(child) => self.datadog(child),
            None => {
                self.missing_child(node, "datadog", "datadog site=\"datadoghq.eu\" notify=\"@team-alerts\"");
                None
            }
        };
        let tags = self.tags(&reader);
        let waivers = self.waivers(&reader);
        Some(Platform {
            name: name?,
            span: self.span(node.span()),
            management_account: management?,
            region: region?,
            datadog: datadog?,
            tags,
            waivers,
        })
    }

    fn datadog(&mut self, node: &KdlNode) -> Option<Datadog> {
        let reader = self.open(node, &Shape { props: &["site", "notify"], ..Shape::NONE });
        let site = self.required(&reader, "site").and_then(|e| self.string(e, "datadog site"));
        let site = site.and_then(|s| self.one_of(s, "Datadog site", DATADOG_SITES));
        let notify = self.required(&reader, "notify").and_then(|e| self.string(e, "notify"));
        let notify = notify.and_then(|n| self.handles(n));
        Some(Datadog { site: site?, notify: notify?, span: self.span(node.span()) })
    }

    /// Space-separated Datadog handles, each `@` followed by `[A-Za-z0-9_.+/:-]`.
    fn handles(&mut self, value: Spanned<String>) -> Option<Spanned<Vec<String>>> {
        let handles: Vec<String> = value.value.split(' ').filter(|h| !h.is_empty()).map(str::to_owned).collect();
        let valid = |h: &String| {
            h.len() > 1
                && h.starts_with('@')
                && h.bytes().skip(1).all(|b| b.is_ascii_alphanumeric() || b"_.+/:-".contains(&b))
        };
        if !handles.is_empty() && handles.iter().all(valid) {
            return Some(Spanned::new(handles, value.span));
        }
        self.report(
            Diagnostic::new(Code::BadHandle, format!("`{}` is not a Datadog notification handle", value.value))
                .primary(value.span, "expected @handle")
                .help(
                    "write one or more handles separated by spaces, such as \"@slack-platform-alerts @pagerduty-core\"",
                ),
        );
        None
    }

    fn tags(&mut self, reader: &Reader<'_>) -> Vec<(Spanned<String>, Spanned<String>)> {
        let mut tags: Vec<(Spanned<String>, Spanned<String>)> = Vec::new();
        for child in self.all(reader, "tag") {
            let tag = self.open(child, &Shape { min_args: 2, max_args: 2, ..Shape::NONE });
            let (Some(k), Some(v)) = (tag.args.first(), tag.args.get(1)) else {
                continue;
            };
            let (Some(key), Some(value)) = (self.string(k, "tag key"), self.string(v, "tag value")) else {
                continue;
            };
            if let Some(problem) = tag_problem(&key.value, &value.value) {
                self.report(
                    Diagnostic::new(Code::BadTag, format!("tag `{}` cannot be applied", key.value))
                        .primary(key.span, problem)
                        .help("tag keys are 1-128 characters, values up to 256, of letters, digits, spaces and _ . : / = + - @; `aws:` and `idpc:` keys are reserved"),
                );
                continue;
            }
            if let Some((first, _)) = tags.iter().find(|(k, _)| k.value == key.value) {
                self.report(
                    Diagnostic::new(Code::DuplicateValue, format!("tag `{}` is given twice", key.value))
                        .primary(key.span, "second one")
                        .secondary(first.span, "first one")
                        .help("give each tag key once"),
                );
                continue;
            }
            tags.push((key, value));
        }
        tags
    }

    /// Lowers `tenant "name" { ... }`.
    pub fn tenant(&mut self, node: &KdlNode) -> Option<Tenant> {
        let children = &["display-name", "contact", "cost-center", "region", "compliance", "waive"];
        let reader = self.open(node, &Shape { children, ..Shape::ONE_ARG });
        let name = self.node_name(&reader, "tenant name");
        let display_name = self.single(&reader, "display-name").and_then(|c| self.child_string(c, "display-name"));
        let contact = self.single(&reader, "contact").and_then(|c| self.child_string(c, "contact"));
        let contact = contact.and_then(|c| self.email(c));
        let cost_center = self.single(&reader, "cost-center").and_then(|c| self.child_string(c, "cost-center"));
        let cost_center = cost_center.filter(|c| match tag_problem("cost-center", &c.value) {
            None => true,
            Some(problem) => {
                self.report(
                    Diagnostic::new(Code::BadTag, "cost-center cannot be used as a tag value")
                        .primary(c.span, problem)
                        .help("cost centers become the `idpc:cost-center` tag: up to 256 letters, digits, spaces and _ . : / = + - @"),
                );
                false
            }
        });
        // A malformed region or profile drops the tenant: its accounts would otherwise be
        // checked in the platform's region, or without the tenant's policies.
        let region =
            self.single(&reader, "region").map(|c| self.child_string(c, "region").and_then(|r| self.region(r)));
        let compliance = match self.single(&reader, "compliance") {
            Some(child) => {
                let r = self.open(child, &Shape::ONE_ARG);
                Some(r.args.first().and_then(|e| self.name(e, "compliance profile")))
            }
            None => None,
        };
        let waivers = self.waivers(&reader);
        Some(Tenant {
            name: name?,
            span: self.span(node.span()),
            display_name,
            contact,
            cost_center,
            region: lowered(region)?,
            compliance: lowered(compliance)?,
            waivers,
        })
    }

    /// Lowers `account "name" tenant=... { baseline ... }`.
    pub fn account(&mut self, node: &KdlNode) -> Option<Account> {
        let shape = Shape {
            props: &["tenant", "id", "email", "ou", "region", "custom-domain-quota"],
            children: &["baseline", "waive"],
            ..Shape::ONE_ARG
        };
        let reader = self.open(node, &shape);
        let name = self.node_name(&reader, "account name");
        let tenant = self.required(&reader, "tenant").and_then(|e| self.name(e, "tenant name"));
        // A malformed value drops the account: without its id it would pass for a requested
        // account, without its region for one in its tenant's region.
        let id = reader.props.get("id").map(|e| self.string(e, "account id").and_then(|v| self.account_id(v)));
        let email = reader.props.get("email").map(|e| self.string(e, "email").and_then(|v| self.email(v)));
        let ou = reader.props.get("ou").map(|e| self.string(e, "ou").and_then(|v| self.ou(v)));
        let region = reader.props.get("region").map(|e| self.string(e, "region").and_then(|v| self.region(v)));
        let quota = reader
            .props
            .get("custom-domain-quota")
            .map(|e| self.integer(e, "custom-domain-quota", 1, 100_000).map(|q| Spanned::new(q.value as u32, q.span)));
        let requested_without_email = !reader.props.contains_key("id") && !reader.props.contains_key("email");
        if requested_without_email {
            self.report(
                Diagnostic::new(Code::MissingProperty, "a requested account needs `email=`")
                    .primary(self.name_span(node), "no `id=` and no `email=`")
                    .help("give `id=\"123456789012\"` for an existing account, or `email=` (its root address) to have idpc request it"),
            );
        }
        if let (Some(ou_entry), true) = (reader.props.get("ou"), reader.props.contains_key("id")) {
            self.report(
                Diagnostic::new(Code::ConflictingProperties, "`ou=` only applies to a requested account")
                    .primary(self.span(ou_entry.span()), "ignored for an existing account")
                    .help("move existing accounts between organizational units in AWS Organizations, or drop `id=`"),
            );
        }
        let baselines = self.baseline_uses(&reader);
        let waivers = self.waivers(&reader);
        if requested_without_email {
            return None;
        }
        Some(Account {
            name: name?,
            span: self.span(node.span()),
            tenant: tenant?,
            id: lowered(id)?,
            email: lowered(email)?,
            ou: lowered(ou)?,
            region: lowered(region)?,
            custom_domain_quota: lowered(quota)?,
            baselines,
            waivers,
        })
    }

    fn ou(&mut self, value: Spanned<String>) -> Option<Spanned<String>> {
        let text = value.value.as_str();
        let part = |s: &str, min: usize| {
            s.len() >= min && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        let valid = match text.strip_prefix("ou-") {
            Some(rest) => rest.split_once('-').is_some_and(|(root, id)| part(root, 4) && part(id, 8)),
            None => text.strip_prefix("r-").is_some_and(|root| part(root, 4)),
        };
        if valid {
            return Some(value);
        }
        self.report(
            Diagnostic::new(Code::BadOu, format!("`{text}` is not an organizational unit id"))
                .primary(value.span, "not ou-xxxx-xxxxxxxx or r-xxxx")
                .help("use the id AWS Organizations shows, such as \"ou-ab12-cd34ef56\" (or a root \"r-ab12\")"),
        );
        None
    }

    /// Lowers `environment "name" account=... tier=... { baseline ... }`.
    pub fn environment(&mut self, node: &KdlNode) -> Option<Environment> {
        let shape = Shape {
            props: &["account", "tier", "expires", "renamed-from"],
            children: &["baseline", "gateway", "waive"],
            ..Shape::ONE_ARG
        };
        let reader = self.open(node, &shape);
        let name = self.node_name(&reader, "environment name");
        let account = self.required(&reader, "account").and_then(|e| self.name(e, "account name"));
        let renamed_from: Written<_> =
            reader.props.get("renamed-from").map(|e| self.name(e, "former environment name"));
        let tier = self.required(&reader, "tier").and_then(|e| self.string(e, "tier"));
        let tier = tier.and_then(|t| {
            let checked = self.one_of(t, "tier", Tier::NAMES)?;
            Tier::parse(&checked.value).map(|tier| Spanned::new(tier, checked.span))
        });
        let expires = reader.props.get("expires").and_then(|e| self.string(e, "expires")).and_then(|v| self.date(v));
        match (&tier, reader.props.get("expires")) {
            (Some(t), None) if t.value == Tier::Ephemeral => self.report(
                Diagnostic::new(Code::MissingExpiry, "an ephemeral environment needs `expires=`")
                    .primary(t.span, "ephemeral without an expiry date")
                    .help("add `expires=\"YYYY-MM-DD\"`; after that date idpc stops building it and warns you to delete it"),
            ),
            (Some(t), Some(e)) if t.value != Tier::Ephemeral => self.report(
                Diagnostic::new(Code::ExpiryNotEphemeral, format!("a {} environment cannot expire", t.value.as_str()))
                    .primary(self.span(e.span()), "expiry on a long-lived environment")
                    .secondary(t.span, "tier")
                    .help("remove `expires=`, or make the environment `tier=\"ephemeral\"`"),
            ),
            _ => {}
        }
        // A gateway that does not lower drops the environment: its stages could not be built.
        let gateway = self.single(&reader, "gateway").map(|c| self.custom_domain(c));
        let baselines = self.baseline_uses(&reader);
        let waivers = self.waivers(&reader);
        Some(Environment {
            name: name?,
            span: self.span(node.span()),
            account: account?,
            tier: tier?,
            renamed_from: lowered(renamed_from)?,
            expires,
            gateway: lowered(gateway)?,
            baselines,
            waivers,
        })
    }

    /// `waive "CODE" reason="..." until="YYYY-MM-DD"` children; checked against policies later.
    pub fn waivers(&mut self, reader: &Reader<'_>) -> Vec<Waiver> {
        let mut waivers = Vec::new();
        for child in self.all(reader, "waive") {
            let r = self.open(child, &Shape { props: &["reason", "until"], ..Shape::ONE_ARG });
            let Some(code) = r.args.first().and_then(|e| self.string(e, "waived code")) else { continue };
            let reason = r.props.get("reason").and_then(|e| self.string(e, "reason"));
            let until = self.required(&r, "until").and_then(|e| self.string(e, "until")).and_then(|d| self.date(d));
            if r.props.contains_key("until") && until.is_none() {
                continue;
            }
            waivers.push(Waiver { code, reason, until, span: self.span(child.span()) });
        }
        waivers
    }

    fn baseline_uses(&mut self, reader: &Reader<'_>) -> Vec<BaselineUse> {
        let mut uses: Vec<BaselineUse> = Vec::new();
        for child in self.all(reader, "baseline") {
            let r = self.open(child, &Shape { any_props: true, ..Shape::ONE_ARG });
            let Some(name) = self.node_name(&r, "baseline name") else {
                continue;
            };
            let mut params = Vec::new();
            for (key, entry) in &r.props {
                let span = self.value_span(entry);
                let value = match entry.value() {
                    KdlValue::String(s) => ParamValue::String(s.clone()),
                    KdlValue::Integer(i) => match i64::try_from(*i) {
                        Ok(i) => ParamValue::Integer(i),
                        Err(_) => {
                            self.out_of_range(span, &format!("parameter `{key}`"), "a 64-bit integer");
                            continue;
                        }
                    },
                    KdlValue::Float(f) if f.is_finite() => ParamValue::Number(*f),
                    KdlValue::Bool(b) => ParamValue::Boolean(*b),
                    KdlValue::Float(_) | KdlValue::Null => {
                        self.report(
                            Diagnostic::new(Code::WrongType, format!("parameter `{key}` has no usable value"))
                                .primary(span, "#null or not finite")
                                .help("give a string, a finite number or #true/#false"),
                        );
                        continue;
                    }
                };
                let key_span = entry.name().map_or(span, |n| self.span(n.span()));
                params.push((Spanned::new((*key).to_owned(), key_span), Spanned::new(value, span)));
            }
            if let Some(first) = uses.iter().find(|u| u.name.value == name.value) {
                self.report(
                    Diagnostic::new(Code::DuplicateNode, format!("baseline `{}` is applied twice", name.value))
                        .primary(name.span, "second use")
                        .secondary(first.name.span, "first use")
                        .help("apply each baseline once; merge the parameters into one line"),
                );
                continue;
            }
            uses.push(BaselineUse { name, span: self.span(child.span()), params });
        }
        uses
    }
}

/// Why AWS would refuse a tag, or `None`.
pub fn tag_problem(key: &str, value: &str) -> Option<&'static str> {
    let allowed = |s: &str| s.chars().all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c));
    if key.is_empty() || key.chars().count() > 128 {
        Some("key must be 1 to 128 characters")
    } else if value.chars().count() > 256 {
        Some("value must be at most 256 characters")
    } else if !allowed(key) || !allowed(value) {
        Some("only letters, digits, spaces and _ . : / = + - @ are allowed")
    } else if key.starts_with("aws:") {
        Some("`aws:` keys are reserved by AWS")
    } else if key.starts_with("idpc:") {
        Some("`idpc:` keys are set by idpc")
    } else {
        None
    }
}
