//! idpc compiles an estate (KDL files describing tenants, accounts, environments, baselines
//! and APIs) into deployable artifacts. The pipeline, one module per pass, each depending
//! only on the ones before it:
//!
//! 1. [`source`]: files and spans; `load_estate` reads the estate folder.
//! 2. [`parse`]: text to KDL documents (syntax errors, nesting limit).
//! 3. [`lower`]: KDL to the typed [`model`] (unknown/duplicate/malformed input).
//! 4. [`resolve`]: references between entities, baseline instances, expiry.
//! 5. [`check`]: the tenants' compliance policies and their waivers.
//! 6. [`graph`]: the dependency graph, cycles, stacks and deploy waves ([`naming`] derives
//!    every stack name, tag and path from spec names).
//! 7. [`emit`]: artifacts and the manifest, rendered in memory.
//! 8. [`write`]: the only writer; replaces the output folder atomically.
//!
//! Around the pipeline: [`review`] compares two builds (`idpc diff`) and draws the plan
//! (`idpc graph`); [`explain`] shows where each setting of a stage comes from (`idpc explain
//! stage`); [`lsp`] is the language server that re-checks estates as they are edited.
//!
//! [`compile`] runs passes 1-7 as a pure function of the files and [`Options`]; every pass
//! reports into one [`diagnostics::Diagnostics`] sink and the run reports every problem at
//! once. Any error means no output.

pub mod cache;
pub mod check;
pub mod diagnostics;
pub mod digest;
pub mod emit;
pub mod explain;
pub mod graph;
pub mod lower;
pub mod lsp;
pub mod model;
pub mod naming;
pub mod parse;
pub mod resolve;
pub mod review;
pub mod source;
pub mod stdlib;
pub mod write;

use diagnostics::{Code, Diagnostic, Diagnostics};
use emit::Output;
use graph::{Graph, Plan};
use model::Date;
use rayon::prelude::*;
use source::{FileKind, RawFile, SourceSet, Span};

/// What a compilation depends on besides the files.
#[derive(Clone, Debug)]
pub struct Options {
    /// "Today" for `expires=` (UTC); pinned so builds can be reproduced.
    pub today: Date,
}

/// The result of a compilation.
#[derive(Debug)]
pub struct Compilation {
    /// Every file read, for rendering diagnostics.
    pub sources: SourceSet,
    /// Every problem, sorted and de-duplicated.
    pub diagnostics: Vec<Diagnostic>,
    /// The resolved estate, when it resolved without errors.
    pub resolved: Option<resolve::Resolved>,
    /// The deploy plan, when the estate resolved.
    pub plan: Option<Plan>,
    /// The artifacts, when there is no error.
    pub output: Option<Output>,
    /// Every reference of the estate and what it names, whatever errors there are (empty
    /// when the estate was too large to read).
    pub references: Vec<resolve::refs::Ref>,
}

impl Compilation {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == diagnostics::Severity::Error)
    }
}

/// Compiles an estate's files (as `source::load_estate` returns them) plus the stdlib.
pub fn compile(files: &[RawFile], options: &Options) -> Compilation {
    compile_with(files, options, Hooks::default())
}

/// Where a compilation may send its artifacts and keep its lowered files.
#[derive(Clone, Copy, Default)]
pub struct Hooks<'a> {
    /// Receives each artifact as soon as it is rendered instead of keeping it (the output then
    /// carries only paths and hashes, and the manifest). Artifacts reach it only while no
    /// error has been found, but an error found later (a template or size limit) still fails
    /// the compilation: its work must be discarded unless the result has no error.
    pub consumer: Option<emit::Consumer<'a>>,
    /// Lowered files by content: a file found here is neither parsed nor lowered again.
    pub cache: Option<&'a dyn cache::Store>,
    /// Rendered API stages and dashboards by their inputs ([`emit::reuse`]): one found here is
    /// not rendered again (the CLI's `--cache`; not the language server, whose full checks
    /// would hold the whole output in memory).
    pub renders: Option<&'a dyn cache::Store>,
    /// Stop after the plan: no artifact is rendered, so the checks made while rendering
    /// (templates, size limits: [`emit::CODES`]) do not run.
    pub skip_emit: bool,
}

/// [`compile`] with [`Hooks`]: a consumer for the artifacts, a cache of lowered files.
pub fn compile_with(files: &[RawFile], options: &Options, hooks: Hooks<'_>) -> Compilation {
    let mut sink = Diagnostics::new();
    let mut sources = SourceSet::new();
    let mut documents = Vec::new();
    let total: usize = files.iter().filter(|f| source::classify(&f.path).is_some()).map(|f| f.bytes.len()).sum();
    if total > source::MAX_ESTATE_BYTES {
        // Refused before anything is parsed: reading this much is the problem.
        let largest = files.iter().max_by_key(|f| f.bytes.len());
        let mut diagnostic = Diagnostic::new(
            Code::EstateTooLarge,
            format!("the estate's files add up to more than 64 MiB ({total} bytes read before stopping)"),
        )
        .help("check that the estate folder holds only spec files; generated files belong elsewhere");
        if let Some(largest) = largest {
            let head = largest.bytes.get(..4096).unwrap_or(&largest.bytes);
            let file = sources.add(&largest.path, String::from_utf8_lossy(head).into_owned(), FileKind::Spec);
            diagnostic =
                diagnostic.primary(Span::new(file, 0, 0), format!("the largest file, {} bytes", largest.bytes.len()));
        }
        sink.push(diagnostic);
        return Compilation {
            sources,
            diagnostics: sink.into_sorted(),
            resolved: None,
            plan: None,
            output: None,
            references: Vec::new(),
        };
    }
    for raw in files {
        let Some(kind) = source::classify(&raw.path) else {
            continue;
        };
        // Size first: `load_estate` reads a file only up to one byte past the limit, so the
        // bytes may end inside a character.
        if raw.bytes.len() > source::MAX_FILE_BYTES {
            let head = raw.bytes.get(..4096).unwrap_or(&raw.bytes);
            let file = sources.add(&raw.path, String::from_utf8_lossy(head).into_owned(), kind);
            sink.push(
                Diagnostic::new(
                    Code::FileTooLarge,
                    format!("`{}` is larger than 1 MiB, the limit for one file", raw.path),
                )
                .primary(Span::new(file, 0, 0), "file starts here")
                .help("split the file; no estate file needs to be this large"),
            );
            continue;
        }
        let text = match String::from_utf8(raw.bytes.clone()) {
            Ok(text) => text,
            Err(error) => {
                let at = error.utf8_error().valid_up_to();
                let bad = error.utf8_error().error_len().unwrap_or(raw.bytes.len() - at);
                // The text shown: the bad bytes as as many `?` (so that the label's offsets are
                // the file's own, on character boundaries of both), the rest read lossily.
                let tail = raw.bytes.get(at + bad..).unwrap_or_default();
                let head = raw.bytes.get(..at).map(String::from_utf8_lossy).unwrap_or_default();
                let shown = format!("{head}{}{}", "?".repeat(bad), String::from_utf8_lossy(tail));
                let file = sources.add(&raw.path, shown, kind);
                sink.push(
                    Diagnostic::new(Code::InvalidUtf8, format!("`{}` is not UTF-8 text", raw.path))
                        .primary(Span::new(file, at, at + bad), "invalid byte")
                        .help("save the file as UTF-8"),
                );
                continue;
            }
        };
        documents.push(sources.add(&raw.path, text, kind));
    }
    for (path, kind, text) in stdlib::FILES {
        documents.push(sources.add(*path, *text, *kind));
    }

    // Files parse and lower independently, in parallel (or come from the cache); results are
    // taken in file order. Each KDL tree is dropped as soon as its file is lowered.
    let mut unreadable = sink.has_errors();
    let results: Vec<_> = documents
        .par_iter()
        .filter_map(|&file| {
            let source = sources.file(file)?;
            if source.kind == FileKind::BaselineTemplate {
                return None;
            }
            let key = hooks.cache.map(|_| cache::key(source));
            if let (Some(store), Some(key)) = (hooks.cache, &key)
                && let Some(part) = cache::load(store, key, file)
            {
                return Some((source, Some(part), false, Diagnostics::new()));
            }
            let mut local = Diagnostics::new();
            let document = parse::parse(file, &source.text, &mut local);
            let unparsed = document.is_none() || local.has_errors();
            let part = document.map(|document| {
                let parsed = lower::ParsedFile { file, path: &source.path, kind: source.kind, document: &document };
                lower::lower_file(&parsed, &mut local)
            });
            // Only a file without any diagnostic is cached: its diagnostics need not be.
            if let (Some(store), Some(key), Some(part)) = (hooks.cache, &key, &part)
                && local.is_empty()
            {
                cache::save(store, key, part);
            }
            Some((source, part, unparsed, local))
        })
        .collect();
    // The stdlib is merged first, so that an estate baseline reusing a stdlib name is the one
    // reported as the duplicate.
    let mut stdlib_parts = Vec::new();
    let mut estate_parts = Vec::new();
    for (source, part, unparsed, diagnostics) in results {
        sink.append(diagnostics);
        unreadable |= unparsed || part.is_none();
        if let Some(part) = part {
            if source.path.starts_with(stdlib::PREFIX) { stdlib_parts.push(part) } else { estate_parts.push(part) }
        }
    }
    stdlib_parts.extend(estate_parts);
    // The estate's root file: the spec file nearest the estate folder, first by path.
    let root = sources
        .iter()
        .filter(|(_, f)| f.kind == FileKind::Spec && !f.path.starts_with(stdlib::PREFIX))
        .min_by_key(|(_, f)| (f.path.matches('/').count(), f.path.clone()))
        .map(|(id, _)| id);
    let estate = lower::merge(stdlib_parts, !unreadable, root, &mut sink);
    let references = resolve::refs::index(&estate);

    // A file that could not be read at all hides its declarations: resolving the rest would
    // only report references to them as unknown.
    let mut plan = None;
    let mut output = None;
    let resolution = if unreadable { None } else { resolve::resolve(estate, options.today, &mut sink) };
    if let Some(resolution) = &resolution {
        // Every independent mistake of a run is reported at once: the policies run over what
        // resolved even when resolving found errors elsewhere (a tenant isolation error must
        // not wait for a duplicate domain to be fixed).
        check::check(&resolution.resolved, options.today, &mut sink);
    }
    let resolved = resolution.and_then(|r| r.clean.then_some(r.resolved));
    if let Some(resolved) = &resolved {
        let graph = Graph::build(resolved);
        if graph.check_cycles(resolved, &mut sink) {
            let p = graph.plan(resolved);
            if !sink.has_errors() && !hooks.skip_emit {
                output = Some(emit::emit_into(resolved, &p, &sources, &mut sink, hooks.consumer, hooks.renders));
            }
            plan = Some(p);
        }
    }
    if sink.has_errors() {
        output = None;
    }
    Compilation { sources, diagnostics: sink.into_sorted(), resolved, plan, output, references }
}

/// Today's UTC date from the system clock.
pub fn today_utc() -> Date {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Date::from_days_since_epoch((seconds / 86_400) as i64)
}

/// The stdlib's baseline declarations, sorted by name.
pub fn stdlib_baselines() -> Vec<model::BaselineDecl> {
    baselines_with(&[])
}

/// The baseline declarations of the stdlib plus some `baselines/<name>/baseline.kdl` files
/// given as (estate-relative path, text); declarations with errors are left out.
pub fn baselines_with(extra: &[(&str, &str)]) -> Vec<model::BaselineDecl> {
    let mut sink = Diagnostics::new();
    let mut sources = SourceSet::new();
    let mut parsed = Vec::new();
    let stdlib = stdlib::FILES.iter().filter(|(_, kind, _)| *kind == FileKind::BaselineDecl).map(|(p, _, t)| (*p, *t));
    for (path, text) in stdlib.chain(extra.iter().copied()) {
        let file = sources.add(path, text, FileKind::BaselineDecl);
        if let Some(document) = parse::parse(file, text, &mut sink) {
            parsed.push((file, path, document));
        }
    }
    let files: Vec<lower::ParsedFile<'_>> = parsed
        .iter()
        .map(|(file, path, document)| lower::ParsedFile { file: *file, path, kind: FileKind::BaselineDecl, document })
        .collect();
    lower::lower(&files, false, &mut sink).baselines
}

/// The explain page of a stdlib baseline: what it makes, its parameters, what it requires.
pub fn explain_baseline(name: &str) -> Option<String> {
    stdlib_baselines().iter().find(|b| b.name.value.as_str() == name).map(baseline_page)
}

/// The explain page of a baseline declaration (markdown).
pub fn baseline_page(decl: &model::BaselineDecl) -> String {
    let mut page = format!("# baseline {} ({} scope)\n\n", decl.name.value, decl.scope.as_str());
    if let Some(description) = &decl.description {
        page.push_str(&format!("{description}.\n\n"));
    }
    page.push_str(&format!("```kdl\n{} \"...\" {{\n    baseline \"{}\"", decl.scope.as_str(), decl.name.value));
    for param in decl.params.iter().filter(|p| p.required) {
        page.push_str(&format!(" {}=...", param.name.value));
    }
    page.push_str("\n}\n```\n\n## Parameters\n\n");
    if decl.params.is_empty() {
        page.push_str("None.\n");
    }
    for param in &decl.params {
        let mut facts = vec![param.ty.as_str().to_owned()];
        match (&param.default, param.required) {
            (_, true) => facts.push("required".into()),
            (Some(default), false) => facts.push(format!("default {}", lower::baseline::display_value(default))),
            (None, false) => facts.push("optional".into()),
        }
        if let Some(min) = param.min {
            facts.push(format!("at least {min}"));
        }
        if let Some(max) = param.max {
            facts.push(format!("at most {max}"));
        }
        if !param.one_of.is_empty() {
            let values: Vec<String> = param.one_of.iter().map(lower::baseline::display_value).collect();
            facts.push(format!("one of {}", values.join(", ")));
        }
        page.push_str(&format!("- `{}` ({})", param.name.value, facts.join("; ")));
        if let Some(description) = &param.description {
            page.push_str(&format!(": {description}"));
        }
        page.push('\n');
    }
    if !decl.requires.is_empty() {
        let requires: Vec<String> = decl.requires.iter().map(|r| format!("`{}`", r.value)).collect();
        page.push_str(&format!("\n## Requires\n\n{} on the same account.\n", requires.join(", ")));
    }
    page.push_str("\n## Renders\n\n");
    for template in &decl.templates {
        let what = match template.artifact {
            model::TemplateArtifact::CloudFormation => "resources of the owner's baseline stack",
            model::TemplateArtifact::DatadogMonitor => "a Datadog monitor",
        };
        page.push_str(&format!("- `{}`: {what}\n", template.file.value));
    }
    page
}
