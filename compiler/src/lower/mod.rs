//! KDL documents to the typed model.
//!
//! Each file is lowered on its own; the results are merged and every kind sorted by name, so
//! the model does not depend on how the estate is split into files or in which order. Unknown
//! nodes and properties, missing and duplicate ones, wrong types and malformed values are
//! reported here; an entity with an error is dropped, not passed on half-built. References
//! between entities are checked later, by `resolve`.

pub mod api;
pub mod baseline;
pub mod org;
pub mod reader;
pub mod values;

use kdl::KdlDocument;

use crate::diagnostics::{Code, Diagnostic, Diagnostics, suggest};
use crate::model::{Estate, Name, Platform, RefKind, Spanned};
use crate::source::{FileId, FileKind, Span};
use reader::Ctx;

/// Top-level nodes of a spec file.
pub const TOP_LEVEL: &[&str] = &["platform", "tenant", "account", "environment", "api"];

/// A parsed file ready for lowering.
pub struct ParsedFile<'a> {
    /// Its id.
    pub file: FileId,
    /// Its path (estate-relative or `<stdlib>/...`).
    pub path: &'a str,
    /// What it is.
    pub kind: FileKind,
    /// The document.
    pub document: &'a KdlDocument,
}

/// What one file declares, before the files are merged: the unit the cache stores.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FilePart {
    /// `platform` nodes lowered.
    pub platforms: Vec<Platform>,
    /// The name of every `platform` node written (lowered or not).
    pub platform_nodes: Vec<Span>,
    /// Tenants.
    pub tenants: Vec<crate::model::Tenant>,
    /// Accounts.
    pub accounts: Vec<crate::model::Account>,
    /// Environments.
    pub environments: Vec<crate::model::Environment>,
    /// APIs.
    pub apis: Vec<crate::model::Api>,
    /// Baseline declarations.
    pub baselines: Vec<crate::model::BaselineDecl>,
    /// Compliance profiles.
    pub profiles: Vec<crate::model::Profile>,
    /// `(kind, name)` of entities dropped for errors.
    pub broken: Vec<(String, String)>,
    /// References written in entities dropped for errors.
    pub dangling: Vec<(RefKind, Spanned<Name>)>,
}

/// Lowers every parsed file and merges the results into one estate. `complete` says whether
/// every file of the estate is among `files` (else a missing platform is not reported).
pub fn lower(files: &[ParsedFile<'_>], complete: bool, sink: &mut Diagnostics) -> Estate {
    let parts: Vec<FilePart> = files.iter().map(|parsed| lower_file(parsed, sink)).collect();
    merge(parts, complete, files.iter().find(|f| f.kind == FileKind::Spec).map(|f| f.file), sink)
}

/// Lowers one file on its own.
pub fn lower_file(parsed: &ParsedFile<'_>, sink: &mut Diagnostics) -> FilePart {
    let mut part = FilePart::default();
    let mut ctx = Ctx { file: parsed.file, sink };
    match parsed.kind {
        FileKind::Spec => {
            for node in parsed.document.nodes() {
                let lowered = match node.name().value() {
                    "platform" => {
                        // The platform's name where it has one (as a lowered platform reports).
                        let name = node.entries().iter().find(|e| e.name().is_none());
                        part.platform_nodes.push(name.map_or_else(|| ctx.name_span(node), |e| ctx.value_span(e)));
                        ctx.platform(node).map(|p| part.platforms.push(p))
                    }
                    "tenant" => ctx.tenant(node).map(|t| part.tenants.push(t)),
                    "account" => ctx.account(node).map(|a| part.accounts.push(a)),
                    "environment" => ctx.environment(node).map(|e| part.environments.push(e)),
                    "api" => ctx.api(node).map(|a| part.apis.push(a)),
                    other => {
                        let mut d = Diagnostic::new(Code::UnknownNode, format!("unknown top-level node `{other}`"))
                            .primary(ctx.name_span(node), "unknown node")
                            .help(suggest(other, TOP_LEVEL));
                        if ["baseline", "deploy", "route", "security", "monitor"].contains(&other) {
                            d = d.note(format!("`{other}` goes inside the block of the node it belongs to"));
                        }
                        ctx.report(d);
                        Some(())
                    }
                };
                if lowered.is_none() {
                    broken(&mut part, node);
                    dangling(&ctx, &mut part, node);
                }
            }
        }
        FileKind::BaselineDecl => {
            let stdlib = parsed.path.starts_with(crate::stdlib::PREFIX);
            let mut declared = false;
            for node in parsed.document.nodes() {
                if node.name().value() == "baseline" && !declared {
                    declared = true;
                    match ctx.baseline_decl(node, parsed.path, stdlib) {
                        Some(decl) => part.baselines.push(decl),
                        None => broken(&mut part, node),
                    }
                } else {
                    ctx.report(
                        Diagnostic::new(
                            Code::UnknownNode,
                            format!("unexpected node `{}` in a baseline declaration", node.name().value()),
                        )
                        .primary(ctx.name_span(node), "unexpected")
                        .help("a baseline.kdl holds exactly one `baseline \"name\" scope=... { ... }` node"),
                    );
                }
            }
            if !declared {
                ctx.report(
                    Diagnostic::new(Code::MissingNode, "baseline.kdl declares no baseline")
                        .primary(Span::new(parsed.file, 0, 0), "empty declaration")
                        .help("write `baseline \"<folder name>\" scope=\"account\" { ... }`"),
                );
            }
        }
        FileKind::Compliance => {
            for node in parsed.document.nodes() {
                if node.name().value() == "profile" {
                    part.profiles.extend(ctx.profile(node));
                }
            }
        }
        FileKind::BaselineTemplate => {}
    }
    part
}

/// Merges the files' parts, in file order, into one estate: one platform, every kind sorted
/// by name and unique. A missing platform is reported at the start of `root`, the estate's
/// first file.
pub fn merge(parts: Vec<FilePart>, complete: bool, root: Option<FileId>, sink: &mut Diagnostics) -> Estate {
    let mut estate = Estate::default();
    let mut platforms = Vec::new();
    let mut platform_nodes = Vec::new();
    for part in parts {
        platforms.extend(part.platforms);
        platform_nodes.extend(part.platform_nodes);
        estate.tenants.extend(part.tenants);
        estate.accounts.extend(part.accounts);
        estate.environments.extend(part.environments);
        estate.apis.extend(part.apis);
        estate.baselines.extend(part.baselines);
        estate.profiles.extend(part.profiles);
        estate.dangling.extend(part.dangling);
        for (kind, name) in part.broken {
            let kind = match kind.as_str() {
                "tenant" => "tenant",
                "account" => "account",
                "environment" => "environment",
                "API" => "API",
                _ => "baseline",
            };
            estate.broken.insert((kind, name));
        }
    }
    estate.platform = platforms.into_iter().next();
    // Every platform node after the first is a second platform, lowered or not (one with
    // errors is still a second platform, and merging it is the fix).
    if let Some((first, extras)) = platform_nodes.split_first() {
        for extra in extras {
            sink.push(
                Diagnostic::new(Code::DuplicatePlatform, "the estate declares a second platform")
                    .primary(*extra, "second platform")
                    .secondary(*first, "first platform")
                    .help("an estate has exactly one platform; merge the two"),
            );
        }
    }
    if platform_nodes.is_empty() && complete {
        let mut diagnostic = Diagnostic::new(Code::MissingPlatform, "the estate has no platform").help(
            "add `platform \"name\" { management-account \"...\"; region \"...\"; datadog site=\"...\" notify=\"@...\" }` to one file",
        );
        if let Some(root) = root {
            diagnostic = diagnostic.primary(Span::new(root, 0, 0), "no file of the estate declares `platform`");
        }
        sink.push(diagnostic);
    }
    unique(&mut estate.tenants, |t| &t.name, "tenant", sink);
    unique(&mut estate.accounts, |a| &a.name, "account", sink);
    unique(&mut estate.environments, |e| &e.name, "environment", sink);
    unique(&mut estate.apis, |a| &a.name, "API", sink);
    unique(&mut estate.baselines, |b| &b.name, "baseline", sink);
    unique(&mut estate.profiles, |p| &p.name, "compliance profile", sink);
    estate
}

/// Records the name of a node dropped for errors, so that references to it stay quiet.
fn broken(part: &mut FilePart, node: &kdl::KdlNode) {
    let kind = match node.name().value() {
        "tenant" => "tenant",
        "account" => "account",
        "environment" => "environment",
        "api" => "API",
        "baseline" => "baseline",
        _ => return,
    };
    if let Some(kdl::KdlValue::String(name)) = node.entries().iter().find(|e| e.name().is_none()).map(|e| e.value()) {
        part.broken.push((kind.to_owned(), name.clone()));
    }
}

/// Keeps the well-formed references of a node dropped for errors (`tenant=` of an account,
/// `account=` of an environment, `deploy` and `uses` targets of an API), so that `resolve`
/// still reports the unknown ones.
fn dangling(ctx: &Ctx<'_>, part: &mut FilePart, node: &kdl::KdlNode) {
    let mut keep = |kind: RefKind, entry: &kdl::KdlEntry| {
        if let Some(name) = entry.value().as_string().and_then(|s| Name::parse(s).ok()) {
            part.dangling.push((kind, Spanned::new(name, ctx.value_span(entry))));
        }
    };
    let property =
        |key: &'static str| node.entries().iter().filter(move |e| e.name().is_some_and(|n| n.value() == key));
    match node.name().value() {
        "account" => property("tenant").for_each(|e| keep(RefKind::Tenant, e)),
        "environment" => property("account").for_each(|e| keep(RefKind::Account, e)),
        "api" => {
            for child in node.children().map(|c| c.nodes()).unwrap_or_default() {
                let kind = match child.name().value() {
                    "deploy" => RefKind::Environment,
                    "uses" => RefKind::Api,
                    _ => continue,
                };
                child.entries().iter().filter(|e| e.name().is_none()).for_each(|e| keep(kind, e));
            }
        }
        _ => {}
    }
}

/// Sorts by name (stable, so the earlier file wins) and drops duplicates with a diagnostic.
fn unique<T>(items: &mut Vec<T>, name: impl Fn(&T) -> &Spanned<Name>, kind: &str, sink: &mut Diagnostics) {
    items.sort_by(|a, b| name(a).value.cmp(&name(b).value));
    let mut kept: Vec<T> = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        match kept.last() {
            Some(previous) if name(previous).value == name(&item).value => {
                let (first, second) = (name(previous), name(&item));
                sink.push(
                    Diagnostic::new(Code::DuplicateName, format!("{kind} `{}` is declared twice", second.value))
                        .primary(second.span, "second declaration")
                        .secondary(first.span, "first declaration")
                        .help(format!("{kind} names are unique; rename or remove one")),
                );
            }
            _ => kept.push(item),
        }
    }
    *items = kept;
}
